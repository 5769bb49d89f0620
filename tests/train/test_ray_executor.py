"""`RayExecutor`: Doors envs hosted by long-lived Ray actors (several envs each, reused across episodes) in a local
Ray instance, driven by the harness's async runner."""

from __future__ import annotations

import asyncio

import pytest

from harness.policies.scripted import ExpertPolicy
from harness.rollout import EpisodeSpec, run_episodes_sync
from harness.rollout.ray_executor import RayExecutor


@pytest.fixture(scope="module")
def executor():
    ex = RayExecutor(num_cpus=2, n_actors=2, cpus_per_actor=0.5)
    yield ex
    ex.shutdown()


@pytest.mark.slow
def test_ray_actors_run_doors_episodes_like_the_thread_executor(executor):
    specs = [EpisodeSpec(task_id=f"doors-train-{i}", group_id=f"g{i}") for i in range(3)]
    kwargs = {"n_rooms": 2, "max_episode_steps": 6}
    via_ray = run_episodes_sync("agent_envs/Doors-v0", kwargs, ExpertPolicy(), specs, executor=executor,
                                progress=False)
    via_thread = run_episodes_sync("agent_envs/Doors-v0", kwargs, ExpertPolicy(), specs, executor="thread",
                                   progress=False)
    assert [e.status for e in via_ray] == ["ok"] * 3, via_ray[0].error
    assert all(e.success for e in via_ray)
    made = executor.made
    again = run_episodes_sync("agent_envs/Doors-v0", kwargs, ExpertPolicy(), specs, executor=executor, progress=False,
                              concurrency=3)
    assert all(e.success for e in again) and executor.made == made and executor.reused >= 3  # envs outlive episodes
    assert len(executor._actors) == 2
    assert [[t.observation for t in e.turns] for e in via_ray] == [[t.observation for t in e.turns] for e in via_thread]


@pytest.mark.slow
def test_ray_executor_surfaces_env_errors_and_closes(executor):
    async def scenario():
        handle = await executor.open("agent_envs/Doors-v0", {"n_rooms": 1})
        obs, info = await handle.reset(seed=0, options={"task_id": "doors-train-0"})
        assert info["task_id"] == "doors-train-0" and "Room 1 of 1" in obs
        _, reward, terminated, _, info = await handle.step("no action here")
        assert info["action_valid"] is False and not terminated
        await handle.close()
        await handle.close()  # idempotent
        with pytest.raises(Exception, match="n_doors"):
            await executor.open("agent_envs/Doors-v0", {"n_doors": 99})

    asyncio.run(scenario())
    episodes = run_episodes_sync("agent_envs/Doors-v0", {"n_doors": 99}, ExpertPolicy(),
                                 [EpisodeSpec("doors-train-0", "g")], executor=executor, progress=False)
    assert episodes[0].status == "error" and "n_doors" in episodes[0].error
