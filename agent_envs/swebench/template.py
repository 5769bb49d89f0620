"""Per-instance templates for the local backend: the repository at its base commit plus its Python environment.

Built once per instance and cached (`$AEMGYM_SWEBENCH_CACHE`, default `~/.cache/aemgym/swebench`), under
`templates/<instance_id>/`: `repo/`, `venv/`, `build.log` (every step's full output), `freeze.txt` (what was
installed) and `template.json` (written last: its presence means the template is complete).

1. **History-trimmed clone**: a fresh repository that fetches only `base_commit` (and the tags merged into it) from a
   local clone of the project; no remote, no later commits, so the agent cannot read the fix from the future.
   Submodules are fetched the same way from the local clone (its `.git/modules`) or a clone of their own in
   `repos_dir`; a missing one is an `EnvUnavailable` naming it.
2. **Environment** (`environment.EnvPlan`, swebench's logic): a venv made with the spec's Python (pyenv, or
   `python=`), then, in bubblewrap *with* network and the repo at `/testbed`: the requirements file of the
   environment commit, the conda-style packages, the spec's pip pins, the repository's `pre_install` commands and
   the install command. Every pip step is `uv pip install --exclude-newer <env_date>` (period-correct); packages are
   hard-linked from uv's cache (`<cache>/templates/.uv`), so templates share their files on disk. An install
   command uv cannot run (a setup.py that needs the environment at build time, setuptools too old for editable
   wheels) is retried as the spec wrote it, with pip; the template's notes say so. `python: "host"` in a spec
   reuses the running interpreter's environment instead (the synthetic instance). The steps: `build_env.py`.
3. The finished directory is the read-only lower layer of every episode and grading sandbox.

Ownership contract with the hardened sandbox (`agent_envs.sandbox.hardening`): commands run as an unprivileged host
id, so the repository, the venv and uv's cache belong to that id (`own_for_sandbox`, before the build steps, which
themselves run unprivileged); the venv is a copy-on-write path of every sandbox (`cow_paths`: grading may install
into it), interpreter prefixes stay read-only and root's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox.base import SandboxLimits
from agent_envs.sandbox.hardening import own_for_sandbox
from agent_envs.sandbox.local import LocalSandbox
from agent_envs.swebench.build_env import (
    SYSTEM_CA_BUNDLE,
    BuildLog,
    TemplateError,
    add_submodules,
    build_venv,
    locked,
    one_line,
    prepare_tox_env,
    trimmed_clone,
    uv_binary,
)
from agent_envs.swebench.environment import plan_environment
from agent_envs.swebench.services import HTTPBIN_REPOS, SERVICES_VERSION, services_for
from agent_envs.swebench.spec import instance_spec

READY = "template.json"
BUILD_LOG = "build.log"


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
    recipe: str = ""
    env_date: str = ""
    build_s: float = 0.0
    prelude: str = ""  # eval-script lines that start the tests' local servers (`services.py`)
    finished: bool = False  # `build_env.prepare_tox_env` ran (templates built before it get it at their next use)

    @classmethod
    def load(cls, path: Path) -> LocalTemplate:
        """Read a `template.json` (unknown keys from other versions are ignored)."""
        data = json.loads(path.read_text())
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def sandbox(self, *, limits: SandboxLimits | None = None, work_root: str | Path | None = None,
                cow: str = "auto", env: dict[str, str] | None = None, network: bool = False) -> LocalSandbox:
        """A new (not yet started) sandbox over this template (`network`: opt-in, e.g. for grading a patch that
        adds a dependency, which the eval script's reinstall step downloads).
        """
        if network and Path(SYSTEM_CA_BUNDLE).is_file():
            env = {"PIP_CERT": SYSTEM_CA_BUNDLE, "SSL_CERT_FILE": SYSTEM_CA_BUNDLE, **(env or {})}
        elif not network:  # pip (the eval script's reinstall step) fails at once instead of retrying for ~8 s
            env = {"PIP_RETRIES": "0", **(env or {})}
        return LocalSandbox(self.repo_dir, ro_paths=self.ro_paths, cow_paths=self.cow_paths,
                            path_prepend=self.path_prepend, cow=cow, work_root=work_root, limits=limits,  # type: ignore[arg-type]
                            env=env, network=network)


def find_source_repo(instance: Mapping[str, Any], repos_dir: str | Path | None) -> Path:
    """A local clone of the instance's repository: `instance["source_repo"]`, or `<repos_dir>/<owner>__<name>`,
    `<repos_dir>/<name>` (also `.git` variants). `repos_dir` defaults to `$AEMGYM_SWEBENCH_REPOS`.
    """
    if instance.get("source_repo"):
        if not Path(instance["source_repo"]).is_dir():
            raise EnvUnavailable(f"{instance['instance_id']}: its source_repo {instance['source_repo']} does not exist")
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


def pyenv_python(version: str) -> Path:
    """The newest pyenv interpreter matching `version` (e.g. "3.9" -> ~/.pyenv/versions/3.9.18/bin/python)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    matches = sorted((p for p in root.glob(f"{version}.*") if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)),
                     key=lambda p: int(p.name.rsplit(".", 1)[1]))
    if (root / version).is_dir():
        matches.append(root / version)
    if not matches:
        have = ", ".join(sorted(p.name for p in root.glob("*"))) if root.is_dir() else "none"
        raise EnvUnavailable(f"Python {version} is needed but pyenv has no {version}.x under {root} (it has: {have}); "
                             f"install it with `pyenv install {version}` or pass python=/path/to/python{version}")
    return matches[-1] / "bin" / "python"


