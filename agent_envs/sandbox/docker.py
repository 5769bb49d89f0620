"""Docker backend: one container per sandbox from a SWE-bench instance image, driven through the docker SDK.

Contract (mini-swe-agent's, on the Engine API) with the official images
`swebench/sweb.eval.x86_64.<instance id, "__" -> "_1776_">:latest` (see `agent_envs.swebench.spec.image_name`):

- start: `images.get` (pull when missing), `containers.create(image, "sleep infinity", working_dir="/testbed",
  network_mode="none", mem_limit, pids_limit)` + `start()`; with `strip_history=<base commit>` the container's git
  history after the base commit is removed first (remotes, later refs and tags, reflog, gc).
- every command is a fresh exec (`exec_create` + `exec_start(stream=True, demux=True)` + `exec_inspect`) of
  `timeout -k 5 T bash -c CMD` in `/testbed`: a stateless shell over persistent files. `BASH_ENV=/root/.bashrc`
  activates the image's conda env `testbed`. Output is collected head+tail (`base._HeadTail`), so a flood costs no
  memory; a command that floods past `max_output_bytes`, or whose output stream outlives it, is killed by a second
  exec that finds its processes by a per-exec marker variable. Failing commands never raise.
- files: `put_archive` / `get_archive`; close: `remove(force=True)`.
"""

from __future__ import annotations

import io
import math
import posixpath
import shlex
import tarfile
import threading
import time
import uuid
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

from agent_envs.errors import DependencyNotInstalled, EnvUnavailable, SandboxError
from agent_envs.sandbox.base import WORKDIR, ExecResult, Sandbox, SandboxLimits, _HeadTail

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


def _docker() -> ModuleType:
    try:
        import docker
    except ImportError as exc:
        raise DependencyNotInstalled("the Docker backend needs the docker SDK: pip install 'aem-gym[swebench]' "
                                     "(docker==7.2.0)") from exc
    return docker


def _api_errors() -> tuple[type[BaseException], ...]:
    """What an Engine API call may raise: docker's errors, transport errors (requests) and socket errors."""
    import requests

    return (_docker().errors.DockerException, requests.exceptions.RequestException, OSError)


def docker_client(base_url: str | None = None, timeout: float = 120) -> DockerClient:
    """A client for `base_url` (e.g. `unix:///var/run/docker.sock`), by default the environment's (`DOCKER_HOST`)."""
    docker = _docker()
    try:
        if base_url:
            return docker.DockerClient(base_url=base_url, timeout=timeout)
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        where = base_url or "$DOCKER_HOST / the default socket"
        raise EnvUnavailable(f"no Docker engine reachable at {where} ({exc}); start Docker or use backend='local'") \
            from exc


