"""Loading SWE-bench instances from JSON / JSONL / parquet files, a data directory, or the Hugging Face hub.

Where data is looked for, in order: the `data_path` argument (a file or a directory), `$AEMGYM_SWEBENCH_DATA`, and
otherwise none (the env then uses its embedded synthetic instance). A directory is searched for
`swe_bench_verified.<split>.{jsonl,parquet,json}` (also `<split>.{jsonl,parquet,json}`). `hf_dataset=` loads
`princeton-nlp/SWE-bench_Verified` (or another name) with the `datasets` package when it is installed and reachable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent_envs.errors import DataNotFound, DependencyNotInstalled

REQUIRED_FIELDS = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement", "version",
                   "FAIL_TO_PASS", "PASS_TO_PASS")
HF_DATASET = "princeton-nlp/SWE-bench_Verified"
FILE_STEMS = ("swe_bench_verified.{split}", "{split}")


def find_data_file(data_path: str | Path, split: str = "test") -> Path:
    """The instance file for `split` under `data_path` (or `data_path` itself when it is a file)."""
    path = Path(data_path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataNotFound(f"SWE-bench data path {path} does not exist")
    for stem in FILE_STEMS:
        for ext in ("jsonl", "parquet", "json"):
            candidate = path / f"{stem.format(split=split)}.{ext}"
            if candidate.is_file():
                return candidate
    raise DataNotFound(f"no SWE-bench file for split {split!r} in {path} "
                       f"(expected e.g. swe_bench_verified.{split}.jsonl or .parquet)")


def read_instances(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a .jsonl, .json (a list) or .parquet file, validated (see `validate_instance`)."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(f"SWE-bench instance file {path} does not exist")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise DependencyNotInstalled("reading parquet needs pyarrow: pip install 'aem-gym[swebench]'") from exc
        rows = pq.read_table(path).to_pylist()
    elif path.suffix == ".jsonl":
        with path.open() as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    else:
        rows = json.loads(path.read_text())
        if isinstance(rows, dict):
            rows = [rows]
    for i, row in enumerate(rows):
        validate_instance(row, where=f"{path} row {i}")
    return rows


def validate_instance(row: dict[str, Any], where: str = "instance") -> None:
    """Raise `DataNotFound` naming the missing fields; normalise `version` to a string."""
    missing = [key for key in REQUIRED_FIELDS if key not in row or row[key] is None]
    if missing:
        raise DataNotFound(f"{where} ({row.get('instance_id', '?')}) lacks required fields: {', '.join(missing)}")
    row["version"] = str(row["version"])


def load_hf(name: str = HF_DATASET, split: str = "test") -> list[dict[str, Any]]:
    """Rows of a Hugging Face dataset (needs `datasets` and network or a local HF cache)."""
    try:
        import datasets
    except ImportError as exc:
        raise DependencyNotInstalled("loading from the hub needs `datasets`: pip install 'aem-gym[swebench]'") from exc
    try:
        rows = [dict(r) for r in datasets.load_dataset(name, split=split)]
    except Exception as exc:  # offline, unknown name, ...: the datasets library raises many types
        raise DataNotFound(f"cannot load Hugging Face dataset {name!r} split {split!r}: {exc}") from exc
    for i, row in enumerate(rows):
        validate_instance(row, where=f"{name}[{i}]")
    return rows


def load_instances(
    data_path: str | Path | None = None,
    *,
    split: str = "test",
    hf_dataset: str | None = None,
    instance_ids: Iterable[str] | None = None,
    repos: Iterable[str] | None = None,
) -> list[dict[str, Any]] | None:
    """Instances from `data_path` / `$AEMGYM_SWEBENCH_DATA` / `hf_dataset`, filtered; None when no source is set.

    Args:
        data_path: a file or a directory (see the module docstring).
        split: which split's file to pick in a directory.
        hf_dataset: a Hugging Face dataset name, used when no path is given.
        instance_ids: keep only these ids (unknown ids raise `DataNotFound`).
        repos: keep only instances of these "owner/name" repositories.
    """
    data_path = data_path or os.environ.get("AEMGYM_SWEBENCH_DATA")
    if data_path:
        rows = read_instances(find_data_file(data_path, split))
    elif hf_dataset:
        rows = load_hf(hf_dataset, split)
    else:
        return None
    if instance_ids is not None:
        wanted = list(instance_ids)
        known = {r["instance_id"] for r in rows}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise DataNotFound(f"instance ids not in the data: {', '.join(unknown[:5])}")
        rows = [r for r in rows if r["instance_id"] in set(wanted)]
    if repos is not None:
        keep = set(repos)
        rows = [r for r in rows if r["repo"] in keep]
    return rows
