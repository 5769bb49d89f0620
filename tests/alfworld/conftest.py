"""Fixtures for the ALFWorld tests: the real data in ../shared/data/alfworld (missing data is a failure)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def alfworld_data(shared_data: Path) -> Path:
    """`../shared/data/alfworld` (an `alfworld-download`-style directory)."""
    root = shared_data / "alfworld"
    if not (root / "json_2.1.1").is_dir():
        pytest.fail(f"ALFWorld test data missing: expected {root}/json_2.1.1 (see docs/alfworld.md)")
    return root
