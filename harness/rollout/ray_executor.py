"""`RayExecutor`: envs live in long-lived Ray actors, several envs per actor, driven from the async runner.

The same model as the `process` executor at cluster size: `n_actors` actors (like worker processes) each host any
number of envs, new envs go to the least loaded actor, and envs outlive episodes (the idle pool of
`PooledExecutor`). Select it with `--executor ray` (`rollout.executor=ray`, `rollout.workers` = actors). Without an
address it starts (or joins) a local Ray instance; with `address="auto"` or `ray://...` it joins a cluster, so env
actors can sit on other machines while the policy runs where the GPUs are. Ray `ObjectRef`s are awaitable, so the
event loop never blocks on an env step.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

from agent_envs.errors import DependencyNotInstalled
from harness.rollout.env_executors import PooledExecutor


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise DependencyNotInstalled("the ray executor needs ray: pip install 'aem-gym[train]' (ray==2.60.0)") from exc
    return ray


class _EnvHost:
    """The actor body: envs made inside the actor's process (so registration happens there too), by handle id."""

    def __init__(self) -> None:
        self.envs: dict[int, Any] = {}

    def make(self, handle: int, env_id: str, kwargs: dict[str, Any]) -> None:
        from harness.rollout.env_executors import make_env

        self.envs[handle] = make_env(env_id, kwargs)

    def call(self, handle: int, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        result = getattr(self.envs[handle], method)(*args, **kwargs)
        if method == "step":  # numpy / SupportsFloat rewards: plain floats cross the wire
            obs, reward, terminated, truncated, info = result
            return obs, float(reward), terminated, truncated, info
        return result

    def close(self, handle: int) -> None:
        env = self.envs.pop(handle, None)
        if env is not None:
            env.close()


class RayExecutor(PooledExecutor):
    """Envs hosted by Ray actors.

    Args:
        address: Ray address (None = start or join a local instance; "auto" = the running cluster).
        n_actors: env-hosting actors (None: the cluster's CPUs, at least 1).
        num_cpus: CPUs for a local instance this executor starts (None = Ray's default).
        cpus_per_actor: CPU request per actor.
        runtime_env: Ray runtime env for the actors (e.g. `{"env_vars": {...}}`).
        init_kwargs: more `ray.init` keyword arguments.
        max_idle, step_timeout_s: see `PooledExecutor`.
    """

    def __init__(self, address: str | None = None, *, n_actors: int | None = None, num_cpus: int | None = None,
                 cpus_per_actor: float = 1.0, runtime_env: dict[str, Any] | None = None,
                 init_kwargs: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.address, self.n_actors, self.num_cpus = address, n_actors, num_cpus
        self.cpus_per_actor, self.runtime_env = cpus_per_actor, runtime_env
        self.init_kwargs = dict(init_kwargs or {})
        self._started_ray = False
        self._actors: list[Any] = []
        self._load: dict[int, int] = {}  # actor index -> envs it hosts
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _ensure(self) -> Any:
        ray = _ray()
        with self._lock:
            if not ray.is_initialized():
                kwargs = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
                if self.address is None and self.num_cpus is not None:
                    kwargs["num_cpus"] = self.num_cpus
                ray.init(address=self.address, **kwargs)
                self._started_ray = True
            if not self._actors:
                cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
                count = max(1, self.n_actors or int(cpus / max(self.cpus_per_actor, 1e-9)))
                actor_cls = ray.remote(num_cpus=self.cpus_per_actor, runtime_env=self.runtime_env)(_EnvHost)
                self._actors = [actor_cls.remote() for _ in range(count)]
                self._load = {i: 0 for i in range(count)}
        return ray

    async def create(self, env_id: str, kwargs: dict[str, Any]) -> Any:
        """Make the env in the least loaded actor; raises the env's own error if making it fails."""
        self._ensure()
        with self._lock:
            index = min(self._load, key=self._load.__getitem__)
            self._load[index] += 1
        handle = next(self._ids)
        try:
            await self._actors[index].make.remote(handle, env_id, dict(kwargs))
        except BaseException:
            with self._lock:
                self._load[index] -= 1
            raise
        return index, handle

    async def call(self, raw: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run the call in the env's actor."""
        index, handle = raw
        return await self._actors[index].call.remote(handle, method, args, kwargs)

    async def destroy(self, raw: Any) -> None:
        """Close the env in its actor."""
        index, handle = raw
        with self._lock:
            self._load[index] -= 1
        await self._actors[index].close.remote(handle)

    def shutdown(self) -> None:
        """Kill the actors (their envs go with them); stop the local Ray instance if this executor started it."""
        self._drain_idle()
        if not self._actors:
            return
        ray = _ray()
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._actors, self._load = [], {}
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
