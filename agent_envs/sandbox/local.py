"""Local backend: bubblewrap sandboxes over a read-only template, for machines without Docker.

Each sandbox sees a copy-on-write view of the template at `/testbed` (overlayfs in a private mount namespace, or a
plain copy where overlayfs is unavailable), a piecewise read-only root (`/usr`, `/etc`, the interpreter prefixes),
a private `/tmp` that persists across its commands, no network, its own pid/ipc/uts namespaces, and limits: memory
(cgroup v1 `memory` or RLIMIT_AS), processes (cgroup `pids`; RLIMIT_NPROC is not enforced for root), file size,
per-command time and a per-episode time budget. Nothing an agent does reaches the template or the host.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox.base import WORKDIR, ExecResult, Sandbox, SandboxLimits, run_streaming

CowMode = Literal["auto", "overlay", "copy", "direct"]
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def require_tool(name: str, hint: str) -> str:
    """The path of a host tool, or `EnvUnavailable` naming how to install it."""
    path = shutil.which(name)
    if path is None:
        raise EnvUnavailable(f"the local sandbox needs `{name}` on PATH ({hint})")
    return path


@functools.lru_cache(maxsize=8)
def overlay_supported(work_root: str) -> bool:
    """Whether `unshare -m` + `mount -t overlay` works for directories under `work_root` (probed once)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = Path(tempfile.mkdtemp(prefix="ovl-probe-", dir=work_root))
    try:
        for sub in ("lower", "upper", "work", "merged"):
            (probe / sub).mkdir()
        opts = f"lowerdir={probe}/lower,upperdir={probe}/upper,workdir={probe}/work"
        cmd = ["unshare", "-m", "--propagation", "private", "mount", "-t", "overlay", "overlay", "-o", opts,
               str(probe / "merged")]
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _cgroup_writable(controller: str) -> bool:
    path = CGROUP_ROOT / controller
    return path.is_dir() and os.access(path, os.W_OK) and (path / "cgroup.procs").exists()


