"""Reaping what crashed runs left behind: local cgroups and sandbox directories, Docker containers.

Everything a sandbox creates carries its owner's tag (`hardening.owner_tag`: pid and start time): cgroups are named
`aemgym-<tag>-<id>`, sandbox directories `sbx-<tag>-<id>`, containers carry `aemgym.owner` and `aemgym.host` labels.
Whatever belongs to a process that no longer runs is removed: by `LocalSandbox.start` (once per work root and
process), and by `aemgym sandbox gc` for both backends. Mount namespaces need no reaping: each is held by a helper
that ends when its owner's pipe closes, crash or not.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_envs.sandbox import hardening

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("pids", "memory", "cpu")
TAGGED = re.compile(r"^(?:aemgym|sbx)-(\d+\.\d+)-")
LEGACY_CGROUP = re.compile(r"^aemgym-[0-9a-f]{12}$")  # made before cgroups carried their owner


@dataclass
class Reaped:
    """What one collection removed (paths and container names) and what it could not remove."""

    cgroups: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.cgroups) + len(self.dirs) + len(self.containers)


def kill_cgroup(path: Path, wait_s: float = 10.0) -> bool:
    """SIGKILL whatever is left in a cgroup (e.g. a fork bomb's survivors), then remove it. Returns success."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except FileNotFoundError:
            return True
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError, PermissionError):
                pass
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


def _orphaned(name: str, legacy: bool) -> bool:
    match = TAGGED.match(name)
    if match:
        return not hardening.owner_alive(match.group(1))
    return legacy and bool(LEGACY_CGROUP.match(name))


def reap_local(work_roots: Sequence[str | Path] = (), *, legacy: bool = False) -> Reaped:
    """Remove cgroups and sandbox directories (under `work_roots`) whose owning process is gone.

    `legacy=True` also removes untagged `aemgym-<hex>` cgroups from older versions when no process is left in them
    (only from the command line: a concurrently running older version could still be about to use one).
    """
    out = Reaped()
    for controller in CONTROLLERS:
        root = CGROUP_ROOT / controller
        try:
            names = [p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("aemgym-")]
        except OSError:
            continue
        for name in names:
            if not _orphaned(name, legacy):
                continue
            path = root / name
            if TAGGED.match(name) or not (path / "cgroup.procs").read_text().strip():
                (out.cgroups if kill_cgroup(path, wait_s=2.0) else out.failed).append(str(path))
    for work_root in work_roots:
        try:
            entries = [p for p in Path(work_root).iterdir() if p.name.startswith("sbx-") and p.is_dir()]
        except OSError:
            continue
        for path in entries:
            if _orphaned(path.name, legacy=False):
                shutil.rmtree(path, ignore_errors=True)
                (out.failed if path.exists() else out.dirs).append(str(path))
    return out


@functools.lru_cache(maxsize=32)
def reap_local_once(work_root: str) -> int:
    """`reap_local([work_root])` once per process and work root (called when a local sandbox starts)."""
    return len(reap_local([work_root]))


# ----- Docker ---------------------------------------------------------------------------------------------------------
def container_labels(run_id: str, max_lifetime_s: float) -> dict[str, str]:
    """The labels every sandbox container carries (what `reap_docker` decides by)."""
    return {"aemgym": "sandbox", "aemgym.run": run_id, "aemgym.owner": hardening.owner_tag(),
            "aemgym.host": socket.gethostname(), "aemgym.expires": str(int(time.time() + max_lifetime_s))}


def reap_docker(client: Any, *, everything: bool = False) -> Reaped:
    """Remove sandbox containers (label `aemgym=sandbox`) that are stopped, expired, or whose owner on this host is
    gone; `everything=True` removes all of them (e.g. after a crash of every run).
    """
    out = Reaped()
    host, now = socket.gethostname(), time.time()
    for container in client.containers.list(all=True, filters={"label": "aemgym=sandbox"}):
        labels = container.labels or {}
        owner, expires = labels.get("aemgym.owner", ""), labels.get("aemgym.expires", "")
        stale = (everything or container.status != "running"
                 or (expires.isdigit() and int(expires) < now)
                 or (labels.get("aemgym.host") == host and owner and not hardening.owner_alive(owner)))
        if not stale:
            continue
        try:
            container.remove(force=True)
            out.containers.append(container.name)
        except Exception as exc:  # noqa: BLE001 - reported, the collection goes on
            out.failed.append(f"{container.name}: {exc}")
    return out
