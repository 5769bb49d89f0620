"""`RayExecutor`: envs live in Ray actors (one actor per env), driven from the async runner.

Select it with `executor="ray"` in `run_episodes` / `aemgym bench` / `aemgym train --executor ray`. Without an
address it starts (or joins) a local Ray instance; with `address="auto"` or `ray://...` it joins a cluster, so env
workers can sit on other machines while the policy runs where the GPUs are. Ray `ObjectRef`s are awaitable, so the
event loop never blocks on an env step.
"""

from __future__ import annotations

from typing import Any

from agent_envs.errors import DependencyNotInstalled


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise DependencyNotInstalled("the ray executor needs ray: pip install 'aem-gym[train]' (ray==2.60.0)") from exc
    return ray


class _EnvActor:
    """The actor body: one gymnasium env, made inside the worker process (so registration happens there too)."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]):
        import gymnasium as gym

        import agent_envs  # noqa: F401 - registers the built-in ids inside the worker

        self.env = gym.make(env_id, **kwargs)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        return self.env.reset(seed=seed, options=options)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, float(reward), terminated, truncated, info

    def close(self) -> None:
        self.env.close()


class _RayHandle:
    def __init__(self, ray: Any, actor: Any):
        self._ray, self.actor = ray, actor
        self._closed = False

    async def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        return await self.actor.reset.remote(seed=seed, options=options)

    async def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        return await self.actor.step.remote(action)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.actor.close.remote()
        finally:
            self._ray.kill(self.actor, no_restart=True)


class RayExecutor:
    """Envs as Ray actors.

    Args:
        address: Ray address (None = start or join a local instance; "auto" = the running cluster).
        num_cpus: CPUs for a local instance this executor starts (None = Ray's default).
        cpus_per_env: CPU request per env actor (fractional, e.g. 0.05, lets many light envs share a core).
        runtime_env: Ray runtime env for the actors (e.g. `{"env_vars": {...}}`).
        init_kwargs: more `ray.init` keyword arguments.
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, cpus_per_env: float = 0.05,
                 runtime_env: dict[str, Any] | None = None, init_kwargs: dict[str, Any] | None = None):
        self.address, self.num_cpus, self.cpus_per_env = address, num_cpus, cpus_per_env
        self.runtime_env, self.init_kwargs = runtime_env, dict(init_kwargs or {})
        self._started_ray = False
        self._actor_cls: Any = None

    def _ensure(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
            if self.address is None and self.num_cpus is not None:
                kwargs["num_cpus"] = self.num_cpus
            ray.init(address=self.address, **kwargs)
            self._started_ray = True
        if self._actor_cls is None:
            self._actor_cls = ray.remote(num_cpus=self.cpus_per_env, runtime_env=self.runtime_env)(_EnvActor)
        return ray

    async def open(self, env_id: str, kwargs: dict[str, Any]) -> _RayHandle:
        """Start an actor holding `gymnasium.make(env_id, **kwargs)`; raises the env's error if making it fails."""
        ray = self._ensure()
        actor = self._actor_cls.remote(env_id, dict(kwargs))
        handle = _RayHandle(ray, actor)
        try:
            await actor.__ray_ready__.remote()  # surfaces constructor errors here, not at the first reset
        except Exception:
            ray.kill(actor, no_restart=True)
            raise
        return handle

    def shutdown(self) -> None:
        """Stop the local Ray instance if this executor started it."""
        if self._started_ray:
            _ray().shutdown()
            self._started_ray = False
