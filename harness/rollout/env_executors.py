"""Where envs live while the async runner drives them: `EnvExecutor.open(env_id, kwargs) -> EnvHandle`.

- `thread`: the env in this process, its calls in a thread pool (the event loop never blocks); for envs that wait on
  I/O (SWE-bench sandboxes, a browser);
- `inline`: calls straight on the event loop (only for envs whose steps take microseconds, e.g. Doors);
- `process`: the env in a worker process of `harness.rollout.workers.EnvWorkerPool`, for engines whose calls hold a
  process-wide lock (ALFWorld's TextWorld): processes are the only parallelism they have;
- `ray`: `harness.rollout.ray_executor:RayExecutor` (env-hosting Ray actors, on a cluster);
- `auto`: the env class's own choice (`TextEnv.executor_hint`);
- or any dotted path to a class.

One executor serves a whole run or training job. Envs outlive episodes: a handle closed after a finished episode goes
back to an idle pool and the next episode with the same env id and kwargs resets it to its task (the Gymnasium way),
so an engine loads once per env, not once per episode. An env whose episode failed is closed, never reused. A step
that outlives `step_timeout_s` fails its episode; a process worker stuck in it is replaced.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

from agent_envs.errors import EnvUnavailable

EXECUTORS: dict[str, str] = {
    "thread": "harness.rollout.env_executors:ThreadExecutor",
    "inline": "harness.rollout.env_executors:InlineExecutor",
    "process": "harness.rollout.env_executors:ProcessExecutor",
    "ray": "harness.rollout.ray_executor:RayExecutor",
}


@runtime_checkable
class EnvHandle(Protocol):
    """One live env."""

    async def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        """`env.reset`."""
        ...

    async def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        """`env.step`."""
        ...

    async def close(self, *, reuse: bool = True) -> None:
        """Give the env back: kept for the next episode when `reuse` and it is healthy, else closed (idempotent)."""
        ...


@runtime_checkable
class EnvExecutor(Protocol):
    """Opens env handles. May also define `shutdown()`, called by whoever created the executor."""

    async def open(self, env_id: str, kwargs: dict[str, Any]) -> EnvHandle:
        """An env made with `gymnasium.make(env_id, **kwargs)` (or an idle one made so) wherever the executor keeps
        envs.
        """
        ...


class EnvTimeout(EnvUnavailable):
    """An env call took longer than the executor's `step_timeout_s`."""


def make_env(env_id: str, kwargs: dict[str, Any]) -> Any:
    """`gymnasium.make(env_id, **kwargs)` with the built-in ids registered."""
    import gymnasium as gym

    import agent_envs  # noqa: F401 - registers the built-in ids

    return gym.make(env_id, **kwargs)


def _pool_key(env_id: str, kwargs: dict[str, Any]) -> str:
    return env_id + json.dumps(kwargs, sort_keys=True, default=repr)


class _Handle:
    """An open env of a `PooledExecutor`: `raw` is whatever the executor uses to reach it."""

    def __init__(self, executor: PooledExecutor, key: str, raw: Any):
        self.executor, self.key, self.raw = executor, key, raw
        self.broken = False  # a call failed: the env's state is unknown, never reuse it
        self.timed_out = False  # a call hung: the env is abandoned (its worker replaced), not even closed
        self.closed = False

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        timeout = self.executor.step_timeout_s
        try:
            return await asyncio.wait_for(self.executor.call(self.raw, method, *args, **kwargs), timeout)
        except asyncio.TimeoutError:
            self.broken = self.timed_out = True
            self.executor.abandon(self.raw)
            raise EnvTimeout(f"env {method} took longer than {timeout} s (step_timeout_s); the env was abandoned") \
                from None
        except BaseException:
            self.broken = True
            raise

    async def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        return await self._call("reset", seed=seed, options=options)

    async def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        return await self._call("step", action)

    async def close(self, *, reuse: bool = True) -> None:
        if self.closed or self.timed_out:
            return
        self.closed = True
        await self.executor.release(self.key, self.raw, reuse=reuse and not self.broken)


