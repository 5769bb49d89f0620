"""The runs the viewer shows: run directories given on the command line or found under the directories given, each
with its header (`config.json`), summary, training metrics and episode index, read fresh when the files change.

A malformed or partial run directory is shown with notes saying what is wrong (no config, an old flat config, a
corrupt line, a torn last line, no summary), never an error.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.report import rate_block, report_scope
from harness.storage import CONFIG, EPISODES, RUN_SCHEMA, SUMMARY, read_run_config
from harness.train.metrics import ADVANTAGES_FILE, METRICS_FILE
from harness.view.html import url
from harness.view.index import Entry, EpisodeIndex

#: A training turn sample in `advantages.jsonl`: (episode id, turn, α, advantage, response entropy).
TurnSample = tuple[str, int, float, float, float]
#: Directories never searched for runs.
SKIPPED_DIRS = {"checkpoints", "tensorboard", "wandb", "__pycache__", "node_modules"}
MAX_DEPTH = 4


def dig(data: Any, *keys: str, default: Any = None) -> Any:
    """`data[k1][k2]...`, or `default` where a level is missing or not a dict."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a dict, else {} (records from other writers may hold anything)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else []."""
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    """`value` if it is a string, else its JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def is_run_dir(path: Path) -> bool:
    """A directory holding `config.json` or `episodes.jsonl`."""
    return (path / CONFIG).is_file() or (path / EPISODES).is_file()


@dataclass
class ParseFailure:
    """A file that exists but cannot be parsed."""

    message: str


class _FileCache:
    """Parsed file contents, re-read when the file's size or mtime changes."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], Any]] = {}

    def get(self, path: Path, parse: Callable[[Path], Any]) -> Any:
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        hit = self._cache.get(path)
        if hit is None or hit[0] != key:
            try:
                hit = (key, parse(path))
            except OSError:  # removed or unreadable since the stat
                return None
            self._cache[path] = hit
        return hit[1]


