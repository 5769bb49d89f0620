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

from harness.config import TrainConfig, load_config, to_yaml
from harness.storage import read_episodes, read_run_config
from harness.train.checkpoint import latest_checkpoint, load_checkpoint
from harness.train.loop import Trainer
from harness.train.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "harness" / "train" / "configs" / "doors_tiny.yaml"


def _config(tmp_path: Path, *extra: str) -> TrainConfig:
    return load_config(TrainConfig, [str(CONFIG), f"output.dir={tmp_path}", *extra])


@pytest.mark.slow
def test_twenty_iterations_learn_to_read_the_hint(tmp_path):
    """Fixed seed: the tiny model starts at chance (0.26, doors only) and reads the hint within 20 iterations."""
    cfg = _config(tmp_path, "loop.iterations=20", "loop.eval_every=20", "loop.eval_tasks=32", "loop.seed=0",
                  "loop.checkpoint_every=0")
    rows = Trainer(cfg, progress=False).run()
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
    episodes = read_episodes(tmp_path)  # every rollout and evaluation episode is in the run store
    assert sum(e.phase == "train" for e in episodes) == 20 * 8 * 8 and sum(e.phase == "eval" for e in episodes) == 64
    assert {e.iteration for e in episodes if e.phase == "eval"} == {0, 20}


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
            "-o", str(tmp_path), "loop.checkpoint_every=1", "loop.eval_every=0", "loop.tasks_per_iter=2",
            "rollout.samples=4"]
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
    cfg = load_config(TrainConfig, [str(tmp_path / "config.json"), "output.resume=true"])
    trainer = Trainer(cfg, progress=False)
    assert trainer.resumed_from == ckpt and trainer.iteration == saved["iteration"] >= 2
    _state_equal(trainer.state_dict(), saved)  # weights, AdamW moments, RNGs, task sampler, sampler RNG
    rows_before = read_metrics(tmp_path)
    assert max(r["iteration"] for r in rows_before) == trainer.iteration  # rows past the checkpoint were dropped
    trainer.run()
    iterations = [r["iteration"] for r in read_metrics(tmp_path)]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 4
    turns = [json.loads(line) for line in (tmp_path / "advantages.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in turns] == [1, 2, 3, 4]  # the killed iteration's row was dropped with its metrics
    ids = [e.episode_id for e in read_episodes(tmp_path)]  # the killed iteration's episodes were played again
    assert len(ids) == 4 * 2 * 4 and {e.iteration for e in read_episodes(tmp_path)} == {1, 2, 3, 4}
    assert json.loads((latest_checkpoint(tmp_path) / "meta.json").read_text())["iteration"] == 4


def test_a_run_killed_before_its_first_checkpoint_resumes_as_a_fresh_run(tmp_path):
    """Without a checkpoint, resuming starts over, initial evaluation included: one row per iteration, and the same
    numbers as a run never killed (reusing the stored evaluation would skip its sampling and shift every later draw).
    """
    extra = ("loop.iterations=2", "loop.eval_every=2", "loop.eval_tasks=4", "loop.tasks_per_iter=2",
             "rollout.samples=4", "loop.checkpoint_every=0")
    fresh = Trainer(_config(tmp_path / "fresh", *extra), progress=False).run()
    killed = Trainer(_config(tmp_path / "killed", *extra), progress=False)
    killed.logger.log({"iteration": 0, **killed.evaluate()})  # the initial evaluation and one iteration, no checkpoint
    killed.step()
    killed.close()
    resumed = Trainer(_config(tmp_path / "killed", *extra, "output.resume=true"), progress=False)
    assert resumed.resumed_from is None
    resumed.run()
    rows = read_metrics(tmp_path / "killed")
    assert [r["iteration"] for r in rows] == [0, 1, 2]

    def results(row: dict) -> str:  # as JSON, so that NaN equals NaN
        return json.dumps({k: v for k, v in row.items() if not k.endswith(("time_s", "per_s"))}, sort_keys=True)

    assert [results(r) for r in rows] == [results(r) for r in fresh]
    assert len(read_episodes(tmp_path / "killed")) == len(read_episodes(tmp_path / "fresh")) == 4 + 2 * 2 * 4 + 4


def test_config_files_overrides_and_old_keys(tmp_path):
    cfg = load_config(TrainConfig, [str(CONFIG), "learner.lr=3e-3", "env.kwargs={n_rooms: 3}"])
    assert cfg.learner.lr == 3e-3 and cfg.env.kwargs == {"n_rooms": 3} and cfg.policy.name == "tiny"
    with pytest.raises(ValueError):
        load_config(TrainConfig, ["learner.no_such_key=1"])
    with pytest.raises(FileNotFoundError):
        load_config(TrainConfig, [str(tmp_path / "missing.yaml")])
    (tmp_path / "c.yaml").write_text(to_yaml(cfg))
    assert load_config(TrainConfig, [str(tmp_path / "c.yaml")]) == cfg  # a dumped config round-trips
    old = tmp_path / "old.yaml"  # the training config of earlier releases still loads, with a warning
    old.write_text("env: {prompt: '{observation}', train_split: train}\nmodel: {kind: smollm2}\n"
                   "rollout: {group_size: 4, temperature: 0.9}\nloop: {output_dir: runs/x}\n")
    with pytest.warns(DeprecationWarning, match="rollout.group_size -> rollout.samples"):
        upgraded = load_config(TrainConfig, [str(old)])
    assert (upgraded.rollout.samples, upgraded.policy.temperature, upgraded.output.dir) == (4, 0.9, "runs/x")
    assert (upgraded.policy.name, upgraded.model.name, upgraded.prompt.template) == ("smollm2", "smollm2",
                                                                                   "{observation}")
    with pytest.raises(ValueError, match="2 tokens, not one"):
        Trainer(_config(tmp_path / "t", "policy.allowed_tokens=[A, BC]"), progress=False)


@pytest.mark.slow
def test_smollm2_lora_config_constrains_to_single_door_tokens():
    from transformers import AutoTokenizer

    from harness.models.smollm2 import ensure_checkpoint
    from harness.policies.local import single_token_ids

    cfg = load_config(TrainConfig, [str(CONFIG.with_name("doors_smollm2_lora.yaml"))])
    assert (cfg.policy.name, cfg.model.lora_rank) == ("smollm2", 8)
    tokenizer = AutoTokenizer.from_pretrained(str(ensure_checkpoint()))
    ids = single_token_ids(tokenizer, cfg.policy.allowed_tokens)
    assert len(set(ids)) == 4 and tokenizer.decode(ids) == "ABCD"


def test_cli_dry_run_presets_and_errors():
    out = subprocess.run([sys.executable, "-m", "harness.train", "-c", str(CONFIG), "--learner", "aem", "--dry-run",
                          "--seed", "7"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "modulator: aem" in out.stdout and "seed: 7" in out.stdout
    default = subprocess.run([sys.executable, "-m", "harness.train", "--learner", "grpo", "--dry-run"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert default.returncode == 0 and to_yaml(load_config(TrainConfig, [str(CONFIG)])) == default.stdout.strip() + "\n"
    for args, message in ((["learner.bogus=1"], "invalid config"), (["--learner", "ppo_magic"], "unknown learner"),
                          (["--resume"], "--resume needs --out")):
        bad = subprocess.run([sys.executable, "-m", "harness.train", *args, "--dry-run"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_training_runs_get_their_own_directories_and_never_resume_unasked(tmp_path):
    """`train --learner grpo` after `train --learner aem` used to resume the AEM run and relabel it GRPO."""
    from typer.testing import CliRunner

    from harness.cli import app

    runner = CliRunner()
    common = ["--iterations", "1", "loop.eval_every=0", "loop.tasks_per_iter=2", "rollout.samples=2"]
    aem_run = runner.invoke(app, ["train", "--learner", "aem", "-o", str(tmp_path / "a"), *common])
    assert aem_run.exit_code == 0, aem_run.output
    clash = runner.invoke(app, ["train", "--learner", "grpo", "-o", str(tmp_path / "a"), *common])
    assert clash.exit_code == 2 and "already holds a run" in clash.output
    relabel = runner.invoke(app, ["train", "--learner", "grpo", "-o", str(tmp_path / "a"), "--resume", *common])
    assert relabel.exit_code == 2 and "learner.modulator: 'aem' -> 'none'" in relabel.output
    more = runner.invoke(app, ["train", "-o", str(tmp_path / "a"), "--resume", "--iterations", "2"])
    assert more.exit_code == 0 and "resumed from" in more.output, more.output
    header = read_run_config(tmp_path / "a")
    assert header["command"] == "train" and header["config"]["learner"]["modulator"] == "aem"
    assert max(r["iteration"] for r in read_metrics(tmp_path / "a")) == 2
    report = runner.invoke(app, ["report", str(tmp_path / "a")])
    assert report.exit_code == 0 and "Training run a" in report.output and "train/success" in report.output
    assert (tmp_path / "a" / "curves.png").stat().st_size > 1000 and (tmp_path / "a" / "report.md").is_file()
