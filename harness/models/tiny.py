"""A tiny randomly initialised Llama and a byte-level tokenizer built in code (no files, no downloads).

The tokenizer maps every byte to one token (256 ids via `ByteLevel.alphabet()`, no merges) plus five specials, so any
UTF-8 text round-trips exactly. It carries a ChatML chat template. Used by tests, the CPU training testbed and the
fake servers; see training.md §2 for the measurements behind the defaults.
"""

from __future__ import annotations

from typing import Any

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|im_start|>", "<|im_end|>"]
VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)  # 261

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _byte_to_unicode() -> list[str]:
    """The printable character ByteLevel uses for each byte 0..255 (GPT-2's reversible mapping)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = [], 0
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def byte_tokenizer() -> Any:
    """A `PreTrainedTokenizerFast` over single bytes: vocab 261 (256 bytes + 5 specials), ChatML chat template.

    Returns:
        The tokenizer; `eos_token` is `<|im_end|>` so chat generation stops at the end of the assistant turn.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: byte for byte, ch in enumerate(_byte_to_unicode())}  # token id == byte value
    assert set(vocab) == set(pre_tokenizers.ByteLevel.alphabet())
    for offset, tok in enumerate(SPECIAL_TOKENS):
        vocab[tok] = 256 + offset
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<|pad|>",
        bos_token="<|bos|>",
        eos_token="<|im_end|>",
        unk_token=None,
        additional_special_tokens=["<|eos|>", "<|im_start|>"],
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.padding_side = "left"  # decoder-only generation pads on the left
    return tokenizer


def tiny_model(seed: int = 0, hidden_size: int = 64, num_layers: int = 2, max_positions: int = 4096) -> Any:
    """A randomly initialised `LlamaForCausalLM` sized for CPU tests (0.16 M parameters with the defaults).

    Args:
        seed: torch seed for the initial weights (same seed, same model).
        hidden_size: model width; 4 attention heads of `hidden_size // 4`.
        num_layers: decoder layers.
        max_positions: longest sequence (prompt + response) the rotary embedding is configured for.

    Returns:
        A `LlamaForCausalLM` in eval mode whose vocabulary matches `byte_tokenizer()`.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    ids = {tok: 256 + i for i, tok in enumerate(SPECIAL_TOKENS)}
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_positions,
        pad_token_id=ids["<|pad|>"],
        bos_token_id=ids["<|bos|>"],
        eos_token_id=ids["<|im_end|>"],
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.eval()
    return model
