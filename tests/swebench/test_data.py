"""Loading instances from the shared SWE-bench Verified files (JSONL and parquet), filters and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_envs.errors import DataNotFound
from agent_envs.swebench.data import find_data_file, load_instances, read_instances


def test_jsonl_and_parquet_agree(shared_data: Path) -> None:
    jsonl = read_instances(shared_data / "swebench" / "swe_bench_verified.test.jsonl")
    parquet = read_instances(shared_data / "swebench" / "swe_bench_verified.test.parquet")
    assert len(jsonl) == len(parquet) == 500
    assert [r["instance_id"] for r in jsonl] == [r["instance_id"] for r in parquet]
    assert isinstance(jsonl[0]["FAIL_TO_PASS"], str) and json.loads(jsonl[0]["FAIL_TO_PASS"])


def test_directory_lookup_and_filters(shared_data: Path) -> None:
    assert find_data_file(shared_data / "swebench").name == "swe_bench_verified.test.jsonl"
    pytest_rows = load_instances(shared_data / "swebench", repos=["pytest-dev/pytest"])
    assert len(pytest_rows) == 19
    one = load_instances(shared_data / "swebench", instance_ids=["pytest-dev__pytest-7490"])
    assert [r["instance_id"] for r in one] == ["pytest-dev__pytest-7490"]
    with pytest.raises(DataNotFound, match="not in the data"):
        load_instances(shared_data / "swebench", instance_ids=["nope__nope-1"])
    assert load_instances(None) is None


def test_missing_fields_and_paths(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instance_id": "x__y-1", "repo": "x/y"}) + "\n")
    with pytest.raises(DataNotFound, match="lacks required fields: base_commit"):
        read_instances(bad)
    with pytest.raises(DataNotFound, match="does not exist"):
        find_data_file(tmp_path / "missing")
    with pytest.raises(DataNotFound, match="no SWE-bench file for split"):
        find_data_file(tmp_path, split="dev")


def test_user_data_dir_via_env_var(tmp_path: Path, tiny_instance, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "test.json").write_text(json.dumps([tiny_instance]))
    monkeypatch.setenv("AEMGYM_SWEBENCH_DATA", str(tmp_path))
    from agent_envs.swebench.env import SWEBenchEnv

    task_set = SWEBenchEnv.load_task_set()
    assert task_set.task_ids("test") == [tiny_instance["instance_id"]]
