"""Exact response distributions: they sum to 1, match the sampler's log-probs and its frequencies."""

from __future__ import annotations

import collections
import math

import pytest
import torch

from harness.models.sampler import Sampling, allowed_mask, sample_batch
from harness.train.exact import exact_relative_surprisal, response_distributions


def _setup(tiny):
    model, tokenizer = tiny
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "door BAD"}], add_generation_prompt=True,
                                           tokenize=True, return_dict=True)["input_ids"]
    letters = [tokenizer.convert_tokens_to_ids(ch) for ch in "ABCD"]
    return model, tokenizer, list(prompt), letters, int(tokenizer.eos_token_id)


@pytest.mark.parametrize(("with_end", "limit", "count"), [(True, 4, 1 + 4 + 16 + 64 + 256), (True, 1, 5),
                                                          (False, 3, 64)])
def test_every_response_once_and_probabilities_sum_to_one(tiny, with_end: bool, limit: int, count: int) -> None:
    model, _, prompt, letters, eos = _setup(tiny)
    allowed = [*letters, eos] if with_end else letters
    dist, = response_distributions(model, [prompt], allowed, eos_id=eos, max_new_tokens=limit)
    assert len(dist.responses) == len(set(dist.responses)) == count
    assert all(r[-1] == eos or len(r) == limit for r in dist.responses)
    assert float(dist.probs.sum()) == pytest.approx(1.0, abs=1e-12)
    assert dist.entropy == pytest.approx(float((dist.probs * dist.surprisal).sum()))
    assert 0 < dist.entropy <= math.log(count) + 1e-9
    # Token entropies are of the distribution over the allowed tokens: at most log(#allowed) each.
    assert float(dist.token_entropy.max()) <= math.log(len(allowed)) + 1e-9
    assert torch.equal(dist.lengths, torch.tensor([len(r) for r in dist.responses]))


def test_matches_the_sampler(tiny) -> None:
    """Fixed seed, 2000 samples of the random model (entropy ~4.6 nats over 341 responses): every sampled response is
    in the table with the sampler's own log-prob, and the counts fit the exact probabilities."""
    torch.set_num_threads(1)
    model, tokenizer, prompt, letters, eos = _setup(tiny)
    allowed = [*letters, eos]
    dist, = response_distributions(model, [prompt], allowed, eos_id=eos, max_new_tokens=4)
    n = 2000
    samples = sample_batch(model, [prompt] * n, eos_ids=[eos], pad_id=int(tokenizer.pad_token_id),
                           sampling=Sampling(max_new_tokens=4), generator=torch.Generator().manual_seed(0),
                           allowed=allowed_mask(allowed, model))
    for s in samples[:300]:
        assert sum(s.logprobs) == pytest.approx(float(dist.logprob[dist.row(s.token_ids)]), abs=1e-4)
    counts = collections.Counter(dist.row(s.token_ids) for s in samples)
    expected = n * dist.probs
    for row in range(len(dist.responses)):  # 5 binomial standard deviations (+1 for tiny expectations)
        p = float(dist.probs[row])
        assert abs(counts.get(row, 0) - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1, dist.responses[row]
    # Pearson chi-square over 340 degrees of freedom: mean 340, sd 26; 6 sd is far beyond chance.
    chi2 = float(sum((counts.get(i, 0) - e) ** 2 / e for i, e in enumerate(expected.tolist())))
    assert chi2 < 340 + 6 * math.sqrt(2 * 340), chi2
    # A wrong table fails: the same counts against a uniform distribution.
    uniform = n / len(dist.responses)
    assert sum((counts.get(i, 0) - uniform) ** 2 / uniform for i in range(len(dist.responses))) > 500


def test_rejects_what_cannot_be_enumerated(tiny) -> None:
    model, _, prompt, letters, eos = _setup(tiny)
    with pytest.raises(ValueError, match="too many"):
        response_distributions(model, [prompt], list(range(65, 91)), eos_id=eos, max_new_tokens=4)
    with pytest.raises(ValueError, match="temperature"):
        response_distributions(model, [prompt], letters, eos_id=eos, max_new_tokens=2, temperature=0.0)


def test_relative_surprisal_of_samples(tiny) -> None:
    model, _, prompt, letters, eos = _setup(tiny)
    other = [*prompt[:-3], *prompt[-2:]]
    allowed = [*letters, eos]
    a, b = (letters[0], letters[1], eos), (letters[2], eos)
    rel = exact_relative_surprisal(model, [prompt, other, prompt, prompt, other], [a, a, b, (65, 66), b], allowed,
                                   eos_id=eos, max_new_tokens=4, max_prompts=1)
    dist, = response_distributions(model, [prompt], allowed, eos_id=eos, max_new_tokens=4)
    assert float(rel[0]) == pytest.approx(float(dist.surprisal[dist.row(a)]) - dist.entropy)
    assert float(rel[2]) == pytest.approx(float(dist.surprisal[dist.row(b)]) - dist.entropy)
    assert torch.isnan(rel[[1, 3, 4]]).all()  # beyond max_prompts, or a response the sampler cannot produce


def test_learner_exact_diagnostics_are_of_the_policy_that_sampled(tiny) -> None:
    """`learner.exact_diagnostics` correlates α − 1 with S − H of the policy that sampled the responses, not of the
    policy after the update (which moved S on purpose: that would confound the diagnostic with the update itself)."""
    import copy

    from harness.config import LearnerSection
    from harness.train.batching import TurnSample
    from harness.train.learner import LocalLearner

    model, tokenizer, prompt, letters, eos = _setup(tiny)
    model = copy.deepcopy(model)
    sampler_policy = copy.deepcopy(model)
    to_ids = {ch: token for ch, token in zip("ABCD", letters, strict=True)}
    codes = ["BAD", "AAA", "BAC", "CDC", "BCC", "AB", "DDDD", "BAA"]
    responses = [[to_ids[ch] for ch in code] + ([eos] if len(code) < 4 else []) for code in codes]
    samples = [TurnSample(prompt_ids=prompt, response_ids=response, score=float(i % 3), step_reward=0.0, uid="g0",
                          traj_uid=f"t{i}", turn=0, anchor_obs="", valid=True)
               for i, response in enumerate(responses)]
    config = LearnerSection(modulator="aem", aem_min_range=0.0, lr=0.05, ppo_epochs=2, reward_scale=1.0,
                            exact_diagnostics=True)
    learner = LocalLearner(model, tokenizer, config, allowed_token_ids=[*letters, eos])
    metrics = learner.update_samples(samples)

    alpha = torch.tensor(learner.last_turns["alpha"], dtype=torch.float64) - 1

    def corr(policy) -> float:
        rel = exact_relative_surprisal(policy, [prompt] * len(responses), responses, [*letters, eos], eos_id=eos,
                                       max_new_tokens=4)
        return float(torch.corrcoef(torch.stack([alpha, rel]))[0, 1])

    before, after = corr(sampler_policy), corr(model)
    assert abs(before - after) > 0.01  # the update moved S − H: the test can tell the two apart
    assert metrics["diag/exact_corr_alpha_rel_surprisal"] == pytest.approx(before, abs=2e-3)
    assert metrics["diag/exact_samples"] == len(samples)
    # one prompt: the within-prompt figures are the pooled correlation and its sign
    assert metrics["diag/exact_within_prompt_corr"] == pytest.approx(before, abs=2e-3)
    assert metrics["diag/exact_prompts_predicted_sign"] == float(before < 0)
