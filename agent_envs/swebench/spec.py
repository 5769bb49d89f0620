"""Per-instance specs, eval scripts, log parsing and grading with the `swebench` package's own code (4.1.0).

Why 4.1.0 (pinned): SWE-bench Verified rows are in the classic format (`version` keys into the per-repo spec tables).
4.1.0 still has those tables (`MAP_REPO_VERSION_TO_SPECS`), `make_test_spec` (eval script, image key), the per-repo
log parsers and the grading functions; 5.x dropped the tables and needs pre-converted "task repos".

`swebench/__init__.py` and `swebench/harness/__init__.py` import the Docker/Modal/GitHub tooling (docker, modal,
ghapi, GitPython, ...). We install swebench with `--no-deps` and import only the modules we use, by registering the
two parent packages as bare namespace modules first (the submodules themselves are unmodified).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from collections.abc import Mapping
from functools import cache
from typing import Any

from agent_envs.errors import DependencyNotInstalled

SWEBENCH_VERSION = "4.1.0"
INSTALL_HINT = "run scripts/install/40-swebench.sh (pip install --no-deps swebench==4.1.0 plus the [swebench] extra)"
#: Lines of the official eval script that only make sense inside the conda-based Docker images.
_DOCKER_ONLY_PREFIXES = (
    "source /opt/miniconda3/bin/activate", "conda activate ", "git config --global --add safe.directory",
)


@cache
def swebench_modules() -> types.SimpleNamespace:
    """Import the parts of swebench we need, bypassing its heavy package `__init__` files."""
    spec = importlib.util.find_spec("swebench") if "swebench" not in sys.modules else None
    if spec is None and "swebench" not in sys.modules:
        raise DependencyNotInstalled(f"the swebench package is not installed; {INSTALL_HINT}")
    if spec is not None:
        root = list(spec.submodule_search_locations or [])[0]
        for name, path in (("swebench", root), ("swebench.harness", f"{root}/harness")):
            module = types.ModuleType(name)
            module.__path__ = [path]
            module.__file__ = f"{path}/__init__.py"
            sys.modules[name] = module
    try:
        from swebench.harness import grading
        from swebench.harness.constants import MAP_REPO_TO_EXT, MAP_REPO_TO_REQS_PATHS, MAP_REPO_VERSION_TO_SPECS
        from swebench.harness.log_parsers import MAP_REPO_TO_PARSER
        from swebench.harness.log_parsers.python import parse_log_pytest
        from swebench.harness.test_spec import python as test_spec_python
        from swebench.harness.test_spec import test_spec
    except ImportError as exc:
        raise DependencyNotInstalled(f"cannot import swebench {SWEBENCH_VERSION} ({exc}); {INSTALL_HINT}") from exc
    return types.SimpleNamespace(
        grading=grading,
        test_spec=test_spec,
        specs=MAP_REPO_VERSION_TO_SPECS,
        parsers=MAP_REPO_TO_PARSER,
        exts=MAP_REPO_TO_EXT,
        reqs_paths=MAP_REPO_TO_REQS_PATHS,
        test_spec_python=test_spec_python,
        parse_log_pytest=parse_log_pytest,
    )


def register_repo(repo: str, version_specs: Mapping[str, Mapping[str, Any]], parser: str = "pytest",
                  requirements_paths: list[str] | None = None) -> None:
    """Add a repository that is not in swebench's tables (e.g. a synthetic or private repo).

    Args:
        repo: "owner/name" as in the instances' `repo` field.
        version_specs: {version: spec}, spec keys as in swebench (`python`, `install`, `test_cmd`, `pip_packages`, ...).
        parser: a log parser; only "pytest" is offered here.
        requirements_paths: where a `packages: requirements.txt` spec finds its requirements file, first found wins.
    """
    sb = swebench_modules()
    sb.specs.setdefault(repo, {}).update({k: dict(v) for k, v in version_specs.items()})
    sb.parsers.setdefault(repo, sb.parse_log_pytest if parser == "pytest" else parser)
    sb.exts.setdefault(repo, "py")
    if requirements_paths:
        sb.reqs_paths[repo] = list(requirements_paths)


def requirements_paths(repo: str) -> list[str]:
    """The requirements files swebench reads for `repo` (`MAP_REPO_TO_REQS_PATHS`), first found wins."""
    paths = swebench_modules().reqs_paths.get(repo)
    if not paths:
        raise KeyError(f"swebench {SWEBENCH_VERSION} names no requirements file for {repo}; pass "
                       "requirements_paths= to agent_envs.swebench.spec.register_repo()")
    return list(paths)


def instance_spec(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The environment spec of an instance: python version, install command, pip packages, test command, ..."""
    specs = swebench_modules().specs
    try:
        return dict(specs[instance["repo"]][str(instance["version"])])
    except KeyError:
        raise KeyError(
            f"swebench {SWEBENCH_VERSION} has no spec for repo {instance.get('repo')!r} version "
            f"{instance.get('version')!r}; register one with agent_envs.swebench.spec.register_repo()"
        ) from None


def make_test_spec(instance: Mapping[str, Any]) -> Any:
    """Swebench's `TestSpec` for an instance (no network: the env-setup script is built lazily for Docker builds)."""
    sb = swebench_modules()
    mod = sb.test_spec
    inst = dict(instance)
    spec = instance_spec(inst)
    eval_list = mod.make_eval_script_list(inst, spec, "testbed", "/testbed", inst["base_commit"], inst["test_patch"])
    repo_list = mod.make_repo_script_list(spec, inst["repo"], "/testbed", inst["base_commit"], "testbed")
    return mod.TestSpec(
        instance_id=inst["instance_id"],
        repo=inst["repo"],
        version=str(inst["version"]),
        repo_script_list=repo_list,
        eval_script_list=eval_list,
        env_script_list=[],
        arch="x86_64",
        FAIL_TO_PASS=_as_list(inst.get("FAIL_TO_PASS")),
        PASS_TO_PASS=_as_list(inst.get("PASS_TO_PASS")),
        language=sb.exts.get(inst["repo"], "py"),
        docker_specs=spec.get("docker_specs", {}),
        namespace="swebench",
    )


def eval_script(instance: Mapping[str, Any], *, local: bool = False) -> str:
    """The official eval script; `local=True` drops the conda/safe.directory lines (no conda outside the images)."""
    script = make_test_spec(instance).eval_script
    if not local:
        return script
    return "\n".join(line for line in script.splitlines() if not line.startswith(_DOCKER_ONLY_PREFIXES)) + "\n"


def image_name(instance_id: str, namespace: str = "swebench") -> str:
    """The official per-instance image, e.g. `swebench/sweb.eval.x86_64.pytest-dev_1776_pytest-7490:latest`."""
    return f"{namespace}/sweb.eval.x86_64.{instance_id.lower().replace('__', '_1776_')}:latest"


def patch_test_files(test_patch: str) -> list[str]:
    """Files touched by the test patch (excluded from the agent's diff, as the official harness resets them)."""
    return [line.split(" b/", 1)[1] for line in test_patch.splitlines() if line.startswith("diff --git a/")]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return list(json.loads(value)) if value.strip() else []
    return list(value)
