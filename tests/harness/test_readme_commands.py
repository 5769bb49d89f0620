"""Every command of the README's tour, as written (short variants where a full run takes minutes), in a fresh
working directory; expected failures print one clear line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.serve.runner import free_port

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture()
def fresh_dir(tmp_path, monkeypatch):
    """Commands run in an empty directory (their `runs/` land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def aemgym(*argv: str, stdin: str | None = None):
    result = runner.invoke(app, list(argv), input=stdin)
    assert "Traceback" not in result.output, result.output
    return result


def test_bench_alfworld_expert_in_worker_processes_then_report(fresh_dir):
    result = aemgym("bench", "alfworld", "--policy", "expert", "--executor", "process", "-j", "2")
    assert result.exit_code == 0, result.output
    assert "Success rate: 100.0%" in result.output
    (run,) = (fresh_dir / "runs" / "bench").iterdir()
    assert json.loads((run / "config.json").read_text())["config"]["env"]["split"] == "train"  # the bundled games
    report = aemgym("report", str(run))
    assert report.exit_code == 0 and "Success rate: 100.0%" in report.output and (run / "report.png").is_file()


@pytest.mark.slow
def test_bench_doors_smollm2_short(fresh_dir):
    result = aemgym("bench", "doors", "-n", "1", "-k", "1", "--policy", "smollm2", "--max-steps", "2")
    assert result.exit_code == 0, result.output
    (run,) = (fresh_dir / "runs" / "bench").iterdir()
    policy = json.loads((run / "config.json").read_text())["config"]["policy"]
    assert (policy["temperature"], policy["max_new_tokens"], policy["stop"]) == (0.7, 48, ["</action>"])


@pytest.mark.parametrize(("env", "moves", "expected"), [
    ("doors", "Z\nquit\n", "Room 1 of 3"),
    ("alfworld", "look\nquit\n", "go to"),
])
def test_play_reads_moves_from_stdin(env, moves, expected):
    result = aemgym("play", env, stdin=moves)
    assert result.exit_code == 0, result.output
    assert expected in result.output and "reward" in result.output


def test_webshop_serve_picks_goals_the_catalog_has():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "webshop", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.2)
        else:
            raise AssertionError("the WebShop site did not answer")
        assert "<html" in page.lower()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "serving synthetic goals" in output and "synthetic goals on http://127.0.0.1" in output


def test_swebench_eval_grades_predictions(fresh_dir):
    import agent_envs

    task = agent_envs.env_class("agent_envs/SWEBench-v0").load_task_set().get("aemgym__tinycalc-1")
    Path("preds.jsonl").write_text(json.dumps({"instance_id": task.task_id, "model_patch": task.data["patch"]}) + "\n")
    result = aemgym("swebench", "eval", "--predictions", "preds.jsonl", "--backend", "local")
    assert result.exit_code == 0, result.output
    assert "resolved 1/1" in result.output


@pytest.mark.slow
def test_train_with_aem_short(fresh_dir):
    result = aemgym("train", "--learner", "aem", "--iterations", "1", "-c", "loop.eval_tasks=4")
    assert result.exit_code == 0, result.output
    (run,) = (fresh_dir / "runs" / "train").iterdir()
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["learner"]["modulator"] == "aem" and config["prompt"]["scaffold"] == "verl_agent"
    assert (run / "metrics.jsonl").read_text().count("\n") >= 1


def test_policy_from_a_module_without_a_dot(fresh_dir, monkeypatch):
    (fresh_dir / "mymod.py").write_text(
        "from harness.types import PolicyResponse\n\n"
        "class MyPolicy:\n"
        "    name = 'mine'\n\n"
        "    async def respond(self, messages, context):\n"
        "        return PolicyResponse(text='<action>A</action>')\n"
    )
    monkeypatch.syspath_prepend(str(fresh_dir))
    result = aemgym("bench", "doors", "-n", "2", "--policy", "mymod:MyPolicy", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Episodes: 2 on 2 tasks × 1 (2 completed, 0 infrastructure errors)" in result.output


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "doors", "--split", "nope", "--policy", "expert"], "unknown split 'nope'"),
    (["play", "doors", "--split", "nope"], "unknown split 'nope'"),
    (["bench", "alfworld", "--env-arg", "data_dir=/no/such/dir", "--policy", "expert"], "not found: /no/such/dir"),
    (["webshop", "serve", "--goals", "human"], "no human goals in this catalog; use --goals synthetic"),
    (["webshop", "serve", "--data-dir", "/no/such/dir"], "no WebShop catalog in /no/such/dir"),
    (["bench", "doors", "--scaffold", "nope"], "invalid config: prompt.scaffold"),
])
def test_expected_failures_print_one_line(fresh_dir, argv, message):
    result = aemgym(*argv)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output


@pytest.mark.slow
def test_demo_has_expert_and_random_reference_rows(fresh_dir):
    result = aemgym("demo", "--policy", "tiny", "-n", "1", "--out", "demo")
    assert result.exit_code == 0, result.output
    table = result.output.split("# Demo summary")[1]
    for env in ("Doors", "ALFWorld", "WebShop", "SWEBench"):
        assert f"| agent_envs/{env}-v0 | tiny | 1 |" in table
        assert f"| agent_envs/{env}-v0 | expert | 1 | 100% " in table
    assert "| agent_envs/Doors-v0 | random | 5 |" in table and "| agent_envs/ALFWorld-v0 | random | 5 |" in table
