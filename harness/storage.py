"""Run directories: `config.json`, an append-only `episodes.jsonl` (one line per finished episode, flushed and
fsynced as each episode ends) and `summary.json`.

A run killed mid-write leaves at most one torn last line; readers ignore it and a resumed run cuts it off before
appending, so resuming never loses a finished episode nor writes one twice.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from harness.types import Episode

CONFIG, EPISODES, SUMMARY = "config.json", "episodes.jsonl", "summary.json"
#: config keys that must match when resuming (a different env or policy would mix two experiments)
RESUME_KEYS = ("env_id", "split", "policy", "task_ids", "samples_per_task")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_episode_dicts(path: str | Path) -> list[dict[str, Any]]:
    """Episode dicts from an `episodes.jsonl`, ignoring a torn last line (a kill during a write).

    Raises:
        ValueError: a line other than the last is not valid JSON (the file was edited or corrupted).
    """
    path = Path(path)
    if not path.is_file():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
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
    """The finished episodes of a run directory (first record per episode id)."""
    seen: dict[str, Episode] = {}
    for data in read_episode_dicts(Path(run_dir) / EPISODES):
        episode = Episode.from_dict(data)
        seen.setdefault(episode.episode_id, episode)
    return list(seen.values())


class RunStore:
    """One run directory.

    Args:
        run_dir: the directory (created if needed).
        config: the run configuration, written to `config.json` (kept as is on resume).
        resume: continue a run whose directory already holds episodes; without it such a directory is refused.
    """

    def __init__(self, run_dir: str | Path, *, config: dict[str, Any] | None = None, resume: bool = False):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.episodes_path = self.run_dir / EPISODES
        has_episodes = self.episodes_path.is_file() and self.episodes_path.stat().st_size > 0
        if has_episodes and not resume:
            raise FileExistsError(f"{self.run_dir} already holds episodes: pass --resume to continue it, or pick "
                                  "another output directory")
        config_path = self.run_dir / CONFIG
        if resume and config_path.is_file() and config is not None:
            old = json.loads(config_path.read_text(encoding="utf-8"))
            clash = [k for k in RESUME_KEYS if k in old and k in config and old[k] != config[k]]
            if clash:
                raise ValueError(f"cannot resume {self.run_dir}: {', '.join(clash)} differ from the stored config")
        elif config is not None:
            _write_json(config_path, config)
        self.config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        self._cut_torn_tail()
        self._lock = threading.Lock()
        self._file = open(self.episodes_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run

    def _cut_torn_tail(self) -> None:
        if not self.episodes_path.is_file():
            return
        raw = self.episodes_path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            keep = raw.rfind(b"\n") + 1
            with open(self.episodes_path, "r+b") as f:
                f.truncate(keep)

    def finished(self) -> dict[str, Episode]:
        """Episodes already stored, by id."""
        return {e.episode_id: e for e in read_episodes(self.run_dir)}

    def append(self, episode: Episode) -> None:
        """Write one finished episode durably (one line, flushed and fsynced)."""
        line = json.dumps(episode.to_dict(), ensure_ascii=False, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write `summary.json` (atomically); returns its path."""
        path = self.run_dir / SUMMARY
        _write_json(path, summary)
        return path

    def close(self) -> None:
        """Close the episodes file (idempotent)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
