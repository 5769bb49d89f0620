"""The `aemgym` CLI: help, envs, bench + report, and SIGKILL mid-run then --resume (every episode exactly once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("envs", "bench", "report", "play", "demo", "serve"):
        assert command in result.output


def test_envs_lists_doors_with_sizes():
    result = runner.invoke(app, ["envs"])
    assert result.exit_code == 0, result.output
    assert "agent_envs/Doors-v0" in result.output and "1000" in result.output


def test_bench_then_report(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["bench", "doors", "-n", "4", "-k", "2", "--policy", "expert", "--out", str(out),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Success rate: 100.0%" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 8 and summary["policy"] == "expert"
    again = runner.invoke(app, ["bench", "doors", "-n", "4", "--policy", "expert", "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0 and "Success rate: 100.0%" in result.output


def test_play_reads_actions_from_stdin():
    result = runner.invoke(app, ["play", "doors", "--task-id", "doors-test-0"], input="Z\nquit\n")
    assert result.exit_code == 0, result.output
    assert "Room 1 of 3" in result.output and "(invalid action)" in result.output


def test_sigkill_mid_run_then_resume_keeps_every_episode_exactly_once(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness.cli", "bench", "doors", "-n", "30", "-k", "2", "--policy", "expert",
           "--policy-arg", "delay_s=0.05", "-j", "4", "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    episodes = out / "episodes.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if episodes.is_file() and episodes.read_text().count("\n") >= 8:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = episodes.read_text().count("\n")
    assert 8 <= before < 60, "the run must be killed mid-way"
    resumed = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ids = [json.loads(line)["episode_id"] for line in episodes.read_text().splitlines()]
    expected = {f"doors-test-{i}/{s}" for i in range(30) for s in range(2)}
    assert len(ids) == len(set(ids)) == 60 and set(ids) == expected
    assert "Success rate: 100.0%" in resumed.stdout