def docker_available(base_url: str | None = None) -> bool:
    """Whether a Docker engine answers `info` (what `docker info` checks)."""
    try:
        client = docker_client(base_url, timeout=20)
    except (EnvUnavailable, DependencyNotInstalled):
        return False
    try:
        client.info()
        return True
    except _api_errors():
        return False
    finally:
        client.close()


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
        limits / env: as for every sandbox (memory and pids limits become `mem_limit` / `pids_limit`).
    """

    backend = "docker"

    def __init__(self, image: str, *, client: DockerClient | None = None, base_url: str | None = None,
                 network: bool = False, strip_history: str | None = None, pull: bool = True,
                 limits: SandboxLimits | None = None, env: dict[str, str] | None = None):
        super().__init__(limits, {"BASH_ENV": "/root/.bashrc", **(env or {})})
        self.image, self.base_url, self.network = image, base_url, network
        self.strip_history, self.pull = strip_history, pull
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
            container = self.client.containers.create(
                self.image, ["sleep", "infinity"], name=self.name, working_dir=WORKDIR, detach=True,
                network_mode=None if self.network else "none", mem_limit=f"{self.limits.memory_mb}m",
                pids_limit=self.limits.max_pids, labels={"aemgym": "sandbox"},
            )
            self.container = container
            container.start()
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
        assert self.container is not None and self.client is not None
        start = time.monotonic()
        errors = _api_errors()
        if stdin is not None:  # the Engine API has no stdin without a raw attach: pass it as a file
            path = f"/tmp/.aemgym-stdin-{uuid.uuid4().hex}"
            try:
                self._put_file(path, stdin)
            except errors as exc:
                return ExecResult(-1, f"[cannot pass stdin into the container: {exc}]",
                                  duration_s=time.monotonic() - start, note="docker error")
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
                              note="docker error")
        buf = _HeadTail(self.limits.head_chars, self.limits.tail_chars)
        lock, overflow = threading.Lock(), threading.Event()
        reader = threading.Thread(target=_pump, args=(stream, buf, lock, self.limits.max_output_bytes, overflow),
                                  daemon=True)
        reader.start()
        note = self._wait(reader, exec_id, deadline=start + timeout_s + STREAM_GRACE_S, timeout_s=timeout_s)
        if overflow.is_set():
            note = f"output limit of {self.limits.max_output_bytes} bytes exceeded"
        stuck = reader.is_alive()
        stream.close()
        if stuck or overflow.is_set():
            self._kill_exec(marker)
            reader.join(timeout=5)
        code = self._exit_code(exec_id, wait_s=2.0 if (stuck or overflow.is_set()) else 0.0)
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
        return ExecResult(code, output, timed_out, truncated, total, duration, note)

    def _wait(self, reader: threading.Thread, exec_id: str, *, deadline: float, timeout_s: float) -> str:
        """Wait for the output stream to end; a note when the client-side deadline stopped the wait."""
        exited_at: float | None = None
        while True:
            reader.join(timeout=POLL_S)
            if not reader.is_alive():
                return ""
            now = time.monotonic()
            if now >= deadline:
                return f"timed out after {timeout_s:g} s"
            if exited_at is None:
                if not self._running(exec_id):
                    exited_at = now
            elif now - exited_at > DRAIN_GRACE_S:  # the command is done but a background job holds its output
                return ""

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

    def _kill_exec(self, marker: str) -> None:
        """SIGKILL every process of the exec tagged `marker` (best effort)."""
        assert self.container is not None and self.client is not None
        try:
            kill_id = self.client.api.exec_create(self.container.id, ["bash", "-c", KILL_EXEC.format(
                marker=shlex.quote(f"{EXEC_MARKER}={marker}"))])["Id"]
            self.client.api.exec_start(kill_id)
        except _api_errors():
            pass

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
        """A file's text via `get_archive` (relative paths are inside `/testbed`); `FileNotFoundError` if absent."""
        if not self.started or self.closed:
            raise SandboxError("the sandbox is not running (call start() first; it may have been closed)")
        assert self.container is not None
        full = posixpath.normpath(posixpath.join(WORKDIR, path))
        try:
            chunks, _ = self.container.get_archive(full)
            data = b"".join(chunks)
        except _docker().errors.NotFound as exc:
            raise FileNotFoundError(f"{path}: no such file in the container") from exc
        except _api_errors() as exc:
            raise SandboxError(f"cannot read {path} from the container: {exc}") from exc
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            if member is not None and member.issym():
                return super().read_file(path)  # `cat` follows the link inside the container
            if member is None or not member.isfile():
                raise FileNotFoundError(f"{path} is not a regular file")
            content = tar.extractfile(member).read(self.limits.max_output_bytes)  # type: ignore[union-attr]
        return content.decode("utf-8", errors="replace")

    @property
    def features(self) -> dict[str, str]:
        """The isolation in force (for reports)."""
        return {"copy_on_write": "container layer", "network": "on" if self.network else "off (network_mode=none)",
                "pids_limit": f"pids_limit={self.limits.max_pids}",
                "memory_limit": f"mem_limit={self.limits.memory_mb}m"}
