"""verl agent loop `aemgym_env`: multi-turn episodes of any `agent_envs` env inside verl's async rollout.

verl imports this module in every worker through `VERL_USE_EXTERNAL_MODULES=harness.verl.agent_loop` (together with
`aem.adapters.verl` for the `aem` advantage estimator), then selects the loop per dataset row via its `agent_name`
column. Each row's `extra_info` names the env and task (`harness.verl.launch.write_dataset` writes such rows).

One trajectory = one sample (verl's agent-loop layout, as rLLM/DeepSWE): prompt = the first observation, response =
all assistant turns with the env's replies in between (mask 0). AEM's response proxy then averages the token
entropies of the assistant tokens only. Requires verl 0.9.x (`.venv-verl`).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput, register

from harness.verl.multiturn import ChatTokens, play_token_episode

AGENT_NAME = "aemgym_env"


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
        import gymnasium as gym

        import agent_envs  # noqa: F401 - registers the env ids in this worker

        spec = env_spec(kwargs.get("extra_info"))
        env = gym.make(spec["env_id"], **spec["env_kwargs"])
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
            env.close()
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
