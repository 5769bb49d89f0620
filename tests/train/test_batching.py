"""Samples → padded tensors: exact token placement, masks, positions, trimming; sampler log-probs are exact."""

from __future__ import annotations

import asyncio

import pytest
import torch

from harness.models.sampler import Sampling, sample_batch
from harness.policies.local import LocalPolicy
from harness.train.batching import TurnSample, collate, group_indices
from harness.train.learner import length_buckets
from harness.types import StepContext


def _sample(prompt, response):
    return TurnSample(prompt_ids=prompt, response_ids=response, score=0.0, step_reward=0.0, uid="g", traj_uid="t",
                      turn=0, anchor_obs="", valid=True)


def test_collate_left_pads_prompts_and_right_pads_responses():
    batch = collate([_sample([5, 6, 7], [8]), _sample([9], [10, 11, 12])], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 0, 0], [0, 0, 9, 10, 11, 12]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]]
    assert batch.position_ids.tolist()[1][2:] == [0, 1, 2, 3]
    assert batch.response_ids.tolist() == [[8, 0, 0], [10, 11, 12]]
    assert batch.response_mask.tolist() == [[1, 0, 0], [1, 1, 1]]
    sub = batch.select(torch.tensor([0]))  # trimmed to the columns row 0 uses
    assert sub.input_ids.tolist() == [[5, 6, 7, 8]] and sub.response_ids.tolist() == [[8]]


def test_group_indices_are_dense_in_first_appearance_order():
    assert group_indices(["b", "a", "b", "c"]).tolist() == [0, 1, 0, 2]


def test_sampler_logprobs_equal_a_full_forward(tiny):
    model, tokenizer = tiny
    prompts = [[259, 10, 20, 30], [259] + list(range(40, 80)), [259, 99]]
    out = sample_batch(model, prompts, eos_ids=[tokenizer.eos_token_id], pad_id=tokenizer.pad_token_id,
                       sampling=Sampling(max_new_tokens=6, temperature=0.7), generator=torch.Generator().manual_seed(1))
    for prompt, sampled in zip(prompts, out, strict=True):
        assert 1 <= len(sampled.token_ids) <= 6 and sampled.finish_reason in ("stop", "length")
        with torch.no_grad():
            logits = model(torch.tensor([prompt + sampled.token_ids])).logits[0] / 0.7
        ref = [logits[len(prompt) - 1 + i].log_softmax(-1)[t].item() for i, t in enumerate(sampled.token_ids)]
        torch.testing.assert_close(torch.tensor(sampled.logprobs), torch.tensor(ref), atol=1e-4, rtol=1e-4)


def test_batched_policy_returns_token_exact_responses(tiny):
    model, tokenizer = tiny
    policy = LocalPolicy(model, tokenizer, sampling=Sampling(max_new_tokens=4), max_batch=8)

    async def many():
        return await asyncio.gather(*(policy.respond([{"role": "user", "content": f"room {i}"}],
                                                     StepContext("t", 0)) for i in range(12)))

    responses = asyncio.run(many())
    assert policy.batches >= 2  # 12 requests, at most 8 per batch
    for i, r in enumerate(responses):
        assert r.error is None and r.prompt_token_ids == policy.encode([{"role": "user", "content": f"room {i}"}])
        assert len(r.token_ids) == len(r.logprobs) <= 4
        assert r.text == tokenizer.decode([t for t in r.token_ids if t != tokenizer.eos_token_id],
                                          skip_special_tokens=True)


def test_length_buckets_cover_every_row_once_and_bound_padding():
    lengths = torch.tensor([140, 60, 62, 141, 60, 75, 139, 61, 300])
    buckets = length_buckets(torch.tensor([8, 0, 1, 2, 3, 4, 5, 6, 7]), lengths, max_size=3)
    assert sorted(torch.cat(buckets).tolist()) == list(range(9))
    assert all(len(b) <= 3 for b in buckets)
    for bucket in buckets:
        assert lengths[bucket].max() <= 1.25 * lengths[bucket].min()
    assert [lengths[b].tolist() for b in buckets] == [[60, 60, 61], [62, 75], [139, 140, 141], [300]]


def test_allowed_tokens_constrain_sampling_and_the_learner_sees_the_same_policy(tiny):
    from harness.config import LearnerSection
    from harness.train.learner import LocalLearner

    model, tokenizer = tiny
    doors = [tokenizer.convert_tokens_to_ids(c) for c in "ABCD"]
    policy = LocalPolicy(model, tokenizer, sampling=Sampling(max_new_tokens=1), allowed_token_ids=doors, seed=3)

    async def many():
        return await asyncio.gather(*(policy.respond([{"role": "user", "content": f"room {i}"}],
                                                     StepContext("t", 0)) for i in range(32)))

    responses = asyncio.run(many())
    assert {r.token_ids[0] for r in responses} <= set(doors) and len({r.text for r in responses}) > 1
    samples = [TurnSample(prompt_ids=r.prompt_token_ids, response_ids=r.token_ids, score=float(i % 2), step_reward=0.0,
                          uid="g", traj_uid=f"t{i}", turn=0, anchor_obs="", valid=True,
                          rollout_logprobs=r.logprobs) for i, r in enumerate(responses)]
    frozen = LearnerSection(ppo_epochs=1, lr=0.0)  # both learners see the weights that sampled
    learner = LocalLearner(model, tokenizer, frozen, allowed_token_ids=doors)
    metrics = learner.update_samples(samples)
    assert metrics["rollout_logprob_gap"] < 1e-4  # the learner's log-probs are the constrained sampler's
    assert 0.5 < metrics["token_entropy"] <= torch.log(torch.tensor(4.0)).item() + 1e-5  # entropy over 4 doors
    unconstrained = LocalLearner(model, tokenizer, frozen)
    assert unconstrained.update_samples(samples)["rollout_logprob_gap"] > 1e-3
    with pytest.raises(ValueError, match="subset"):
        LocalPolicy(model, tokenizer, allowed_token_ids=[10_000])
