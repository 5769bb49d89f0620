"""Checkpoints of a training run: weights (or LoRA adapters), optimizer, RNG states, learner state, iteration.

Layout: `<run>/checkpoints/iter_000012/state.pt` + `meta.json`. A checkpoint is written to a temporary folder and
renamed into place, so a run killed mid-write leaves the previous checkpoint intact; `latest_checkpoint` only
returns folders whose `meta.json` exists (the last file written).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

STATE_FILE = "state.pt"
META_FILE = "meta.json"


def rng_state() -> dict[str, Any]:
    """The Python, NumPy and torch global RNG states."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def checkpoint_dir(run_dir: Path | str, iteration: int) -> Path:
    """`<run>/checkpoints/iter_<iteration>`."""
    return Path(run_dir) / "checkpoints" / f"iter_{iteration:06d}"


def save_checkpoint(run_dir: Path | str, iteration: int, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write `state` (any `torch.save`-able dict) as the checkpoint of `iteration`, atomically; prune old ones.

    Args:
        run_dir: the run directory.
        iteration: number of finished iterations.
        state: model/optimizer/learner/RNG states.
        keep: checkpoints to keep (older ones are deleted; ≤ 0 keeps all).

    Returns:
        The checkpoint folder.
    """
    final = checkpoint_dir(run_dir, iteration)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(state, tmp / STATE_FILE)
    with open(tmp / STATE_FILE, "rb") as handle:
        os.fsync(handle.fileno())
    (tmp / META_FILE).write_text(json.dumps({"iteration": iteration}))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if keep > 0:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_dir: Path | str) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".tmp") and (p / META_FILE).is_file()]
    return sorted(done, key=lambda p: p.name)


def latest_checkpoint(run_dir: Path | str) -> Path | None:
    """The newest complete checkpoint, or None."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """The state dict saved in checkpoint folder `path`."""
    return torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=False)
