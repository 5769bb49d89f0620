"""Wall clock of the verl agent loop (`harness.verl.agent_loop`) with a slow env: N concurrent trajectories whose
every env step sleeps S seconds, with the env thread pool sized to N and with one thread (every env call in turn,
as when env calls ran on verl's event loop). Needs the verl venv and a scripted token server (no GPU, no model)::

    PYTHONPATH=$PWD .venv-verl/bin/python benchmarks/verl_env_concurrency.py [--trajectories 8] [--seconds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from types import SimpleNamespace

from omegaconf import OmegaConf

from harness.models.tiny import byte_tokenizer
from harness.verl.agent_loop import POOL_SIZE_VAR, GymEnvAgentLoop
from tests.train.verl_checks import sleepy_env

TOKENIZER = byte_tokenizer()


class WrongDoorServer:
    """Always answers door "A" (never the right one on the chosen task), so every episode runs all its turns."""

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs):
        ids = TOKENIZER.encode("A", add_special_tokens=False) + [TOKENIZER.eos_token_id]
        return SimpleNamespace(token_ids=ids, log_probs=[-1.0] * len(ids))


async def play(count: int, seconds: float, turns: int) -> list:
    config = OmegaConf.create({"data": {"train_batch_size": count},
                               "actor_rollout_ref": {"rollout": {"n": 1, "agent": {"num_workers": 1}}}})
    spec = {"env_id": sleepy_env.ENV_ID, "task_id": "doors-train-5", "max_turns": turns,
            "env_kwargs": json.dumps({"seconds": seconds, "n_rooms": 1, "max_episode_steps": turns})}
    loops = []
    for _ in range(count):
        loop = GymEnvAgentLoop.__new__(GymEnvAgentLoop)
        loop.server_manager, loop.tokenizer, loop.config = WrongDoorServer(), TOKENIZER, config
        loop.rollout_config = SimpleNamespace(response_length=4096)
        loops.append(loop)
    return await asyncio.gather(*(loop.run({"temperature": 1.0}, extra_info=spec) for loop in loops))


def main() -> None:
    """Print the wall clock with a pool of N threads and with one thread."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trajectories", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    for threads in (args.trajectories, 1):
        os.environ[POOL_SIZE_VAR] = str(threads)
        sleepy_env.reset_stats()
        started = time.perf_counter()
        outputs = asyncio.run(play(args.trajectories, args.seconds, args.turns))
        wall = time.perf_counter() - started
        stats = sleepy_env.STATS
        print(f"{threads} env thread(s): {len(outputs)} trajectories, {stats['steps']} steps of {args.seconds:g} s "
              f"(slept {stats['slept_s']:.0f} s in all, at most {stats['max_in_flight']} at once) "
              f"in {wall:.2f} s wall clock")


if __name__ == "__main__":
    main()
