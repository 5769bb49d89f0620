"""Speed of AEM (+ base estimator) vs the loop reference and vs a PPO loss forward+backward of a small model.

Batch: 16 groups × 8 trajectories × 50 steps = 6,400 step-samples × 512 response tokens (the ALFWorld setting).
Targets (issue 7): vectorised ≥ 100× faster than the loop reference; AEM ≤ 1% of the PPO forward+backward.
The model pass is timed on a few micro-batches and scaled linearly to the full batch (its cost is linear in rows);
the script prints both the measured and the scaled numbers. Usage: ``python benchmarks/aem_speed.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import aem
from aem import reference as ref


def build_batch(groups: int, trajs: int, steps: int, tokens: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    size = groups * trajs * steps
    group_index = torch.arange(groups).repeat_interleave(trajs * steps)
    traj_index = torch.arange(groups * trajs).repeat_interleave(steps)
    step_index = torch.arange(steps).repeat(groups * trajs)
    won = (torch.rand(groups * trajs, generator=gen) < 0.4).float().repeat_interleave(steps) * 10
    lengths = torch.randint(16, tokens + 1, (size,), generator=gen)
    mask = torch.arange(tokens)[None, :] < lengths[:, None]
    return {
        "scores": won - 0.1 * (torch.rand(size, generator=gen) < 0.1).float(),
        "step_rewards": won * (step_index == steps - 1).float(),
        "group_index": group_index,
        "traj_index": traj_index,
        "step_index": step_index,
        "anchor_ids": torch.randint(0, 40, (size,), generator=gen),
        "token_entropy": torch.rand(size, tokens, generator=gen) * 3,
        "mask": mask,
    }


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) if repeats < 3 else statistics.median(times)


def fast_aem(b: dict[str, torch.Tensor], base: str) -> torch.Tensor:
    proxy = aem.response_entropy(b["token_entropy"], b["mask"])
    if base == "grpo":
        adv = aem.grpo_advantages(b["scores"], b["group_index"])
    else:
        adv = aem.gigpo_advantages(b["scores"], b["step_rewards"], b["group_index"], b["traj_index"],
                                   b["step_index"], b["anchor_ids"])
    modulated, _ = aem.aem_modulate(adv, proxy, b["group_index"])
    return aem.broadcast_to_tokens(modulated, b["mask"])


def fast_sample_level(b: dict[str, torch.Tensor], base: str, proxy: torch.Tensor) -> torch.Tensor:
    if base == "grpo":
        adv = aem.grpo_advantages(b["scores"], b["group_index"])
    else:
        adv = aem.gigpo_advantages(b["scores"], b["step_rewards"], b["group_index"], b["traj_index"],
                                   b["step_index"], b["anchor_ids"])
    return aem.aem_modulate(adv, proxy, b["group_index"])[0]


def loop_sample_level(b: dict[str, torch.Tensor], base: str, proxy: list[float]) -> list[float]:
    groups = b["group_index"].tolist()
    if base == "grpo":
        adv = ref.grpo_ref(b["scores"].tolist(), groups)
    else:
        adv = ref.gigpo_ref(b["scores"].tolist(), b["step_rewards"].tolist(), groups, b["traj_index"].tolist(),
                            b["step_index"].tolist(), b["anchor_ids"].tolist())
    return [a * w for a, w in zip(adv, ref.aem_alpha_ref(proxy, groups), strict=True)]


def loop_aem(b: dict[str, torch.Tensor], base: str) -> list[list[float]]:
    proxy = ref.response_mean_ref(b["token_entropy"], b["mask"])
    groups = b["group_index"].tolist()
    if base == "grpo":
        adv = ref.grpo_ref(b["scores"].tolist(), groups)
    else:
        adv = ref.gigpo_ref(b["scores"].tolist(), b["step_rewards"].tolist(), groups, b["traj_index"].tolist(),
                            b["step_index"].tolist(), b["anchor_ids"].tolist())
    alpha = ref.aem_alpha_ref(proxy, groups)
    return [[a * w * keep for keep in row] for a, w, row in zip(adv, alpha, b["mask"].tolist(), strict=True)]


def ppo_step_seconds(b: dict[str, torch.Tensor], micro: int, rows_measured: int) -> tuple[float, float]:
    """Forward + PPO loss + backward of a 0.16 M-param Llama (h64, L2, byte vocab 261) on ``rows_measured`` rows."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=4, vocab_size=261,
                                         max_position_embeddings=1024))
    tokens = b["mask"].shape[1]
    ids = torch.randint(0, 261, (micro, tokens))
    adv = fast_aem(b, "grpo")
    elapsed = 0.0
    for start in range(0, rows_measured, micro):
        rows = slice(start, start + micro)
        t0 = time.perf_counter()
        logits = model(input_ids=ids).logits
        logp = torch.log_softmax(logits.float(), -1).gather(-1, ids[..., None]).squeeze(-1)
        loss, _ = aem.policy_loss(logp, logp.detach(), adv[rows], b["mask"][rows])
        loss.backward()
        elapsed += time.perf_counter() - t0
    return elapsed, elapsed * b["mask"].shape[0] / rows_measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batch (2 groups) for a smoke run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    groups = 2 if args.quick else 16
    b = build_batch(groups, 8, 50, 512)
    size, tokens = b["mask"].shape
    print(f"batch: {groups} groups x 8 trajectories x 50 steps = {size} step-samples x {tokens} tokens, 1 thread")
    results = {}
    for base in ("grpo", "gigpo"):
        fast = best_of(lambda base=base: fast_aem(b, base), 7)
        slow = best_of(lambda base=base: loop_aem(b, base), 1)
        check = torch.tensor(loop_aem(b, base))
        assert torch.allclose(fast_aem(b, base), check, atol=1e-5), "vectorised and loop results differ"
        results[base] = fast
        print(f"AEM + {base:5s} full (proxy over tokens, base, alpha, broadcast): vectorised {fast * 1e3:7.2f} ms | "
              f"loop reference {slow:6.2f} s | speed-up {slow / fast:6.0f}x (target >= 100x)")
        proxy = aem.response_entropy(b["token_entropy"], b["mask"])
        proxy_list = proxy.tolist()
        fast_s = best_of(lambda base=base, proxy=proxy: fast_sample_level(b, base, proxy), 7)
        slow_s = best_of(lambda base=base, p=proxy_list: loop_sample_level(b, base, p), 1)
        print(f"AEM + {base:5s} sample level (base + alpha on [B]):         vectorised {fast_s * 1e3:7.2f} ms | "
              f"loop reference {slow_s:6.2f} s | speed-up {slow_s / fast_s:6.0f}x")
    measured_rows = 24
    measured, scaled = ppo_step_seconds(b, 8, measured_rows)
    print(f"PPO loss fwd+bwd, 0.16M-param Llama: {measured:.2f} s on {measured_rows} rows "
          f"-> {scaled:.1f} s scaled to {size} rows")
    for base, fast in results.items():
        print(f"AEM + {base:5s} / PPO fwd+bwd = {100 * fast / scaled:.3f}% (target <= 1%)")


if __name__ == "__main__":
    main()
