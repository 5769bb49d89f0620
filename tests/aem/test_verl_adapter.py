"""The verl adapter against the real verl 0.9.1 registry, run in its own venv (verl pins transformers < 5.11).

The venv is built by scripts/install/50-verl.sh (``make test`` runs it). A missing venv is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VERL_PYTHON = Path(os.environ.get("VERL_VENV", REPO / ".venv-verl")) / "bin" / "python"


@pytest.mark.slow
def test_verl_adapter_in_verl_venv() -> None:
    if not VERL_PYTHON.exists():
        pytest.fail(
            f"verl venv not found at {VERL_PYTHON.parent.parent}: run `VENV=.venv bash scripts/install/50-verl.sh` "
            "(installs verl==0.9.1 with torch==2.13.0 into .venv-verl; set VERL_VENV to use another location)"
        )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [str(VERL_PYTHON), str(REPO / "tests" / "aem" / "verl_check.py")],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )
    print(proc.stdout)
    assert proc.returncode == 0, f"verl checks failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    assert "ALL VERL CHECKS PASSED" in proc.stdout