def template_dir(instance_id: str, cache_dir: str | Path | None = None) -> Path:
    """Where the template of `instance_id` lives."""
    return Path(cache_dir or default_cache_dir()) / "templates" / instance_id


def build_template(instance: Mapping[str, Any], *, cache_dir: str | Path | None = None,
                   repos_dir: str | Path | None = None, python: str | None = None, rebuild: bool = False,
                   install_timeout_s: float = 1800) -> LocalTemplate:
    """The cached template of `instance`, building it first when needed (see the module docstring).

    Raises:
        EnvUnavailable: this machine cannot have the environment (no clone, no interpreter, a conda-only spec).
        TemplateError: a build step failed; the message has a one-line reason and the build log's path.
    """
    cache = Path(cache_dir or default_cache_dir())
    root = template_dir(instance["instance_id"], cache)
    spec = instance_spec(instance)
    source = find_source_repo(instance, repos_dir)
    host = spec.get("python") == "host" and python is None
    plan = None if host else plan_environment(instance, spec, source, cache=cache / "pypi-dates.json")
    services = f"+services{SERVICES_VERSION}" if instance["repo"] in HTTPBIN_REPOS else ""
    recipe = "host" if plan is None else plan.key() + services
    with locked(root.with_name(root.name + ".lock")):
        if (root / READY).exists() and not rebuild:
            tpl = LocalTemplate.load(root / READY)
            if tpl.recipe == recipe:
                own_for_sandbox(tpl.repo_dir, *tpl.cow_paths)  # caches built before sandboxes ran unprivileged
                if tpl.prelude:
                    services_for(instance, cache, uv_binary(cache))  # the shared tool may have been removed
                if not tpl.finished and plan is not None:
                    tpl.notes += prepare_tox_env(tpl.repo_dir, tpl.cow_paths[0], str(spec.get("test_cmd", "")))
                    tpl.finished = True
                    (root / READY).write_text(json.dumps(asdict(tpl), indent=1))
                return tpl
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        started = time.monotonic()
        log = BuildLog(root / BUILD_LOG)
        tpl = LocalTemplate(repo_dir=str(root / "repo"), recipe=recipe)
        try:
            trimmed_clone(source, root / "repo", instance["base_commit"])
            if plan is None:
                exe = Path(sys.executable)
                prefixes = {sys.prefix, sys.base_prefix}
                tpl.ro_paths = sorted(prefixes | {os.path.realpath(p) for p in prefixes})  # a symlinked venv: both
                tpl.path_prepend = [str(exe.parent)]
                tpl.python = str(exe)
                own_for_sandbox(tpl.repo_dir)
            else:
                log.write(f"# {instance['instance_id']}: plan {json.dumps(asdict(plan), indent=1)}\n")
                add_submodules(root / "repo", plan, source, repos_dir, instance)
                interpreter = python or str(pyenv_python(plan.python))
                env = build_venv(root, tpl.repo_dir, plan, interpreter, cache, log, install_timeout_s)
                tpl.ro_paths, tpl.cow_paths, tpl.path_prepend = env.ro_paths, env.cow_paths, env.path_prepend
                tpl.python, tpl.env_date, tpl.notes = env.python, plan.env_date, env.notes
                tpl.notes += prepare_tox_env(tpl.repo_dir, str(root / "venv"), str(spec.get("test_cmd", "")))
                tpl.finished = True
                running = services_for(instance, cache, uv_binary(cache))
                if running is not None:
                    tpl.ro_paths += running.ro_paths
                    tpl.prelude = running.prelude
        except (SandboxError, EnvUnavailable, OSError, subprocess.SubprocessError) as exc:
            log.write(f"\n# FAILED: {exc}\n")
            if isinstance(exc, TemplateError | EnvUnavailable):
                raise
            raise TemplateError(one_line(str(exc)), log.path) from exc
        tpl.build_s = round(time.monotonic() - started, 1)
        (root / READY).write_text(json.dumps(asdict(tpl), indent=1))
        return tpl


