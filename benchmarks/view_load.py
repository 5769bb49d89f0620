"""How fast `aemgym view` opens a big run: a synthetic run of 10,000 episodes with realistic records (a verl-agent
prompt of ~2,000 characters per turn with its prompt token ids, responses with token ids and log-probs, info with
admissible actions), written in the run store's format; then, against the real viewer on a local port:

- index time (a fresh `EpisodeIndex`), against parsing every line (`harness.storage.read_episode_dicts`);
- first request of the run page (indexing included), a later one, page 50, a filter, a response search;
- episode pages (median of 20 random episodes);
- re-indexing after 100 more episodes land.

    python benchmarks/view_load.py                    # 10,000 episodes of ~10 turns (~0.5 GB, deleted after)
    python benchmarks/view_load.py --episodes 2000 --keep runs/view-bench
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from harness.serve.runner import BackgroundServer  # noqa: E402
from harness.storage import json_line, read_episode_dicts, write_json  # noqa: E402
from harness.types import Episode, PolicyResponse, Turn  # noqa: E402
from harness.view.app import create_app  # noqa: E402
from harness.view.index import EpisodeIndex  # noqa: E402

WORDS = ("go to", "open", "take", "put", "heat", "cool", "clean", "examine", "look", "inventory", "drawer 1",
         "cabinet 3", "countertop 2", "mug 1", "apple 2", "fridge 1", "microwave 1", "sinkbasin 1", "shelf 4")
TYPES = ("pick_and_place", "pick_two", "look_at_obj", "heat", "cool", "clean")


def _text(rng: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


class Pool:
    """Pre-made texts and token lists drawn from (generating 10,000 episodes word by word takes minutes)."""

    def __init__(self, rng: random.Random, prompt_chars: int, tokens: int, size: int = 64):
        self.prompts = [_text(rng, prompt_chars) for _ in range(size)]
        self.observations = [_text(rng, 300) for _ in range(size)]
        self.thoughts = [_text(rng, 120) for _ in range(size)]
        self.actions = [[_text(rng, 20) for _ in range(20)] for _ in range(size)]
        self.prompt_ids = [[rng.randrange(49152) for _ in range(prompt_chars // 4)] for _ in range(size)]
        self.token_ids = [[rng.randrange(49152) for _ in range(tokens)] for _ in range(size)]
        self.logprobs = [[round(-rng.expovariate(2.0), 6) for _ in range(tokens)] for _ in range(size)]


def make_episode(rng: random.Random, pool: Pool, index: int, turns: int) -> Episode:
    """One synthetic episode of `turns` turns, shaped like a local-model ALFWorld episode."""
    task = f"alfworld-test-{index // 4}"
    success = rng.random() < 0.4
    steps = []
    for step in range(turns):
        response = f"<think>{rng.choice(pool.thoughts)}</think><action>{rng.choice(WORDS)} {rng.choice(WORDS)}</action>"
        prompt_ids, token_ids = rng.choice(pool.prompt_ids), rng.choice(pool.token_ids)
        steps.append(Turn(
            step=step,
            messages=[{"role": "system", "content": "You are an expert agent in a household."},
                      {"role": "user", "content": rng.choice(pool.prompts)}],
            response=PolicyResponse(text=response, prompt_token_ids=prompt_ids, token_ids=token_ids,
                                    logprobs=rng.choice(pool.logprobs), finish_reason="stop",
                                    usage={"prompt_tokens": len(prompt_ids), "completion_tokens": len(token_ids)},
                                    latency_s=0.8),
            observation=rng.choice(pool.observations), reward=1.0 if success and step == turns - 1 else 0.0,
            terminated=step == turns - 1, truncated=False,
            info={"task_id": task, "step": step + 1, "action_valid": rng.random() > 0.1, "won": False,
                  "admissible_actions": rng.choice(pool.actions), "anchor_obs": rng.choice(pool.observations)},
            env_time_s=0.01))
    status = "error" if rng.random() < 0.01 else "ok"
    return Episode(episode_id=f"{task}/{index % 4}", env_id="agent_envs/ALFWorld-v0", task_id=task, group_id=task,
                   sample_index=index % 4, turns=steps, total_reward=1.0 if success else 0.0,
                   success=success and status == "ok", score=1.0 if success else 0.0, status=status,
                   error="Traceback ...\nRuntimeError: env worker died" if status == "error" else None,
                   task_type=TYPES[index % len(TYPES)], wall_time_s=12.0)


def write_run(run_dir: Path, episodes: int, turns: int, pool: Pool, rng: random.Random) -> None:
    """A bench run directory with `episodes` synthetic episodes (1 to 2×`turns` - 1 turns each)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", {"schema_version": 2, "command": "bench", "created": "2026-01-01T00:00:00",
                                         "config": {"env": {"id": "agent_envs/ALFWorld-v0"},
                                                    "policy": {"name": "hf:/nonexistent"}, "rollout": {"samples": 4}},
                                         "task_ids": [f"alfworld-test-{i}" for i in range(episodes // 4)]})
    with open(run_dir / "episodes.jsonl", "a", encoding="utf-8") as handle:
        for i in range(episodes):
            episode = make_episode(rng, pool, i, rng.randint(1, 2 * turns - 1))
            handle.write(json_line(episode.to_dict()) + "\n")


def _get(client: httpx.Client, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path)
    return time.perf_counter() - started, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=10, help="mean turns per episode")
    parser.add_argument("--prompt-chars", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=48, help="response tokens per turn")
    parser.add_argument("--keep", type=Path, default=None, help="write the run here and keep it")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="aemgym-view-bench-"))
    run_dir = root / "big"
    try:
        started = time.perf_counter()
        rng = random.Random(0)
        pool = Pool(rng, args.prompt_chars, args.tokens)
        if not (run_dir / "episodes.jsonl").is_file():
            write_run(run_dir, args.episodes, args.turns, pool, rng)
        path = run_dir / "episodes.jsonl"
        size = path.stat().st_size
        print(f"run: {args.episodes} episodes, {size / 1e6:.0f} MB ({time.perf_counter() - started:.1f} s to write)")

        started = time.perf_counter()
        records = len(read_episode_dicts(path))
        parse_s = time.perf_counter() - started
        started = time.perf_counter()
        index = EpisodeIndex(path).refresh()
        index_s = time.perf_counter() - started
        assert len(index.entries) == records, (len(index.entries), records)
        rows = [("parse every line (storage.read_episode_dicts)", parse_s),
                ("index (EpisodeIndex, fresh)", index_s)]

        with BackgroundServer(create_app([run_dir])) as server, \
                httpx.Client(base_url=f"http://{server.host}:{server.port}", timeout=120) as client:
            for label, target in [("run page, first request (indexes the run)", "/run?run=big"),
                                  ("run page, again", "/run?run=big"),
                                  ("runs list", "/"),
                                  ("run page 50", "/run?run=big&page=50"),
                                  ("filter outcome=failure, type=heat", "/run?run=big&outcome=failure&type=heat"),
                                  ("search responses for 'fridge 1'", "/run?run=big&q=fridge+1"),
                                  ("the same search again (cached)", "/run?run=big&q=fridge+1&page=2")]:
                elapsed, status = _get(client, target)
                assert status == 200, (target, status)
                rows.append((label, elapsed))
            ids = rng.sample([e.episode_id for e in index.entries], 20)
            times = []
            for episode_id in ids:
                elapsed, status = _get(client, f"/episode?run=big&id={episode_id}")
                assert status == 200
                times.append(elapsed)
            rows.append(("episode page (median of 20)", statistics.median(times)))
            rows.append(("episode page (max of 20)", max(times)))
            with open(path, "a", encoding="utf-8") as handle:
                for i in range(100):
                    handle.write(json_line(make_episode(rng, pool, 9_000_000 + i, args.turns).to_dict()) + "\n")
            elapsed, status = _get(client, "/run?run=big")
            state = json.loads(client.get("/api/state?run=big").text)
            assert status == 200 and state["episodes"] == records + 100, state
            rows.append(("run page after 100 more episodes (re-indexes the tail)", elapsed))

        width = max(len(label) for label, _ in rows)
        print(f"\n{'step'.ljust(width)}  seconds")
        for label, seconds in rows:
            print(f"{label.ljust(width)}  {seconds:8.3f}")
        print(f"\nindex vs full parse: {parse_s / index_s:.1f}x faster")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
