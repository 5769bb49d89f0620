"""verl agent loop `aemgym_env`: multi-turn episodes of any `agent_envs` env inside verl's async rollout.

verl imports this module in every worker through `VERL_USE_EXTERNAL_MODULES=harness.verl.agent_loop` (together with
`aem.adapters.verl` for the `aem` advantage estimator and `harness.verl.trainer_hooks`), then selects the loop per
dataset row via its `agent_name` column. Each row's `extra_info` names the env and task
(`harness.verl.launch.write_dataset` writes such rows).

One trajectory = one sample (verl's agent-loop layout, as rLLM/DeepSWE): prompt = the first observation, response =
all assistant turns with the env's replies in between (mask 0). The `aem` estimator finds the turns as the runs of
ones of that mask and gives each its own α. Requires verl 0.9.x (`.venv-verl`).

Env calls never block verl's event loop: `gym.make`, `reset`, `step` and `close` run in a thread pool shared by all
trajectories of this worker process (`harness.rollout.env_executors.ThreadExecutor`), sized to the trajectories one
`AgentLoopWorker` runs at once, so a slow env (SWE-bench grading takes minutes) stalls only its own trajectory.
Threads, not processes: the slow envs wait on subprocesses or containers (GIL released), and env state stays in
this process. Idle threads cost nothing; a validation batch larger than the pool queues its env calls.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput, register

from harness.rollout.env_executors import ThreadExecutor
from harness.verl.multiturn import ChatTokens, play_token_episode

AGENT_NAME = "aemgym_env"
#: Overrides the env thread-pool size of each agent-loop worker process.
POOL_SIZE_VAR = "AEMGYM_VERL_ENV_THREADS"
_executors: dict[int, ThreadExecutor] = {}


def env_pool_size(config: Any) -> int:
    """Trajectories one `AgentLoopWorker` plays at once: its share of a training batch, `batch × n / workers`."""
    if os.environ.get(POOL_SIZE_VAR):
        return max(1, int(os.environ[POOL_SIZE_VAR]))
    rollout = config.actor_rollout_ref.rollout
    trajectories = int(config.data.train_batch_size) * int(rollout.n)
    return max(1, math.ceil(trajectories / max(1, int(rollout.agent.num_workers))))


def env_executor(size: int) -> ThreadExecutor:
    """The process-wide env thread pool of `size` threads (made on first use; verl makes one loop per trajectory)."""
    if size not in _executors:
        _executors[size] = ThreadExecutor(max_workers=size)
    return _executors[size]


def env_spec(extra_info: Any) -> dict[str, Any]:
    """The env fields of a dataset row's `extra_info` (`env_kwargs` may be a JSON string, as parquet prefers)."""
    info = dict(extra_info or {})
    if "env_id" not in info or "task_id" not in info:
        raise ValueError(f"{AGENT_NAME} rows need extra_info.env_id and extra_info.task_id, got {sorted(info)}")
    kwargs = info.get("env_kwargs") or {}
    if isinstance(kwargs, str):
        kwargs = json.loads(kwargs)
    return {"env_id": str(info["env_id"]), "task_id": str(info["task_id"]), "env_kwargs": dict(kwargs),
            "max_turns": int(info.get("max_turns", 50)), "reward_scale": float(info.get("reward_scale", 10.0)),
            "invalid_penalty": float(info.get("invalid_penalty", 0.1)),
            "system_prompt": info.get("system_prompt") or None}


@register(AGENT_NAME)
class GymEnvAgentLoop(AgentLoopBase):
    """Plays one env episode per call with the rollout server; returns the token buffer and the scalar reward."""

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        """One episode of the env named in the row's `extra_info`, sampled with `sampling_params`."""
        spec = env_spec(kwargs.get("extra_info"))
        env = await env_executor(env_pool_size(self.config)).open(spec["env_id"], spec["env_kwargs"])
        request_id = uuid4().hex  # one id per trajectory: sticky routing / prefix cache on the server

        async def generate(prompt_ids: list[int]) -> tuple[list[int], list[float] | None]:
            out = await self.server_manager.generate(request_id=request_id, prompt_ids=prompt_ids,
                                                     sampling_params=sampling_params)
            return list(out.token_ids), list(out.log_probs) if out.log_probs else None

        try:
            episode = await play_token_episode(
                env, ChatTokens(self.tokenizer, spec["system_prompt"]), generate, task_id=spec["task_id"],
                max_turns=spec["max_turns"], max_response_tokens=int(self.rollout_config.response_length))
        finally:
            await env.close()
        reward = spec["reward_scale"] * episode.total_reward - spec["invalid_penalty"] * episode.invalid_actions
        return AgentLoopOutput(
            prompt_ids=episode.prompt_ids,
            response_ids=episode.response_ids,
            response_mask=episode.response_mask,
            response_logprobs=episode.response_logprobs,
            reward_score=reward,
            num_turns=2 * episode.num_turns,
            metrics=AgentLoopMetrics(),
            extra_fields={"success": float(episode.success), "env_turns": episode.num_turns,
                          "invalid_actions": episode.invalid_actions, "turn_scores": [], "tool_rewards": []},
        )
