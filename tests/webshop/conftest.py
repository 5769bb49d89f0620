"""Fixtures: the real 1k catalog from shared data, loaded once per test process."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_envs.webshop.engine import World, load_world


@pytest.fixture(scope="session")
def webshop_dir(shared_data: Path) -> Path:
    path = shared_data / "webshop"
    if not (path / "resources_1k" / "documents.jsonl").is_file():
        pytest.fail(f"WebShop 1k catalog missing under {path}")
    return path


@pytest.fixture(scope="session")
def world_1k(webshop_dir: Path) -> World:
    return load_world(str(webshop_dir))
