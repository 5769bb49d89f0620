"""`run_episode`: one episode of one policy on one env handle, prompted by the run's scaffold, recorded turn by turn."""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable
from typing import Any

from harness.prompting import PromptBuilder
from harness.scaffolds import ContextFull, token_counter
from harness.types import CONTEXT_EXCEEDED, Episode, EpisodeStatus, Policy, PolicyResponse, StepContext, Turn

#: A safety net for envs registered without a turn limit.
MAX_TURNS_WITHOUT_LIMIT = 1000


def json_safe(value: Any) -> Any:
    """`value` with everything JSON cannot hold turned into strings/lists (numpy scalars, sets, NaN, objects)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return json_safe(value.item())
        except (ValueError, TypeError):
            pass
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


async def run_episode(
    handle: Any,
    policy: Policy,
    builder: PromptBuilder,
    *,
    env_id: str,
    episode_id: str,
    task_id: str,
    group_id: str,
    sample_index: int = 0,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    on_turn: Callable[[Turn], None] | None = None,
) -> Episode:
    """Play one episode: reset on the task, then prompt → respond → step until terminated or truncated.

    A failing policy (an exception, or a response with `error` set) or env marks the episode `status="error"` with
    the reason; the turns played so far are kept. Never raises for those failures. A prompt that does not fit the
    context budget (or that the server refuses as too long) ends the episode with `truncation="context"`.
    `on_turn` is called after each recorded turn (progress bars).
    """
    started = time.perf_counter()
    turns: list[Turn] = []
    total_reward = 0.0
    info: dict[str, Any] = {}
    status: EpisodeStatus = "ok"
    error: str | None = None
    truncation: str | None = None
    task_type = "default"
    try:
        reset_options = {"task_id": task_id, **(options or {})}
        t0 = time.perf_counter()
        observation, info = await handle.reset(seed=seed, options=reset_options)
        reset_time = time.perf_counter() - t0
        task_type = str(info.get("task_type", "default"))
        transcript = builder.start(instruction=str(info.get("instruction") or observation), observation=observation,
                                   info=info, counter=token_counter(policy), budget=builder.budget(policy))
        for step in range(MAX_TURNS_WITHOUT_LIMIT):
            try:
                messages, kept = transcript.prompt()
            except ContextFull:
                truncation = "context"
                break
            context = StepContext(task_id=task_id, step=step, info=info, tools=transcript.tools,
                                  action_format=builder.action_format)
            response = await policy.respond(messages, context)
            if not isinstance(response, PolicyResponse):
                raise TypeError(f"policy {policy.name!r} returned {type(response).__name__}, not PolicyResponse")
            if response.error and response.finish_reason == CONTEXT_EXCEEDED:
                truncation = "context"
                break
            if response.error:
                status, error = "error", f"policy error at turn {step}: {response.error}"
                turns.append(Turn(step, messages[kept:], response, "", 0.0, False, False, {}, 0.0, kept))
                break
            action = transcript.action(response)
            t0 = time.perf_counter()
            next_obs, reward, terminated, truncated, info = await handle.step(action)
            env_time = time.perf_counter() - t0 + (reset_time if step == 0 else 0.0)
            total_reward += float(reward)
            turn = Turn(step, messages[kept:], response, next_obs, float(reward), bool(terminated), bool(truncated),
                        json_safe(info), env_time, kept, None if action == response.text else action)
            turns.append(turn)
            if on_turn is not None:
                on_turn(turn)
            if terminated or truncated:
                break
            transcript.record(response, next_obs, info)
        else:
            status, error = "error", f"no termination after {MAX_TURNS_WITHOUT_LIMIT} turns (set max_episode_steps)"
    except Exception as exc:  # noqa: BLE001 - one broken episode must not stop the run
        status = "error"
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
        remote = getattr(exc, "remote_traceback", None)
        if remote:
            error += "\n[in the env worker]\n" + remote[-4000:]
    return Episode(
        episode_id=episode_id,
        env_id=env_id,
        task_id=task_id,
        group_id=group_id,
        sample_index=sample_index,
        turns=turns,
        total_reward=total_reward,
        success=bool(info.get("success", False)),
        score=float(info.get("score", 0.0) or 0.0),
        status=status,
        error=error,
        task_type=task_type,
        wall_time_s=time.perf_counter() - started,
        truncation=truncation,
    )
