"""Local backend: bubblewrap sandboxes over a read-only template, for machines without Docker.

Every command runs unprivileged, even when the harness is root: in its own user namespace as `sandbox` (uid/gid
1000 inside, an unprivileged host id outside: `hardening.host_ids`), with no capabilities, `no_new_privs`, no further
user namespaces (`--disable-userns`) and a seccomp filter (`seccomp.py`); in its own pid, ipc, uts, cgroup and
network namespaces (no network), with a minimal `/etc` made for it, `/testbed` a copy-on-write view of the template,
a private `/tmp` that persists across its commands, and limits: cgroup v1 `pids`, `memory` and `cpu` (the sandbox
cannot leave them: it sees no `/sys`), RLIMIT_AS/FSIZE/CORE, per-command time and a per-episode time budget.

As root, one helper process per sandbox holds a private mount namespace in which the sandbox's root is assembled
once (`holder_script`): a read-only tmpfs at `RUNTIME_ROOT` with read-only, nosuid binds of `/usr`, the interpreter
prefixes and the minimal `/etc`, overlays for `/testbed` and the instance venv, and `/tmp`. Mounts made there by host
root are locked for the sandbox's user namespace, so they cannot be remounted writable or peeled off. A command joins
that namespace (`nsenter -m`), enters its cgroups, drops to the sandbox's host id (`setpriv`) and starts bubblewrap.
Without root, bubblewrap binds the same paths itself and the episode is a plain copy (no overlay, no cgroups).
"""

from __future__ import annotations

import atexit
import functools
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox import gc, hardening, seccomp
from agent_envs.sandbox.base import WORKDIR, ExecResult, Sandbox, SandboxLimits, run_streaming

CowMode = Literal["auto", "overlay", "copy", "direct"]
CGROUP_ROOT = Path("/sys/fs/cgroup")
RUNTIME_ROOT = Path("/run/aemgym-sandbox")  # the mount point of each sandbox's root, inside its private namespace
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TOP_DIRS = ("bin", "sbin", "lib", "lib64", "lib32")
SECCOMP_FD = 3


def require_tool(name: str, hint: str) -> str:
    """The path of a host tool, or `EnvUnavailable` naming how to install it."""
    path = shutil.which(name)
    if path is None:
        raise EnvUnavailable(f"the local sandbox needs `{name}` on PATH ({hint})")
    return path


@functools.lru_cache(maxsize=8)
def overlay_supported(work_root: str) -> bool:
    """Whether `unshare -m` + `mount -t overlay` works for directories under `work_root` (probed once)."""
    if not hardening.privileged() or shutil.which("unshare") is None:
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


_ETC_LOCK = threading.Lock()


@functools.lru_cache(maxsize=16)
def _shared_etc(work_root: str, network: bool) -> Path:
    """The minimal `/etc`, made once per process, work root and network setting (bound read-only into sandboxes);
    removed at exit, or by the reaper if the process dies first (its name carries the owner tag).
    """
    path = Path(work_root) / f"sbx-{hardening.owner_tag()}-etc{'-net' if network else ''}"
    shutil.rmtree(path, ignore_errors=True)
    hardening.write_minimal_etc(path, network=network)
    atexit.register(shutil.rmtree, path, True)
    return path


def _cgroup_writable(controller: str) -> bool:
    path = CGROUP_ROOT / controller
    return path.is_dir() and os.access(path, os.W_OK) and (path / "cgroup.procs").exists()


