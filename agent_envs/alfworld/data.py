"""Finding ALFWorld games: the `alfworld-download` layout, the standard filter and splits, the train archive.

Layout (`$ALFWORLD_DATA` or `data_dir=`): `json_2.1.1/<split dir>/<task_type>-<Obj>-<MRecep>-<Recep>-<scene>/trial_*/`
holding `game.tw-pddl` (and `traj_data.json` when present), or only `initial_state.pddl` + `traj_data.json` (the game is
then built from the packaged domain and grammar). Split dirs map to the standard names: `train` -> train (3553 games),
`valid_seen` -> eval_in_distribution (140), `valid_unseen` -> eval_out_of_distribution (134); other dirs (e.g. ExpeL's
`valid_train`) keep their own name. A `tar.xz` of the same tree (`archives/json_2.1.1_train_full.tar.xz`) is read
directly. No engine is imported here: listing games is cheap.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

from agent_envs.core import Task, TaskSet
from agent_envs.errors import DataNotFound

log = logging.getLogger(__name__)

TASK_TYPES: dict[int, str] = {
    1: "pick_and_place_simple",
    2: "look_at_obj_in_light",
    3: "pick_clean_then_place_in_recep",
    4: "pick_heat_then_place_in_recep",
    5: "pick_cool_then_place_in_recep",
    6: "pick_two_obj_and_place",
}
SHORT_TYPES = {"pick_and_place_simple": "put", "look_at_obj_in_light": "examine",
               "pick_clean_then_place_in_recep": "clean", "pick_heat_then_place_in_recep": "heat",
               "pick_cool_then_place_in_recep": "cool", "pick_two_obj_and_place": "puttwo"}  # fmt: skip
SPLIT_DIRS = {"train": "train", "valid_seen": "eval_in_distribution", "valid_unseen": "eval_out_of_distribution"}
EXPECTED_COUNTS = {"train": 3553, "eval_in_distribution": 140, "eval_out_of_distribution": 134}
ALIASES = {"valid_seen": "eval_in_distribution", "valid_unseen": "eval_out_of_distribution",
           "valid": "eval_in_distribution", "test": "eval_out_of_distribution"}  # fmt: skip
DATA_ENV_VAR = "ALFWORLD_DATA"
BUNDLED_DIR = Path(__file__).resolve().parent / "games"
ARCHIVE_NAME = "json_2.1.1_train_full.tar.xz"
_SOLVABLE = re.compile(rb'"solvable"\s*:\s*(true|false)')


def split_name(directory: str) -> str:
    """The standard split name of a `json_2.1.1/<directory>`."""
    return SPLIT_DIRS.get(directory, directory)


def task_type_from_dir(name: str) -> str:
    """The task type from a task directory name (`pick_heat_then_place_in_recep-Apple-None-DiningTable-26`)."""
    return name.split("-", 1)[0]


def is_excluded(path: str) -> bool:
    """ALFWorld's standard filter: movable-receptacle and sliced tasks are not used for text play."""
    return "movable" in path or "Sliced" in path


def solvable_flag(game_bytes: bytes, where: str) -> bool:
    """The game's `solvable` flag, found without parsing 80 KB of JSON; raises `DataNotFound` if malformed."""
    match = _SOLVABLE.search(game_bytes)
    if match is None or b'"pddl_problem"' not in game_bytes:
        raise DataNotFound(f"malformed ALFWorld game file (no 'solvable'/'pddl_problem' key): {where}")
    return match.group(1) == b"true"


def _read_task_type(traj_file: Path, fallback: str) -> str:
    try:
        return str(json.loads(traj_file.read_text())["task_type"])
    except (OSError, ValueError, KeyError) as exc:
        raise DataNotFound(f"unreadable traj_data.json (needs 'task_type'): {traj_file}: {exc}") from exc


def scan_split_dir(split_dir: Path, split: str, task_types: set[str], id_prefix: str) -> list[Task]:
    """The usable games of one split directory, in sorted path order."""
    tasks = []
    for trial in sorted(p for p in split_dir.glob("*/*") if p.is_dir()):
        rel = f"{trial.parent.name}/{trial.name}"
        if is_excluded(rel):
            continue
        game, traj, problem = trial / "game.tw-pddl", trial / "traj_data.json", trial / "initial_state.pddl"
        if game.is_file():
            if not solvable_flag(game.read_bytes(), str(game)):
                continue
        elif not (problem.is_file() and traj.is_file()):
            continue  # e.g. a trial dir with only traj_data.json: not playable as text
        fallback = task_type_from_dir(trial.parent.name)
        task_type = _read_task_type(traj, fallback) if traj.is_file() else fallback
        if task_type not in task_types:
            continue
        data: dict[str, Any] = {"trial_dir": str(trial), "game_file": str(game) if game.is_file() else None,
                                "traj_file": str(traj) if traj.is_file() else None}  # fmt: skip
        tasks.append(Task(f"{id_prefix}{split}/{rel}", split, task_type, data))
    return tasks


