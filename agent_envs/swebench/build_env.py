"""Building a template's environment: the steps of an `EnvPlan` run in a networked build sandbox (see `template.py`).

Every step's full output goes to the template's `build.log`; a failing step raises `TemplateError` with a one-line
reason. uv steps whose isolated build of a package fails rebuild that package in the venv (as pip builds setup.py-only
sdists); a uv step that still fails is retried with pip; an install command uv cannot run (an editable setup.py
project whose setuptools predates PEP 660) runs as the spec wrote it, with pip, after uv installed its dependencies.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox.base import SandboxLimits
from agent_envs.sandbox.hardening import own_for_sandbox, privileged
from agent_envs.sandbox.local import LocalSandbox
from agent_envs.swebench.environment import APT_INSTALL, EnvPlan, index_url

SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class TemplateError(SandboxError):
    """A template could not be built: `reason` is one line, `log_path` the full build log."""

    def __init__(self, reason: str, log_path: Path | None = None):
        super().__init__(reason + (f" (log: {log_path})" if log_path else ""))
        self.reason, self.log_path = reason, log_path


def uv_cache_dir(cache: Path) -> Path:
    """Uv's package cache: beside the templates (same file system and mount), so venvs hard-link its files."""
    return Path(cache) / "templates" / ".uv"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (two processes never build the same template at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def trimmed_clone(source: Path, dest: Path, base_commit: str) -> None:
    """Clone `source` at `base_commit` with no later history: only `base_commit`'s ancestry and tags merged into it."""
    def git(*args: str, cwd: Path = dest) -> str:
        out = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=1800)
        if out.returncode != 0:
            raise SandboxError(f"git {' '.join(args[:3])} failed: {out.stderr.strip()[:400]}")
        return out.stdout

    dest.mkdir(parents=True)
    git("init", "-q", "-b", "swe-base")
    tags = [t for t in git("tag", "--merged", base_commit, cwd=source).split() if t]
    refspecs = [f"{base_commit}:refs/heads/swe-base"] + [f"refs/tags/{t}:refs/tags/{t}" for t in tags]
    git("fetch", "-q", "--no-tags", "--update-head-ok", str(source.resolve()), *refspecs)
    git("checkout", "-q", "-f", "swe-base")
    git("config", "user.email", "agent@aemgym.invalid")
    git("config", "user.name", "agent")


@dataclass
class BuiltEnv:
    """What a built venv adds to its template."""

    ro_paths: list[str]
    cow_paths: list[str]
    path_prepend: list[str]
    python: str
    notes: list[str] = field(default_factory=list)


class BuildLog:
    """The template's full build log (never truncated: the real cause of a failure is often far from its end)."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, text: str) -> None:
        """Append `text` to the log file."""
        with self.path.open("a") as fh:
            fh.write(text)


def one_line(text: str, limit: int = 300) -> str:
    """The most telling line of an error output: the last error-like line (with the last `cause:` under it, as uv
    nests causes), else the last line.
    """
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    head = re.compile(r"^(error:|ERROR:|×|fatal:|E\s|\w*(Error|Exception)\b)")
    loose = re.compile(r"(error|Error|ERROR|fatal|No solution|not found|failed|Failed)")
    for pattern in (head, loose):
        for i in range(len(lines) - 1, -1, -1):
            if pattern.search(lines[i]) and not lines[i].startswith(("+", "$", "#")):
                causes = [ln for ln in lines[i + 1:i + 12] if ln.startswith(("cause:", "╰─▶", "├─▶"))]
                return (lines[i] + (" / " + causes[-1] if causes else ""))[:limit]
    return (lines[-1] if lines else "no output")[:limit]


def _submodule_source(url: str, commit: str, source: Path, path: str, repos_dir: str | Path | None) -> Path | None:
    """A local repository holding the submodule's `commit`: the clone's own copy, or a clone in `repos_dir`."""
    owner_name = re.sub(r"\.git$", "", url.rstrip("/")).split("/")[-2:]
    candidates = [source / ".git" / "modules" / path, source / "modules" / path, source / path]
    root = repos_dir or os.environ.get("AEMGYM_SWEBENCH_REPOS")
    if root and len(owner_name) == 2:
        candidates += [Path(root) / "__".join(owner_name), Path(root) / owner_name[1]]
    for cand in candidates:
        probe = subprocess.run(["git", "-C", str(cand), "cat-file", "-e", f"{commit}^{{commit}}"],
                               capture_output=True, timeout=60) if cand.is_dir() else None
        if probe is not None and probe.returncode == 0:
            return cand
    return None


def add_submodules(repo: Path, plan: EnvPlan, source: Path, repos_dir: str | Path | None,
                    instance: Mapping[str, Any]) -> None:
    """Check out each submodule at its recorded commit from a local copy (setup.py would clone it from GitHub)."""
    for path, url, commit in plan.submodules:
        found = _submodule_source(url, commit, source, path, repos_dir)
        if found is None:
            owner_name = "__".join(re.sub(r"\.git$", "", url.rstrip("/")).split("/")[-2:])
            raise EnvUnavailable(
                f"{instance['instance_id']} needs the submodule {path} ({url} at {commit[:12]}), which is neither in "
                f"{source} (`git submodule update --init` there) nor at <repos_dir>/{owner_name}")
        dest = repo / path
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()
        trimmed_clone(found, dest, commit)
        for args in (["submodule", "init", "--", path], ["submodule", "absorbgitdirs", "--", path]):
            subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=120)


def uv_binary(cache: Path) -> Path:
    """uv, copied once into its own directory under the cache (bound read-only into build sandboxes)."""
    try:
        from uv import find_uv_bin

        found: str | None = find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if not found:
        raise EnvUnavailable("template builds need uv (period-correct resolution): run scripts/install/40-swebench.sh")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60).stdout.split()[1]
    dest = cache / "tools" / f"uv-{version}" / "uv"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"uv.{os.getpid()}.tmp")
        shutil.copy2(found, tmp)
        tmp.replace(dest)
    return dest


def ensure_system_packages(packages: list[str], log: BuildLog) -> list[str]:
    """Install the apt packages a spec's `pre_install` asks for when the host allows (root, apt-get). Returns notes."""
    if not packages:
        return []
    missing = [p for p in packages if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                                     text=True).stdout != "install ok installed"]
    if not missing:
        return [f"system packages present: {' '.join(packages)}"]
    if not (privileged() and shutil.which("apt-get")):
        return [f"system packages missing (not root or no apt-get; tests using them may fail): {' '.join(missing)}"]
    cmd = ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", *missing]
    with locked(Path("/tmp/aemgym-apt.lock")):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if out.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                                 env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    log.write(f"$ {' '.join(cmd)}\n{out.stdout}{out.stderr}\n")
    if out.returncode != 0:
        return [f"system packages could not be installed ({one_line(out.stderr)}): {' '.join(missing)}"]
    return [f"system packages installed on the host: {' '.join(missing)}"]


