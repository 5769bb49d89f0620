"""The planner expert's two-stage plans for two-object goals (blind Fast Downward search cannot plan some directly)."""

from __future__ import annotations

import resource
from pathlib import Path

import gymnasium as gym
import pytest

import agent_envs  # noqa: F401 - registers the ids
from agent_envs.alfworld import expert
from agent_envs.alfworld.data import load_tasks
from agent_envs.alfworld.engine import AlfredEngine, read_game
from agent_envs.alfworld.expert import first_object_problem, plan_with_limits, staged_plan
from agent_envs.alfworld.pool import play_expert_episode
from agent_envs.errors import ExpertUnavailable


def _bundled_game(task_type: str) -> dict:
    tasks = load_tasks(None)
    task = next(t for t in tasks.tasks("train") if t.task_type == task_type)
    return read_game(dict(task.data))


def test_first_object_problem_keeps_one_object_of_a_two_object_goal() -> None:
    problem = _bundled_game("pick_two_obj_and_place")["pddl_problem"]
    sub = first_object_problem(problem)
    assert sub is not None and "?o1" in sub and "?o2" not in sub and sub.count("(") == sub.count(")")
    assert sub.split("(:goal")[0] == problem.split("(:goal")[0]  # same initial state
    assert first_object_problem(_bundled_game("pick_and_place_simple")["pddl_problem"]) is None


def test_staged_plan_wins_bundled_two_object_game() -> None:
    game = _bundled_game("pick_two_obj_and_place")
    engine = AlfredEngine()
    engine.load(game)
    engine.reset()
    plan = staged_plan(engine)  # steps `engine` itself through the first stage
    assert sum(c.startswith("move cd") for c in plan) == 2
    first_stage = plan[: plan.index(next(c for c in plan if c.startswith("move cd"))) + 1]
    assert engine.state.feedback.startswith("You move the cd") and not engine.state["won"], first_stage
    replay = AlfredEngine()  # the whole plan replayed from the initial state wins
    replay.load(game)
    replay.reset()
    won = False
    for command in plan:
        assert command in replay.admissible()
        _obs, _admissible, won = replay.step(command)
    assert won


def test_hardest_valid_seen_game_planned_in_two_stages(alfworld_data: Path) -> None:
    """The one valid_seen game Fast Downward could not plan directly (out of memory at 4 and 12 GB)."""
    task_id = next(
        t
        for t in load_tasks(alfworld_data).task_ids("eval_in_distribution")
        if "pick_two_obj_and_place-Knife-None-Drawer-18" in t
    )
    kwargs = {"plan_cache": None, "plan_memory_mb": 2048, "plan_cpu_s": 240}
    env = gym.make("agent_envs/ALFWorld-v0", data_dir=str(alfworld_data), expert=True, **kwargs)
    try:
        result = play_expert_episode(env, task_id)
    finally:
        env.close()
    assert result["won"] and result["invalid"] == 0 and result["plan_source"] == "planner", result
    assert sum(c.startswith("put knife") for c in result["commands"]) == 2 and result["steps"] <= 12


def test_handcoded_expert_wins_bundled_games() -> None:
    """ALFWorld's handcoded expert (`expert="handcoded"`) on the six bundled 0.4-grammar games, replayed exactly."""
    env = gym.make("agent_envs/ALFWorld-v0", expert="handcoded")
    try:
        ids = env.unwrapped.task_set.task_ids("train")
        results = [play_expert_episode(env, task_id) for task_id in ids]
        again = play_expert_episode(env, ids[-1])
    finally:
        env.close()
    assert [r["won"] for r in results] == [True] * 6, [(r["task_id"], r["commands"]) for r in results]
    assert all(r["invalid"] == 0 and r["plan_source"] == "handcoded" and r["plan_seconds"] == 0 for r in results)
    assert again["commands"] == results[-1]["commands"]  # its random choices are seeded per episode
    put_two = next(r for r in results if r["task_type"] == "pick_two_obj_and_place")
    assert sum(c.startswith("move cd") for c in put_two["commands"]) == 2


def test_handcoded_expert_speaks_the_old_grammar(alfworld_data: Path) -> None:
    task_id = next(
        t
        for t in load_tasks(alfworld_data).task_ids("eval_in_distribution")
        if "pick_and_place_simple-Book-None-Sofa-229" in t
    )
    env = gym.make("agent_envs/ALFWorld-v0", data_dir=str(alfworld_data), expert="handcoded")
    try:
        result = play_expert_episode(env, task_id)
    finally:
        env.close()
    assert result["won"] and result["invalid"] == 0, result
    assert any(c.startswith("put book") and " in/on sofa" in c for c in result["commands"]), result["commands"]


def test_unknown_expert_kind_rejected() -> None:
    with pytest.raises(ValueError, match="handcoded"):
        gym.make("agent_envs/ALFWorld-v0", expert="oracle")


def test_planner_child_runs_under_rlimit_cpu(monkeypatch) -> None:
    """The limit is CPU time on the planner's own process (RLIMIT_CPU), not a wall-clock wait in the parent."""

    def report_limits(_engine):
        return [repr(resource.getrlimit(resource.RLIMIT_CPU)), repr(resource.getrlimit(resource.RLIMIT_DATA))]

    monkeypatch.setattr(expert, "staged_plan", report_limits)  # runs in the forked child
    cpu, data = plan_with_limits(None, cpu_s=7, memory_mb=512)  # type: ignore[arg-type]
    assert cpu == repr((7, 8)) and data == repr((512 << 20, 512 << 20))
    assert resource.getrlimit(resource.RLIMIT_CPU) != (7, 8)  # the parent is untouched


def test_planner_over_its_cpu_limit_is_a_typed_error(monkeypatch) -> None:
    def spin(_engine):
        while True:
            pass

    monkeypatch.setattr(expert, "staged_plan", spin)
    with pytest.raises(ExpertUnavailable, match="CPU limit of 1 s"):
        plan_with_limits(None, cpu_s=0.5)  # type: ignore[arg-type]


def test_failed_plan_is_an_episode_error_not_look(alfworld_data: Path) -> None:
    """The real planner under a 1 CPU-second limit on a game that needs several: reset raises, no expert `look`."""
    task_id = next(
        t
        for t in load_tasks(alfworld_data).task_ids("eval_in_distribution")
        if "pick_two_obj_and_place-Knife-None-Drawer-18" in t
    )
    env = gym.make("agent_envs/ALFWorld-v0", data_dir=str(alfworld_data), expert=True, plan_cache=None, plan_cpu_s=1)
    try:
        with pytest.raises(ExpertUnavailable, match="CPU limit"):
            env.reset(options={"task_id": task_id})
        with pytest.raises(ExpertUnavailable):  # asked again in the same episode: the same error, no new plan
            env.unwrapped.expert_action()
    finally:
        env.close()
