"""Fixtures of the training tests: the tiny byte-level model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny():
    """(model, tokenizer): the 0.16 M-parameter random Llama and the byte tokenizer."""
    from harness.models.tiny import byte_tokenizer, tiny_model

    return tiny_model(seed=0), byte_tokenizer()
