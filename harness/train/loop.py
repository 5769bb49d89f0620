"""The training loop: sample tasks → G rollouts each (training temperature) → learner update → periodic evaluation
(evaluation temperature) → checkpoint.

A training run is a run directory like any other (`harness.storage`): `config.json`, every rollout and evaluation
episode in `episodes.jsonl` (with its `iteration` and `phase`), plus `metrics.jsonl` (one row per iteration) and
`checkpoints/`. `output.resume` continues from the last checkpoint, refusing a configuration that changes results.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.config import TrainConfig
from harness.prompting import PromptBuilder
from harness.provenance import run_provenance
from harness.rollout import EpisodeSpec, make_executor, run_episodes
from harness.rollout.env_executors import executor_kwargs, resolve_executor_name
from harness.storage import RunStore, new_run_dir
from harness.tasks import resolve_env_id, task_ids
from harness.train.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from harness.train.learner import LocalLearner
from harness.train.metrics import MetricsLogger, rollout_metrics
from harness.types import Episode


def run_label(config: TrainConfig) -> str:
    """A short name for the run directory: env, base estimator and modulator."""
    learner = config.learner
    method = learner.advantage if learner.modulator == "none" else f"{learner.advantage}+{learner.modulator}"
    return f"{config.env.id.split('/')[-1].removesuffix('-v0').lower()}-{method}"


class Trainer:
    """Runs a `TrainConfig`: `Trainer(config).run()`.

    Args:
        config: the run configuration; `output.dir` None makes a new directory under `runs/train/`.
        progress: print one line per iteration.
    """

    def __init__(self, config: TrainConfig, *, progress: bool = True):
        from harness.models import load_model
        from harness.policies import build_policy
        from harness.policies.local import LocalPolicy

        self.config = config
        self.progress = progress
        torch.set_num_threads(max(1, config.loop.threads))
        seed = config.loop.seed
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self.env_id = resolve_env_id(config.env.id)
        self.env_kwargs = config.env.make_kwargs()
        self.train_tasks = task_ids(self.env_id, self.env_kwargs, config.env.split)[1]
        self.eval_tasks = task_ids(self.env_id, self.env_kwargs, config.env.eval_split)[1][: config.loop.eval_tasks]
        resume = config.output.resume
        self.run_dir = Path(config.output.dir) if config.output.dir else new_run_dir("runs/train", run_label(config))
        header = {"command": "train", "config": config.model_dump(mode="json"), "task_ids": self.train_tasks,
                  "eval_task_ids": self.eval_tasks, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "provenance": run_provenance(self.env_id, self.env_kwargs, self.train_tasks + self.eval_tasks)}
        self.store = RunStore(self.run_dir, header=header, resume=resume)
        self.policy: Any = build_policy(config.policy, config.model, concurrency=config.rollout.concurrency)
        if isinstance(self.policy, LocalPolicy):
            self.model, self.tokenizer = self.policy.model, self.policy.tokenizer
            allowed = self.policy.allowed_token_ids
        else:  # rollouts from a server; the local copy is the one updated (sync the server's weights yourself)
            self.model, self.tokenizer = load_model(str(config.model.name), config.model)
            if config.policy.allowed_tokens is not None:
                raise ValueError("policy.allowed_tokens needs a local policy (a server samples unconstrained)")
            allowed = None
        self.warm_start: dict[str, Any] | None = None
        if config.model.warm_start_steps > 0:  # before the learner: its optimizer and reference see these weights
            from harness.train.warmstart import WarmStartConfig, warm_start

            self.warm_start = warm_start(self.model, self.tokenizer, WarmStartConfig(
                env_id=self.env_id, env_kwargs=dict(config.env.kwargs), steps=config.model.warm_start_steps,
                seed=config.model.seed))
        self.learner = LocalLearner(self.model, self.tokenizer, config.learner,
                                    temperature=config.policy.temperature or 1.0, seed=seed,
                                    bf16=config.model.dtype == "bfloat16", total_iterations=config.loop.iterations,
                                    allowed_token_ids=allowed)
        self.task_rng = np.random.default_rng(seed)
        import agent_envs

        self.builder = PromptBuilder(agent_envs.env_class(self.env_id), config.prompt)
        ro = config.rollout
        name = resolve_executor_name(ro.executor, self.env_id)
        self.executor = make_executor(name, **executor_kwargs(name, ro.concurrency, ro.workers, ro.step_timeout_s))
        self.iteration = 0
        self.logger = MetricsLogger(self.run_dir, tensorboard=config.loop.tensorboard, wandb=config.loop.wandb,
                                    config=config.model_dump(mode="json"))
        self.resumed_from: Path | None = None
        if resume and (ckpt := latest_checkpoint(self.run_dir)) is not None:
            self.load(ckpt)
        # What a killed iteration left after the checkpoint is played again; without a checkpoint everything is, the
        # initial evaluation included (reusing its stored episodes would skip its sampling and shift later draws).
        done = self.iteration if self.resumed_from is not None else -1
        self.logger.truncate_after(done)
        self.store.keep_only(lambda record: (record.get("iteration") or 0) <= done)

    # ----- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs."""
        state = {"iteration": self.iteration, "learner": self.learner.state_dict(), "rng": rng_state(),
                 "task_rng": self.task_rng.bit_generator.state}
        if hasattr(self.policy, "generator"):
            state["sampler_rng"] = self.policy.generator.get_state()
        return state

    def load(self, path: Path) -> None:
        """Restore the state saved in checkpoint folder `path`."""
        state = load_checkpoint(path)
        self.learner.load_state_dict(state["learner"])
        set_rng_state(state["rng"])
        self.task_rng.bit_generator.state = state["task_rng"]
        if "sampler_rng" in state and hasattr(self.policy, "generator"):
            self.policy.generator.set_state(state["sampler_rng"])
        self.iteration = int(state["iteration"])
        self.resumed_from = path

    def save(self) -> Path:
        """Checkpoint the current iteration."""
        return save_checkpoint(self.run_dir, self.iteration, self.state_dict(), keep=self.config.loop.keep_checkpoints)

    # ----- rollouts -----------------------------------------------------------------------------------------------
    def _play(self, specs: list[EpisodeSpec], temperature: float) -> list[Episode]:
        if hasattr(self.policy, "set_temperature"):
            self.policy.set_temperature(temperature)
        return asyncio.run(run_episodes(self.env_id, self.env_kwargs, self.policy, specs, prompt=self.builder,
                                        concurrency=self.config.rollout.concurrency, store=self.store,
                                        executor=self.executor, progress=False))

    def train_specs(self) -> list[EpisodeSpec]:
        """This iteration's episodes: `loop.tasks_per_iter` tasks × `rollout.samples` samples."""
        cfg = self.config
        iteration = self.iteration + 1
        picks = self.task_rng.choice(len(self.train_tasks), size=cfg.loop.tasks_per_iter, replace=False)
        return [EpisodeSpec(task_id=self.train_tasks[int(t)], group_id=f"it{iteration}-g{k}", sample_index=j,
                            seed=int(self.task_rng.integers(2**31)), iteration=iteration, phase="train")
                for k, t in enumerate(picks) for j in range(cfg.rollout.samples)]

    def evaluate(self) -> dict[str, float]:
        """One episode per evaluation task at the evaluation temperature."""
        specs = [EpisodeSpec(task_id=t, group_id=f"eval{self.iteration}-{t}", seed=i, iteration=self.iteration,
                             phase="eval")
                 for i, t in enumerate(self.eval_tasks)]
        self.model.eval()
        return rollout_metrics(self._play(specs, self.config.loop.eval_temperature), "eval/")

    # ----- the loop -----------------------------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        """One iteration: rollouts, update, (evaluation), checkpoint. Returns the metrics row."""
        cfg = self.config
        started = time.perf_counter()
        gen_tokens0 = getattr(self.policy, "generated_tokens", 0)
        gen_time0 = getattr(self.policy, "generation_time_s", 0.0)
        episodes = self._play(self.train_specs(), cfg.policy.temperature or 1.0)
        rollout_s = time.perf_counter() - started
        failed = [e for e in episodes if e.status != "ok"]
        if failed and len(failed) == len(episodes):
            raise RuntimeError(f"every rollout of iteration {self.iteration + 1} failed; first:\n{failed[0].error}")
        if failed and self.progress:
            print(f"[train] {len(failed)} of {len(episodes)} episodes failed; first: {(failed[0].error or '')[-500:]}",
                  flush=True)
        row: dict[str, Any] = {"iteration": self.iteration + 1}
        row.update(rollout_metrics(episodes, "train/"))
        row["rollout_time_s"] = rollout_s
        gen_time = getattr(self.policy, "generation_time_s", 0.0) - gen_time0
        if gen_time > 0:
            row["gen_tokens_per_s"] = (self.policy.generated_tokens - gen_tokens0) / gen_time
        row.update({f"learner/{k}": v for k, v in self.learner.update(episodes).items()})
        self.logger.log_turns(self.iteration + 1, getattr(self.learner, "last_turns", {}))
        self.iteration += 1
        every = cfg.loop.eval_every
        if every > 0 and (self.iteration % every == 0 or self.iteration == cfg.loop.iterations):
            row.update(self.evaluate())
        row["iteration_time_s"] = time.perf_counter() - started
        self.logger.log(row)
        if cfg.loop.checkpoint_every > 0 and (self.iteration % cfg.loop.checkpoint_every == 0
                                              or self.iteration == cfg.loop.iterations):
            self.save()
        if self.progress:
            shown = {k: row[k] for k in ("train/success", "eval/success", "learner/token_entropy",
                                         "learner/response_entropy", "learner/alpha_std", "iteration_time_s")
                     if k in row}
            print(f"[train] iter {self.iteration}/{cfg.loop.iterations} "
                  + " ".join(f"{k}={v:.3g}" for k, v in shown.items()), flush=True)
        return row

    def run(self) -> list[dict[str, Any]]:
        """Run the remaining iterations (an initial evaluation is logged as iteration 0 on a fresh run)."""
        rows = []
        try:
            if self.iteration == 0 and self.config.loop.eval_every > 0:
                initial = {"iteration": 0, **self.evaluate()}
                self.logger.log(initial)
                rows.append(initial)
            while self.iteration < self.config.loop.iterations:
                rows.append(self.step())
        finally:
            self.close()
        return rows

    def close(self) -> None:
        """Stop the env executor and close the store and the metric sinks (idempotent)."""
        if hasattr(self.executor, "shutdown"):
            self.executor.shutdown()
        self.store.close()
        self.logger.close()
