"""Where envs live while the async runner drives them: `EnvExecutor.open(env_id, kwargs) -> EnvHandle`.

- `thread` (default): the env in this process, its calls in a thread pool (the event loop never blocks);
- `inline`: calls straight on the event loop (only for envs whose steps take microseconds, e.g. Doors);
- `process`: the env in a worker process of `harness.rollout.workers.EnvWorkerPool` (heavy engines whose calls hold
  a process-wide lock, like ALFWorld's TextWorld);
- `ray`: `harness.rollout.ray_executor:RayExecutor` (Ray actors; written with the trainer);
- or any dotted path to a class.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

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

    async def close(self) -> None:
        """`env.close` (idempotent)."""
        ...


@runtime_checkable
class EnvExecutor(Protocol):
    """Opens env handles. May also define `shutdown()`, called by the runner when it created the executor."""

    async def open(self, env_id: str, kwargs: dict[str, Any]) -> EnvHandle:
        """Make `env_id` with `gymnasium.make(env_id, **kwargs)` wherever this executor keeps envs."""
        ...


def _make(env_id: str, kwargs: dict[str, Any]) -> Any:
    import gymnasium as gym

    import agent_envs  # noqa: F401 - registers the built-in ids

    return gym.make(env_id, **kwargs)


class _LocalHandle:
    def __init__(self, env: Any, run: Any):
        self.env, self._run = env, run

    async def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        return await self._run(functools.partial(self.env.reset, seed=seed, options=options))

    async def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        return await self._run(functools.partial(self.env.step, action))

    async def close(self) -> None:
        await self._run(self.env.close)


class ThreadExecutor:
    """Envs in this process; every env call runs in a thread pool of `max_workers` threads."""

    def __init__(self, max_workers: int = 16):
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="env")

    async def _run(self, fn: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def open(self, env_id: str, kwargs: dict[str, Any]) -> EnvHandle:
        """Make the env in a pool thread."""
        env = await self._run(functools.partial(_make, env_id, kwargs))
        return _LocalHandle(env, self._run)

    def shutdown(self) -> None:
        """Stop the threads."""
        self._pool.shutdown(wait=False)


class InlineExecutor:
    """Envs called directly on the event loop: no thread hop, so only for envs with microsecond steps."""

    @staticmethod
    async def _run(fn: Any) -> Any:
        return fn()

    async def open(self, env_id: str, kwargs: dict[str, Any]) -> EnvHandle:
        """Make the env right here."""
        return _LocalHandle(_make(env_id, kwargs), self._run)


class _RemoteHandle:
    def __init__(self, pool: Any, handle: int):
        self.pool, self.handle = pool, handle

    async def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        return await asyncio.wrap_future(self.pool.call(self.handle, "reset", seed=seed, options=options))

    async def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        return await asyncio.wrap_future(self.pool.call(self.handle, "step", action))

    async def close(self) -> None:
        await asyncio.wrap_future(self.pool.release(self.handle))


class ProcessExecutor:
    """Envs in `n_workers` spawned worker processes (`harness.rollout.workers.EnvWorkerPool`, started on first use)."""

    def __init__(self, n_workers: int = 2):
        self.n_workers = n_workers
        self._pool: Any = None
        self._pool_lock = threading.Lock()  # episodes opening at once must share one pool, not start one each

    def _ensure_pool(self) -> Any:
        with self._pool_lock:
            if self._pool is None:
                from harness.rollout.workers import EnvWorkerPool

                self._pool = EnvWorkerPool(self.n_workers)
            return self._pool

    async def open(self, env_id: str, kwargs: dict[str, Any]) -> EnvHandle:
        """Make the env in the least loaded worker."""
        # starting processes takes a moment: do it off the event loop
        pool = await asyncio.get_running_loop().run_in_executor(None, self._ensure_pool)
        handle, ready = pool.open(env_id, kwargs)
        remote = _RemoteHandle(pool, handle)
        try:
            await asyncio.wrap_future(ready)
        except BaseException:
            pool.release(handle)
            raise
        return remote

    def shutdown(self) -> None:
        """Stop the worker processes."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None


def executor_kwargs(name: str, concurrency: int, workers: int | None = None) -> dict[str, Any]:
    """Constructor arguments that size the built-in executor `name` for a run with `concurrency` episodes in flight:
    one thread per episode; worker processes = `workers`, else min(concurrency, cores)."""
    if name == "thread":
        return {"max_workers": max(1, concurrency)}
    if name == "process":
        return {"n_workers": max(1, workers or min(concurrency, os.cpu_count() or 1))}
    return {}


def make_executor(spec: str | EnvExecutor, **kwargs: Any) -> EnvExecutor:
    """An executor from a name in `EXECUTORS`, a dotted path, or an instance (returned as is)."""
    if not isinstance(spec, str):
        return spec
    from harness.policies import import_object

    path = EXECUTORS.get(spec, spec)
    if path == spec and "." not in spec:
        raise ValueError(f"unknown executor {spec!r}; known: {', '.join(EXECUTORS)}, or a dotted path")
    return import_object(path)(**kwargs)
