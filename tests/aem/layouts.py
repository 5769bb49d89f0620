"""Random step-sample layouts for the property tests (groups, trajectories, unique steps, shuffled order)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from hypothesis import strategies as st


@dataclass
class Layout:
    """A random batch of step-samples: ids plus matching random values."""

    groups: list[int]
    trajs: list[int]
    steps: list[int]
    anchors: list[int]
    scores: list[float]
    rewards: list[float]
    proxy: list[float]
    invalid: list[bool]

    def t(self, name: str, dtype: torch.dtype = torch.long) -> torch.Tensor:
        """A field as a tensor."""
        return torch.tensor(getattr(self, name), dtype=dtype)


def make_layout(seed: int, size: int, n_groups: int, trajs_per_group: int, discrete: bool) -> Layout:
    """Build a layout; ``discrete`` draws scores from {0, 10} (ties, all-equal groups) instead of Gaussians."""
    rng = random.Random(seed)
    counters: dict[tuple[int, int], int] = {}
    rows = []
    for _ in range(size):
        g, t = rng.randrange(n_groups), rng.randrange(trajs_per_group)
        step = counters.get((g, t), -1) + rng.choice([1, 1, 1, 2])  # occasional gaps
        counters[(g, t)] = step
        rows.append((g, t, step))
    rng.shuffle(rows)
    score = (lambda: float(rng.choice([0.0, 10.0]))) if discrete else (lambda: rng.gauss(0, 3))
    return Layout(
        groups=[r[0] for r in rows],
        trajs=[r[1] for r in rows],
        steps=[r[2] for r in rows],
        anchors=[rng.randrange(3) for _ in rows],
        scores=[score() for _ in rows],
        rewards=[rng.choice([0.0, 0.0, 1.0, rng.uniform(-1, 1)]) for _ in rows],
        proxy=[rng.uniform(0, rng.choice([0.05, 1.0, 3.0])) for _ in rows],
        invalid=[rng.random() < 0.2 for _ in rows],
    )


layouts = st.builds(
    make_layout,
    seed=st.integers(0, 2**31 - 1),
    size=st.integers(1, 40),
    n_groups=st.integers(1, 5),
    trajs_per_group=st.integers(1, 4),
    discrete=st.booleans(),
)


def random_mask(gen: torch.Generator, batch: int, length: int) -> torch.Tensor:
    """Response masks: a random contiguous span per row, some rows empty."""
    start = torch.randint(0, length, (batch,), generator=gen)
    span = torch.randint(0, length + 1, (batch,), generator=gen)
    pos = torch.arange(length)[None, :]
    return (pos >= start[:, None]) & (pos < (start + span)[:, None])


@dataclass
class MultiTurn:
    """A random batch of multi-turn samples (one row = one trajectory): turns are the runs of ones of ``mask``."""

    mask: torch.Tensor
    entropy: torch.Tensor
    groups: list[int]
    scores: list[float]


def make_multiturn(seed: int, batch: int, n_groups: int, max_turns: int, scale: float) -> MultiTurn:
    """Rows of 0..``max_turns`` turns (0 turns: an all-zero row) of ragged lengths, env replies of ≥ 1 token between
    turns, trailing padding. Token entropies are uniform in [0, ``scale``] (``scale`` 0: all equal, so the guard
    holds), NaN outside the mask (they must never leak in). Groups are random, so groups of one occur."""
    rng = random.Random(seed)
    rows = []
    for _ in range(batch):
        row: list[int] = []
        for _ in range(rng.randrange(max_turns + 1)):
            row += [0] * rng.randint(1 if row else 0, 4)
            row += [1] * rng.randint(1, 6)
        rows.append(row)
    length = max(1, max(len(r) for r in rows) + rng.randint(0, 3))
    mask = torch.tensor([r + [0] * (length - len(r)) for r in rows], dtype=torch.bool).reshape(batch, length)
    values = torch.tensor([[rng.uniform(0, scale) if scale else 0.7 for _ in range(length)] for _ in range(batch)],
                          dtype=torch.float64).reshape(batch, length)
    return MultiTurn(
        mask=mask,
        entropy=torch.where(mask, values, torch.full_like(values, float("nan"))),
        groups=[rng.randrange(n_groups) for _ in range(batch)],
        scores=[float(rng.choice([0.0, 10.0])) - 0.1 * rng.randrange(3) for _ in range(batch)],
    )


multiturn_layouts = st.builds(
    make_multiturn,
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 24),
    n_groups=st.integers(1, 4),
    max_turns=st.integers(1, 5),
    scale=st.sampled_from([0.0, 0.05, 1.0, 3.0]),
)