def _json_or_error(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ParseFailure(f"{path.name} is not valid JSON ({exc})")


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    """The object rows of a JSONL file; lines that are not JSON objects (a torn last line) are skipped."""
    rows = []
    for line in path.read_bytes().splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _turn_samples(path: Path) -> dict[int, list[TurnSample]]:
    out = {}
    keys = ("episode_id", "turn", "alpha", "advantage", "response_entropy")
    for row in _jsonl_rows(path):
        if isinstance(row.get("iteration"), int):
            columns = [as_list(row.get(k)) for k in keys]
            out[row["iteration"]] = [
                (str(e), t, float(a), float(d), float(h)) for e, t, a, d, h in zip(*columns, strict=False)
                if isinstance(t, int) and all(isinstance(x, (int, float)) for x in (a, d, h))]
    return out


def _header(path: Path) -> Any:
    try:
        return read_run_config(path.parent)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        return ParseFailure(f"config.json cannot be read ({type(exc).__name__}: {exc})")


@dataclass
class Stats:
    """The report's numbers over a run's report scope, from the index."""

    scope: str
    overall: dict[str, Any]
    per_task_type: dict[str, dict[str, Any]]
    errors: list[Entry]


def stats_of(entries: list[Entry], scope: str = "") -> Stats:
    """Success with its 95% CI (over completed episodes, errors apart), score, reward, turns, overall and per task
    type: the report's numbers.
    """

    def block(items: list[Entry]) -> dict[str, Any]:
        return rate_block([e.task_id for e in items], [e.status for e in items], [e.success for e in items],
                          [e.score for e in items], [e.total_reward for e in items], [e.turns for e in items])

    by_type: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_type[entry.task_type].append(entry)
    return Stats(scope, block(entries), {t: block(items) for t, items in sorted(by_type.items())},
                 [e for e in entries if e.status == "error"])


class Run:
    """One run directory."""

    def __init__(self, run_id: str, path: Path):
        self.run_id, self.path = run_id, path
        self.index = EpisodeIndex(path / EPISODES)
        self._files = _FileCache()

    # ----- files --------------------------------------------------------------------------------------------------
    @property
    def header(self) -> dict[str, Any]:
        """`config.json` in the unified layout ({} when missing or unreadable)."""
        data = self._files.get(self.path / CONFIG, _header)
        return data if isinstance(data, dict) else {}

    @property
    def config(self) -> dict[str, Any]:
        """The run configuration (`header["config"]`, {} when absent)."""
        config = self.header.get("config")
        return config if isinstance(config, dict) else {}

    @property
    def summary(self) -> dict[str, Any] | None:
        """`summary.json`, or None when missing or unreadable."""
        data = self._files.get(self.path / SUMMARY, _json_or_error)
        return data if isinstance(data, dict) else None

    def metrics(self) -> list[dict[str, Any]]:
        """The rows of `metrics.jsonl` (training runs), sorted by iteration; [] when absent."""
        rows = self._files.get(self.path / METRICS_FILE, _jsonl_rows) or []
        return sorted((r for r in rows if isinstance(r.get("iteration"), int)), key=lambda r: r["iteration"])

    def advantages(self) -> dict[int, list[TurnSample]]:
        """`advantages.jsonl`: per iteration, (episode id, turn, α, advantage, response entropy) of every turn sample
        (the last row of an iteration wins; malformed values are left out); {} when absent.
        """
        return self._files.get(self.path / ADVANTAGES_FILE, _turn_samples) or {}

    # ----- what the pages show ------------------------------------------------------------------------------------
    @property
    def command(self) -> str:
        """`bench` or `train`."""
        return str(self.header.get("command") or "bench")

    @property
    def is_train(self) -> bool:
        """A training run (`config.json` says so, or it has `metrics.jsonl`)."""
        return self.command == "train" or (self.path / METRICS_FILE).is_file()

    @property
    def env(self) -> str:
        """The env id (from the config, else from the first episode; '?' when unknown)."""
        env = dig(self.config, "env", "id")
        if env:
            return str(env)
        entries = self.index.refresh().entries
        try:
            record = self.index.read(entries[0].episode_id) if entries else None
        except ValueError:
            record = None
        return str(record.get("env_id") or "?") if record else "?"

    @property
    def policy(self) -> str:
        """Policy name (with the endpoint's model name when there is one)."""
        name = str(dig(self.config, "policy", "name") or "?")
        model = dig(self.config, "policy", "model") or (dig(self.config, "model", "name") if self.is_train else None)
        return f"{name} ({model})" if model and str(model) not in name else name

    @property
    def scaffold(self) -> str:
        """The agent scaffold or prompt template, as recorded ('' when not)."""
        for keys in (("scaffold",), ("prompt", "scaffold"), ("prompt", "template")):
            value = dig(self.config, *keys)
            if value:
                return str(value) if len(str(value)) <= 40 else str(value)[:37] + "…"
        return ""

    @property
    def created(self) -> str:
        """When the run was made (`config.json`'s `created`, else the files' time)."""
        created = self.header.get("created")
        if created:
            return str(created).replace("T", " ")
        times = [p.stat().st_mtime for p in (self.path / CONFIG, self.path / EPISODES) if p.is_file()]
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(min(times))) if times else "?"

    def scope(self) -> tuple[list[Entry], str]:
        """The entries the report is about (all of a bench run; a training run's last evaluation) and its note."""
        entries = self.index.refresh().entries
        return report_scope(entries, "train" if self.is_train else self.command)

    def stats(self) -> Stats:
        """The report's numbers over `scope()`."""
        entries, note = self.scope()
        return stats_of(entries, note)

    def in_progress(self) -> bool:
        """No summary yet and the episodes file changed in the last two minutes."""
        try:
            changed = (self.path / EPISODES).stat().st_mtime
        except OSError:
            return False
        return not (self.path / SUMMARY).is_file() and time.time() - changed < 120

    def notes(self) -> list[str]:
        """What is missing or malformed in this directory, one sentence each."""
        out = []
        config = self._files.get(self.path / CONFIG, _header)
        if config is None:
            out.append("No config.json: the env, policy and tasks of this run are unknown.")
        elif isinstance(config, ParseFailure):
            out.append(config.message + ".")
        elif isinstance(config, dict):
            version = config.get("schema_version")
            if version == 1:
                out.append("An old flat config.json (schema 1): read as a bench run.")
            elif isinstance(version, int) and version > RUN_SCHEMA:
                out.append(f"config.json has schema {version}, newer than this aemgym ({RUN_SCHEMA}): some fields "
                           "may not be shown.")
        index = self.index.refresh()
        if not index.path.is_file():
            out.append("No episodes.jsonl yet.")
        if index.corrupt:
            shown = "; ".join(f"line {n}: {why}" for n, why in index.corrupt[:3])
            out.append(f"{len(index.corrupt)} corrupt line(s) in episodes.jsonl skipped ({shown}).")
        if index.torn_tail:
            out.append(f"The last line of episodes.jsonl is incomplete ({index.torn_tail} bytes): the run is writing "
                       "it, or was killed mid-write. It is not shown.")
        summary = self._files.get(self.path / SUMMARY, _json_or_error)
        if isinstance(summary, ParseFailure):
            out.append(summary.message + ".")
        elif summary is None and index.path.is_file():
            out.append("No summary.json: the run is in progress or stopped before its report; the numbers here are "
                       "computed from the episodes.")
        return out

    def live(self) -> tuple[str, dict[str, Any]]:
        """(the URL of `state()`, the state now): what a page of this run polls."""
        return url("/api/state", run=self.run_id), self.state()

    def state(self) -> dict[str, Any]:
        """What a page polls to notice new episodes."""
        index = self.index.refresh()
        return {"episodes": len(index.entries), "bytes": index.indexed_bytes, "metrics": len(self.metrics()),
                "in_progress": self.in_progress()}