class LocalSandbox(Sandbox):
    """A bubblewrap sandbox over `template` (mounted at `/testbed`).

    Args:
        template: the prepared repository directory; never modified (except in `cow="direct"` mode).
        ro_paths: host paths bound read-only at the same path (interpreter prefixes, the instance's venv).
        rw_paths: host paths bound writable at the same path (only for template builds).
        path_prepend: directories put first on `PATH` (e.g. the venv's `bin`).
        cow: "overlay", "copy", "auto" (overlay when it works) or "direct" (bind the template itself: builds only).
        network: allow network access (template builds only; agent and grading sandboxes are offline).
        work_root: where per-sandbox directories are created (default: the system temp dir).
        limits: resource limits; env: extra environment variables.
    """

    backend = "local"

    def __init__(
        self,
        template: str | Path,
        *,
        ro_paths: list[str | Path] | tuple[str | Path, ...] = (),
        rw_paths: list[str | Path] | tuple[str | Path, ...] = (),
        path_prepend: list[str] | tuple[str, ...] = (),
        cow: CowMode = "auto",
        network: bool = False,
        work_root: str | Path | None = None,
        limits: SandboxLimits | None = None,
        env: dict[str, str] | None = None,
    ):
        super().__init__(limits, env)
        self.template = Path(template).resolve()
        self.ro_paths = [Path(p) for p in ro_paths]
        self.rw_paths = [Path(p) for p in rw_paths]
        self.path_prepend = list(path_prepend)
        self.network = network
        self.work_root = Path(work_root or tempfile.gettempdir())
        self.cow = cow
        self.dir: Path | None = None
        self.cgroups: list[Path] = []
        self._holder: subprocess.Popen | None = None

    # ----- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> LocalSandbox:
        """Create the episode directory, the copy-on-write view and the cgroups."""
        self._bwrap = require_tool("bwrap", "apt-get install bubblewrap, or run scripts/install/40-swebench.sh")
        if not self.template.is_dir():
            raise SandboxError(f"template {self.template} does not exist")
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="sbx-", dir=self.work_root))
        (self.dir / "tmp").mkdir()
        if self.cow == "auto":
            self.cow = "overlay" if overlay_supported(str(self.work_root)) else "copy"
        try:
            if self.cow == "overlay":
                for sub in ("upper", "work", "merged"):
                    (self.dir / sub).mkdir()
                self._mount_overlay()
            elif self.cow == "copy":
                subprocess.run(["cp", "-a", "--reflink=auto", str(self.template), str(self.dir / "merged")],
                               check=True, capture_output=True, timeout=600)
            self._make_cgroups()
        except (OSError, subprocess.SubprocessError) as exc:
            self._close()
            raise SandboxError(f"cannot prepare the sandbox over {self.template}: {exc}") from exc
        self.started = True
        return self

    def _make_cgroups(self) -> None:
        name = f"aemgym-{uuid.uuid4().hex[:12]}"
        settings = {"pids": {"pids.max": str(self.limits.max_pids)},
                    "memory": {"memory.limit_in_bytes": str(self.limits.memory_mb << 20)}}
        for controller, values in settings.items():
            if not _cgroup_writable(controller):
                continue
            path = CGROUP_ROOT / controller / name
            try:
                path.mkdir()
                for key, value in values.items():
                    (path / key).write_text(value)
                self.cgroups.append(path)
            except OSError:
                shutil.rmtree(path, ignore_errors=True)

    @property
    def features(self) -> dict[str, str]:
        """The isolation actually in force (for reports and tests)."""
        names = [p.parent.name for p in self.cgroups]
        return {
            "copy_on_write": str(self.cow),
            "network": "on" if self.network else "off",
            "pids_limit": "cgroup pids" if "pids" in names else "none (RLIMIT_NPROC is not enforced for root)",
            "memory_limit": "cgroup memory + RLIMIT_AS" if "memory" in names else "RLIMIT_AS",
        }

    def _close(self) -> None:
        if self._holder is not None:
            self._holder.stdin.close()  # type: ignore[union-attr]  # EOF ends the helper and its mount namespace
            try:
                self._holder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._holder.kill()
                self._holder.wait()
            self._holder = None
        for path in self.cgroups:
            _kill_cgroup(path)
        self.cgroups = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # ----- commands --------------------------------------------------------------------------------------------------
    def _repo_dir(self) -> Path:
        assert self.dir is not None
        return self.template if self.cow == "direct" else self.dir / "merged"

    def bwrap_argv(self, cmd: str) -> list[str]:
        """The bubblewrap command line that runs `cmd` (exposed for tests and benchmarks)."""
        assert self.dir is not None
        argv = [self._bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--hostname", "sandbox", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
        for top in ("bin", "sbin", "lib", "lib64", "lib32"):
            host = Path("/") / top
            if host.is_symlink():
                argv += ["--symlink", os.readlink(host), f"/{top}"]
            elif host.is_dir():
                argv += ["--ro-bind", str(host), f"/{top}"]
        argv += ["--dev", "/dev", "--proc", "/proc", "--bind", str(self.dir / "tmp"), "/tmp"]
        if not self.network:
            argv.append("--unshare-net")
        for path in self.ro_paths:
            argv += ["--ro-bind", str(path), str(path)]
        for path in self.rw_paths:
            argv += ["--bind", str(path), str(path)]
        argv += ["--bind", str(self._repo_dir()), WORKDIR, "--chdir", WORKDIR, "--clearenv"]
        path_var = ":".join([*self.path_prepend, DEFAULT_PATH])
        env = {"PATH": path_var, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "TERM": "dumb", **self.env}
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return [*argv, "bash", "-c", cmd]

    def _exec(self, cmd: str, timeout_s: float, stdin: bytes | None = None) -> ExecResult:
        assert self.dir is not None
        lim = self.limits
        rlimits = ["prlimit", f"--as={lim.memory_mb << 20}", f"--fsize={lim.max_file_mb << 20}", "--core=0"]
        inner = rlimits + self.bwrap_argv(cmd)
        prelude = "".join(f"echo $$ > {shlex.quote(str(p / 'cgroup.procs'))} || exit 125; " for p in self.cgroups)
        argv = ["sh", "-c", prelude + 'exec "$@"', "sh", *inner] if prelude else inner
        if self.cow == "overlay":
            argv = ["nsenter", "-t", str(self._holder.pid), "-m", "--", *argv]  # type: ignore[union-attr]
        return run_streaming(argv, timeout_s=timeout_s, limits=lim, stdin=stdin)

    def _mount_overlay(self) -> None:
        """Mount the overlay once, in a private mount namespace held open by a tiny helper process.

        The helper reads its stdin until EOF, so the namespace (and the mount) disappears with this process even
        after a crash; commands join it with `nsenter -m` (about 1 ms instead of a 40 ms mount per command).
        """
        assert self.dir is not None
        opts = f"lowerdir={self.template},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}"
        script = (f"mount -t overlay overlay -o {shlex.quote(opts)} {shlex.quote(str(self.dir / 'merged'))} "
                  "&& echo ready && exec cat >/dev/null")
        self._holder = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self._holder.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != b"ready":
            err = self._holder.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
            self._holder.wait()
            self._holder = None
            raise SandboxError(f"overlay mount failed: {err.strip()[:300]}")

    def host_path(self, sandbox_path: str) -> Path | None:
        """The host path of a file under the sandbox's `/tmp` (readable without a command), else None."""
        if self.dir is None or not sandbox_path.startswith("/tmp/"):
            return None
        return self.dir / "tmp" / sandbox_path[len("/tmp/"):]


def _kill_cgroup(path: Path) -> None:
    """Kill whatever is left in a cgroup (e.g. a fork bomb's survivors), then remove it."""
    for _ in range(50):
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError, PermissionError):
                pass
        time.sleep(0.02)
    try:
        path.rmdir()
    except OSError:
        pass
