"""Fixtures: a per-session cache with the synthetic tinycalc repository, its instance and its local template."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from agent_envs.swebench import synthetic
from agent_envs.swebench.template import LocalTemplate, build_template


@pytest.fixture(scope="session")
def sb_tools() -> None:
    """bubblewrap and git are installed by scripts/install/40-swebench.sh: their absence is a failure."""
    for tool in ("bwrap", "git", "prlimit"):
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
