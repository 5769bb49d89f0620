"""Per-instance templates for the local backend: the repository at its base commit plus its Python environment.

Built once per instance and cached (`$AEMGYM_SWEBENCH_CACHE`, default `~/.cache/aemgym/swebench`):

1. **History-trimmed clone**: a fresh repository that fetches only `base_commit` (and the tags merged into it) from a
   local clone of the project; no remote, no later commits, so the agent cannot read the fix from the future.
2. **Environment**: a venv made with the spec's Python (from pyenv, or `python=` an interpreter you give), the spec's
   pip packages, then the spec's install command run in bubblewrap *with* network, the repo at `/testbed`, so editable
   installs point at `/testbed`. `python: "host"` in a spec reuses the running interpreter's environment instead.
3. The finished directory is the read-only lower layer of every episode and grading sandbox.

Ownership contract with the hardened sandbox (`agent_envs.sandbox.hardening`): commands run as an unprivileged host
id, so the repository and the venv belong to that id (`own_for_sandbox`, before the install step, which itself runs
unprivileged, and again for caches built by older versions); the venv is a copy-on-write path of every sandbox
(`cow_paths`: grading may install into it), interpreter prefixes stay read-only and root's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox.base import SandboxLimits
from agent_envs.sandbox.hardening import own_for_sandbox
from agent_envs.sandbox.local import LocalSandbox
from agent_envs.swebench.spec import instance_spec

READY = "template.json"


def default_cache_dir() -> Path:
    """`$AEMGYM_SWEBENCH_CACHE` or `~/.cache/aemgym/swebench`."""
    return Path(os.environ.get("AEMGYM_SWEBENCH_CACHE", Path.home() / ".cache" / "aemgym" / "swebench"))


@dataclass
class LocalTemplate:
    """A built template: what a `LocalSandbox` needs to run commands over it."""

    repo_dir: str
    ro_paths: list[str] = field(default_factory=list)
    cow_paths: list[str] = field(default_factory=list)
    path_prepend: list[str] = field(default_factory=list)
    python: str = ""
    notes: list[str] = field(default_factory=list)

    def sandbox(self, *, limits: SandboxLimits | None = None, work_root: str | Path | None = None,
                cow: str = "auto", env: dict[str, str] | None = None) -> LocalSandbox:
        """A new (not yet started) sandbox over this template."""
        return LocalSandbox(self.repo_dir, ro_paths=self.ro_paths, cow_paths=self.cow_paths,
                            path_prepend=self.path_prepend, cow=cow, work_root=work_root, limits=limits,  # type: ignore[arg-type]
                            env=env)


def find_source_repo(instance: Mapping[str, Any], repos_dir: str | Path | None) -> Path:
    """A local clone of the instance's repository: `instance["source_repo"]`, or `<repos_dir>/<owner>__<name>`,
    `<repos_dir>/<name>` (also `.git` variants). `repos_dir` defaults to `$AEMGYM_SWEBENCH_REPOS`."""
    if instance.get("source_repo"):
        return Path(instance["source_repo"])
    root = repos_dir or os.environ.get("AEMGYM_SWEBENCH_REPOS")
    owner, _, name = str(instance["repo"]).partition("/")
    candidates = [f"{owner}__{name}", name, f"{owner}__{name}.git", f"{name}.git"] if root else []
    for cand in candidates:
        path = Path(root) / cand  # type: ignore[arg-type]
        if path.is_dir():
            return path
    raise EnvUnavailable(
        f"no local clone of {instance['repo']} for {instance['instance_id']}: put one at <repos_dir>/{owner}__{name} "
        "(repos_dir= kwarg, --repos-dir or $AEMGYM_SWEBENCH_REPOS), e.g. `git clone https://github.com/"
        f"{instance['repo']} {owner}__{name}`, or use the Docker backend"
    )


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


def _pyenv_python(version: str) -> Path:
    """The newest pyenv interpreter matching `version` (e.g. "3.9" -> ~/.pyenv/versions/3.9.18/bin/python)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    matches = sorted((p for p in root.glob(f"{version}.*") if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)),
                     key=lambda p: int(p.name.rsplit(".", 1)[1]))
    if (root / version).is_dir():
        matches.append(root / version)
    if not matches:
        raise EnvUnavailable(f"Python {version} is needed for this instance but not found under {root} "
                             f"(install it with `pyenv install {version}` or pass python=/path/to/python{version})")
    return matches[-1] / "bin" / "python"


