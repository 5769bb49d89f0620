"""ALFWorld success rates: the planner expert on valid_seen (expect 140/140) and the embedded SmolLM2 on a few games.

    .venv/bin/python benchmarks/alfworld_success.py [--data-dir ../shared/data/alfworld] [--llm-games 10]

The expert replays one plan per game (Fast Downward; valid_seen ships no walkthrough) in `--workers` processes.
SmolLM2-135M-Instruct plays with the verl-agent prompt (history 2), greedy decoding, 50 steps per game,
all games concurrently with batched generation.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import agent_envs  # noqa: F401
from agent_envs.alfworld.data import SHORT_TYPES, load_tasks
from agent_envs.alfworld.pool import run_expert_episodes

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alfworld"


def expert_success(data_dir: Path, split: str, workers: int, limit: int) -> None:
    """Print the expert's success rate on a split, overall and per task type."""
    ids = load_tasks(data_dir).task_ids(split)
    ids = ids[:limit] if limit else ids
    t0 = time.perf_counter()
    results = run_expert_episodes(ids, workers, {"data_dir": str(data_dir), "plan_cache": None})
    elapsed = time.perf_counter() - t0
    won, total = Counter(), Counter()
    for r in results:
        kind = SHORT_TYPES.get(r.get("task_type", ""), "error")
        total[kind] += 1
        won[kind] += bool(r["won"])
    per_type = " ".join(f"{k}={won[k]}/{total[k]}" for k in sorted(total))
    steps = [r["steps"] for r in results if "steps" in r]
    print(f"expert on {split}: {sum(won.values())}/{len(results)} won ({per_type}); "
          f"mean {sum(steps) / max(1, len(steps)):.1f} steps; {elapsed:.0f} s with {workers} workers")


def llm_success(data_dir: Path, split: str, n_games: int, max_new_tokens: int, max_steps: int, show: int = 0) -> None:
    """Print SmolLM2's success rate on the first `n_games` games of a split (and its first `show` responses).

    The games run concurrently through the harness runner (envs in worker processes, one batched generation per
    round of turns), as `aemgym bench alfworld --policy smollm2` does."""
    from harness.config import PromptSection
    from harness.policies import make_policy
    from harness.rollout import EpisodeSpec, run_episodes_sync

    policy = make_policy("smollm2", temperature=0.0, max_new_tokens=max_new_tokens, max_batch=n_games)
    ids = load_tasks(data_dir).task_ids(split)[:n_games]
    specs = [EpisodeSpec(task_id=task_id, group_id=f"g{i}") for i, task_id in enumerate(ids)]
    t0 = time.perf_counter()
    episodes = run_episodes_sync("agent_envs/ALFWorld-v0", {"data_dir": str(data_dir), "max_episode_steps": max_steps},
                                 policy, specs, prompt=PromptSection(history_length=2), concurrency=n_games,
                                 executor="process", progress=False)
    turns = [turn for episode in episodes for turn in episode.turns]
    valid = sum(bool(turn.info.get("action_valid")) for turn in turns)
    for turn in turns[:show]:
        print(f"--- response {turn.response.text!r} -> valid={turn.info.get('action_valid')}")
    won = sum(episode.success for episode in episodes)
    print(f"SmolLM2-135M on {len(ids)} {split} games ({max_steps} steps max): {won}/{len(ids)} won; "
          f"{valid}/{len(turns)} valid actions; {time.perf_counter() - t0:.0f} s")


def main() -> None:
    """Parse arguments and print both figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="eval_in_distribution")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--expert-games", type=int, default=0, help="0: all games of the split")
    parser.add_argument("--llm-games", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--llm-max-steps", type=int, default=50, help="turn limit of the LLM's games")
    parser.add_argument("--skip-expert", action="store_true")
    parser.add_argument("--show-responses", type=int, default=0, help="print the LLM's first N responses")
    args = parser.parse_args()
    if not args.skip_expert:
        expert_success(args.data_dir, args.split, args.workers, args.expert_games)
    if args.llm_games:
        llm_success(args.data_dir, args.split, args.llm_games, args.max_new_tokens, args.llm_max_steps,
                    args.show_responses)


if __name__ == "__main__":
    main()
