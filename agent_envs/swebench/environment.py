"""What a local template installs for an instance: swebench's environment logic, read from the local clone.

swebench builds each instance's Docker environment from its spec (`MAP_REPO_VERSION_TO_SPECS`): a requirements
file read from the repository at `environment_setup_commit` (or conda packages / an `environment.yml`), the spec's
pip pins, `pre_install` commands, then the install command in the checkout. `plan_environment` turns the same spec
into an `EnvPlan` for a venv:

- **requirements** are read with `git show <environment_setup_commit>:<path>` from the local clone (swebench's
  `get_requirements` semantics: the first of the repo's requirements paths, one level of `-r`, `-e .`/comments/
  `.[test` lines dropped, yanked packages replaced), never from GitHub;
- **conda package lists** become pip requirements (`name=1.2` -> `name==1.2`); an `environment.yml` spec raises
  `EnvUnavailable` naming the Docker backend (conda packages have no sound pip equivalent in general);
- **pre_install** is split: commands that edit the repository (`sed -i ...`) run in the template, system commands
  (`apt-get install ...`, locales) are reported and their apt packages installed on the host when it allows;
- **period-correct resolution**: every pip step resolves with `uv pip install --exclude-newer <env_date>`, where
  `env_date` is the newest of the environment commit's date, the spec Python's release (+90 days: binary wheels
  for a new Python follow its release) and the upload date of every exactly pinned package (a pin cannot be older
  than the environment that pins it). Today's index therefore cannot change what an old instance gets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shlex
import subprocess
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_envs.errors import EnvUnavailable

DEFAULT_INDEX = "https://pypi.org/simple"
#: First release of each CPython minor version (python.org); the floor of an environment's date.
PYTHON_RELEASES = {
    "3.5": "2015-09-13", "3.6": "2016-12-23", "3.7": "2018-06-27", "3.8": "2019-10-14", "3.9": "2020-10-05",
    "3.10": "2021-10-04", "3.11": "2022-10-24", "3.12": "2023-10-02", "3.13": "2024-10-07",
}
WHEEL_LAG = dt.timedelta(days=90)
#: Commands in `pre_install` that change the machine rather than the repository.
SYSTEM_COMMAND = re.compile(r"(^|[\s;&|(])(apt-get|apt|dpkg|yum|locale-gen|update-locale)\s|>\s*/etc/|^\s*sudo\s")
APT_INSTALL = re.compile(r"apt(?:-get)?\s+(?:-\S+\s+)*install\s+([^;&|]+)")
#: Bump when the plan's meaning changes: templates built with another recipe are rebuilt.
RECIPE = "2"


def index_url() -> str:
    """The package index for template builds: `$AEMGYM_SWEBENCH_INDEX_URL` or PyPI."""
    return os.environ.get("AEMGYM_SWEBENCH_INDEX_URL", DEFAULT_INDEX).rstrip("/")


@dataclass
class EnvPlan:
    """Everything a template build runs, in order (see the module docstring)."""

    python: str
    env_date: str
    requirements: str = ""
    packages: list[str] = field(default_factory=list)
    pip_packages: list[str] = field(default_factory=list)
    repo_commands: list[str] = field(default_factory=list)
    system_commands: list[str] = field(default_factory=list)
    system_packages: list[str] = field(default_factory=list)
    install: str = ""
    install_uv: str = ""
    submodules: list[tuple[str, str, str]] = field(default_factory=list)  # (path, url, commit)
    date_sources: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        """A digest of the plan: a cached template is reused only when it was built from the same plan."""
        return hashlib.sha256(json.dumps([RECIPE, asdict(self)], sort_keys=True).encode()).hexdigest()[:16]


def git_show(repo: Path, commit: str, path: str) -> str | None:
    """The text of `path` at `commit` in `repo`, or None when it does not exist there."""
    out = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, timeout=120)
    return out.stdout.decode("utf-8", errors="replace") if out.returncode == 0 else None


def read_requirements(repo: Path, commit: str, paths: list[str]) -> str:
    """Swebench's `get_requirements_by_commit` + `clean_requirements`, reading the local clone at `commit`."""
    from agent_envs.swebench.spec import swebench_modules

    for req_path in paths:
        text = git_show(repo, commit, req_path)
        if text is not None:
            break
    else:
        raise EnvUnavailable(f"none of the requirements files {paths} exists at environment_setup_commit "
                             f"{commit[:12]} in {repo}")
    req_dir = "/".join(req_path.split("/")[:-1])

    def excluded(line: str) -> bool:
        return any(line.strip().startswith(x) for x in ("-e .", "#", ".[test"))

    original, additional = [], []
    for line in text.split("\n"):
        if line.strip().startswith("-r"):
            nested = git_show(repo, commit, os.path.normpath(os.path.join(req_dir, line[2:].strip())))
            if nested is not None:
                additional += [x for x in nested.split("\n") if not excluded(x)]
        elif not excluded(line):
            original.append(line)
    additional.append("\n".join(original))
    return swebench_modules().test_spec_python.clean_requirements("\n".join(additional))


