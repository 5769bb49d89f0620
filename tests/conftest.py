"""Suite-wide settings: one torch thread (2 threads are 5-30x slower on a loaded 2-core box) and data paths."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch is a core dependency; the import test reports its absence
    pass

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("AEMGYM_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`: real data for tests. Missing data is a failure with a clear message, never a skip."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA} (set AEMGYM_SHARED_DATA)")
    return SHARED_DATA


#: Written by the worker that started a Docker engine for this test session (tests/swebench/conftest.py).
DOCKER_STARTED_BY_TESTS = Path("/run/aemgym-dockerd.tests")


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist): workers inherit the id
        os.environ.setdefault("AEMGYM_TEST_SESSION", uuid.uuid4().hex)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the Docker engine the tests started, once every worker is done (never an engine that was running)."""
    if hasattr(session.config, "workerinput"):
        return
    try:
        owner = DOCKER_STARTED_BY_TESTS.read_text()
    except OSError:
        return
    if owner == os.environ.get("AEMGYM_TEST_SESSION"):
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "docker-engine.sh"), "stop"], capture_output=True,
                       timeout=120)
        DOCKER_STARTED_BY_TESTS.unlink(missing_ok=True)
