"""Harness overhead per step: 256 concurrent Doors episodes against a fake OpenAI server that answers instantly.

Prints, per env executor: wall time per step of the full loop (prompt building, HTTP request through the `openai`
client, env step, records), the bare server round trip per request at the same concurrency (the same client, no env,
no prompts), and their difference = the harness overhead per step. Also the pure in-process cost per step with a
scripted policy (no HTTP at all). Target: overhead <= 2 ms per step.

    .venv/bin/python benchmarks/harness_overhead.py [--episodes 512] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)  # the fake server is a test double under tests/
SERVER = """
import sys, uvicorn
sys.path.insert(0, sys.argv[2])
from tests.harness.fake_openai import FakeOpenAI
fake = FakeOpenAI(replies=["<action>A</action>", "<action>B</action>", "<action>C</action>", "<action>D</action>"])
uvicorn.run(fake.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False,
            timeout_keep_alive=120)
"""


def start_server(port: int) -> subprocess.Popen:
    """The fake server in its own process, so it does not share the harness's GIL."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), ROOT])
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("fake server did not start")


async def bare_round_trips(policy, n: int, concurrency: int) -> float:
    """Seconds per request for `n` requests with `concurrency` in flight (no env, no prompt building)."""
    from harness.types import StepContext

    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "x" * 600}]
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            response = await policy.respond(messages, StepContext("t", 0, {}))
            assert response.error is None, response.error

    await one(0)  # warm the connection pool
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return (time.perf_counter() - started) / n


def run_loop(policy, specs, concurrency: int, executor: str) -> tuple[float, int]:
    """(seconds per step, steps) of a full `run_episodes` run."""
    from harness.rollout import run_episodes_sync

    started = time.perf_counter()
    episodes = run_episodes_sync("agent_envs/Doors-v0", {}, policy, specs, concurrency=concurrency,
                                 executor=executor, progress=False)
    wall = time.perf_counter() - started
    steps = sum(len(e.turns) for e in episodes)
    errors = [e.error for e in episodes if e.status != "ok"]
    assert not errors, errors[:2]
    return wall / steps, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from harness.policies.openai_compat import OpenAIPolicy
    from harness.policies.scripted import ScriptedPolicy
    from harness.rollout import EpisodeSpec

    specs = [EpisodeSpec(f"doors-train-{i}", f"doors-train-{i}", 0) for i in range(args.episodes)]
    server = start_server(args.port)
    try:
        policy = OpenAIPolicy(base_url=f"http://127.0.0.1:{args.port}/v1", model="fake-model",
                              concurrency=args.concurrency, max_retries=3, backoff_s=0.05)
        print(f"machine: {os.cpu_count()} cores; {args.episodes} Doors episodes, {args.concurrency} concurrent")
        scripted = ScriptedPolicy(["<action>A</action>", "<action>B</action>", "<action>C</action>",
                                   "<action>D</action>"])
        for executor in ("inline", "thread"):
            pure, steps = run_loop(scripted, specs, args.concurrency, executor)
            print(f"[{executor:6}] in-process scripted policy (no HTTP): {1000 * pure:.3f} ms/step ({steps} steps)")
        for executor in ("inline", "thread"):
            # interleaved repeats, medians: the server shares the cores, so single timings are noisy
            loops, bares = [], []
            for _ in range(args.repeats):
                per_step, steps = run_loop(policy, specs, args.concurrency, executor)
                loops.append(per_step)
                bares.append(asyncio.run(bare_round_trips(policy, steps, args.concurrency)))
            per_step, bare = statistics.median(loops), statistics.median(bares)
            overhead = per_step - bare
            verdict = "OK" if overhead <= 0.002 else "ABOVE TARGET"
            print(f"[{executor:6}] full loop {1000 * per_step:.3f} ms/step (median of {args.repeats}; {steps} steps) | "
                  f"bare server round trip {1000 * bare:.3f} ms/request | harness overhead {1000 * overhead:.3f} "
                  f"ms/step (target <= 2 ms: {verdict}) | ratio loop/bare {per_step / bare:.2f}x")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
