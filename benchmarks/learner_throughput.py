"""Learner throughput on a Doors-shaped batch: micro-batches of similar lengths vs fixed slices (same run, same data).

    .venv/bin/python benchmarks/learner_throughput.py [--rounds 3]

A Doors iteration mixes first turns (~160 tokens: instruction + room) with later turns (~75 tokens); fixed slices pad
every micro-batch to the longest prompt in it. Prints the best-of-rounds update time of `LocalLearner.update_samples`
(tiny byte model, 4 PPO epochs, 1 thread) for both and the ratio.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

import harness.train.learner as learner_module
from harness.config import LearnerSection
from harness.models.tiny import byte_tokenizer, tiny_model
from harness.train.batching import TurnSample

FIRST = ("Leave the last of 2 rooms. Each room has 4 doors labelled with letters; open the one that leads on.\n"
         "Room 1 of 2. The draft comes from door C.")
LATER = "That door is locked. Room 1 of 2. The draft comes from door B."


def doors_batch(tokenizer, groups: int = 8, group_size: int = 8) -> list[TurnSample]:
    """Turn samples shaped like one Doors iteration (2–4 turns per episode, one-letter responses)."""
    rng = random.Random(0)

    def encode(text: str) -> list[int]:
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                             tokenize=True, return_dict=True)["input_ids"]

    return [TurnSample(prompt_ids=encode(FIRST if t == 0 else LATER), response_ids=[65 + rng.randrange(4)],
                       score=10.0 * (rng.random() < 0.3), step_reward=0.0, uid=f"g{g}", traj_uid=f"g{g}-{j}", turn=t,
                       anchor_obs="", valid=True)
            for g in range(groups) for j in range(group_size) for t in range(rng.choice([2, 3, 4]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokenizer = byte_tokenizer()
    samples = doors_batch(tokenizer)
    bucketed = learner_module.length_buckets

    def fixed_slices(index, lengths, max_size, slack=1.25):
        return list(index.split(max_size))

    best: dict[str, float] = {}
    tokens = 0.0
    for _ in range(args.rounds):  # interleaved, so load changes hit both alike
        for name, split in (("fixed slices", fixed_slices), ("length buckets", bucketed)):
            learner_module.length_buckets = split
            learner = learner_module.LocalLearner(tiny_model(0), tokenizer, LearnerSection(ppo_epochs=4))
            start = time.perf_counter()
            metrics = learner.update_samples(samples)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
            tokens = metrics["learner_tokens_per_s"] * metrics["learner_time_s"]
    learner_module.length_buckets = bucketed
    print(f"{len(samples)} samples, {tokens:.0f} real tokens per update (4 epochs)")
    for name, seconds in best.items():
        print(f"{name:15s} {seconds:.2f} s  {tokens / seconds:,.0f} tokens/s")
    print(f"speed-up: {best['fixed slices'] / best['length buckets']:.2f}x")


if __name__ == "__main__":
    main()
