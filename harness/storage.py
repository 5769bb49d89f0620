"""Run directories, the one store of bench and training runs.

A run directory holds `config.json` (what was run: the command, its configuration, the task ids), an append-only
`episodes.jsonl` (one line per finished episode, flushed and fsynced as each episode ends), `summary.json` and the
report; training runs add `metrics.jsonl` and `checkpoints/`.

A run killed mid-write leaves at most one torn last line; readers ignore it and a resumed run cuts it off before
appending, so resuming never loses a finished episode. An episode recorded twice (an error episode retried on
resume) is read as its last record.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.config import result_diff
from harness.types import Episode

CONFIG, EPISODES, SUMMARY = "config.json", "episodes.jsonl", "summary.json"
#: Version of `config.json`'s layout (1: the flat bench config of the first releases).
RUN_SCHEMA = 2


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON atomically (a temporary file renamed into place)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def json_line(data: Any) -> str:
    """One JSON line; text that UTF-8 cannot hold (lone surrogates from a model or an env) is kept as escapes."""
    line = json.dumps(data, ensure_ascii=False, default=str)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(data, ensure_ascii=True, default=str)
    return line


def new_run_dir(root: str | Path, name: str) -> Path:
    """A new, empty directory `root/<name>-<YYYYmmdd-HHMMSS>[-N]` (created atomically, never an existing one)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 10_000):
        path = root / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run directory for {stem} in {root}")


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's `config.json` as `{"schema_version", "command", "config", "task_ids", ...}` ({} when absent).

    Runs written before the unified configuration (a flat bench config) are returned in the same layout.
    """
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if "schema_version" not in data:  # schema 1: the flat bench config
        return {"schema_version": 1, "command": "bench", "task_ids": data.get("task_ids", []),
                "config": {"env": {"id": data.get("env_id"), "split": data.get("split"),
                                   "kwargs": data.get("env_kwargs", {})},
                           "policy": {"name": data.get("policy")},
                           "rollout": {"samples": data.get("samples_per_task")}}}
    return data


def read_episode_dicts(path: str | Path) -> list[dict[str, Any]]:
    """Episode dicts from an `episodes.jsonl`, ignoring a torn last line (a kill during a write).

    Raises:
        ValueError: a line other than the last is not valid JSON (the file was edited or corrupted).
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # no newline after it: torn by a kill
                break
            raise ValueError(f"{path}:{number}: corrupt episode record") from None
    return out


def read_episodes(run_dir: str | Path) -> list[Episode]:
    """The finished episodes of a run directory (the last record of each episode id, in first-seen order)."""
    seen: dict[str, Episode] = {}
    for data in read_episode_dicts(Path(run_dir) / EPISODES):
        episode = Episode.from_dict(data)
        seen[episode.episode_id] = episode
    return list(seen.values())


class RunStore:
    """One run directory.

    Args:
        run_dir: the directory (created if needed).
        header: what `config.json` holds (`command`, `config` = the dumped run configuration, `task_ids`, ...).
        resume: continue the run in `run_dir`; without it a directory that already holds a run is refused, and with
            it a stored configuration that differs in anything that changes results is refused (the message lists
            the differences).
    """

    def __init__(self, run_dir: str | Path, *, header: dict[str, Any] | None = None, resume: bool = False):
        self.run_dir = Path(run_dir)
        self.episodes_path = self.run_dir / EPISODES
        stored = read_run_config(self.run_dir)
        holds_run = bool(stored) or (self.episodes_path.is_file() and self.episodes_path.stat().st_size > 0)
        if holds_run and not resume:
            raise FileExistsError(f"{self.run_dir} already holds a run: pass --resume to continue it, or choose "
                                  "another --out (by default every run gets a new directory)")
        if resume and not holds_run:
            raise FileNotFoundError(f"nothing to resume in {self.run_dir} (no {CONFIG} there)")
        if resume and header is not None:
            self._check_same_run(stored, header)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not holds_run and header is not None:
            write_json(self.run_dir / CONFIG, {"schema_version": RUN_SCHEMA, **header})
        self.header = read_run_config(self.run_dir)
        self._cut_torn_tail()
        self._records = {d["episode_id"]: d.get("status", "ok") for d in read_episode_dicts(self.episodes_path)}
        self._lock = threading.Lock()
        self._file = open(self.episodes_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run

    def _check_same_run(self, stored: dict[str, Any], header: dict[str, Any]) -> None:
        if stored.get("command", "bench") != header.get("command", "bench"):
            raise ValueError(f"cannot resume {self.run_dir}: it is a {stored.get('command')} run, not "
                             f"{header.get('command')}")
        differences = result_diff(stored.get("config", {}), header.get("config", {}))
        if header.get("task_ids") is not None and stored.get("task_ids") != header["task_ids"]:
            differences.append(f"task_ids: {len(stored.get('task_ids') or [])} stored tasks differ from the "
                               f"{len(header['task_ids'])} selected now")
        if differences:
            raise ValueError(f"cannot resume {self.run_dir}: the configuration differs from the stored one in "
                             + "; ".join(differences))

    def _cut_torn_tail(self) -> None:
        if not self.episodes_path.is_file():
            return
        raw = self.episodes_path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            with open(self.episodes_path, "r+b") as f:
                f.truncate(raw.rfind(b"\n") + 1)

    def finished_ids(self, *, include_errors: bool = True) -> set[str]:
        """Ids of the episodes already stored (without those whose last record is an error, if asked)."""
        return {i for i, status in self._records.items() if include_errors or status != "error"}

    def load(self, episode_ids: Iterable[str]) -> dict[str, Episode]:
        """The stored episodes among `episode_ids`, by id."""
        wanted = set(episode_ids)
        if not wanted:  # the usual case of a training iteration: nothing to read back
            return {}
        return {e.episode_id: e for e in read_episodes(self.run_dir) if e.episode_id in wanted}

    def append(self, episode: Episode) -> None:
        """Write one finished episode durably (one line, flushed and fsynced)."""
        line = json_line(episode.to_dict())
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._records[episode.episode_id] = episode.status

    def keep_only(self, keep: Callable[[dict[str, Any]], bool]) -> int:
        """Rewrite `episodes.jsonl` with only the records `keep` accepts (a resumed training run drops the episodes
        of iterations after its checkpoint); returns how many were dropped.
        """
        with self._lock:
            records = read_episode_dicts(self.episodes_path)
            kept = [r for r in records if keep(r)]
            if len(kept) == len(records):
                return 0
            self._file.close()
            tmp = self.episodes_path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(json_line(r) + "\n" for r in kept), encoding="utf-8")
            os.replace(tmp, self.episodes_path)
            self._records = {r["episode_id"]: r.get("status", "ok") for r in kept}
            self._file = open(self.episodes_path, "a", encoding="utf-8")  # noqa: SIM115
            return len(records) - len(kept)

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write `summary.json` (atomically); returns its path."""
        path = self.run_dir / SUMMARY
        write_json(path, summary)
        return path

    def close(self) -> None:
        """Close the episodes file (idempotent)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