def build_template(instance: Mapping[str, Any], *, cache_dir: str | Path | None = None,
                   repos_dir: str | Path | None = None, python: str | None = None, rebuild: bool = False,
                   install_timeout_s: float = 1800) -> LocalTemplate:
    """The cached template of `instance`, building it first when needed (see the module docstring)."""
    root = Path(cache_dir or default_cache_dir()) / "templates" / instance["instance_id"]
    ready = root / READY
    if ready.exists() and not rebuild:
        tpl = LocalTemplate(**json.loads(ready.read_text()))
        own_for_sandbox(tpl.repo_dir, *tpl.cow_paths)  # caches built before sandboxes ran unprivileged
        return tpl
    if root.exists():
        shutil.rmtree(root)
    spec = instance_spec(instance)
    source = find_source_repo(instance, repos_dir)
    trimmed_clone(source, root / "repo", instance["base_commit"])
    tpl = LocalTemplate(repo_dir=str(root / "repo"))
    if spec.get("python") == "host" and python is None:
        exe = Path(sys.executable)
        prefixes = {sys.prefix, sys.base_prefix}
        tpl.ro_paths = sorted(prefixes | {os.path.realpath(p) for p in prefixes})  # a symlinked venv: both paths
        tpl.path_prepend = [str(exe.parent)]
        tpl.python = str(exe)
        own_for_sandbox(tpl.repo_dir)
    else:
        _build_venv(tpl, root / "venv", spec, python or str(_pyenv_python(str(spec["python"]))), install_timeout_s)
    ready.write_text(json.dumps(asdict(tpl), indent=1))
    return tpl


def _build_venv(tpl: LocalTemplate, venv: Path, spec: Mapping[str, Any], python: str, timeout_s: float) -> None:
    if not Path(python).exists():
        raise EnvUnavailable(f"interpreter {python} does not exist")
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    base_prefix = subprocess.run([python, "-c", "import sys; print(sys.base_prefix)"], check=True,
                                 capture_output=True, text=True).stdout.strip()
    tpl.ro_paths, tpl.cow_paths, tpl.path_prepend = [base_prefix], [str(venv)], [str(venv / "bin")]
    tpl.python = str(venv / "bin" / "python")
    steps = []
    if spec.get("pre_install"):
        tpl.notes.append(f"skipped pre_install (system packages): {spec['pre_install']}")
    packages = spec.get("packages", "")
    if packages == "requirements.txt":
        steps.append("python -m pip install -r requirements.txt")
    elif packages == "environment.yml":
        raise EnvUnavailable("this instance's environment is a conda environment.yml; use the Docker backend")
    elif packages:
        steps.append(f"python -m pip install {packages}")
    if spec.get("pip_packages"):
        steps.append("python -m pip install " + " ".join(f"'{p}'" for p in spec["pip_packages"]))
    if spec.get("install"):
        steps.append(str(spec["install"]))
    own_for_sandbox(tpl.repo_dir, venv)  # the install step runs unprivileged, as the sandbox user
    limits = SandboxLimits(timeout_s=timeout_s, episode_budget_s=timeout_s * 2, memory_mb=16384, max_pids=1024)
    box = LocalSandbox(tpl.repo_dir, ro_paths=[base_prefix], rw_paths=[venv], path_prepend=tpl.path_prepend,
                       cow="direct", network=True, limits=limits)
    with box:
        for step in steps:
            result = box.exec(step)
            if result.exit_code != 0:
                raise SandboxError(f"template build step failed ({step}): {result.output[-1500:]}")
