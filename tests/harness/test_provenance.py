"""Provenance in every run's config: versions, commit, task list and its hash, data files with digests; the same
configuration selects the same tasks in another process (another hash seed, another working directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.provenance import file_digest, task_list_hash

ROOT = Path(__file__).resolve().parents[2]
SELECT = """
import json, sys
from harness.bench import select_tasks
from harness.config import BenchConfig, load_config
from harness.provenance import task_list_hash
cfg = load_config(BenchConfig, sys.argv[1:])
split, ids = select_tasks(cfg)
print(json.dumps([split, len(ids), task_list_hash(ids)]))
"""


def _select(tmp_path: Path, seed: str, *specs: str) -> list:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SELECT, *specs], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_same_config_selects_the_same_tasks_in_another_process(tmp_path):
    for specs in (["env.id=doors", "env.n_tasks=50"], ["env.id=webshop", "env.n_tasks=100", "env.split=train"],
                  ["env.id=alfworld", "env.n_tasks=null"]):
        first, second = _select(tmp_path, "1", *specs), _select(tmp_path, "2", *specs)
        assert first == second and first[1] > 0, specs


def test_a_bench_run_records_its_provenance(tmp_path):
    from harness.bench import run_bench
    from harness.config import BenchConfig, load_config

    cfg = load_config(BenchConfig, ["env.id=webshop", "env.n_tasks=2", "policy.name=random", "env.max_steps=2",
                                    f"output.dir={tmp_path / 'run'}"])
    run_bench(cfg, progress=False)
    header = json.loads((tmp_path / "run" / "config.json").read_text())
    record = header["provenance"]
    assert record["task_ids_sha256"] == task_list_hash(header["task_ids"]) and len(header["task_ids"]) == 2
    assert {"aem-gym", "torch", "gymnasium", "spacy"} <= set(record["packages"])
    assert record["data_files"] and all(file_digest(p) == d for p, d in record["data_files"].items())
    assert any(p.endswith(".json") or p.endswith(".jsonl") for p in record["data_files"])
    assert header["config"]["env"]["split"] == "test"  # the split the default resolved to is stored
