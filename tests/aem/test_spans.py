"""AEM per turn inside multi-turn samples: loop equivalence on random layouts, edge cases, agreement with AEM on
step-samples when every sample has one turn."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings

import aem
from aem import reference as ref
from tests.aem.layouts import MultiTurn, multiturn_layouts

FAST = settings(max_examples=80, deadline=None)
TOL = 1e-9  # everything runs in float64; the loop reference in Python floats


def base_of(lay: MultiTurn) -> torch.Tensor:
    return aem.grpo_advantages(torch.tensor(lay.scores, dtype=torch.float64), torch.tensor(lay.groups))


@FAST
@given(multiturn_layouts)
def test_spans_from_mask_numbers_the_runs_of_ones(lay: MultiTurn) -> None:
    ids = aem.spans_from_mask(lay.mask)
    expected = torch.full_like(ids, -1)
    counters = [0] * lay.mask.shape[0]
    for b, toks in ref.spans_ref(lay.mask):
        expected[b, toks] = counters[b]
        counters[b] += 1
    assert torch.equal(ids, expected)
    assert torch.equal(aem.spans_from_mask(lay.mask.long()), ids)  # 0/1 masks work as well as bool


@FAST
@given(multiturn_layouts)
def test_span_alpha_matches_loop_every_scope_and_direction(lay: MultiTurn) -> None:
    groups = torch.tensor(lay.groups)
    ids = aem.spans_from_mask(lay.mask)
    base = base_of(lay)
    for scope in ("group", "trajectory", "batch"):
        for variant, rev in (("aem", False), ("reversed", True)):
            for lam in (0.0, 1.0, 2.5):
                expected = torch.tensor(ref.aem_span_alpha_ref(lay.entropy, lay.mask, lay.groups, scope=scope,
                                                               lam=lam, reversed_=rev), dtype=torch.float64)
                alpha_tokens, alpha, row = aem.aem_span_alpha(lay.entropy, ids, groups, lam=lam, scope=scope,
                                                              variant=variant)
                torch.testing.assert_close(alpha_tokens, expected, atol=TOL, rtol=TOL)
                assert alpha.numel() == len(ref.spans_ref(lay.mask)) == row.numel()
                modulated, _ = aem.aem_span_modulate(base, lay.entropy, ids, groups, lam=lam, scope=scope,
                                                     variant=variant)
                torch.testing.assert_close(modulated, torch.where(lay.mask, base[:, None] * expected, 0.0),
                                           atol=TOL, rtol=TOL)


@FAST
@given(multiturn_layouts)
def test_span_invariants(lay: MultiTurn) -> None:
    groups = torch.tensor(lay.groups)
    ids = aem.spans_from_mask(lay.mask)
    base = base_of(lay)
    modulated, alpha_tokens = aem.aem_span_modulate(base, lay.entropy, ids, groups)
    assert bool(torch.isfinite(modulated).all()) and bool((alpha_tokens > 0).all())
    assert torch.equal(torch.sign(modulated), torch.sign(torch.where(lay.mask, base[:, None], 0.0)))  # signs kept
    _, alpha, row = aem.aem_span_alpha(lay.entropy, ids, groups)
    for group in set(lay.groups):
        members = alpha[groups[row] == group]
        if members.numel():
            assert abs(float(members.mean()) - 1.0) < 1e-9  # the group's mean α over its turns is 1
    same, ones = aem.aem_span_modulate(base, lay.entropy, ids, groups, lam=0.0)
    assert bool((ones == 1).all()) and torch.equal(same, torch.where(lay.mask, base[:, None], 0.0))
    token_base = torch.where(lay.mask, base[:, None], 0.0)
    from_tokens, _ = aem.aem_span_modulate(token_base, lay.entropy, ids, groups)
    torch.testing.assert_close(from_tokens, modulated)  # [B] and [B, T] base advantages agree


@FAST
@given(multiturn_layouts)
def test_span_shuffled_permutes_alpha_among_the_group_turns(lay: MultiTurn) -> None:
    groups = torch.tensor(lay.groups)
    ids = aem.spans_from_mask(lay.mask)
    _, alpha, row = aem.aem_span_alpha(lay.entropy, ids, groups)
    _, shuffled, _ = aem.aem_span_alpha(lay.entropy, ids, groups, variant="shuffled",
                                        generator=torch.Generator().manual_seed(3))
    for group in set(lay.groups):
        sel = groups[row] == group
        assert torch.equal(torch.sort(alpha[sel]).values, torch.sort(shuffled[sel]).values)


@FAST
@given(multiturn_layouts)
def test_one_turn_per_sample_equals_step_sample_aem(lay: MultiTurn) -> None:
    # Keep only each row's first turn: then per-turn AEM must equal the whole-response AEM of modulation.py.
    ids = aem.spans_from_mask(lay.mask)
    first = ids == 0
    groups = torch.tensor(lay.groups)
    base = base_of(lay)
    per_turn, _ = aem.aem_span_modulate(base, lay.entropy, aem.spans_from_mask(first), groups)
    proxy = aem.response_entropy(lay.entropy, first, empty_value=float("nan"))
    whole, _ = aem.aem_modulate(base, proxy, groups)
    torch.testing.assert_close(per_turn, aem.broadcast_to_tokens(whole, first), atol=TOL, rtol=TOL)


def test_span_hand_computed_guard_group_of_one_and_empty_rows() -> None:
    mask = torch.tensor([
        [1, 1, 0, 1, 0, 0],   # group 0: turns with entropies 0.0 and 1.0
        [0, 1, 0, 0, 1, 1],   # group 0: turns with entropies 0.5 and 0.5
        [0, 0, 0, 0, 0, 0],   # group 0: no turns at all
        [1, 0, 1, 0, 1, 0],   # group 1 (a group of one): entropies 2.0, 2.05, 2.02 → range < 0.1 → α = 1
        [1, 1, 1, 0, 1, 0],   # group 2 (a group of one): entropies 1.0 and 3.0
    ], dtype=torch.bool)
    ent = torch.tensor([
        [0.0, 0.0, 9, 1.0, 9, 9],
        [9, 0.5, 9, 9, 0.2, 0.8],
        [9, 9, 9, 9, 9, 9],
        [2.0, 9, 2.05, 9, 2.02, 9],
        [0.5, 1.0, 1.5, 9, 3.0, 9],
    ], dtype=torch.float64)
    groups = torch.tensor([0, 0, 0, 1, 2])
    base = torch.tensor([1.0, -1.0, 4.0, 3.0, 2.0], dtype=torch.float64)
    modulated, alpha_tokens = aem.aem_span_modulate(base, ent, aem.spans_from_mask(mask), groups)
    w0 = [1.0, math.exp(-1.0), math.exp(-0.5), math.exp(-0.5)]  # group 0: h̃ = 0, 1, .5, .5
    a0 = [w / (sum(w0) / 4) for w in w0]
    w2 = [1.0, math.exp(-1.0)]
    a2 = [w / (sum(w2) / 2) for w in w2]
    expected_alpha = torch.tensor([
        [a0[0], a0[0], 1, a0[1], 1, 1],
        [1, a0[2], 1, 1, a0[3], a0[3]],
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
        [a2[0], a2[0], a2[0], 1, a2[1], 1],
    ], dtype=torch.float64)
    torch.testing.assert_close(alpha_tokens, expected_alpha, atol=1e-7, rtol=1e-7)  # ε = 1e-8 in the min–max
    torch.testing.assert_close(modulated, torch.where(mask, base[:, None] * expected_alpha, 0.0))
    assert alpha_tokens[0, 0] > 1 > alpha_tokens[0, 3]  # the confident turn is amplified, the uncertain one damped
    assert bool((modulated[2] == 0).all())  # no turns: nothing to modulate


def test_span_functions_on_an_empty_batch_and_no_turns() -> None:
    for shape in ((0, 5), (3, 4)):
        mask = torch.zeros(shape, dtype=torch.bool)
        ids = aem.spans_from_mask(mask)
        modulated, alpha_tokens = aem.aem_span_modulate(torch.ones(shape[0]), torch.rand(shape), ids,
                                                        torch.zeros(shape[0], dtype=torch.long))
        assert modulated.shape == shape and bool((modulated == 0).all()) and bool((alpha_tokens == 1).all())


def test_explicit_span_ids_split_adjacent_turns() -> None:
    # Two turns with no env token between them are one run of the mask; explicit ids keep them apart.
    ent = torch.tensor([[0.0, 0.0, 2.0, 2.0]], dtype=torch.float64)
    ids = torch.tensor([[0, 0, 1, 1]])
    alpha_tokens, alpha, row = aem.aem_span_alpha(ent, ids, torch.zeros(1, dtype=torch.long))
    assert alpha.numel() == 2 and row.tolist() == [0, 0] and alpha[0] > 1 > alpha[1]
    merged, _, _ = aem.aem_span_alpha(ent, aem.spans_from_mask(ids >= 0), torch.zeros(1, dtype=torch.long))
    assert bool((merged == 1).all())  # one span: a group with one member has range 0 → α = 1