def scan_archive(archive: Path, task_types: set[str], id_prefix: str = "") -> list[Task]:
    """The usable games in a `tar.xz` of `json_2.1.1/<split>/<task>/<trial>/game.tw-pddl` (one streaming pass)."""
    if not archive.is_file():
        raise DataNotFound(f"ALFWorld archive not found: {archive}")
    tasks = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = member.name.split("/")
                if not member.isfile() or parts[-1] != "game.tw-pddl" or len(parts) < 4:
                    continue
                split, task_dir, trial = split_name(parts[-4]), parts[-3], parts[-2]
                if is_excluded(f"{task_dir}/{trial}") or task_type_from_dir(task_dir) not in task_types:
                    continue
                handle = tar.extractfile(member)
                assert handle is not None
                if not solvable_flag(handle.read(), f"{archive}:{member.name}"):
                    continue
                data = {"archive": str(archive), "member": member.name}
                tasks.append(Task(f"{id_prefix}{split}/{task_dir}/{trial}", split, task_type_from_dir(task_dir), data))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataNotFound(f"unreadable ALFWorld archive {archive}: {exc}") from exc
    return tasks


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """`data_dir`, else `$ALFWORLD_DATA`, else None (the bundled mini games)."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(DATA_ENV_VAR) or None
    return Path(chosen).expanduser() if chosen is not None else None


def load_tasks(
    data_dir: str | os.PathLike | None = None,
    *,
    archive: str | os.PathLike | None = None,
    task_types: list[int] | list[str] | None = None,
    strict_counts: bool = False,
) -> TaskSet:
    """All usable games per split, as a `TaskSet` (splits `train`, `eval_in_distribution`, ...).

    Args:
        data_dir: an `alfworld-download` directory (with `json_2.1.1/`); None: `$ALFWORLD_DATA`, else the bundled games.
        archive: a `tar.xz` of game files; its splits replace the same splits found in `data_dir`. When `data_dir`
            has no `json_2.1.1/train` but has `archives/json_2.1.1_train_full.tar.xz`, that archive is used.
        task_types: ids (1-6) or names of the task types to keep (default: all six).
        strict_counts: raise unless train/eval splits have the standard 3553/140/134 games.

    Raises:
        DataNotFound: no games at all, a split directory without usable games, or a malformed file.
    """
    wanted = {TASK_TYPES[t] if isinstance(t, int) else str(t) for t in (task_types or list(TASK_TYPES))}
    root = resolve_data_dir(data_dir)
    bundled = root is None
    root = BUNDLED_DIR if root is None else root
    json_dir = root / "json_2.1.1" if (root / "json_2.1.1").is_dir() else root
    if not root.is_dir():
        raise DataNotFound(f"ALFWorld data directory not found: {root} (set ${DATA_ENV_VAR} or pass data_dir)")
    by_split: dict[str, list[Task]] = {}
    for split_dir in sorted(p for p in json_dir.iterdir() if p.is_dir()) if json_dir.is_dir() else []:
        split = split_name(split_dir.name)
        tasks = scan_split_dir(split_dir, split, wanted, "mini/" if bundled else "")
        if not tasks:
            raise DataNotFound(f"ALFWorld split {split!r} has no usable games in {split_dir} (empty or malformed)")
        by_split[split] = tasks
    default_archive = root / "archives" / ARCHIVE_NAME
    if archive is None and "train" not in by_split and default_archive.is_file():
        archive = default_archive
    if archive is not None:
        archived: dict[str, list[Task]] = {}
        for task in scan_archive(Path(archive), wanted):
            archived.setdefault(task.split, []).append(task)
        if not archived:
            raise DataNotFound(f"ALFWorld archive {archive} holds no usable game.tw-pddl")
        by_split.update(archived)
    if not by_split:
        raise DataNotFound(f"no ALFWorld games under {root} (expected json_2.1.1/<split>/<task>/<trial>/game.tw-pddl)")
    counts = {split: len(tasks) for split, tasks in by_split.items()}
    log.info("ALFWorld games per split (%s): %s", root, counts)
    mismatched = {s: (counts.get(s, 0), n) for s, n in EXPECTED_COUNTS.items() if counts.get(s, 0) != n}
    if strict_counts and mismatched:
        raise DataNotFound(f"ALFWorld split sizes differ from the standard ones (got, expected): {mismatched}")
    ordered = sorted(by_split, key=lambda s: (list(EXPECTED_COUNTS).index(s) if s in EXPECTED_COUNTS else 9, s))
    aliases = {alias: target for alias, target in ALIASES.items() if target in by_split}
    return TaskSet((t for s in ordered for t in by_split[s]), aliases=aliases, name=f"ALFWorld({root})")


def split_summary(task_set: TaskSet) -> dict[str, dict[str, int]]:
    """Games per split and per short task type (put/clean/heat/cool/examine/puttwo), for printing."""
    summary = {}
    for split in task_set.splits():
        types = Counter(SHORT_TYPES.get(t.task_type, t.task_type) for t in task_set.tasks(split))
        summary[split] = {"total": task_set.size(split), **dict(sorted(types.items()))}
    return summary
