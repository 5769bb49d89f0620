"""Infrastructure failures are not task failures, and nothing is lost: hostile responses through the whole bench path,
SIGKILL at random points against an endpoint that fails 20% of requests (every episode stored, errors retried), and
no env worker process outliving its run (normal end, an exception, Ctrl-C, SIGKILL of the harness)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from agent_envs.testing import hostile_response
from harness.bench import run_bench
from harness.config import BenchConfig, load_config
from harness.policies.scripted import ScriptedPolicy
from harness.storage import read_episode_dicts, read_episodes

ROOT = Path(__file__).resolve().parents[2]


def _hostile_policy(seed: int) -> ScriptedPolicy:
    rng = random.Random(seed)
    return ScriptedPolicy(lambda messages, context: hostile_response(rng, context.info.get("admissible_actions") or []))


@pytest.mark.parametrize(("env", "tasks", "steps"), [("doors", 125, 8), ("webshop", 25, 8), ("alfworld", 6, 8)])
def test_hostile_responses_through_policy_env_store_and_report(tmp_path, env, tasks, steps):
    """Doors: 1,000 hostile responses (125 episodes x 8 turns); WebShop and ALFWorld: 200 and ~48 more."""
    cfg = load_config(BenchConfig, [f"env.id={env}", f"env.n_tasks={tasks}", f"env.max_steps={steps}",
                                    "env.split=train", "policy.name=scripted", f"output.dir={tmp_path / 'run'}",
                                    "rollout.executor=thread", "rollout.concurrency=16"])
    summary, markdown, run_dir = run_bench(cfg, _hostile_policy(len(env)), progress=False)
    stored = read_episodes(run_dir)
    assert len(stored) == tasks and summary["episodes"] == tasks
    assert [e.error for e in stored if e.status != "ok"] == []  # hostile text is bad input, not a failure
    assert sum(len(e.turns) for e in stored) >= tasks * 2 and "Success rate" in markdown
    for record in read_episode_dicts(run_dir / "episodes.jsonl"):  # every text round-trips through the store
        assert all(isinstance(t["response"]["text"], str) and isinstance(t["observation"], str)
                   for t in record["turns"])


@pytest.mark.slow
def test_sigkill_at_random_points_with_a_flaky_endpoint_loses_nothing(tmp_path):
    from harness.serve.runner import BackgroundServer
    from tests.harness.fake_openai import FakeOpenAI

    fake = FakeOpenAI(replies=["<action>A</action>", "<action>B</action>", "<action>C</action>",
                               "<action>D</action>"], fault_rate=0.2, seed=3)
    out = tmp_path / "run"
    rng = random.Random(0)
    with BackgroundServer(fake.app) as server:
        cmd = [sys.executable, "-m", "harness.cli", "bench", "doors", "-n", "100", "--policy", "openai",
               "--base-url", server.base_url, "--model", "fake-model", "--policy-arg", "max_retries=0",
               "-j", "4", "--out", str(out), "--no-progress"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        episodes = out / "episodes.jsonl"
        killed = 0
        for attempt in range(10):
            args = cmd if attempt == 0 else [*cmd, "--resume"]
            before = episodes.read_text().count("\n") if episodes.is_file() else 0
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:  # kill once it is writing episodes
                if episodes.is_file() and episodes.read_text().count("\n") >= before + 3:
                    time.sleep(rng.uniform(0.0, 0.5))
                    break
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
        fake.fault_rate = 0.0
        final = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert killed >= 3, "the kills must land mid-run"
    records = read_episode_dicts(out / "episodes.jsonl")
    expected = {f"doors-test-{i}/0" for i in range(100)}
    assert {r["episode_id"] for r in records} == expected
    ok_ids = [r["episode_id"] for r in records if r["status"] == "ok"]
    assert sorted(ok_ids) == sorted(expected)  # every error was retried, every finished episode kept ...
    assert len(ok_ids) == len(set(ok_ids))  # ... and never played twice
    assert any(r["status"] == "error" for r in records), "the flaky endpoint must have caused error episodes"
    assert "errors counted as failures" in final.stdout


def _workers(parent: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(parent).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    workers = []
    for child in children:
        try:  # a child may exit (or be a zombie) between listing and reading its command line
            if "harness.rollout.workers" in " ".join(child.cmdline()):
                workers.append(child)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return workers


def _all_workers_of(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["finish", "sigint", "sigkill"])
def test_no_env_worker_outlives_its_run(tmp_path, stop):
    cmd = [sys.executable, "-m", "harness.cli", "bench", "doors", "-n", "200" if stop != "finish" else "16",
           "--policy", "expert", "--policy-arg", "delay_s=0.05", "--executor", "process", "-j", "4",
           "--out", str(tmp_path / "run"), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        seen |= {w.pid for w in _workers(proc.pid)}
        if len(seen) >= 2 and stop != "finish":
            break
        time.sleep(0.05)
    assert len(seen) == 2 or (stop == "finish" and seen), f"expected the 2 worker processes, saw {seen}"
    if stop == "sigint":
        proc.send_signal(signal.SIGINT)
    elif stop == "sigkill":
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=120)
    deadline = time.monotonic() + 30
    while _all_workers_of(sorted(seen)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _all_workers_of(sorted(seen)) == [], f"orphaned workers after {stop}"
    if stop == "sigint":
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        assert "Traceback" not in stderr.split("KeyboardInterrupt")[0] or "harness.rollout.workers" not in stderr


def test_an_exception_in_the_run_stops_the_workers(tmp_path):
    class Crash(BaseException):
        pass

    def crash(messages, context):
        raise Crash("the policy process is going down")

    pool_pids: list[int] = []
    cfg = load_config(BenchConfig, ["env.id=doors", "env.n_tasks=4", "policy.name=scripted", "rollout.executor=process",
                                    "rollout.workers=2", f"output.dir={tmp_path / 'run'}"])
    from harness.rollout import env_executors

    original = env_executors.ProcessExecutor._ensure_pool

    def spy(self):
        pool = original(self)
        pool_pids[:] = pool.pids()
        return pool

    env_executors.ProcessExecutor._ensure_pool = spy
    try:
        with pytest.raises(Crash):
            run_bench(cfg, ScriptedPolicy(crash), progress=False)
    finally:
        env_executors.ProcessExecutor._ensure_pool = original
    assert len(pool_pids) == 2
    deadline = time.monotonic() + 30
    while _all_workers_of(pool_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _all_workers_of(pool_pids) == []


def test_a_hung_env_step_fails_its_call_and_its_worker_is_replaced():
    import asyncio

    from harness.rollout.env_executors import EnvTimeout, ProcessExecutor

    executor = ProcessExecutor(n_workers=1, step_timeout_s=2.0)
    env_id = "tests.harness.hang_env:Hang-v0"

    async def scenario() -> tuple[int, int, str]:
        handle = await executor.open(env_id, {})
        await handle.reset(seed=0)
        first = executor._pool.pids()[0]
        with pytest.raises(EnvTimeout, match="step_timeout_s"):
            await handle.step("hang")
        await handle.close()  # abandoned with its worker: nothing to close
        fresh = await executor.open(env_id, {})
        await fresh.reset(seed=0)
        observation = (await fresh.step("go"))[0]
        await fresh.close()
        return first, executor._pool.pids()[0], observation

    try:
        first, second, observation = asyncio.run(scenario())
    finally:
        executor.shutdown()
    assert first != second and observation == "ok"
    assert _all_workers_of([first]) == []  # the stuck worker was killed, not left behind