class LocalSandbox(Sandbox):
    """A bubblewrap sandbox over `template` (mounted at `/testbed`).

    Args:
        template: the prepared repository directory; never modified (except in `cow="direct"` mode).
        ro_paths: host paths bound read-only at the same path (interpreter prefixes).
        cow_paths: host paths seen at the same path with a per-sandbox copy-on-write layer (the instance venv, so
            grading can install into it); read-only where overlays are unavailable (not root).
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
        ro_paths: Sequence[str | Path] = (),
        cow_paths: Sequence[str | Path] = (),
        rw_paths: Sequence[str | Path] = (),
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
        self.cow_paths = [Path(p) for p in cow_paths]
        self.rw_paths = [Path(p) for p in rw_paths]
        self.path_prepend = list(path_prepend)
        self.network = network
        self.work_root = Path(work_root or tempfile.gettempdir())
        self.cow = cow
        self.dir: Path | None = None
        self.cgroups: list[Path] = []
        self._holder: subprocess.Popen | None = None
        self._seccomp = seccomp.program()
        self.etc: Path | None = None

    # ----- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> LocalSandbox:
        """Create the episode directory, the sandbox's root (as root: in a held mount namespace) and the cgroups."""
        self._bwrap = require_tool("bwrap", "apt-get install bubblewrap, or run scripts/install/40-swebench.sh")
        if not self.template.is_dir():
            raise SandboxError(f"template {self.template} does not exist")
        self.work_root.mkdir(parents=True, exist_ok=True)
        gc.reap_local_once(str(self.work_root))
        self.dir = Path(tempfile.mkdtemp(prefix=f"sbx-{hardening.owner_tag()}-", dir=self.work_root))
        if self.cow == "auto":
            self.cow = "overlay" if overlay_supported(str(self.work_root)) else "copy"
        try:
            (self.dir / "tmp").mkdir(mode=0o700)
            os.chown(self.dir / "tmp", *hardening.host_ids())
            with _ETC_LOCK:
                self.etc = _shared_etc(str(self.work_root), self.network)
            if self._seccomp is not None:
                (self.dir / "seccomp.bpf").write_bytes(self._seccomp)
            if self.cow == "copy":
                subprocess.run(["cp", "-a", "--reflink=auto", str(self.template), str(self.dir / "merged")],
                               check=True, capture_output=True, timeout=600)
            if hardening.privileged():
                self._start_holder()
                self._make_cgroups()
        except (OSError, subprocess.SubprocessError) as exc:
            self._close()
            raise SandboxError(f"cannot prepare the sandbox over {self.template}: {exc}") from exc
        self.started = True
        return self

    def _make_cgroups(self) -> None:
        assert self.dir is not None
        name = f"aemgym-{hardening.owner_tag()}-{uuid.uuid4().hex[:8]}"
        settings = {"pids": {"pids.max": str(self.limits.max_pids)},
                    "memory": {"memory.limit_in_bytes": str(self.limits.memory_mb << 20),
                               "memory.memsw.limit_in_bytes": str(self.limits.memory_mb << 20)},
                    "cpu": {"cpu.cfs_period_us": "100000",
                            "cpu.cfs_quota_us": str(int(self.limits.cpus * 100000)) if self.limits.cpus else "-1"}}
        for controller, values in settings.items():
            if not _cgroup_writable(controller):
                continue
            path = CGROUP_ROOT / controller / name
            try:
                path.mkdir()
                self.cgroups.append(path)
                for key, value in values.items():
                    if (path / key).exists():  # memsw exists only with swap accounting
                        (path / key).write_text(value)
            except OSError:
                gc.kill_cgroup(path)
                self.cgroups.remove(path)

    @property
    def features(self) -> dict[str, str]:
        """The isolation actually in force (for reports and tests)."""
        names = [p.parent.name for p in self.cgroups]
        uid, gid = hardening.host_ids()
        return {
            "copy_on_write": str(self.cow),
            "network": "on" if self.network else "off",
            "user": f"uid {hardening.SANDBOX_UID} in a user namespace -> host uid {uid}/gid {gid}, no capabilities, "
                    "no_new_privs, no nested user namespaces",
            "seccomp": "on (bpf denylist)" if self._seccomp else "off (not x86_64)",
            "etc": "minimal (made for the sandbox)",
            "pids_limit": "cgroup pids" if "pids" in names else "none (no cgroups without root)",
            "memory_limit": "cgroup memory + RLIMIT_AS" if "memory" in names else "RLIMIT_AS",
            "cpu_limit": f"cgroup cpu quota {self.limits.cpus:g}" if "cpu" in names and self.limits.cpus else "none",
            "disk_limit": f"RLIMIT_FSIZE {self.limits.max_file_mb} MB per file (no quota on the overlay)",
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
            gc.kill_cgroup(path)
        self.cgroups = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # ----- the sandbox's root ----------------------------------------------------------------------------------------
    def _repo_source(self) -> Path:
        assert self.dir is not None
        return self.template if self.cow in ("direct", "overlay") else self.dir / "merged"

    def holder_script(self) -> str:
        """The shell script (run as root in a private mount namespace) that assembles the sandbox's root."""
        assert self.dir is not None
        q = shlex.quote
        lines = ["set -e", f"R={q(str(RUNTIME_ROOT))}", 'mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m aemgym "$R"',
                 'mkdir "$R/proc" "$R/dev"',
                 'bind() { mkdir -p "$R$2"; mount --bind "$1" "$R$2"; mount -o "remount,bind,nosuid,nodev$3" "$R$2"; }',
                 'ovl() { mkdir -p "$R$2"; mount -t overlay overlay -o '
                 '"lowerdir=$1,upperdir=$3/upper,workdir=$3/work,nosuid,nodev" "$R$2"; }']
        for top in TOP_DIRS:
            host = Path("/") / top
            if host.is_symlink():
                lines.append(f'ln -s {q(os.readlink(host))} "$R/{top}"')
        mounts: list[tuple[str, str]] = [("/usr", "bind /usr /usr ,ro")]
        mounts += [(f"/{t}", f"bind /{t} /{t} ,ro") for t in TOP_DIRS
                   if Path(f"/{t}").is_dir() and not Path(f"/{t}").is_symlink()]
        mounts += [("/etc", f"bind {q(str(self.etc))} /etc ,ro"),
                   ("/tmp", f"bind {q(str(self.dir / 'tmp'))} /tmp")]
        mounts += [(str(p), f"bind {q(str(p))} {q(str(p))} ,ro") for p in self.ro_paths]
        mounts += [(str(p), f"bind {q(str(p))} {q(str(p))}") for p in self.rw_paths]
        layers = [(WORKDIR, self._repo_source())] if self.cow == "overlay" else []
        layers += [(str(p), p) for p in self.cow_paths]
        for i, (dest, lower) in enumerate(layers):
            layer = self.dir / f"layer-{i}"
            (layer / "upper").mkdir(parents=True)
            (layer / "work").mkdir()
            st = os.stat(lower)  # the overlay's root takes the upper dir's owner and mode: give it the lower's
            os.chown(layer / "upper", st.st_uid, st.st_gid)
            os.chmod(layer / "upper", st.st_mode & 0o7777)
            mounts.append((dest, f"ovl {q(str(lower))} {q(dest)} {q(str(layer))}"))
        if self.cow != "overlay":
            mounts.append((WORKDIR, f"bind {q(str(self._repo_source()))} {WORKDIR}"))
        lines += [cmd for _, cmd in sorted(mounts, key=lambda m: m[0].count("/"))]  # parents before children
        lines += ['mount -o remount,ro,nosuid,nodev "$R"', "echo ready", "exec cat >/dev/null"]
        return "\n".join(lines)

    def _start_holder(self) -> None:
        """Start the helper holding the sandbox's mount namespace; it ends (and the mounts vanish) at stdin EOF."""
        RUNTIME_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._holder = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", self.holder_script()],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self._holder.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != b"ready":
            err = self._holder.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
            self._holder.wait()
            self._holder = None
            raise SandboxError(f"cannot assemble the sandbox's root: {err.strip()[:400]}")

    # ----- commands --------------------------------------------------------------------------------------------------
    def _bind_args(self) -> list[str]:
        """Bubblewrap's mounts: the assembled root (as root), or the same binds made by bubblewrap (without root)."""
        assert self.dir is not None
        if self._holder is not None:
            return ["--bind", str(RUNTIME_ROOT), "/", "--proc", "/proc", "--dev", "/dev"]
        argv = ["--ro-bind", "/usr", "/usr"]
        for top in TOP_DIRS:
            host = Path("/") / top
            if host.is_symlink():
                argv += ["--symlink", os.readlink(host), f"/{top}"]
            elif host.is_dir():
                argv += ["--ro-bind", str(host), f"/{top}"]
        argv += ["--ro-bind", str(self.etc), "/etc", "--dev", "/dev", "--proc", "/proc",
                 "--bind", str(self.dir / "tmp"), "/tmp"]
        for path in [*self.ro_paths, *self.cow_paths]:
            argv += ["--ro-bind", str(path), str(path)]
        for path in self.rw_paths:
            argv += ["--bind", str(path), str(path)]
        return [*argv, "--bind", str(self._repo_source()), WORKDIR]

    def bwrap_argv(self, cmd: str) -> list[str]:
        """The bubblewrap command line that runs `cmd` (exposed for tests and benchmarks)."""
        argv = [self._bwrap, "--die-with-parent", "--new-session", "--unshare-user",
                "--uid", str(hardening.SANDBOX_UID), "--gid", str(hardening.SANDBOX_GID), "--disable-userns",
                "--unshare-pid", "--unshare-ipc",
                "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--cap-drop", "ALL"]
        if not self.network:
            argv.append("--unshare-net")
        argv += [*self._bind_args(), "--chdir", WORKDIR, "--clearenv"]
        if self._seccomp is not None:
            argv += ["--seccomp", str(SECCOMP_FD)]
        path_var = ":".join([*self.path_prepend, DEFAULT_PATH])
        env = {"PATH": path_var, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "TERM": "dumb",
               "USER": hardening.SANDBOX_USER, **self.env}
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return [*argv, "bash", "-c", cmd]

    def _exec(self, cmd: str, timeout_s: float, stdin: bytes | None = None) -> ExecResult:
        assert self.dir is not None
        lim = self.limits
        argv = ["prlimit", f"--as={lim.memory_mb << 20}", f"--fsize={lim.max_file_mb << 20}", "--core=0", "--"]
        if hardening.privileged():
            uid, gid = hardening.host_ids()
            argv += ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                     "--bounding-set=-all", "--no-new-privs", "--"]
        argv += self.bwrap_argv(cmd)
        prelude = "".join(f"echo $$ > {shlex.quote(str(p / 'cgroup.procs'))} || exit 125; " for p in self.cgroups)
        if self._seccomp is not None:
            prelude += f"exec {SECCOMP_FD}< {shlex.quote(str(self.dir / 'seccomp.bpf'))} || exit 125; "
        argv = ["sh", "-c", prelude + 'exec "$@"', "sh", *argv]
        if self._holder is not None:
            argv = ["nsenter", "-t", str(self._holder.pid), "-m", "--", *argv]
        # a bare environment: the sandbox's pid 1 (bubblewrap) keeps the one it was started with, readable in
        # /proc/1/environ, and the harness's holds secrets (API keys); `--clearenv` only cleans the command's
        return run_streaming(argv, timeout_s=timeout_s, limits=lim, stdin=stdin, env={"PATH": DEFAULT_PATH})