def build_venv(root: Path, repo_dir: str, plan: EnvPlan, python: str, cache: Path, log: BuildLog,
               timeout_s: float) -> BuiltEnv:
    """The venv and every install step of `plan`, in bubblewrap with network, the repo at /testbed."""
    if not Path(python).exists():
        raise EnvUnavailable(f"interpreter {python} does not exist")
    venv = root / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    base_prefix = subprocess.run([python, "-c", "import sys; print(sys.base_prefix)"], check=True,
                                 capture_output=True, text=True).stdout.strip()
    tpl = BuiltEnv(ro_paths=[base_prefix], cow_paths=[str(venv)], path_prepend=[str(venv / "bin")],
                   python=str(venv / "bin" / "python"))
    newest = max(plan.date_sources.items(), key=lambda kv: kv[1])
    tpl.notes += [f"env_date {plan.env_date} (set by {newest[0]}: {newest[1]})"]
    tpl.notes += [f"system command not run (host setup): {c}" for c in plan.system_commands
                  if not APT_INSTALL.search(c)]
    tpl.notes += ensure_system_packages(plan.system_packages, log)
    uv = uv_binary(cache)
    uv_cache = uv_cache_dir(cache)
    uv_cache.mkdir(parents=True, exist_ok=True)
    own_for_sandbox(repo_dir, venv, uv_cache)  # the build steps run unprivileged, as the sandbox user
    env = {"VIRTUAL_ENV": str(venv), "UV_CACHE_DIR": str(uv_cache), "UV_EXCLUDE_NEWER": plan.env_date,
           "UV_DEFAULT_INDEX": index_url(), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1",
           "UV_NO_PROGRESS": "1", "UV_HTTP_TIMEOUT": "180", "UV_SYSTEM_CERTS": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_PROGRESS_BAR": "off"}
    if Path(SYSTEM_CA_BUNDLE).is_file():  # pip's fallback uses certifi's bundle otherwise (no site CAs)
        env.update(PIP_CERT=SYSTEM_CA_BUNDLE, SSL_CERT_FILE=SYSTEM_CA_BUNDLE, REQUESTS_CA_BUNDLE=SYSTEM_CA_BUNDLE)
    log.write("# sandbox env: " + " ".join(f"{k}={v}" for k, v in env.items()) + "\n")
    limits = SandboxLimits(timeout_s=timeout_s, episode_budget_s=timeout_s * 6, memory_mb=16384, max_pids=1024,
                           head_chars=32 << 20, tail_chars=0, cpus=None)
    # One writable mount holds the venv and uv's cache, so uv hard-links packages instead of copying them (links
    # cannot cross mount points). It also holds the other templates: build steps run the benchmark repositories'
    # own setup code, trusted as the official harness trusts it (agents never run in a build sandbox).
    box = LocalSandbox(repo_dir, ro_paths=[base_prefix, uv.parent], rw_paths=[root.parent],
                       path_prepend=[*tpl.path_prepend, str(uv.parent)], cow="direct", network=True, limits=limits,
                       env=env)
    with box:
        def run(title: str, command: str, stdin: str | None = None) -> tuple[bool, str]:
            log.write(f"\n# {title}\n$ {command}\n")
            result = box.exec(command, stdin=stdin.encode() if stdin is not None else None)
            log.write(result.output + f"\n# exit {result.exit_code}\n")
            return result.exit_code == 0, result.output

        def uv_step(title: str, command: str, stdin: str | None = None) -> tuple[bool, str]:
            """A uv step; a package whose build fails in isolation is rebuilt in the venv, as pip builds a
            setup.py-only sdist (e.g. MarkupSafe 1.0 needs the setuptools of its time, not the env date's).
            """
            local: list[str] = []
            while True:
                flags = "".join(f" --no-build-isolation-package {shlex.quote(n)}" for n in local)
                ok, output = run(title, command.replace("uv pip install", "uv pip install" + flags, 1), stdin)
                failed = re.search(r"Failed to build `([A-Za-z0-9_.\-]+)", output)
                if ok or not failed or failed.group(1) in local or len(local) >= 8:
                    return ok, output
                if not local:
                    run("build tools for builds in the venv", "uv pip install setuptools wheel")
                local.append(failed.group(1))
                tpl.notes.append(f"{title}: built {failed.group(1)} without build isolation (as pip would)")

        def step(title: str, command: str, stdin: str | None = None) -> None:
            if "uv pip install" not in command:
                ok, output = run(title, command)
            else:
                ok, output = uv_step(title, command, stdin)
                if not ok:  # e.g. an sdist whose setuptools (< 40.8) has no PEP 517 backend at all: pip still can
                    tpl.notes.append(f"{title}: uv failed ({one_line(output, 160)}); installed with pip instead "
                                     "(not limited to the env date)")
                    ok, output = run(f"{title} (pip)", command.replace("uv pip install", "python -m pip install"),
                                     stdin)
            if not ok:
                raise TemplateError(f"{title} failed: {one_line(output)}", log.path)

        if plan.requirements:
            step("requirements (environment_setup_commit)", "cat > /tmp/requirements.txt && "
                 "uv pip install -r /tmp/requirements.txt", stdin=plan.requirements)
        if plan.packages:
            step("packages", "uv pip install " + " ".join(shlex.quote(p) for p in plan.packages))
        if plan.pip_packages:
            step("pip_packages", "uv pip install " + " ".join(shlex.quote(p) for p in plan.pip_packages))
        if plan.repo_commands:
            step("pre_install (repository)", "set -euxo pipefail\n" + "\n".join(plan.repo_commands))
        if plan.install:
            ok, output = uv_step("install (uv)", plan.install_uv) if plan.install_uv else (False, "not a pip command")
            if not ok:
                # An editable install of a setup.py project needs setuptools >= 64 (PEP 660) under uv; pip's
                # `setup.py develop` does not. The project's dependencies still come from uv (period-correct).
                plain = re.sub(r"(^|\s)(-e|--editable)\s+", " ", plan.install_uv)
                if plan.install_uv and plain != plan.install_uv:
                    uv_step("dependencies (uv, not editable)", plain)
                tpl.notes.append(f"install: uv could not run it ({one_line(output, 160)}); ran the spec's own "
                                 f"command with pip: {plan.install}")
                step("install (the spec's command)", plan.install)
        ok, freeze = run("freeze", "uv pip freeze")
        (root / "freeze.txt").write_text(freeze if ok else f"# uv pip freeze failed\n{freeze}")
    return tpl


def prepare_tox_env(repo_dir: str, venv: str, test_cmd: str) -> list[str]:
    """The template's last touch: `tox --current-env -e<env>` runs `.tox/<env>/bin/python`, a symlink to the venv's
    python; a symlinked venv python only finds its packages through a `pyvenv.cfg` beside the invoked path (conda
    envs need none), so `.tox/<env>` gets the venv's `pyvenv.cfg` and `lib` (git-ignored, like the rest of `.tox`).
    Returns notes.

    Setup edits of tracked files (`pre_install`) stay uncommitted: the eval script's `git checkout <base>` (with no
    paths when the test patch only adds files) keeps them then; the env takes its diff against the episode's
    starting state instead (`SWEBenchEnv`).
    """
    tox = re.search(r"tox --current-env\s.*?-e\s*([\w.-]+)", test_cmd)
    if not tox:
        return []
    env_dir = shlex.quote(f".tox/{tox.group(1)}")
    script = (f"mkdir -p {env_dir} && cp {shlex.quote(venv)}/pyvenv.cfg {env_dir}/ && "
              f"ln -sfn {shlex.quote(venv)}/lib {env_dir}/lib")
    limits = SandboxLimits(timeout_s=300, episode_budget_s=600)
    with LocalSandbox(repo_dir, ro_paths=[venv], cow="direct", limits=limits) as box:
        result = box.exec(script)
    if result.exit_code != 0:
        raise TemplateError(f"preparing {env_dir} failed: {one_line(result.output)}")
    return [f"tox --current-env: {env_dir} points at the venv"]
