"""EPO: paper form against the loop reference, hand-computed schedule and corridor, the code variant's flags."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import aem
from aem import reference as ref
from tests.aem.layouts import random_mask


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8), st.integers(1, 7), st.integers(0, 4))
def test_epo_paper_term_matches_loop(seed: int, batch: int, length: int, history_len: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    ent = torch.rand(batch, length, generator=gen, dtype=torch.float64) * 3
    mask = random_mask(gen, batch, length)
    trajs = torch.randint(0, 3, (batch,), generator=gen)
    history = (torch.rand(history_len, generator=gen, dtype=torch.float64) + 0.2).tolist()
    state = aem.EPOState(history=list(history), kappa_low=0.5, kappa_high=1.5, alpha=0.1, total_steps=20)
    term, metrics = aem.epo_loss_term(ent, mask, trajs, state)
    expected = ref.epo_paper_ref(ent, mask, trajs.tolist(), coef=state.coef, alpha=0.1, kappa_low=0.5,
                                 kappa_high=1.5, history=history, gamma=3.0, total_steps=20)
    assert abs(term.item() - expected) < 1e-9
    assert metrics["epo_beta"] == state.beta()


def test_epo_schedule_and_reference() -> None:
    state = aem.EPOState(total_steps=150)
    assert state.k == 0 and state.reference() is None and state.beta() == 2.0
    state.update(torch.tensor([[1.0, 3.0]]), torch.tensor([[1, 1]]))
    state.update(torch.tensor([[4.0, 0.0]]), torch.tensor([[1, 0]]))
    assert state.history == [2.0, 4.0] and state.reference() == 3.0  # cumulative mean
    assert abs(state.beta() - (1 + math.exp(-3.0 * 2 / 75))) < 1e-12


def test_epo_hinge_gradient_pushes_back_into_corridor() -> None:
    state = aem.EPOState(history=[1.0], kappa_low=0.5, kappa_high=2.0, alpha=1.0, coef=1.0)
    ent = torch.tensor([[3.0, 1.0, 0.2]], requires_grad=True)  # above, inside, below the corridor [0.5, 2]
    term, metrics = aem.epo_loss_term(ent, torch.ones(1, 3), torch.zeros(1, dtype=torch.long), state)
    term.backward()
    beta = state.beta()
    # d/dh of −(mean h − β·mean α·P): inside → −1/3; above → −1/3 + β/3; below → −1/3 − β/3.
    torch.testing.assert_close(ent.grad, torch.tensor([[(-1 + beta) / 3, -1 / 3, (-1 - beta) / 3]]))
    assert abs(metrics["epo_out_of_range"] - 2 / 3) < 1e-6


def test_epo_first_step_has_no_smoothing() -> None:
    ent = torch.tensor([[5.0, 0.0]], requires_grad=True)
    term, metrics = aem.epo_loss_term(ent, torch.ones(1, 2), torch.zeros(1, dtype=torch.long), aem.EPOState())
    assert metrics["epo_smooth"] == 0.0 and abs(term.item() + 0.001 * 2.5) < 1e-9


def test_epo_code_variant_indicator_has_no_gradient_and_is_gated() -> None:
    state = aem.EPOState(variant="code", max_turns=4, alpha=0.1, coef=1.0)
    state.update(torch.tensor([[1.0], [2.0]]), torch.ones(2, 1), turn_index=torch.tensor([0, 3]))
    ent = torch.tensor([[5.0], [1.5]], requires_grad=True)
    late = torch.tensor([0, 3])
    term, metrics = aem.epo_loss_term(ent, torch.ones(2, 1), torch.zeros(2, dtype=torch.long), state, turn_index=late)
    # Turn 0 ref 1.0: 5.0 is outside (0, 2) → penalty α; turn 3 ref 2.0: 1.5 inside (0, 4).
    assert abs(metrics["epo_smooth"] - 0.05) < 1e-9
    term.backward()
    torch.testing.assert_close(ent.grad, torch.full((2, 1), -0.5))  # only the plain entropy bonus has gradient
    early = torch.tensor([0, 1])  # no turn ≥ max_turns // 2 → smoothing gated off
    _, gated = aem.epo_loss_term(ent, torch.ones(2, 1), torch.zeros(2, dtype=torch.long), state, turn_index=early)
    assert gated["epo_smooth"] == 0.0
    with pytest.raises(ValueError, match="turn_index"):
        aem.epo_loss_term(ent, torch.ones(2, 1), torch.zeros(2, dtype=torch.long), state)


def test_code_weight_schedule() -> None:
    state = aem.EPOState(smooth_weights=True, total_steps=150)
    assert state.code_weight() == 1.0
    state.history = [0.0] * 75
    assert abs(state.code_weight() - 0.8) < 1e-12
    state.history = [0.0] * 150
    assert abs(state.code_weight() - 0.8 * math.exp(-3)) < 1e-12
