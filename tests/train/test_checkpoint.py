"""Checkpoint files (atomic, pruned, RNG round trip) and the metric sinks."""

from __future__ import annotations

import json
import random

import numpy as np
import torch

from harness.train.checkpoint import (
    checkpoint_dir,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from harness.train.metrics import MetricsLogger, read_metrics


def test_checkpoints_are_pruned_and_half_written_ones_ignored(tmp_path):
    for it in (1, 2, 3):
        save_checkpoint(tmp_path, it, {"iteration": it, "w": torch.full((2,), float(it))}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["iter_000002", "iter_000003"]
    # A run killed while writing iteration 4 leaves a .tmp folder (no meta.json): it must not be picked up.
    partial = checkpoint_dir(tmp_path, 4).with_name("iter_000004.tmp")
    partial.mkdir()
    (partial / "state.pt").write_bytes(b"truncated")
    assert latest_checkpoint(tmp_path).name == "iter_000003"
    assert torch.equal(load_checkpoint(latest_checkpoint(tmp_path))["w"], torch.full((2,), 3.0))


def test_rng_state_round_trip():
    state = rng_state()
    first = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    set_rng_state(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == first


def test_metrics_logger_truncates_on_resume_and_writes_tensorboard(tmp_path):
    logger = MetricsLogger(tmp_path, tensorboard=True)
    for it in range(4):
        logger.log({"iteration": it, "train/success": it / 10, "note": "text is kept out of tensorboard"})
    logger.truncate_after(2)
    logger.log({"iteration": 3, "train/success": 0.9})
    logger.close()
    rows = read_metrics(tmp_path)
    assert [r["iteration"] for r in rows] == [0, 1, 2, 3] and rows[-1]["train/success"] == 0.9
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])["note"].startswith("text")
