"""Per-turn AEM vs one α per trajectory on random multi-turn batches (verl agent-loop layout), and its speed.

One row = one trajectory: 1..``--max-turns`` model turns of 8..``--max-turn-tokens`` tokens, env replies of 4..64
tokens between them (mask 0). Each turn has its own entropy level (uniform in [0, 2] nats) plus token noise; rewards
are 0 / 10 (success ~40%). Prints, per batch, the largest |Δ advantage| between per-turn AEM (the paper's,
``aem.aem_span_modulate``) and the old whole-trajectory α (``aem.aem_modulate`` on the trajectory's mean token
entropy), both on the same GRPO base advantage; then the time of the vectorised per-turn AEM against the loop
reference on one batch. Usage: ``python benchmarks/aem_per_turn.py [--batches 20] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import time

import torch

import aem
from aem import reference as ref


def multi_turn_batch(gen: torch.Generator, groups: int, group_size: int, max_turns: int,
                     max_turn_tokens: int) -> dict[str, torch.Tensor]:
    """Masks, token entropies, rewards and group ids of ``groups × group_size`` trajectories."""
    rows, ents = [], []
    for _ in range(groups * group_size):
        mask: list[int] = []
        ent: list[float] = []
        for turn in range(int(torch.randint(1, max_turns + 1, (1,), generator=gen))):
            if turn:
                gap = int(torch.randint(4, 65, (1,), generator=gen))
                mask += [0] * gap
                ent += [0.0] * gap
            length = int(torch.randint(8, max_turn_tokens + 1, (1,), generator=gen))
            level = float(torch.rand(1, generator=gen)) * 2
            mask += [1] * length
            ent += (level + 0.3 * torch.randn(length, generator=gen)).clamp(min=0).tolist()
        rows.append(mask)
        ents.append(ent)
    width = max(len(r) for r in rows)
    won = (torch.rand(groups * group_size, generator=gen) < 0.4).double() * 10
    return {
        "mask": torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.bool),
        "entropy": torch.tensor([e + [0.0] * (width - len(e)) for e in ents]),
        "scores": won,
        "groups": torch.arange(groups).repeat_interleave(group_size),
    }


def compare(batch: dict[str, torch.Tensor]) -> tuple[float, float, float]:
    """(max |Δ advantage|, mean |Δ advantage|, max |Δ α|) over response tokens, per-turn vs trajectory α."""
    mask, ent, groups = batch["mask"], batch["entropy"], batch["groups"]
    base = aem.grpo_advantages(batch["scores"], groups)
    per_turn, alpha_turn = aem.aem_span_modulate(base, ent, aem.spans_from_mask(mask), groups)
    whole, alpha_whole = aem.aem_modulate(base, aem.response_entropy(ent, mask), groups)
    delta = (per_turn - aem.broadcast_to_tokens(whole, mask).to(per_turn.dtype)).abs()
    delta_alpha = (alpha_turn - alpha_whole[:, None].to(alpha_turn.dtype)).abs()[mask]
    return float(delta.max()), float(delta[mask].mean()), float(delta_alpha.max())


def main() -> None:
    """Print the old-vs-new figures and the speed of the per-turn estimator."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--max-turns", type=int, default=10)
    parser.add_argument("--max-turn-tokens", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)
    worst, worst_alpha = [], []
    for i in range(args.batches):
        batch = multi_turn_batch(gen, args.groups, args.group_size, args.max_turns, args.max_turn_tokens)
        top, mean, top_alpha = compare(batch)
        worst.append(top)
        worst_alpha.append(top_alpha)
        print(f"batch {i:2d}: {batch['mask'].shape[0]} trajectories × {batch['mask'].shape[1]} tokens, "
              f"{int(aem.spans_from_mask(batch['mask']).max(dim=-1).values.add(1).sum())} turns: "
              f"max |Δ adv| {top:.3f}, mean |Δ adv| {mean:.3f}, max |Δ α| {top_alpha:.3f}")
    print(f"per-turn vs whole-trajectory α over {args.batches} batches: max |Δ advantage| {max(worst):.3f} "
          f"(median of the batch maxima {sorted(worst)[len(worst) // 2]:.3f}), max |Δ α| {max(worst_alpha):.3f}")
    fast_s = min(_timed(lambda: aem.aem_span_modulate(
        aem.grpo_advantages(batch["scores"], batch["groups"]), batch["entropy"],
        aem.spans_from_mask(batch["mask"]), batch["groups"])) for _ in range(5))
    loop_s = _timed(lambda: ref.aem_span_alpha_ref(batch["entropy"], batch["mask"], batch["groups"].tolist()))
    print(f"speed on the last batch: vectorised {fast_s * 1e3:.2f} ms, loop reference {loop_s * 1e3:.0f} ms "
          f"({loop_s / fast_s:.0f}×)")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
