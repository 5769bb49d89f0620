"""Harness overhead per step: 256 concurrent Doors episodes against a fake OpenAI server that answers instantly.

Prints, per env executor: wall time per step of the full loop (prompt building, HTTP request through the `openai`
client, env step, records), the bare server round trip per request at the same concurrency (the same client, no env,
no prompts; the prompt it sends is as long as the loop's average prompt), and their difference = the harness
overhead per step, in wall time and in this process's CPU time (the CPU figure does not move with the machine's
load; the server runs in its own process). Also the pure in-process cost per step with a scripted policy (no HTTP at
all), and the cost of building one prompt at turn 1, 10 and 50 of a long conversation (no quadratic blow-up: flat
per turn). Target: overhead <= 2 ms per step.

    .venv/bin/python benchmarks/harness_overhead.py [--episodes 512] [--concurrency 256] [--scaffold chat]
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


async def bare_round_trips(policy, n: int, concurrency: int, prompt_chars: int = 600) -> tuple[float, float]:
    """(wall, CPU) seconds per request for `n` requests with `concurrency` in flight (no env, no prompt building)."""
    from harness.types import StepContext

    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "x" * prompt_chars}]
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            response = await policy.respond(messages, StepContext("t", 0, {}))
            assert response.error is None, response.error

    await one(0)  # warm the connection pool
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(n)))
    return (time.perf_counter() - started) / n, (time.process_time() - cpu) / n


def run_loop(policy, specs, concurrency: int, executor: str, scaffold: str) -> tuple[float, float, int, int]:
    """(wall seconds per step, CPU seconds per step, steps, mean prompt characters) of a full `run_episodes` run."""
    from harness.config import PromptSection
    from harness.rollout import run_episodes_sync
    from harness.types import message_text, prompts

    started, cpu = time.perf_counter(), time.process_time()
    episodes = run_episodes_sync("agent_envs/Doors-v0", {}, policy, specs, concurrency=concurrency,
                                 executor=executor, progress=False, prompt=PromptSection(scaffold=scaffold))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    steps = sum(len(e.turns) for e in episodes)
    errors = [e.error for e in episodes if e.status != "ok"]
    assert not errors, errors[:2]
    chars = sum(len(message_text(m)) for e in episodes[:50] for p in prompts(e.turns) for m in p)
    return wall / steps, cpu / steps, steps, chars // max(1, sum(len(e.turns) for e in episodes[:50]))


def prompt_build_costs(scaffold: str, turns: int = 50, repeats: int = 20) -> dict[int, float]:
    """Median seconds to build the prompt of turn 1, 10 and `turns` (and record the turn) of one long episode."""
    import agent_envs
    from agent_envs.doors.env import DoorsEnv
    from harness.config import PromptSection
    from harness.prompting import PromptBuilder
    from harness.types import PolicyResponse

    builder = PromptBuilder(agent_envs.env_class("agent_envs/Doors-v0"), PromptSection(scaffold=scaffold))
    info = {"instruction": "Leave the last of 50 rooms.", "admissible_actions": ["A", "B", "C", "D"],
            "tools": DoorsEnv().tools()}
    call = [{"id": "c", "name": "open_door", "arguments": '{"door": "B"}'}] if scaffold == "tools" else None
    response = PolicyResponse(text="I will try the door the draft comes from. <action>B</action>", tool_calls=call)
    samples: dict[int, list[float]] = {1: [], 10: [], turns: []}
    for _ in range(repeats):
        transcript = builder.start(instruction=info["instruction"], observation="Room 1 of 50.", info=info)
        for turn in range(1, turns + 1):
            started = time.perf_counter()
            transcript.prompt()
            transcript.record(response, f"The door opens. Room {turn + 1} of 50. The draft comes from door B.", info)
            if turn in samples:
                samples[turn].append(time.perf_counter() - started)
    return {turn: statistics.median(values) for turn, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scaffold", default="chat", choices=["chat", "verl_agent", "react", "tools"])
    args = parser.parse_args()

    costs = prompt_build_costs(args.scaffold)
    print(f"[{args.scaffold}] prompt build + record per turn: "
          + ", ".join(f"turn {t}: {1e6 * s:.1f} us" for t, s in costs.items())
          + f" (turn 50 / turn 1: {costs[50] / costs[1]:.2f}x)")

    from harness.policies.openai_compat import OpenAIPolicy
    from harness.policies.scripted import ScriptedPolicy
    from harness.rollout import EpisodeSpec

    specs = [EpisodeSpec(f"doors-train-{i}", f"doors-train-{i}", 0) for i in range(args.episodes)]
    server = start_server(args.port)
    try:
        policy = OpenAIPolicy(base_url=f"http://127.0.0.1:{args.port}/v1", model="fake-model",
                              concurrency=args.concurrency, max_retries=3, backoff_s=0.05)
        print(f"machine: {os.cpu_count()} cores; {args.episodes} Doors episodes, {args.concurrency} concurrent, "
              f"scaffold {args.scaffold}")
        scripted = ScriptedPolicy(["<action>A</action>", "<action>B</action>", "<action>C</action>",
                                   "<action>D</action>"])
        for executor in ("inline", "thread"):
            pure, _, steps, _ = run_loop(scripted, specs, args.concurrency, executor, args.scaffold)
            print(f"[{executor:6}] in-process scripted policy (no HTTP): {1000 * pure:.3f} ms/step ({steps} steps)")
        for executor in ("inline", "thread"):
            # interleaved repeats, medians: the server shares the cores, so single timings are noisy
            loops, bares, cpu_loops, cpu_bares = [], [], [], []
            for _ in range(args.repeats):
                per_step, cpu_step, steps, chars = run_loop(policy, specs, args.concurrency, executor, args.scaffold)
                bare, cpu_bare = asyncio.run(bare_round_trips(policy, steps, args.concurrency, chars))
                loops.append(per_step)
                cpu_loops.append(cpu_step)
                bares.append(bare)
                cpu_bares.append(cpu_bare)
            per_step, bare = statistics.median(loops), statistics.median(bares)
            overhead = per_step - bare
            cpu_overhead = statistics.median(cpu_loops) - statistics.median(cpu_bares)
            verdict = "OK" if overhead <= 0.002 else "ABOVE TARGET"
            print(f"[{executor:6}] full loop {1000 * per_step:.3f} ms/step (median of {args.repeats}; {steps} steps) | "
                  f"bare server round trip {1000 * bare:.3f} ms/request | harness overhead {1000 * overhead:.3f} "
                  f"ms/step (target <= 2 ms: {verdict}) | ratio loop/bare {per_step / bare:.2f}x | CPU of this "
                  f"process: loop {1000 * statistics.median(cpu_loops):.3f} ms/step, bare "
                  f"{1000 * statistics.median(cpu_bares):.3f} ms/request, overhead {1000 * cpu_overhead:.3f} ms/step "
                  f"| mean prompt {chars} characters")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
