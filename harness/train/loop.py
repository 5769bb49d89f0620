"""The training loop: sample tasks → G rollouts each (temperature 1.0) → learner update → periodic evaluation
(temperature 0.4) → checkpoint. A run directory holds `config.yaml`, `metrics.jsonl` and `checkpoints/`; running
again on the same directory resumes from its last checkpoint.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.rollout import EpisodeSpec
from harness.rollout.env_executors import make_executor
from harness.train.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from harness.train.config import TrainConfig
from harness.train.generation import BatchedLocalPolicy
from harness.train.learner import LocalLearner
from harness.train.metrics import MetricsLogger, rollout_metrics
from harness.train.models import build_model
from harness.train.rollouts import make_prompt_builder, play_specs
from harness.types import Episode


def _task_ids(env_id: str, env_kwargs: dict[str, Any], split: str) -> list[str]:
    import gymnasium as gym

    import agent_envs  # noqa: F401 - registers the ids

    env = gym.make(env_id, **env_kwargs)
    try:
        return env.unwrapped.task_set.task_ids(split)
    finally:
        env.close()


class Trainer:
    """Runs a `TrainConfig`. Use `Trainer(config).run()`; `resume=True` continues from the run's last checkpoint.

    Args:
        config: the run configuration.
        resume: load `<output_dir>/checkpoints/<latest>` when present.
        progress: print one line per iteration.
    """

    def __init__(self, config: TrainConfig, *, resume: bool = True, progress: bool = True):
        self.config = config
        self.run_dir = Path(config.loop.output_dir)
        self.progress = progress
        torch.set_num_threads(max(1, config.loop.threads))
        seed = config.loop.seed
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self.model, self.tokenizer = build_model(config.model)
        ro = config.rollout
        self.allowed_token_ids = _single_token_ids(self.tokenizer, ro.allowed_tokens)
        self.policy = self._make_policy()
        self.learner = LocalLearner(self.model, self.tokenizer, config.learner, temperature=ro.temperature,
                                    seed=seed, bf16=config.model.dtype == "bfloat16",
                                    total_iterations=config.loop.iterations, allowed_token_ids=self.allowed_token_ids)
        self.task_rng = np.random.default_rng(seed)
        self.train_tasks = _task_ids(config.env.id, config.env.kwargs, config.env.train_split)
        self.eval_tasks = _task_ids(config.env.id, config.env.kwargs, config.env.eval_split)[: config.loop.eval_tasks]
        self.builder = make_prompt_builder(config.env.id, config.env.prompt, history_length=config.env.history_length,
                                           system_prompt=config.env.system_prompt)
        self.iteration = 0
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logger = MetricsLogger(self.run_dir, tensorboard=config.loop.tensorboard, wandb=config.loop.wandb,
                                    config=config.model_dump(mode="json"))
        self.resumed_from: Path | None = None
        if resume and (ckpt := latest_checkpoint(self.run_dir)) is not None:
            self.load(ckpt)
        self.logger.truncate_after(self.iteration)
        (self.run_dir / "config.yaml").write_text(config.to_yaml())

    def _make_policy(self) -> Any:
        ro = self.config.rollout
        if ro.backend == "openai":
            if ro.allowed_tokens is not None:
                raise ValueError("rollout.allowed_tokens needs the local backend (the server samples unconstrained)")
            from harness.policies.openai_compat import OpenAIPolicy

            return OpenAIPolicy(ro.server_model, ro.base_url, temperature=ro.temperature, max_tokens=ro.max_new_tokens,
                                logprobs=True, return_token_ids=True, concurrency=ro.concurrency)
        return BatchedLocalPolicy(self.model, self.tokenizer, max_new_tokens=ro.max_new_tokens,
                                  temperature=ro.temperature, max_prompt_tokens=ro.max_prompt_tokens,
                                  max_batch=ro.max_batch, seed=self.config.loop.seed,
                                  allowed_token_ids=self.allowed_token_ids)

    def _set_temperature(self, temperature: float) -> None:
        if hasattr(self.policy, "set_temperature"):
            self.policy.set_temperature(temperature)
        elif hasattr(self.policy, "sampling"):
            self.policy.sampling["temperature"] = temperature

    # ----- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs."""
        state = {"iteration": self.iteration, "learner": self.learner.state_dict(), "rng": rng_state(),
                 "task_rng": self.task_rng.bit_generator.state}
        if isinstance(self.policy, BatchedLocalPolicy):
            state["sampler_rng"] = self.policy.generator.get_state()
        return state

    def load(self, path: Path) -> None:
        """Restore the state saved in checkpoint folder `path`."""
        state = load_checkpoint(path)
        self.learner.load_state_dict(state["learner"])
        set_rng_state(state["rng"])
        self.task_rng.bit_generator.state = state["task_rng"]
        if "sampler_rng" in state and isinstance(self.policy, BatchedLocalPolicy):
            self.policy.generator.set_state(state["sampler_rng"])
        self.iteration = int(state["iteration"])
        self.resumed_from = path

    def save(self) -> Path:
        """Checkpoint the current iteration."""
        return save_checkpoint(self.run_dir, self.iteration, self.state_dict(), keep=self.config.loop.keep_checkpoints)

    # ----- rollouts -----------------------------------------------------------------------------------------------
    def _play(self, specs: list[EpisodeSpec], temperature: float) -> list[Episode]:
        cfg = self.config
        self._set_temperature(temperature)
        executor = make_executor(cfg.rollout.executor)
        try:
            return asyncio.run(play_specs(cfg.env.id, cfg.env.kwargs, self.policy, specs, self.builder, executor,
                                          concurrency=cfg.rollout.concurrency))
        finally:
            if hasattr(executor, "shutdown"):
                executor.shutdown()

    def train_specs(self) -> list[EpisodeSpec]:
        """This iteration's episodes: `tasks_per_iter` tasks × `group_size` samples."""
        ro = self.config.rollout
        picks = self.task_rng.choice(len(self.train_tasks), size=ro.tasks_per_iter, replace=False)
        return [EpisodeSpec(task_id=self.train_tasks[int(t)], group_id=f"it{self.iteration}-g{k}", sample_index=j,
                            seed=int(self.task_rng.integers(2**31)))
                for k, t in enumerate(picks) for j in range(ro.group_size)]

    def evaluate(self) -> dict[str, float]:
        """One episode per evaluation task at the evaluation temperature."""
        specs = [EpisodeSpec(task_id=t, group_id=f"eval{self.iteration}-{t}", seed=i)
                 for i, t in enumerate(self.eval_tasks)]
        self.model.eval()
        return rollout_metrics(self._play(specs, self.config.rollout.eval_temperature), "eval/")

    # ----- the loop -----------------------------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        """One iteration: rollouts, update, (evaluation), checkpoint. Returns the metrics row."""
        cfg = self.config
        started = time.perf_counter()
        gen_tokens0 = getattr(self.policy, "generated_tokens", 0)
        gen_time0 = getattr(self.policy, "generation_time_s", 0.0)
        episodes = self._play(self.train_specs(), cfg.rollout.temperature)
        rollout_s = time.perf_counter() - started
        failed = [e for e in episodes if e.status != "ok"]
        if failed and len(failed) == len(episodes):
            raise RuntimeError(f"every rollout of iteration {self.iteration + 1} failed; first:\n{failed[0].error}")
        if failed and self.progress:
            print(f"[train] {len(failed)} of {len(episodes)} episodes failed; first: {failed[0].error[-500:]}",
                  flush=True)
        row: dict[str, Any] = {"iteration": self.iteration + 1}
        row.update(rollout_metrics(episodes, "train/"))
        row["rollout_time_s"] = rollout_s
        gen_time = getattr(self.policy, "generation_time_s", 0.0) - gen_time0
        if gen_time > 0:
            row["gen_tokens_per_s"] = (self.policy.generated_tokens - gen_tokens0) / gen_time
        row.update({f"learner/{k}": v for k, v in self.learner.update(episodes).items()})
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
            self.logger.close()
        return rows


def _single_token_ids(tokenizer: Any, tokens: list[str] | None) -> list[int] | None:
    """The id of each string in `tokens` (each must be exactly one token of `tokenizer`)."""
    if tokens is None:
        return None
    ids = []
    for text in tokens:
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1:
            raise ValueError(f"rollout.allowed_tokens: {text!r} is {len(encoded)} tokens, not one")
        ids.append(int(encoded[0]))
    return ids