def conda_to_pip(packages: str) -> list[str]:
    """A conda package list (`"numpy=1.19 scipy 'pandas<2'"`) as pip requirements."""
    return [re.sub(r"^([A-Za-z0-9_.\-]+)=(?!=)", r"\1==", p) for p in shlex.split(packages)]


def split_pre_install(commands: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(repository commands, system commands, apt packages those system commands install)."""
    repo, system, apt = [], [], []
    for command in commands:
        if SYSTEM_COMMAND.search(command):
            system.append(command)
            for match in APT_INSTALL.finditer(command):
                apt += [p for p in match.group(1).split() if not p.startswith("-")]
        else:
            repo.append(command)
    return repo, system, list(dict.fromkeys(apt))


def uv_install_command(install: str) -> str:
    """The spec's `python -m pip install ...` as `uv pip install ...` (same arguments; `--no-use-pep517` has no uv
    equivalent: uv always builds through PEP 517, with setuptools' legacy backend for setup.py-only projects).
    """
    words = shlex.split(install)
    for prefix in (["python", "-m", "pip", "install"], ["pip", "install"]):
        if words[: len(prefix)] == prefix:
            args = [w for w in words[len(prefix):] if w != "--no-use-pep517"]
            return "uv pip install " + " ".join(shlex.quote(a) for a in args)
    return ""


def exact_pins(requirements: list[str]) -> list[tuple[str, str]]:
    """(name, version) of every `name==version` requirement (markers and extras dropped)."""
    pins = []
    for req in requirements:
        req = req.split(" #", 1)[0]
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)(\[[^\]]*\])?\s*==\s*([A-Za-z0-9_.!+\-]+)\s*(;.*)?$", req)
        if match:
            pins.append((match.group(1), match.group(3)))
    return pins


def commit_date(repo: Path, commit: str) -> dt.datetime:
    """The committer date of `commit` (UTC)."""
    out = subprocess.run(["git", "-C", str(repo), "show", "-s", "--format=%cI", commit], capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        raise EnvUnavailable(f"commit {commit[:12]} is not in {repo}: {out.stderr.strip()[:200]}")
    return dt.datetime.fromisoformat(out.stdout.strip()).astimezone(dt.timezone.utc)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def release_date(name: str, version: str, *, index: str | None = None, cache: Path | None = None) -> dt.datetime:
    """The earliest upload time of `name==version` on the index (PEP 691 JSON with PEP 700 `upload-time`)."""
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
    from packaging.version import InvalidVersion, Version

    key = f"{_normalize(name)}=={version}"
    known = json.loads(cache.read_text()) if cache is not None and cache.is_file() else {}
    if key in known:
        return dt.datetime.fromisoformat(known[key])
    url = f"{index or index_url()}/{_normalize(name)}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            files = json.load(response).get("files", [])
    except (OSError, ValueError) as exc:
        raise EnvUnavailable(f"cannot read {url} to date the pin {name}=={version}: {exc}") from exc
    wanted, times = Version(version), []
    for info in files:
        filename, uploaded = info.get("filename", ""), info.get("upload-time")
        try:
            if filename.endswith(".whl"):
                got = parse_wheel_filename(filename)[1]
            elif filename.endswith((".tar.gz", ".zip")):
                got = parse_sdist_filename(filename)[1]
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if got == wanted and uploaded:
            times.append(dt.datetime.fromisoformat(uploaded.replace("Z", "+00:00")))
    if not times:
        raise EnvUnavailable(f"the pinned {name}=={version} has no dated files on {index or index_url()}")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        known = json.loads(cache.read_text()) if cache.is_file() else {}
        known[key] = min(times).isoformat()
        tmp = cache.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(known, indent=0, sort_keys=True))
        tmp.replace(cache)
    return min(times)


def environment_date(repo: Path, commit: str, python: str, pins: list[tuple[str, str]], *,
                     cache: Path | None = None) -> tuple[str, dict[str, str]]:
    """The `--exclude-newer` date (RFC 3339, the day after the newest source) and what each source said."""
    sources = {f"environment_setup_commit {commit[:12]}": commit_date(repo, commit)}
    if python in PYTHON_RELEASES:
        floor = dt.datetime.fromisoformat(PYTHON_RELEASES[python]).replace(tzinfo=dt.timezone.utc) + WHEEL_LAG
        sources[f"python {python} release + {WHEEL_LAG.days} days"] = floor
    for name, version in pins:
        sources[f"pin {name}=={version}"] = release_date(name, version, cache=cache)
    newest = max(sources.values())
    day = (newest + dt.timedelta(days=1)).date()
    return f"{day.isoformat()}T00:00:00Z", {k: v.date().isoformat() for k, v in sources.items()}


def submodules_at(repo: Path, commit: str) -> list[tuple[str, str, str]]:
    """(path, url, commit) of the submodules recorded at `commit`."""
    text = git_show(repo, commit, ".gitmodules")
    if not text:
        return []
    out = subprocess.run(["git", "config", "-f", "/dev/stdin", "--get-regexp", r"^submodule\..*\.(path|url)$"],
                         input=text, capture_output=True, text=True, timeout=30)
    entries: dict[str, dict[str, str]] = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        name, _, attr = key[len("submodule."):].rpartition(".")
        entries.setdefault(name, {})[attr] = value
    subs = []
    for entry in entries.values():
        if "path" not in entry:
            continue
        tree = subprocess.run(["git", "-C", str(repo), "ls-tree", commit, entry["path"]], capture_output=True,
                              text=True, timeout=30).stdout.split()
        if len(tree) >= 3 and tree[1] == "commit":
            subs.append((entry["path"], entry.get("url", ""), tree[2]))
    return subs


def plan_environment(instance: Mapping[str, Any], spec: Mapping[str, Any], source: Path, *,
                     cache: Path | None = None) -> EnvPlan:
    """The `EnvPlan` of `instance` (raises `EnvUnavailable` for conda-only environments)."""
    from agent_envs.swebench.spec import requirements_paths

    packages = str(spec.get("packages") or "")
    if packages == "environment.yml":
        raise EnvUnavailable(
            f"{instance['instance_id']}: its environment is a conda environment.yml ({instance['repo']} "
            f"{instance['version']}); the local backend builds pip environments only: use --backend docker")
    env_commit = instance.get("environment_setup_commit") or instance["base_commit"]
    python = str(spec["python"])
    repo_cmds, system_cmds, apt = split_pre_install(list(spec.get("pre_install") or []))
    plan = EnvPlan(python=python, env_date="", repo_commands=repo_cmds, system_commands=system_cmds,
                   system_packages=apt, pip_packages=[str(p) for p in spec.get("pip_packages") or []],
                   install=str(spec.get("install") or ""))
    plan.install_uv = uv_install_command(plan.install)
    if packages == "requirements.txt":
        plan.requirements = read_requirements(source, env_commit, requirements_paths(instance["repo"]))
    elif packages:
        plan.packages = conda_to_pip(packages)
    plan.submodules = submodules_at(source, instance["base_commit"])
    pins = exact_pins(plan.packages + plan.pip_packages + plan.requirements.splitlines())
    plan.env_date, plan.date_sources = environment_date(source, env_commit, python, pins, cache=cache)
    return plan
