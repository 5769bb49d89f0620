"""The sandbox interface shared by the local (bubblewrap) and Docker backends.

A sandbox is one isolated copy of a repository (mounted at `/testbed`) in which shell commands run. Commands that
fail, time out or flood the terminal never raise: `exec` always returns an `ExecResult`. Only infrastructure failures
(the sandbox cannot be created) raise `SandboxError`.
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from agent_envs.errors import SandboxError

WORKDIR = "/testbed"
TRUNCATION_MARKER = "\n<output elided: {elided} of {total} characters omitted>\n"


@dataclass
class ExecResult:
    """What one command produced. `output` is stdout+stderr, already truncated head+tail."""

    exit_code: int
    output: str
    timed_out: bool = False
    truncated: bool = False
    output_chars: int = 0
    duration_s: float = 0.0
    note: str = ""  # why the command was stopped (timeout, output limit, episode budget), empty otherwise


@dataclass
class SandboxLimits:
    """Resource limits applied to every command.

    Attributes:
        timeout_s: per-command wall clock limit (exit code 124 when hit, like `timeout(1)`).
        episode_budget_s: total command time per sandbox; later commands are refused with exit code -1.
        memory_mb: address-space / memory cgroup limit per command.
        max_pids: process limit (cgroup `pids`); contains fork bombs.
        max_output_bytes: the command is killed once it has printed this much.
        head_chars / tail_chars: how much of the output is kept on each side of the truncation marker.
        max_file_mb: largest file a command may write (RLIMIT_FSIZE).
        cpus: CPU share (cgroup cpu quota / Docker `nano_cpus`); None: no limit.
        disk_mb: the container's writable-layer quota (Docker, where the storage driver supports one).
    """

    timeout_s: float = 60.0
    episode_budget_s: float = 1800.0
    memory_mb: int = 4096
    max_pids: int = 256
    max_output_bytes: int = 32 << 20
    head_chars: int = 5000
    tail_chars: int = 5000
    max_file_mb: int = 1024
    cpus: float | None = 2.0
    disk_mb: int = 10240


def truncate_output(text: str, head: int = 5000, tail: int = 5000) -> tuple[str, bool]:
    """Keep the first `head` and last `tail` characters with a marker in between. Returns (text, truncated)."""
    if len(text) <= head + tail:
        return text, False
    marker = TRUNCATION_MARKER.format(elided=len(text) - head - tail, total=len(text))
    return text[:head] + marker + (text[-tail:] if tail else ""), True


class _HeadTail:
    """Collects a byte stream keeping only its head and tail (so 1 GB of output costs 10 kB of memory)."""

    def __init__(self, head: int, tail: int):
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_limit:
            self.tail += chunk
            if len(self.tail) > 2 * self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    def text(self) -> tuple[str, bool]:
        head = self.head.decode("utf-8", errors="replace")
        tail = bytes(self.tail[-self.tail_limit :] if self.tail_limit else b"").decode("utf-8", errors="replace")
        if self.total <= self.head_limit + self.tail_limit:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", errors="replace"), False
        elided = self.total - len(self.head) - min(len(self.tail), self.tail_limit)
        return head + TRUNCATION_MARKER.format(elided=elided, total=self.total) + tail, True


def run_streaming(
    argv: list[str],
    *,
    timeout_s: float,
    limits: SandboxLimits,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> ExecResult:
    """Run `argv` in its own process group, streaming output into a head/tail buffer. Never raises on failure.

    The whole process group is killed on timeout or when the output exceeds `limits.max_output_bytes`.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
    except OSError as exc:
        return ExecResult(127, f"cannot start {argv[0]}: {exc}", duration_s=time.monotonic() - start)
    if stdin is not None:
        try:
            proc.stdin.write(stdin)  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        proc.stdin.close()  # type: ignore[union-attr]
    buf = _HeadTail(limits.head_chars, limits.tail_chars)
    note = ""
    deadline = start + timeout_s
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                note = f"timed out after {timeout_s:g} s"
                break
            if not sel.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buf.feed(chunk)
            if buf.total > limits.max_output_bytes:
                note = f"output limit of {limits.max_output_bytes} bytes exceeded"
                break
    if note:
        _kill_group(proc)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        code = proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]
    output, truncated = buf.text()
    timed_out = note.startswith("timed out")
    if timed_out:
        code = 124
    if note:
        output += f"\n[{note}; the command was killed]"
    return ExecResult(code, output, timed_out, truncated, buf.total, time.monotonic() - start, note)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Sandbox(ABC):
    """One isolated repository copy at `/testbed`. Use as a context manager or call `start()` / `close()`."""

    def __init__(self, limits: SandboxLimits | None = None, env: dict[str, str] | None = None):
        self.limits = limits or SandboxLimits()
        self.env = {"PAGER": "cat", "PIP_PROGRESS_BAR": "off", "TQDM_DISABLE": "1", "GIT_PAGER": "cat", **(env or {})}
        self.started = False
        self.closed = False
        self.used_s = 0.0

    # ----- lifecycle -------------------------------------------------------------------------------------------------
    @abstractmethod
    def start(self) -> Sandbox:
        """Create the sandbox (raises `SandboxError` when that is impossible). Returns self."""

    @abstractmethod
    def _exec(self, cmd: str, timeout_s: float, stdin: bytes | None = None) -> ExecResult:
        """Backend-specific command execution."""

    @abstractmethod
    def _close(self) -> None:
        """Backend-specific cleanup."""

    def close(self) -> None:
        """Destroy the sandbox and everything written in it. Idempotent."""
        if not self.closed:
            self.closed = True
            self._close()

    def __enter__(self) -> Sandbox:
        return self if self.started else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----- commands --------------------------------------------------------------------------------------------------
    def exec(self, cmd: str, timeout: float | None = None, stdin: bytes | None = None) -> ExecResult:
        """Run `cmd` with bash in `/testbed`. Never raises for a failing, hanging or noisy command."""
        if not self.started or self.closed:
            raise SandboxError("the sandbox is not running (call start() first; it may have been closed)")
        left = self.limits.episode_budget_s - self.used_s
        if left <= 0:
            note = f"episode time budget of {self.limits.episode_budget_s:g} s exhausted"
            return ExecResult(-1, f"[{note}; command not run]", note=note)
        timeout_s = min(timeout if timeout is not None else self.limits.timeout_s, left)
        result = self._exec(cmd, timeout_s, stdin)
        self.used_s += result.duration_s
        return result

    def _exec_untruncated(self, cmd: str, timeout: float) -> ExecResult:
        """`exec` without head/tail truncation (up to `max_output_bytes`): for patches and logs."""
        limits = self.limits
        saved = (limits.head_chars, limits.tail_chars)
        limits.head_chars, limits.tail_chars = limits.max_output_bytes, 0
        try:
            return self.exec(cmd, timeout=timeout)
        finally:
            limits.head_chars, limits.tail_chars = saved

    def read_file(self, path: str) -> str:
        """A file's full text (relative paths are inside `/testbed`); raises `FileNotFoundError` if unreadable."""
        result = self._exec_untruncated(f"cat -- {shlex.quote(path)}", timeout=60)
        if result.exit_code != 0:
            raise FileNotFoundError(f"{path}: {result.note or result.output.strip()[:200]}")
        return result.output

    def write_file(self, path: str, content: str) -> None:
        """Write a text file (parents created); raises `OSError` when the sandbox refuses it."""
        quoted = shlex.quote(path)
        result = self.exec(f"mkdir -p -- \"$(dirname -- {quoted})\" && cat > {quoted}", timeout=30,
                           stdin=content.encode())
        if result.exit_code != 0:
            raise OSError(f"cannot write {path}: {result.output.strip()[:200]}")

    def diff(self, base_commit: str = "HEAD", exclude: list[str] | tuple[str, ...] = ()) -> str:
        """The changes against `base_commit` as a git patch (new files included), taken by the env, not the agent."""
        excludes = " ".join(shlex.quote(f":(exclude){p}") for p in exclude)
        cmd = "git add -A >/dev/null 2>&1; "
        cmd += f"git -c core.fileMode=false diff --cached --binary {shlex.quote(base_commit)}"
        if excludes:
            cmd += f" -- . {excludes}"
        result = self._exec_untruncated(cmd, timeout=120)
        if result.exit_code != 0:
            raise SandboxError(f"git diff failed in the sandbox: {result.output.strip()[:300]}")
        return result.output


@dataclass
class SandboxInfo:
    """What a backend can do, for reports (the closing note compares backends with it)."""

    name: str
    features: dict[str, str] = field(default_factory=dict)
