"""Proxies and policy losses against loop references; gradients flow where they must."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import aem
from aem import reference as ref
from tests.aem.layouts import random_mask

FAST = settings(max_examples=40, deadline=None)
shapes = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(1, 9))


@FAST
@given(shapes)
def test_proxies_match_loop(shape: tuple[int, int, int]) -> None:
    seed, batch, length = shape
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, length, 7, generator=gen, dtype=torch.float64) * 3
    mask = random_mask(gen, batch, length)
    ent = aem.token_entropy_from_logits(logits)
    torch.testing.assert_close(ent, torch.tensor(ref.token_entropy_ref(logits), dtype=torch.float64))
    logp = torch.log_softmax(logits, -1)[..., 0]
    torch.testing.assert_close(aem.response_entropy(ent, mask),
                               torch.tensor(ref.response_mean_ref(ent, mask), dtype=torch.float64))
    torch.testing.assert_close(aem.response_surprisal(logp, mask),
                               torch.tensor(ref.response_mean_ref(logp, mask, sign=-1.0), dtype=torch.float64))


def test_proxy_edge_cases() -> None:
    uniform = torch.zeros(1, 2, 4)
    assert torch.allclose(aem.token_entropy_from_logits(uniform), torch.full((1, 2), math.log(4)))
    empty = torch.zeros(2, 3, dtype=torch.bool)
    assert aem.response_entropy(torch.ones(2, 3), empty).tolist() == [0.0, 0.0]
    assert math.isnan(float(aem.response_entropy(torch.ones(1, 3), empty[:1], empty_value=float("nan"))[0]))
    top = torch.log(torch.tensor([[[0.5, 0.25, 0.25]]]))
    assert torch.allclose(aem.topk_entropy(top), torch.tensor([[1.5 * math.log(2)]]))
    with pytest.raises(ValueError, match="token_logprobs"):
        aem.response_proxy(empty, kind="surprisal")


@FAST
@given(shapes, st.sampled_from(list(aem.losses.AGG_MODES)), st.sampled_from(["token", "sequence"]),
       st.sampled_from([None, 3.0]), st.sampled_from([(0.2, 0.2), (0.2, 0.28)]))
def test_policy_loss_matches_loop(shape, agg, ratio, dual, clips) -> None:
    seed, batch, length = shape
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(batch, length, generator=gen, dtype=torch.float64) * 3
    logp = old + torch.randn(batch, length, generator=gen, dtype=torch.float64) * 0.4
    adv = torch.randn(batch, generator=gen, dtype=torch.float64)[:, None].expand(batch, length)
    mask = random_mask(gen, batch, length)
    loss, metrics = aem.policy_loss(logp, old, adv, mask, clip_low=clips[0], clip_high=clips[1], dual_clip=dual,
                                    agg=agg, ratio=ratio)
    expected = ref.policy_loss_ref(logp, old, adv, mask, clip_low=clips[0], clip_high=clips[1], dual_clip=dual,
                                   agg=agg, ratio=ratio)
    assert abs(loss.item() - expected) < 1e-6
    assert set(metrics) >= {"pg_loss", "pg_clipfrac", "ppo_kl"}


def test_policy_loss_gradient_and_clipping() -> None:
    old = torch.zeros(1, 2, dtype=torch.float64)
    logp = torch.tensor([[0.5, -0.5]], dtype=torch.float64, requires_grad=True)  # ratios e^.5 ≈ 1.65, e^-.5 ≈ .61
    mask = torch.ones(1, 2)
    loss, metrics = aem.policy_loss(logp, old, torch.tensor([1.0], dtype=torch.float64), mask)
    # A > 0: token 0 clipped at 1.2 (no gradient), token 1 unclipped (gradient −ρ/2).
    assert abs(loss.item() - (-(1.2 + math.exp(-0.5)) / 2)) < 1e-12
    loss.backward()
    assert logp.grad[0, 0] == 0 and abs(float(logp.grad[0, 1]) + math.exp(-0.5) / 2) < 1e-12
    assert metrics["pg_clipfrac"] == 0.5
    # Dual clip bounds a negative-advantage token with a huge ratio at −A·c.
    big = torch.tensor([[3.0]], dtype=torch.float64)
    dual, m = aem.policy_loss(big, torch.zeros(1, 1, dtype=torch.float64), torch.tensor([-1.0]), torch.ones(1, 1),
                              dual_clip=3.0)
    assert dual.item() == 3.0 and m["pg_clipfrac_lower"] == 1.0


def test_gspo_gradient_is_sequence_level() -> None:
    old = torch.zeros(1, 3, dtype=torch.float64)
    logp = torch.tensor([[0.03, -0.01, 0.01]], dtype=torch.float64, requires_grad=True)
    loss, _ = aem.policy_loss(logp, old, torch.tensor([1.0], dtype=torch.float64), torch.ones(1, 3), ratio="sequence",
                              agg="seq-mean-token-mean", clip_low=0.1, clip_high=0.1)
    loss.backward()
    s = math.exp(0.01)  # exp(mean log-ratio)
    assert torch.allclose(logp.grad, torch.full((1, 3), -s / 3, dtype=torch.float64))


def test_empty_mask_loss_is_zero_and_differentiable() -> None:
    logp = torch.zeros(2, 3, requires_grad=True)
    for agg in aem.losses.AGG_MODES:
        loss, _ = aem.policy_loss(logp, torch.zeros(2, 3), torch.ones(2), torch.zeros(2, 3), agg=agg)
        assert loss.item() == 0.0
        loss.backward()


@FAST
@given(shapes)
def test_kl_k3_matches_loop_and_is_nonnegative(shape) -> None:
    seed, batch, length = shape
    gen = torch.Generator().manual_seed(seed)
    logp = -torch.rand(batch, length, generator=gen, dtype=torch.float64) * 4
    ref_lp = -torch.rand(batch, length, generator=gen, dtype=torch.float64) * 4
    kl = aem.kl_k3(logp, ref_lp)
    torch.testing.assert_close(kl, torch.tensor(ref.kl_k3_ref(logp, ref_lp), dtype=torch.float64))
    assert bool((kl >= 0).all()) and float(aem.kl_k3(logp, logp).abs().max()) == 0.0
