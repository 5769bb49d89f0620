"""The one episode gatherer of bench and train: many episodes at once, each on an env of the executor (reused across
episodes), records streamed to a `RunStore`.

    specs = [EpisodeSpec(task_id=t, group_id=t, sample_index=i) for t in task_ids for i in range(G)]
    episodes = run_episodes_sync("agent_envs/Doors-v0", {}, policy, specs, concurrency=32)

Env calls run off the event loop (see `env_executors`); an exception in an env or a policy marks that episode
`status="error"` with the traceback and the run goes on. With a store, finished episodes are appended as they
complete and episodes already in the store are not played again (resume; error episodes are played again unless
`retry_errors=False`).
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.config import PromptSection
from harness.prompting import PromptBuilder
from harness.rollout.env_executors import (
    EnvExecutor,
    EnvHandle,
    executor_kwargs,
    make_executor,
    resolve_executor_name,
)
from harness.rollout.episode import run_episode
from harness.storage import RunStore
from harness.types import Episode, Policy, Turn


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to play: a task, its group (the G samples of a task share `group_id`) and its index in the group."""

    task_id: str
    group_id: str
    sample_index: int = 0
    seed: int | None = None
    split: str | None = None
    iteration: int | None = None  # training: the iteration it belongs to (stored with the episode)
    phase: str | None = None  # training: "train" or "eval"

    @property
    def episode_id(self) -> str:
        """Unique within a run: `<group_id>/<sample_index>`."""
        return f"{self.group_id}/{self.sample_index}"


def _error_episode(spec: EpisodeSpec, env_id: str, exc: BaseException) -> Episode:
    return Episode(
        episode_id=spec.episode_id, env_id=env_id, task_id=spec.task_id, group_id=spec.group_id,
        sample_index=spec.sample_index, turns=[], total_reward=0.0, success=False, score=0.0, status="error",
        error="".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:],
        iteration=spec.iteration, phase=spec.phase,
    )


async def play_spec(
    spec: EpisodeSpec, env_id: str, env_kwargs: dict, policy: Policy, builder: PromptBuilder, executor: EnvExecutor,
    on_turn: Callable[[Turn], None] | None = None,
) -> Episode:
    """Take an env from `executor`, play `spec` and give the env back (kept for the next episode only when this one
    ended normally); an env that fails to start gives an `error` episode.
    """
    handle: EnvHandle | None = None
    episode: Episode | None = None
    try:
        handle = await executor.open(env_id, env_kwargs)
        options = {"split": spec.split} if spec.split else None
        episode = await run_episode(
            handle, policy, builder, env_id=env_id, episode_id=spec.episode_id, task_id=spec.task_id,
            group_id=spec.group_id, sample_index=spec.sample_index, seed=spec.seed, options=options, on_turn=on_turn,
        )
        episode.iteration, episode.phase = spec.iteration, spec.phase
        return episode
    except Exception as exc:  # noqa: BLE001 - env construction failed: mark the episode, keep going
        return _error_episode(spec, env_id, exc)
    finally:
        if handle is not None:
            try:
                await handle.close(reuse=episode is not None and episode.status == "ok")
            except Exception:  # noqa: BLE001 - a failing close must not lose the episode
                pass


async def run_episodes(
    env_id: str,
    env_kwargs: dict[str, Any],
    policy: Policy,
    specs: list[EpisodeSpec],
    *,
    prompt: PromptSection | PromptBuilder | None = None,
    concurrency: int = 8,
    store: RunStore | None = None,
    executor: str | EnvExecutor = "auto",
    retry_errors: bool = True,
    progress: bool = True,
) -> list[Episode]:
    """Play `specs` with at most `concurrency` episodes in flight; returns the episodes in `specs` order.

    Args:
        env_id: a registered id, e.g. "agent_envs/Doors-v0".
        env_kwargs: keyword arguments for `gymnasium.make` (may include `max_episode_steps`).
        policy: the policy; if it has `needs_expert = True`, envs are made with `expert=True`.
        specs: the episodes; episode ids (`group_id/sample_index`) must be unique.
        prompt: the prompt section (or a ready `PromptBuilder`).
        concurrency: most episodes in flight.
        store: where finished episodes are appended; episodes already in it are returned, not replayed.
        executor: "auto", "thread", "inline", "process", "ray", a dotted path, or an `EnvExecutor` instance (an
            instance is left running for the caller; a name is started and shut down here).
        retry_errors: play again the stored episodes whose status is `error` (an endpoint that was down, a sandbox
            that did not start, ...).
        progress: show a progress bar on stderr.
    """
    ids = [s.episode_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("episode ids (group_id/sample_index) must be unique within a run")
    import agent_envs

    builder = prompt if isinstance(prompt, PromptBuilder) else PromptBuilder(agent_envs.env_class(env_id), prompt)
    env_kwargs = dict(env_kwargs)
    if getattr(policy, "needs_expert", False):
        env_kwargs["expert"] = True
    done: dict[str, Episode] = {}
    if store is not None:
        done = store.load(store.finished_ids(include_errors=not retry_errors) & set(ids))
    todo = [s for s in specs if s.episode_id not in done]
    owned = isinstance(executor, str)
    if isinstance(executor, str):
        name = resolve_executor_name(executor, env_id)
        env_executor = make_executor(name, **executor_kwargs(name, concurrency))
    else:
        env_executor = executor
    semaphore = asyncio.Semaphore(max(1, concurrency))
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc=env_id.split("/")[-1], unit="ep",
                   file=sys.stderr, dynamic_ncols=True)
    progress_state = {"turns": 0, "tokens": 0, "successes": 0, "errors": 0, "shown": 0.0, "start": time.perf_counter()}

    def show(force: bool = False) -> None:  # per turn, at most twice a second
        now = time.perf_counter()
        if bar is None or (not force and now - progress_state["shown"] < 0.5):
            return
        progress_state["shown"] = now
        elapsed = max(1e-9, now - progress_state["start"])
        bar.set_postfix({"turns": progress_state["turns"], "turns/s": f"{progress_state['turns'] / elapsed:.1f}",
                         "tok/s": f"{progress_state['tokens'] / elapsed:.0f}",
                         "success": progress_state["successes"], "errors": progress_state["errors"]}, refresh=False)
        bar.refresh()

    def on_turn(turn: Turn) -> None:
        progress_state["turns"] += 1
        usage = turn.response.usage.get("completion_tokens", 0)
        progress_state["tokens"] += len(turn.response.token_ids or ()) or usage
        show()

    async def one(spec: EpisodeSpec) -> None:
        async with semaphore:
            episode = await play_spec(spec, env_id, env_kwargs, policy, builder, env_executor,
                                      on_turn if bar is not None else None)
        if store is not None:
            store.append(episode)
        done[spec.episode_id] = episode
        if bar is not None:
            progress_state["successes"] += int(episode.success)
            progress_state["errors"] += int(episode.status == "error")
            bar.update(1)
            show(force=True)

    try:
        await asyncio.gather(*(one(s) for s in todo))
    finally:
        if bar is not None:
            bar.close()
        if owned and hasattr(env_executor, "shutdown"):
            env_executor.shutdown()
    return [done[i] for i in ids]


def run_episodes_sync(*args: Any, **kwargs: Any) -> list[Episode]:
    """`run_episodes` in a fresh event loop (for scripts and trainers that are not async)."""
    return asyncio.run(run_episodes(*args, **kwargs))
