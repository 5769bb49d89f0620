"""Docker backend: one container per sandbox from a SWE-bench instance image, driven through the docker SDK.

Contract (mini-swe-agent's, on the Engine API) with the official images
`swebench/sweb.eval.x86_64.<instance id, "__" -> "_1776_">:latest` (see `agent_envs.swebench.spec.image_name`):

- start: `images.get` (pull when missing), `containers.create(image, **docker_engine.container_options(...))` (no
  capabilities, no-new-privileges, no network, memory/pids/CPU/file-size limits, a disk quota where the storage driver
  has one, docker-init, a keep-alive with a maximum lifetime, owner labels) + `start()`; with
  `strip_history=<base commit>` the container's git history after the base commit is removed first (remotes, later
  refs and tags, reflog, gc).
- every command is a fresh exec (`exec_create` + `exec_start(stream=True, demux=True)` + `exec_inspect`) of
  `timeout -k 5 T bash -c CMD` in `/testbed`: a stateless shell over persistent files. `BASH_ENV=/root/.bashrc`
  activates the image's conda env `testbed`. Output is collected head+tail (`base._HeadTail`), so a flood costs no
  memory; a command that floods past `max_output_bytes`, or whose output stream outlives it, is killed by a second
  exec that finds its processes by a per-exec marker variable. Failing commands never raise.
- runaway processes (a fork bomb filling `pids_limit`) are stopped from outside: when the killing exec cannot run, or
  a command cannot even start ("OCI runtime exec failed", or the container stopped because a command killed its init
  or keep-alive: `pkill sleep`), or a command hit the pids limit and the container is still full (`top`), the
  container is restarted (`restart(timeout=0)`: every process is killed, the files are kept) and the command is run
  again; the result's note says so.
- files: `put_archive` / `get_archive`; close: `remove(force=True)`; leftovers: `aemgym sandbox gc`.
"""

from __future__ import annotations

import io
import math
import os
import posixpath
import shlex
import tarfile
import threading
import time
import uuid
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from agent_envs.errors import SandboxError
from agent_envs.sandbox.base import WORKDIR, ExecResult, Sandbox, SandboxLimits, _HeadTail
from agent_envs.sandbox.docker_engine import api_errors as _api_errors
from agent_envs.sandbox.docker_engine import (  # noqa: F401 - docker_available/docker_client: public here too
    container_options,
    docker_available,
    docker_client,
    engine_facts,
)
from agent_envs.sandbox.docker_engine import sdk as _docker

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

#: Run at start when `strip_history` is set: no remotes, no refs or tags beyond the base commit, no reflog.
STRIP_HISTORY = """set -e
cd {workdir}
git checkout -q -f {base} 2>/dev/null || true
git branch -f aemgym-base {base} && git checkout -q aemgym-base
for r in $(git remote); do git remote remove "$r"; done
git for-each-ref --format='%(refname)' refs/heads refs/remotes refs/stash | grep -v '^refs/heads/aemgym-base$' | \
  xargs -r -n1 git update-ref -d
for t in $(git tag --no-merged {base}); do git tag -d "$t" >/dev/null; done
git reflog expire --expire=now --all && git gc -q --prune=now
"""
#: Every process of one exec inherits this variable; `KILL_EXEC` finds them by it (no pid file, no pid namespace).
EXEC_MARKER = "AEMGYM_EXEC_ID"
KILL_EXEC = ("for f in $(grep -laF -e {marker} /proc/[0-9]*/environ 2>/dev/null); do p=${{f#/proc/}}; "
             'kill -9 "${{p%/environ}}" 2>/dev/null; done; true')
STREAM_GRACE_S = 10.0  # client-side backstop beyond the in-container `timeout -k 5`
DRAIN_GRACE_S = 2.0  # how long the output may stay open after the command exited (a background job holding it)
POLL_S = 0.5
#: What an exec prints when its command never started (the engine could not create it, or `timeout` could not fork).
EXEC_START_FAILED = ("OCI runtime exec failed", "unable to start container process", "timeout: fork system call failed")
PIDS_EXHAUSTED = "Resource temporarily unavailable"
#: The runtime's answer once the container's init died; the engine may still report "running" for a moment.
STOPPED_STATE = "cannot exec in a stopped state"
RUN_ID = os.environ.get("AEMGYM_RUN_ID") or uuid.uuid4().hex[:12]  # this process's containers, for `gc`
DEFAULT_MAX_LIFETIME_S = 6 * 3600.0
#: Go `os.FileMode` bits in the engine's path stat: a symlink, and every non-regular type (dir, link, pipe, socket,
#: device, char device, irregular).
GO_MODE_SYMLINK = 1 << 27
GO_MODE_TYPE = (1 << 31) | GO_MODE_SYMLINK | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


