"""`aemgym swebench eval | prepare` on a predictions file where one instance is broken among good ones: the others
are graded, each result is written as it finishes, the run resumes, bad input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from harness.commands.swebench import register

GARBAGE = "diff --git a/nothing.py b/nothing.py\n--- a/nothing.py\n+++ b/nothing.py\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _data(tmp_path: Path, tiny: dict[str, Any]) -> Path:
    """tinycalc under four ids (one with no clone anywhere), as an instance file."""
    rows = [dict(tiny, instance_id=f"aemgym__tinycalc-{n}") for n in (1, 2, 3)]
    rows.append(dict(tiny, instance_id="aemgym__tinycalc-9", source_repo=str(tmp_path / "no-such-clone")))
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_eval_survives_a_broken_instance_and_resumes(cli, tmp_path, tiny_instance, swe_cache) -> None:
    preds = tmp_path / "preds.jsonl"
    rows = [("aemgym__tinycalc-1", tiny_instance["patch"]), ("aemgym__tinycalc-2", ""),
            ("aemgym__tinycalc-3", GARBAGE), ("aemgym__tinycalc-9", tiny_instance["patch"]),
            ("nobody__nothing-1", "x")]
    preds.write_text("".join(json.dumps({"instance_id": i, "model_patch": p}) + "\n" for i, p in rows))
    out = tmp_path / "out"
    argv = ["swebench", "eval", "-p", str(preds), "--data", str(_data(tmp_path, tiny_instance)), "--cache-dir",
            str(swe_cache), "-o", str(out)]
    result = CliRunner().invoke(cli, [*argv, "-c", "2"])
    assert result.exit_code == 0, result.output
    assert "`-c 2` for the concurrency is deprecated" in result.output and "Traceback" not in result.output
    records = {r["instance_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert records["aemgym__tinycalc-1"]["status"] == "resolved"
    empty, garbage = records["aemgym__tinycalc-2"], records["aemgym__tinycalc-3"]
    assert (empty["status"], empty["patch_applied"], empty["reason"]) == ("unresolved", False,
                                                                          "empty patch: nothing to apply")
    assert garbage["status"] == "unresolved" and not garbage["patch_applied"]
    assert garbage["reason"].startswith("patch does not apply: ") and "nothing.py" in garbage["reason"]
    missing, unknown = records["aemgym__tinycalc-9"], records["nobody__nothing-1"]
    assert missing["status"] == "error" and "no-such-clone does not exist" in missing["reason"]
    assert unknown["status"] == "error" and "unknown instance_id 'nobody__nothing-1'" in unknown["reason"]
    assert "resolved 1/5 (2 not resolved, 2 errors)" in result.output
    assert Path(records["aemgym__tinycalc-1"]["log"]).read_text().count(">>>>> End Test Output") == 1

    again = CliRunner().invoke(cli, [*argv, "--resume", "-j", "2"])
    assert again.exit_code == 0, again.output
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 7 and "aemgym__tinycalc-1" not in again.output  # only the two errors ran again
    assert "nobody__nothing-1: ERROR unknown instance_id" in again.output


def test_eval_bad_predictions_file_is_one_line(cli, tmp_path) -> None:
    preds = tmp_path / "preds.json"
    preds.write_text("{not json")
    result = CliRunner().invoke(cli, ["swebench", "eval", "-p", str(preds), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["swebench", "eval", "-p", str(preds), "-c", "many"])
    assert result.exit_code == 2 and "config file not found: many" in result.output  # -c is --config now


def test_prepare_records_each_failure(cli, tmp_path, tiny_instance, swe_cache) -> None:
    from agent_envs.swebench import synthetic
    from agent_envs.swebench.spec import register_repo

    register_repo(synthetic.REPO, {"0.9": {**synthetic.SPEC, "python": "2.5"}})  # an interpreter pyenv lacks
    data = _data(tmp_path, tiny_instance)
    rows = data.read_text().splitlines()
    rows[-1] = json.dumps(dict(tiny_instance, instance_id="aemgym__tinycalc-9", version="0.9"))
    data.write_text("\n".join(rows) + "\n")
    argv = ["swebench", "prepare", "--repos-dir", str(tmp_path), "--data", str(data),
            "--cache-dir", str(swe_cache), "-o", str(tmp_path / "prep"), "-j", "2"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    records = {r["instance_id"]: r for r in map(json.loads, (tmp_path / "prep" / "prepare.jsonl").read_text()
                                                .splitlines())}
    assert [records[f"aemgym__tinycalc-{n}"]["status"] for n in (1, 2, 3)] == ["ready"] * 3
    assert records["aemgym__tinycalc-9"]["status"] == "error" and "ready 3/4" in result.output
    assert "Python 2.5 is needed" in records["aemgym__tinycalc-9"]["reason"]
    assert "aemgym__tinycalc-9: ERROR Python 2.5 is needed" in result.output
    bad = CliRunner().invoke(cli, [*argv, "--instances", "aemgym__tinycalc-1,nope__nope-2"])
    assert bad.exit_code == 2 and "unknown instance ids: nope__nope-2" in bad.output


def test_eval_takes_the_same_config_syntax_as_bench_and_train(tmp_path, swe_cache, tiny_instance):
    """`-c file.yaml -c key=value` with the flags as shorthands, as `bench` and `train` do."""
    from harness.cli import app as cli

    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": tiny_instance["instance_id"], "model_patch": ""}) + "\n")
    config = tmp_path / "eval.yaml"
    config.write_text(f"grading: {{data: {_data(tmp_path, tiny_instance)}, cache_dir: {swe_cache}}}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["swebench", "eval", "-p", str(preds), "-c", str(config),
                                      "-c", f"output.dir={out}", "-c", "grading.timeout_s=600"])
    assert result.exit_code == 0, result.output
    assert (out / "results.jsonl").is_file() and "resolved 0/1" in result.output
    bad = CliRunner().invoke(cli, ["swebench", "eval", "-p", str(preds), "-c", "grading.backend=podman"])
    assert bad.exit_code == 2 and "grading.backend" in bad.output