class PooledExecutor:
    """The pooling every built-in executor shares; subclasses say how envs are made, called and closed.

    Args:
        max_idle: most idle envs kept per (env id, kwargs); more are closed.
        step_timeout_s: limit of each reset / step (None: none).
    """

    def __init__(self, *, max_idle: int = 256, step_timeout_s: float | None = None):
        self.max_idle, self.step_timeout_s = max_idle, step_timeout_s
        self._idle: dict[str, list[Any]] = {}
        self._idle_lock = threading.Lock()
        self.made = self.reused = 0

    # ----- what a subclass provides -------------------------------------------------------------------------------
    async def create(self, env_id: str, kwargs: dict[str, Any]) -> Any:
        """Make an env; returns how to reach it."""
        raise NotImplementedError

    async def call(self, raw: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `method` on the env."""
        raise NotImplementedError

    async def destroy(self, raw: Any) -> None:
        """Close the env."""
        raise NotImplementedError

    def alive(self, raw: Any) -> bool:
        """Whether an idle env can still be used (its worker is running)."""
        return True

    def abandon(self, raw: Any) -> None:
        """An env call hung: free what it holds if possible (a process worker is replaced)."""

    def destroy_now(self, raw: Any) -> None:
        """Close an idle env at shutdown (synchronously)."""

    # ----- the pool -----------------------------------------------------------------------------------------------
    async def open(self, env_id: str, kwargs: dict[str, Any]) -> EnvHandle:
        """An idle env made with the same id and kwargs, else a new one."""
        key = _pool_key(env_id, kwargs)
        raw = None
        with self._idle_lock:
            idle = self._idle.get(key, [])
            while idle and raw is None:
                candidate = idle.pop()
                raw = candidate if self.alive(candidate) else None
        if raw is None:
            raw = await self.create(env_id, dict(kwargs))
            self.made += 1
        else:
            self.reused += 1
        return _Handle(self, key, raw)

    async def release(self, key: str, raw: Any, *, reuse: bool) -> None:
        """Back to the idle pool, or closed."""
        if reuse and self.alive(raw):
            with self._idle_lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.max_idle:
                    idle.append(raw)
                    return
        await self.destroy(raw)

    def _drain_idle(self) -> list[Any]:
        with self._idle_lock:
            idle = [raw for envs in self._idle.values() for raw in envs]
            self._idle.clear()
        return idle

    def idle_count(self) -> int:
        """Envs waiting for their next episode."""
        with self._idle_lock:
            return sum(len(envs) for envs in self._idle.values())


class ThreadExecutor(PooledExecutor):
    """Envs in this process; every env call runs in a pool of `max_workers` threads (one per episode in flight)."""

    def __init__(self, max_workers: int = 16, **kwargs: Any):
        super().__init__(**kwargs)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="env")

    async def _run(self, fn: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def create(self, env_id: str, kwargs: dict[str, Any]) -> Any:
        """Make the env in a pool thread."""
        return await self._run(functools.partial(make_env, env_id, kwargs))

    async def call(self, raw: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run the call in a pool thread."""
        return await self._run(functools.partial(getattr(raw, method), *args, **kwargs))

    async def destroy(self, raw: Any) -> None:
        """Close the env in a pool thread."""
        await self._run(raw.close)

    def shutdown(self) -> None:
        """Close the idle envs and stop the threads (a thread stuck in a hung env call is left to finish)."""
        for env in self._drain_idle():
            try:
                env.close()
            except Exception:  # noqa: BLE001 - shutting down: close what can be closed
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)


