"""Warm start on Codes: afterwards the tiny model writes valid codes, reads no hint (success at chance), and the
result is cached by config."""

from __future__ import annotations

import pytest
import torch

from harness.models.tiny import byte_tokenizer, tiny_model
from harness.train.exact import response_distributions
from harness.train.warmstart import WarmStartConfig, code_token_ids, observation_prompt, play_observations, warm_start


@pytest.mark.slow
def test_warm_start_knows_the_format_not_the_hint(tmp_path) -> None:
    """~40 s on one core when not cached. Exact masses (enumeration, no sampling noise) on 48 valid-split turns."""
    torch.set_num_threads(1)
    tokenizer = byte_tokenizer()
    config = WarmStartConfig()
    model = tiny_model(seed=0)
    info = warm_start(model, tokenizer, config, cache=tmp_path)
    assert not info["cached"] and info["steps"] == config.steps

    letters, eos = code_token_ids(tokenizer, "ABCD")
    turns = play_observations(config, 48, split="valid", seed=1)
    codes = ["AAA", "BAA", "BAC", "BAD", "BCC", "CDC"]  # door_codes() defaults
    as_code = {(*tokenizer(c, add_special_tokens=False)["input_ids"], eos): c for c in codes}

    def masses(m) -> tuple[float, float]:
        m.eval()
        dists = response_distributions(m, [observation_prompt(tokenizer, t["observation"]) for t in turns],
                                       [*letters, eos], eos_id=eos, max_new_tokens=4)
        valid = sum(d.mass(lambda r: r in as_code) for d in dists) / len(dists)
        hint = sum(d.mass(lambda r, h=t["hint"]: as_code.get(r) == h) for d, t in zip(dists, turns, strict=True))
        return valid, hint / len(dists)

    valid, hint = masses(model)
    before_valid, _ = masses(tiny_model(seed=0))
    print(f"valid-code mass {before_valid:.3f} -> {valid:.3f}; hinted-code mass {hint:.3f} (chance 1/6)")
    assert before_valid < 0.05 and valid > 0.95
    assert 0.5 / 6 < hint < 1.5 / 6  # knows the format, not the hint

    again = tiny_model(seed=0)
    hit = warm_start(again, tokenizer, config, cache=tmp_path)
    assert hit["cached"] and hit["path"] == info["path"]
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), model.state_dict().values(), strict=True))
    other = warm_start(tiny_model(seed=0), tokenizer, WarmStartConfig(steps=1), cache=tmp_path)
    assert not other["cached"] and other["path"] != info["path"]
