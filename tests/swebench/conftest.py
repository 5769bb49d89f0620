"""Fixtures: a per-session cache with the synthetic tinycalc repository, its instance and its local template; a real
Docker engine (started here when none runs, stopped at the end of the session) with the instance's image."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent_envs.swebench import synthetic
from agent_envs.swebench.spec import image_name
from agent_envs.swebench.template import LocalTemplate, build_template
from tests.conftest import DOCKER_STARTED_BY_TESTS, REPO_ROOT


@pytest.fixture(scope="session")
def sb_tools() -> None:
    """bubblewrap and git are installed by scripts/install/40-swebench.sh: their absence is a failure."""
    for tool in ("bwrap", "git", "prlimit", "setpriv", "nsenter", "unshare"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` is missing: run scripts/install/40-swebench.sh (apt-get install bubblewrap git)")


@pytest.fixture(scope="session")
def swe_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("swebench-cache")


@pytest.fixture(scope="session")
def tiny_instance(swe_cache: Path, sb_tools: None) -> dict[str, Any]:
    source = synthetic.build_source_repo(swe_cache / "sources" / "aemgym__tinycalc")
    synthetic.register_spec()
    return synthetic.tinycalc_instance(source)


@pytest.fixture(scope="session")
def tiny_template(tiny_instance: dict[str, Any], swe_cache: Path) -> LocalTemplate:
    return build_template(tiny_instance, cache_dir=swe_cache)


@pytest.fixture(autouse=True)
def _swe_cache_env(swe_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every env made by a test inside the session cache (never the user's ~/.cache)."""
    monkeypatch.setenv("AEMGYM_SWEBENCH_CACHE", str(swe_cache))
    monkeypatch.delenv("AEMGYM_SWEBENCH_DATA", raising=False)


@pytest.fixture(scope="session")
def docker_engine() -> Any:
    """A client of a running Docker engine. Where none answers, the engine is started as root with
    scripts/docker-engine.sh (installed by scripts/install/45-docker.sh); in CI its absence is a failure, elsewhere
    (not root, no docker.io) the test is skipped with the reason."""
    from agent_envs.sandbox.docker import docker_available, docker_client

    if not docker_available():
        if os.geteuid() == 0 and shutil.which("dockerd"):
            out = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "docker-engine.sh"), "start"],
                                 capture_output=True, text=True, timeout=180)
            if out.returncode != 0:
                pytest.fail(f"cannot start the Docker engine: {out.stderr.strip()[-800:]}")
            if out.stdout.strip() == "started":
                DOCKER_STARTED_BY_TESTS.write_text(os.environ.get("AEMGYM_TEST_SESSION", ""))
        elif os.environ.get("CI"):
            pytest.fail("no Docker engine in CI: scripts/install/45-docker.sh installs docker.io (as root) and "
                        "scripts/docker-engine.sh starts it")
        else:
            pytest.skip("no Docker engine on this machine: `docker info` fails and dockerd cannot be started here "
                        "(needs root and docker.io: scripts/install/45-docker.sh)")
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def tiny_image(docker_engine: Any, tiny_instance: dict[str, Any]) -> str:
    """The synthetic instance's image (built offline from the base image of scripts/install/45-docker.sh)."""
    import docker
    name = image_name(tiny_instance["instance_id"])
    try:
        docker_engine.images.get(name)
    except docker.errors.ImageNotFound:
        try:
            synthetic.build_docker_image(docker_engine, tiny_instance, name)
        except docker.errors.ImageNotFound:
            pytest.fail(f"the base image {synthetic.BASE_IMAGE} is missing: run scripts/install/45-docker.sh")
    return name