class Catalog:
    """The runs under the paths given to `aemgym view` (rescanned on each listing, so new runs appear)."""

    def __init__(self, paths: list[Path]):
        self.roots = [Path(p).resolve() for p in paths]
        self._runs: dict[Path, Run] = {}
        self._ids: dict[str, Run] = {}
        self._lock = threading.Lock()

    def _found(self) -> list[tuple[Path, Path]]:
        """(root, run dir) pairs, in a stable order."""
        found = []
        for root in self.roots:
            if is_run_dir(root):
                found.append((root, root))
                continue
            for current, dirs, _files in os.walk(root):
                here = Path(current)
                depth = len(here.relative_to(root).parts)
                if here != root and is_run_dir(here):
                    found.append((root, here))
                    dirs[:] = []
                    continue
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")
                                 and depth < MAX_DEPTH)
        return found

    def scan(self) -> dict[str, Run]:
        """Run id -> run. Ids are paths relative to the directory given (the name, for a run given itself)."""
        with self._lock:
            ids: dict[str, Run] = {}
            for root, path in self._found():
                run_id = path.name if path == root else path.relative_to(root).as_posix()
                if run_id in ids:
                    run_id = f"{root.name}/{run_id}"
                base, n = run_id, 2
                while run_id in ids:
                    run_id, n = f"{base}~{n}", n + 1
                run = self._runs.get(path) or self._runs.setdefault(path, Run(run_id, path))
                run.run_id = run_id
                ids[run_id] = run
            self._ids = ids
            return dict(ids)

    def get(self, run_id: str | None) -> Run | None:
        """The run with this id (rescanning once if it is not known yet), or None."""
        if not run_id:
            return None
        run = self._ids.get(run_id)
        if run is None:
            run = self.scan().get(run_id)
        return run