class InlineExecutor(PooledExecutor):
    """Envs called directly on the event loop: no thread hop, so only for envs with microsecond steps."""

    async def create(self, env_id: str, kwargs: dict[str, Any]) -> Any:
        """Make the env right here."""
        return make_env(env_id, kwargs)

    async def call(self, raw: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call it right here."""
        return getattr(raw, method)(*args, **kwargs)

    async def destroy(self, raw: Any) -> None:
        """Close it right here."""
        raw.close()

    def shutdown(self) -> None:
        """Close the idle envs."""
        for env in self._drain_idle():
            env.close()


class ProcessExecutor(PooledExecutor):
    """Envs in `n_workers` worker processes (`harness.rollout.workers.EnvWorkerPool`, started on first use; a worker
    that died is replaced).
    """

    def __init__(self, n_workers: int = 2, **kwargs: Any):
        super().__init__(**kwargs)
        self.n_workers = n_workers
        self._pool: Any = None
        self._pool_lock = threading.Lock()  # episodes opening at once must share one pool, not start one each

    def _ensure_pool(self) -> Any:
        with self._pool_lock:
            if self._pool is None:
                from harness.rollout.workers import EnvWorkerPool

                self._pool = EnvWorkerPool(self.n_workers)
            return self._pool

    async def create(self, env_id: str, kwargs: dict[str, Any]) -> Any:
        """Make the env in the least loaded worker."""
        # starting processes takes a moment: off the event loop
        pool = await asyncio.get_running_loop().run_in_executor(None, self._ensure_pool)
        handle, ready = pool.open(env_id, kwargs)
        try:
            await asyncio.wrap_future(ready)
        except BaseException:
            pool.release(handle)
            raise
        return handle

    async def call(self, raw: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Send the call to the env's worker."""
        return await asyncio.wrap_future(self._pool.call(raw, method, *args, **kwargs))

    async def destroy(self, raw: Any) -> None:
        """Close the env in its worker."""
        await asyncio.wrap_future(self._pool.release(raw))

    def alive(self, raw: Any) -> bool:
        """The env's worker is still the one that made it, and running."""
        return self._pool is not None and self._pool.is_alive(raw)

    def abandon(self, raw: Any) -> None:
        """Kill the worker stuck in the env's call; a fresh one takes its place (its other envs fail their calls)."""
        if self._pool is not None:
            self._pool.replace_worker_of(raw)

    def shutdown(self) -> None:
        """Stop the worker processes (they close their envs)."""
        self._drain_idle()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None


def resolve_executor_name(name: str, env_id: str) -> str:
    """`auto` becomes the env class's `executor_hint`; other names are returned as they are."""
    if name != "auto":
        return name
    import agent_envs

    return str(getattr(agent_envs.env_class(env_id), "executor_hint", "thread"))


def executor_kwargs(name: str, concurrency: int, workers: int | None = None,
                    step_timeout_s: float | None = None) -> dict[str, Any]:
    """Constructor arguments that size built-in executor `name` for `concurrency` episodes in flight: one thread per
    episode; worker processes = `workers`, else min(concurrency, cores) — the bound on processes.
    """
    kwargs: dict[str, Any] = {"step_timeout_s": step_timeout_s, "max_idle": max(1, concurrency)}
    if name == "thread":
        kwargs["max_workers"] = max(1, concurrency)
    elif name == "process":
        kwargs["n_workers"] = max(1, workers or min(concurrency, os.cpu_count() or 1))
    elif name == "ray":
        kwargs["n_actors"] = workers
    elif name != "inline":
        return {}
    return kwargs


def make_executor(spec: str | EnvExecutor, **kwargs: Any) -> EnvExecutor:
    """An executor from a name in `EXECUTORS`, a dotted path, or an instance (returned as is)."""
    if not isinstance(spec, str):
        return spec
    from harness.policies import import_object

    path = EXECUTORS.get(spec, spec)
    if path == spec and "." not in spec:
        raise ValueError(f"unknown executor {spec!r}; known: auto, {', '.join(EXECUTORS)}, or a dotted path")
    return import_object(path)(**kwargs)