def _pump(stream: Any, buf: _HeadTail, lock: threading.Lock, limit: int, overflow: threading.Event) -> None:
    """Feed demuxed (stdout, stderr) chunks into `buf` until the stream ends, is closed, or floods past `limit`."""
    try:
        for out, err in stream:
            with lock:
                for chunk in (out, err):
                    if chunk:
                        buf.feed(chunk)
                if buf.total > limit:
                    overflow.set()
                    return
    except Exception:  # noqa: BLE001 - the stream was closed under us (timeout, flood): the caller reports it
        return


class DockerSandbox(Sandbox):
    """A container from `image` with the repository at `/testbed`.

    Args:
        image: e.g. `swebench/sweb.eval.x86_64.pytest-dev_1776_pytest-7490:latest`.
        client: a `docker.DockerClient` to use (not closed by the sandbox); default: one for `base_url`.
        base_url: the engine, e.g. `unix:///var/run/docker.sock` (default: `DOCKER_HOST` / the default socket).
        network: give the container network access (default off: `network_mode="none"`).
        strip_history: a base commit; later history is removed at start (agent sandboxes; not needed for grading).
        pull: pull the image first when it is not present (otherwise a missing image is a `SandboxError`).
        max_lifetime_s: the keep-alive's lifetime: a container left by a crashed run stops by itself after it.
        run_id: the `aemgym.run` label (default `$AEMGYM_RUN_ID`, else one id per process).
        cap_add: capabilities to add back (none by default; the eval scripts need none).
        limits / env: as for every sandbox (see `docker_engine.container_options` for how they are enforced).
    """

    backend = "docker"

    def __init__(self, image: str, *, client: DockerClient | None = None, base_url: str | None = None,
                 network: bool = False, strip_history: str | None = None, pull: bool = True,
                 max_lifetime_s: float = DEFAULT_MAX_LIFETIME_S, run_id: str | None = None,
                 cap_add: tuple[str, ...] = (), limits: SandboxLimits | None = None, env: dict[str, str] | None = None):
        super().__init__(limits, {"BASH_ENV": "/root/.bashrc", **(env or {})})
        self.image, self.base_url, self.network = image, base_url, network
        self.strip_history, self.pull = strip_history, pull
        self.max_lifetime_s, self.run_id, self.cap_add = max_lifetime_s, run_id or RUN_ID, tuple(cap_add)
        self.engine: dict[str, str] = {}
        self.restarts = 0
        self._pids_file: Path | None = None
        self.client = client
        self._own_client = client is None
        self.container: Container | None = None
        self.name = f"aemgym-{uuid.uuid4().hex[:12]}"

    # ----- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> DockerSandbox:
        """Create and start the container (pulling the image if needed), then strip future git history."""
        docker = _docker()
        if self.client is None:
            self.client = docker_client(self.base_url)
        try:
            self._ensure_image(docker)
            self.engine = engine_facts(self.client)
            options = container_options(self.limits, network=self.network, run_id=self.run_id,
                                        max_lifetime_s=self.max_lifetime_s, quota=bool(self.engine["quota"]),
                                        cap_add=self.cap_add)
            container = self.client.containers.create(self.image, name=self.name, **options)
            self.container = container
            container.start()
            self._pids_file = self._find_pids_file()
        except SandboxError:
            self._close()
            raise
        except _api_errors() as exc:
            self._close()
            raise SandboxError(f"cannot start a container from {self.image}: {exc}") from exc
        self.started = True
        if self.strip_history:
            script = STRIP_HISTORY.format(workdir=WORKDIR, base=shlex.quote(self.strip_history))
            result = self.exec(script, timeout=600)
            if result.exit_code != 0:
                self.close()
                raise SandboxError(f"stripping git history failed: {result.output[-400:]}")
            self.used_s = 0.0
        return self

    def _ensure_image(self, docker: ModuleType) -> None:
        assert self.client is not None
        try:
            self.client.images.get(self.image)
            return
        except docker.errors.ImageNotFound:
            if not self.pull:
                raise SandboxError(f"image {self.image} is not present (docker pull it, or pass pull=True)") from None
        try:
            self.client.images.pull(self.image)
        except _api_errors() as exc:
            raise SandboxError(f"cannot pull {self.image}: {exc}") from exc

    def _close(self) -> None:
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except _api_errors() as exc:
                if not isinstance(exc, _docker().errors.NotFound):
                    warnings.warn(f"could not remove container {self.container.id[:12]}: {exc}", stacklevel=2)
            self.container = None
        if self._own_client and self.client is not None:
            self.client.close()
            self.client = None

    # ----- commands --------------------------------------------------------------------------------------------------
    def _exec(self, cmd: str, timeout_s: float, stdin: bytes | None = None) -> ExecResult:
        result, runaway = self._exec_once(cmd, timeout_s, stdin)
        stopped = result.exit_code in (126, -1) and (STOPPED_STATE in result.output or self._stopped())
        cannot_start = stopped or (result.exit_code in (125, 126)
                                   and result.output.lstrip().startswith(EXEC_START_FAILED))
        if not (runaway or cannot_start or self._pids_full(PIDS_EXHAUSTED in result.output)):
            return result
        why = ("the container had stopped (its init or keep-alive process was killed)" if stopped else
               "the command could not start" if cannot_start else "runaway processes filled the pids limit")
        if not self._restart():
            note = f"{why} and the container could not be restarted: the sandbox is unusable"
            return ExecResult(-1, f"{result.output}\n[{note}]", duration_s=result.duration_s, note=note)
        note = (f"{why}; the container was restarted (every process killed, files kept)"
                + (result.note and f"; first run: {result.note}"))
        if cannot_start:  # the command never ran: run it now
            result, _ = self._exec_once(cmd, timeout_s, stdin)
        return ExecResult(result.exit_code, f"{result.output}\n[{note}]", result.timed_out, result.truncated,
                          result.output_chars, result.duration_s, note)

    def _restart(self) -> bool:
        """Kill every process of the container from outside (a restart keeps its files). Returns success."""
        assert self.container is not None
        try:
            self.container.restart(timeout=0)
            self.restarts += 1
            return True
        except _api_errors():
            return False

    def _stopped(self) -> bool:
        """Whether the container no longer runs (asked only after a failed exec: `pkill sleep` or `kill 1` inside
        stops it, and every later exec would fail).
        """
        assert self.container is not None
        try:
            self.container.reload()
            return self.container.status != "running"
        except _api_errors():
            return False

    def _pids_full(self, suspect: bool) -> bool:
        """Whether the container's processes fill its pids limit, counted from outside: from its pids cgroup where
        this host has it (every command, ~0.1 ms), else by the engine (`top`, only when the output looks like it).
        """
        assert self.container is not None
        if self._pids_file is not None:
            try:
                return int(self._pids_file.read_text()) >= self.limits.max_pids - 2
            except (OSError, ValueError):
                pass
        if not suspect:
            return False
        try:
            return len(self.container.top().get("Processes") or []) >= self.limits.max_pids - 2
        except _api_errors():
            return False

    def _find_pids_file(self) -> Path | None:
        """The container's `pids.current` when the engine runs on this host (cgroup v1 or v2, cgroupfs or systemd)."""
        assert self.container is not None
        cid = self.container.id
        for path in (f"/sys/fs/cgroup/pids/docker/{cid}", f"/sys/fs/cgroup/docker/{cid}",
                     f"/sys/fs/cgroup/pids/system.slice/docker-{cid}.scope",
                     f"/sys/fs/cgroup/system.slice/docker-{cid}.scope"):
            if Path(path, "pids.current").exists():
                return Path(path, "pids.current")
        return None

    def _exec_once(self, cmd: str, timeout_s: float, stdin: bytes | None) -> tuple[ExecResult, bool]:
        """One exec; also whether its leftovers could not be killed from inside (the caller then restarts)."""
        assert self.container is not None and self.client is not None
        start = time.monotonic()
        errors = _api_errors()
        if stdin is not None:  # the Engine API has no stdin without a raw attach: pass it as a file
            path = f"/tmp/.aemgym-stdin-{uuid.uuid4().hex}"
            try:
                self._put_file(path, stdin)
            except errors as exc:
                return ExecResult(-1, f"[cannot pass stdin into the container: {exc}]",
                                  duration_s=time.monotonic() - start, note="docker error"), False
            cmd = f"exec < {path}; rm -f {path}\n{cmd}"
        marker = uuid.uuid4().hex
        limit = max(1, math.ceil(timeout_s))
        api = self.client.api
        try:
            exec_id = api.exec_create(self.container.id, ["timeout", "-k", "5", str(limit), "bash", "-c", cmd],
                                      environment={**self.env, EXEC_MARKER: marker}, workdir=WORKDIR)["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
        except errors as exc:
            return ExecResult(-1, f"[docker exec failed: {exc}]", duration_s=time.monotonic() - start,
                              note="docker error"), False
        buf = _HeadTail(self.limits.head_chars, self.limits.tail_chars)
        lock, overflow = threading.Lock(), threading.Event()
        reader = threading.Thread(target=_pump, args=(stream, buf, lock, self.limits.max_output_bytes, overflow),
                                  daemon=True)
        reader.start()
        note, lingered = self._wait(reader, exec_id, deadline=start + timeout_s + STREAM_GRACE_S, timeout_s=timeout_s)
        if overflow.is_set():
            note = f"output limit of {self.limits.max_output_bytes} bytes exceeded"
        stuck = reader.is_alive()
        stream.close()
        runaway = False
        if stuck or lingered or overflow.is_set():  # lingered: a background job held the output after the exit
            runaway = not self._kill_exec(marker)
            reader.join(timeout=5)
        code = self._exit_code(exec_id, wait_s=2.0 if (stuck or lingered or overflow.is_set()) else 0.0)
        with lock:
            output, truncated = buf.text()
            total = buf.total
        duration = time.monotonic() - start
        # rc 124 (or 137 after `-k`) at the time limit: stopped by `timeout` inside the container
        timed_out = note.startswith("timed out") or (not note and code in (124, 137) and duration >= limit - 0.5)
        if timed_out:
            code, note = 124, f"timed out after {timeout_s:g} s"
        if note:
            output += f"\n[{note}; the command was killed]"
        return ExecResult(code, output, timed_out, truncated, total, duration, note), runaway

    def _wait(self, reader: threading.Thread, exec_id: str, *, deadline: float, timeout_s: float) -> tuple[str, bool]:
        """Wait for the output stream to end. Returns (a note when the client-side deadline stopped the wait, whether
        the stream outlived the command: some process of the exec still held it).
        """
        exited_at: float | None = None
        while True:
            reader.join(timeout=POLL_S)
            if not reader.is_alive():
                return "", exited_at is not None
            now = time.monotonic()
            if now >= deadline:
                return f"timed out after {timeout_s:g} s", False
            if exited_at is None:
                if not self._running(exec_id):
                    exited_at = now
            elif now - exited_at > DRAIN_GRACE_S:  # the command is done but a background job holds its output
                return "", True

    def _running(self, exec_id: str) -> bool:
        try:
            return bool(self.client.api.exec_inspect(exec_id).get("Running"))  # type: ignore[union-attr]
        except _api_errors():
            return True

    def _exit_code(self, exec_id: str, wait_s: float) -> int:
        """The exec's exit code (-1 when the engine cannot say), waiting up to `wait_s` for a killed exec to end."""
        end = time.monotonic() + wait_s
        while True:
            try:
                info = self.client.api.exec_inspect(exec_id)  # type: ignore[union-attr]
            except _api_errors():
                return -1
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() >= end:
                return -1
            time.sleep(0.05)

    def _kill_exec(self, marker: str) -> bool:
        """SIGKILL every process of the exec tagged `marker`, from a second exec; False when that exec cannot run
        (e.g. the pids limit is full).
        """
        assert self.container is not None and self.client is not None
        api = self.client.api
        try:
            kill_id = api.exec_create(self.container.id, ["bash", "-c", KILL_EXEC.format(
                marker=shlex.quote(f"{EXEC_MARKER}={marker}"))])["Id"]
            api.exec_start(kill_id)
            return api.exec_inspect(kill_id).get("ExitCode") == 0
        except _api_errors():
            return False

    # ----- files -----------------------------------------------------------------------------------------------------
    def _put_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        assert self.container is not None
        parent, name = posixpath.split(path)
        payload = io.BytesIO()
        with tarfile.open(fileobj=payload, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        if not self.container.put_archive(parent, payload.getvalue()):
            raise OSError(f"the engine refused to write {path}")

    def write_file(self, path: str, content: str) -> None:
        """Write a text file with `put_archive` (parents created); raises `OSError` when that fails."""
        if not self.started or self.closed:
            raise SandboxError("the sandbox is not running (call start() first; it may have been closed)")
        full = posixpath.normpath(posixpath.join(WORKDIR, path))
        parent = posixpath.dirname(full)
        if parent not in (WORKDIR, "/tmp"):
            made = self.exec(f"mkdir -p -- {shlex.quote(parent)}", timeout=30)
            if made.exit_code != 0:
                raise OSError(f"cannot create {parent}: {made.output.strip()[:200]}")
        try:
            self._put_file(full, content.encode())
        except _api_errors() as exc:
            raise OSError(f"cannot write {path}: {exc}") from exc

    def read_file(self, path: str) -> str:
        """A file's text via `get_archive` (relative paths are inside `/testbed`); `FileNotFoundError` if absent.

        What to fetch is decided from the engine's stat before any byte is read, so a file the sandbox made huge (an
        eval log of 1 GB) or turned into a directory costs the harness no memory: a symlink or a file larger than
        `max_output_bytes` is read by `cat` inside the container (bounded like every command), anything but a regular
        file is an error.
        """
        if not self.started or self.closed:
            raise SandboxError("the sandbox is not running (call start() first; it may have been closed)")
        assert self.container is not None
        full = posixpath.normpath(posixpath.join(WORKDIR, path))
        limit = self.limits.max_output_bytes
        try:
            chunks, stat = self.container.get_archive(full)
        except _docker().errors.NotFound as exc:
            raise FileNotFoundError(f"{path}: no such file in the container") from exc
        except _api_errors() as exc:
            raise SandboxError(f"cannot read {path} from the container: {exc}") from exc
        mode, size = int(stat.get("mode", 0)), int(stat.get("size", 0))
        if mode & GO_MODE_TYPE or size > limit:
            chunks.close()
            if mode & GO_MODE_SYMLINK or not mode & GO_MODE_TYPE:
                return super().read_file(path)  # `cat` follows the link inside the container; its output is bounded
            raise FileNotFoundError(f"{path} is not a regular file")
        data = bytearray()
        try:
            for chunk in chunks:  # the tar of one file of at most `limit` bytes (it may have grown since the stat)
                data += chunk
                if len(data) > limit + (1 << 20):
                    break
        except _api_errors() as exc:
            raise SandboxError(f"cannot read {path} from the container: {exc}") from exc
        try:
            with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tar:
                member = tar.next()
                if member is None or not member.isfile():
                    raise FileNotFoundError(f"{path} is not a regular file")
                content = tar.extractfile(member).read(limit)  # type: ignore[union-attr]
        except tarfile.TarError as exc:
            raise SandboxError(f"cannot read {path} from the container: {exc}") from exc
        return content.decode("utf-8", errors="replace")

    @property
    def features(self) -> dict[str, str]:
        """The isolation in force (for reports)."""
        lim, engine = self.limits, self.engine
        return {
            "copy_on_write": "container layer", "network": "on" if self.network else "off (network_mode=none)",
            "user": "image root; " + ("user-namespace remapped by the engine" if engine.get("userns")
                                      else "host root (the engine has no userns-remap)")
                    + f", capabilities: {', '.join(self.cap_add) or 'none'}, no-new-privileges",
            "seccomp": "engine default profile" if engine.get("seccomp") else "off (the engine has none)",
            "pids_limit": f"pids_limit={lim.max_pids}", "memory_limit": f"mem_limit={lim.memory_mb}m (no swap)",
            "cpu_limit": f"nano_cpus={lim.cpus:g}" if lim.cpus else "none",
            "disk_limit": (f"storage_opt size={lim.disk_mb}M" if engine.get("quota") else
                           f"RLIMIT_FSIZE {lim.max_file_mb} MB per file (no quota on {engine.get('driver', '?')})"),
        }
