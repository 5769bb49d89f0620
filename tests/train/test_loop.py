"""End-to-end training on Doors with the tiny model: learning happens, checkpoints resume exactly, the CLI works."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.train.checkpoint import latest_checkpoint, load_checkpoint
from harness.train.config import load_config
from harness.train.loop import Trainer
from harness.train.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "harness" / "train" / "configs" / "doors_tiny.yaml"


def _config(tmp_path: Path, *extra: str):
    return load_config([str(CONFIG), f"loop.output_dir={tmp_path}", *extra])


@pytest.mark.slow
def test_twenty_iterations_learn_to_read_the_hint(tmp_path):
    """Fixed seed: the tiny model starts at chance (0.26, doors only) and reads the hint within 20 iterations."""
    cfg = _config(tmp_path, "loop.iterations=20", "loop.eval_every=20", "loop.eval_tasks=32", "loop.seed=0",
                  "loop.checkpoint_every=0")
    rows = Trainer(cfg, resume=False, progress=False).run()
    first = statistics.mean(r["train/success"] for r in rows[1:6])
    last = statistics.mean(r["train/success"] for r in rows[-5:])
    print(f"train success it. 1-5 {first:.3f} -> it. 16-20 {last:.3f}; "
          f"eval {rows[0]['eval/success']:.3f} -> {rows[-1]['eval/success']:.3f}")
    assert [r["iteration"] for r in rows] == list(range(21))
    assert first < 0.4 and last > 0.5  # 5 x 64 episodes a side: chance is 0.26 +- 0.03
    assert rows[-1]["eval/success"] > max(0.5, rows[0]["eval/success"])
    assert all(r["train/invalid_frac"] == 0 for r in rows[1:])  # constrained to the door letters
    logged = set().union(*rows)  # loss metrics are absent from iterations whose every group was solved (no step)
    for key in ("learner/token_entropy", "learner/response_entropy", "learner/alpha_mean", "learner/clip_frac",
                "learner/positive_frac", "learner/learner_tokens_per_s", "gen_tokens_per_s"):
        assert key in logged, key
    assert rows[-1]["learner/rollout_logprob_gap"] < 1e-3  # sampler and learner agree on log-probs


def _state_equal(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _state_equal(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _state_equal(x, y)
    else:
        assert a == b


@pytest.mark.slow
def test_kill_and_resume_restores_the_saved_state(tmp_path):
    """SIGKILL a `python -m harness.train` run after its 2nd checkpoint, resume in-process, compare every tensor."""
    args = [sys.executable, "-m", "harness.train", "-c", str(CONFIG), "--learner", "aem", "--iterations", "4",
            "-o", str(tmp_path), "loop.checkpoint_every=1", "loop.eval_every=0", "rollout.tasks_per_iter=2",
            "rollout.group_size=4"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    deadline = time.time() + 150
    try:
        while time.time() < deadline and proc.poll() is None:
            ckpt = latest_checkpoint(tmp_path)
            if ckpt is not None and ckpt.name >= "iter_000002":
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:] if proc.stdout else ""
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    ckpt = latest_checkpoint(tmp_path)
    assert ckpt is not None
    saved = load_checkpoint(ckpt)
    cfg = load_config([str(tmp_path / "config.yaml")])
    trainer = Trainer(cfg, resume=True, progress=False)
    assert trainer.resumed_from == ckpt and trainer.iteration == saved["iteration"] >= 2
    _state_equal(trainer.state_dict(), saved)  # weights, AdamW moments, RNGs, task sampler, sampler RNG
    rows_before = read_metrics(tmp_path)
    assert max(r["iteration"] for r in rows_before) == trainer.iteration  # rows past the checkpoint were dropped
    trainer.run()
    iterations = [r["iteration"] for r in read_metrics(tmp_path)]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 4
    assert json.loads((latest_checkpoint(tmp_path) / "meta.json").read_text())["iteration"] == 4


def test_config_files_overrides_and_presets(tmp_path):
    cfg = load_config([str(CONFIG), "learner.lr=3e-3", "env.kwargs={n_rooms: 3}"], learner="empg")
    assert cfg.learner.lr == 3e-3 and cfg.learner.modulator == "empg" and cfg.env.kwargs == {"n_rooms": 3}
    assert load_config([str(CONFIG)], learner="aem").learner.modulator == "aem"
    with pytest.raises(ValueError):
        load_config(["learner.no_such_key=1"])
    with pytest.raises(ValueError):
        load_config([], learner="ppo_magic")
    with pytest.raises(FileNotFoundError):
        load_config([str(tmp_path / "missing.yaml")])
    (tmp_path / "c.yaml").write_text(cfg.to_yaml())
    assert load_config([str(tmp_path / "c.yaml")]) == cfg  # the saved config.yaml round-trips
    with pytest.raises(ValueError, match="2 tokens, not one"):
        Trainer(_config(tmp_path, "rollout.allowed_tokens=[A, BC]"), resume=False, progress=False)


@pytest.mark.slow
def test_smollm2_lora_config_constrains_to_single_door_tokens():
    from transformers import AutoTokenizer

    from harness.models.smollm2 import ensure_checkpoint
    from harness.train.loop import _single_token_ids

    cfg = load_config([str(CONFIG.with_name("doors_smollm2_lora.yaml"))], learner="aem")
    assert (cfg.model.kind, cfg.model.lora_rank, cfg.learner.modulator) == ("smollm2", 8, "aem")
    tokenizer = AutoTokenizer.from_pretrained(str(ensure_checkpoint()))
    ids = _single_token_ids(tokenizer, cfg.rollout.allowed_tokens)
    assert len(set(ids)) == 4 and tokenizer.decode(ids) == "ABCD"


def test_cli_dry_run_and_report(tmp_path):
    out = subprocess.run([sys.executable, "-m", "harness.train", "-c", str(CONFIG), "--learner", "aem", "--dry-run",
                          "--seed", "7"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "modulator: aem" in out.stdout and "seed: 7" in out.stdout
    default = subprocess.run([sys.executable, "-m", "harness.train", "--learner", "grpo", "--dry-run"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert default.returncode == 0 and load_config([str(CONFIG)]).to_yaml() == default.stdout.strip() + "\n"
    bad = subprocess.run([sys.executable, "-m", "harness.train", "learner.bogus=1", "--dry-run"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid config" in bad.stderr
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("{}\n")
    rows = [{"iteration": i, "train/success": i / 4, "learner/response_entropy": 3 - i / 2} for i in range(1, 4)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from harness.train.report import plot_runs, summary

    png = plot_runs([run], tmp_path / "curves.png")
    assert png.stat().st_size > 1000
    assert "train/success 0.250 → 0.750" in summary(run)
    report = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(run)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "train/success 0.250 → 0.750" in report.stdout and (run / "curves.png").stat().st_size > 1000
    assert not (run / "report.md").exists()  # not mistaken for an (empty) bench run
