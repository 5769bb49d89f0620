"""`agent_envs/ALFWorld-v0` on the real engine: contract, bundled games won by the expert, invalid actions, grammars,
observations identical to the raw TextWorld/ALFWorld stack."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

import agent_envs  # noqa: F401 - registers the ids
from agent_envs.alfworld import actions, prompts
from agent_envs.alfworld.data import load_tasks
from agent_envs.alfworld.engine import read_game
from agent_envs.alfworld.env import NOTHING_HAPPENS
from agent_envs.alfworld.pool import play_expert_episode
from agent_envs.testing import TextEnvConformance

ENV_ID = "agent_envs/ALFWorld-v0"


class TestALFWorldConformance(TextEnvConformance):
    env_id = ENV_ID
    env_kwargs = {"data_dir": None, "plan_cache": None}


@pytest.fixture(scope="module")
def mini_env():
    env = gym.make(ENV_ID, expert=True, plan_cache=None)
    yield env
    env.close()


def _task_of_type(env, task_type: str) -> str:
    return next(t.task_id for t in env.unwrapped.task_set.tasks("train") if t.task_type == task_type)


def test_bundled_games_all_won_by_expert(mini_env) -> None:
    ids = mini_env.unwrapped.task_set.task_ids("train")
    results = [play_expert_episode(mini_env, task_id) for task_id in ids]
    assert [r["won"] for r in results] == [True] * 6, results
    assert all(r["reward"] == 1.0 and r["invalid"] == 0 and 3 <= r["steps"] <= 12 for r in results)
    assert {r["plan_source"] for r in results} == {"planner"}
    put_two = next(r for r in results if r["task_type"] == "pick_two_obj_and_place")
    assert sum(c.startswith("move cd") for c in put_two["commands"]) == 2  # new-grammar commands, from the engine


def test_reset_observation_and_info(mini_env) -> None:
    obs, info = mini_env.reset(options={"task_id": _task_of_type(mini_env, "pick_and_place_simple")})
    assert obs.startswith("-= Welcome to TextWorld, ALFRED! =-") and "Your task is to: " in obs
    assert info["instruction"] and info["instruction"] in obs
    assert info["won"] is False and info["grammar"] == "new" and info["task_type"] == "pick_and_place_simple"
    assert "go to diningtable 1" in info["admissible_actions"] and info["expert_action"] in info["admissible_actions"]


def test_invalid_and_out_of_grammar_actions(mini_env) -> None:
    _, info = mini_env.reset(options={"task_id": _task_of_type(mini_env, "pick_and_place_simple")})
    before = list(info["admissible_actions"])
    bad = ("go to the moon", "<action>fly to the moon</action>", "<action>put cellphone 1 in/on desk 1</action>")
    for response in (*bad, "<action>take cellphone 1 from desk 1</action>"):
        obs, reward, terminated, truncated, info = mini_env.step(response)
        assert obs == NOTHING_HAPPENS and info["action_valid"] is False and reward == 0.0 and not terminated
        assert info["admissible_actions"] == before  # nothing changed in the game
    obs, _, _, _, info = mini_env.step("<think>the desk</think><action>Go to Desk 1.</action>")
    assert info["action_valid"] is True and obs.startswith("You arrive at desk 1.")
    assert "take cellphone 1 from desk 1" in info["admissible_actions"]


def test_success_reward_scale_and_invalid_penalty() -> None:
    env = gym.make(ENV_ID, expert=True, success_reward=10.0, invalid_action_penalty=0.1, plan_cache=None)
    try:
        result = play_expert_episode(env, env.unwrapped.task_set.task_ids("train")[1])
        assert result["won"] and result["reward"] == 10.0
        env.reset(options={"task_id": result["task_id"]})
        _, reward, *_ = env.step("no tags")
        assert reward == pytest.approx(-0.1)
    finally:
        env.close()


def test_fifty_step_truncation() -> None:
    env = gym.make(ENV_ID, plan_cache=None)
    try:
        assert env.spec.max_episode_steps == 50
        env.reset(seed=0)
        for turn in range(50):
            _, _, terminated, truncated, info = env.step("<action>look</action>")
            assert info["action_valid"] and not terminated and truncated == (turn == 49)
    finally:
        env.close()


def test_observations_identical_to_raw_engine(alfworld_data: Path) -> None:
    """A scripted walk through our env and through PddlEnv+AlfredDemangler+AlfredInfos gives the same text."""
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    from textworld.envs.pddl import PddlEnv

    task = load_tasks(alfworld_data).tasks("eval_in_distribution")[5]
    env = gym.make(ENV_ID, data_dir=str(alfworld_data), split="eval_in_distribution", plan_cache=None)
    obs, info = env.reset(options={"task_id": task.task_id})
    ours = [(obs, info["admissible_actions"])]
    script = []
    for turn in range(8):
        admissible = ours[-1][1]
        command = admissible[(3 * turn + 1) % len(admissible)]
        script.append(command)
        obs, _, terminated, _, info = env.step(f"<action>{command}</action>")
        ours.append((obs, info["admissible_actions"]))
        if terminated:
            break
    env.close()
    raw = AlfredInfos(AlfredDemangler(PddlEnv(textworld.EnvInfos(won=True, admissible_commands=True)), shuffle=False))
    raw.load(task.data["game_file"])
    state = raw.reset()
    theirs = [(state.feedback, state["admissible_commands"])]
    for command in script:
        state, _, _ = raw.step(command)
        theirs.append((state.feedback, state["admissible_commands"]))
    assert ours == theirs


def test_old_grammar_as_shipped_and_regenerated(alfworld_data: Path) -> None:
    task_set = load_tasks(alfworld_data)
    task_id = task_set.task_ids("eval_in_distribution")[30]
    walks = {}
    for grammar in ("as_shipped", "new"):
        env = gym.make(ENV_ID, data_dir=str(alfworld_data), grammar=grammar, expert=True, plan_cache=None)
        walks[grammar] = play_expert_episode(env, task_id)
        env.close()
    assert walks["as_shipped"]["won"] and walks["new"]["won"]
    assert any(" in/on " in c for c in walks["as_shipped"]["commands"])
    assert any(c.startswith("move ") for c in walks["new"]["commands"])
    assert "You arrive at {lend.name}" in read_game(dict(task_set.get(task_id).data))["grammar"]  # "loc 30"
    assert "You arrive at {lend.name}" not in read_game(dict(task_set.get(task_id).data), "new")["grammar"]


def test_action_projection() -> None:
    assert actions.project_action("<think>x</think><action> Go to  Fridge 1. </action>") == "go to fridge 1"
    assert actions.project_action("go to fridge 1") is None
    assert actions.project_action("I will\ngo to fridge 1", ["go to fridge 1"], lenient=True) == "go to fridge 1"
    assert actions.project_action("<action></action>") is None
    assert actions.visible_actions(["go to fridge 1", "help", "look"]) == ["go to fridge 1", "look"]


def test_prompt_templates_format() -> None:
    fields = {"instruction": "put a hot apple in fridge.", "step": 3, "history_length": 2,
              "history": "[Observation 1: 'a', Action 1: 'look']", "observation": "You arrive at fridge 1.",
              "admissible_actions": "'go to fridge 1', 'look'"}  # fmt: skip
    for name in ("verl_agent", "verl_agent_no_history", "chat", "react", "tools"):
        text = prompts.PROMPTS[name].format(**fields)
        assert "You arrive at fridge 1." in text and "{" not in text
        assert ("<action>" in text) == name.startswith(("verl_agent", "chat"))  # react: Action:, tools: tool calls
    assert "put a hot apple" in prompts.PROMPTS["verl_agent"].format(**fields)
    assert gym.spec(ENV_ID).entry_point.endswith("ALFWorldEnv")


def test_two_envs_interleaved_in_one_process_are_independent(alfworld_data: Path) -> None:
    """Each engine loads its own copy of the planner library: interleaving two envs must not mix their games."""
    envs = [gym.make(ENV_ID, data_dir=str(alfworld_data), plan_cache=None) for _ in range(3)]
    try:
        ids = envs[0].unwrapped.task_set.task_ids("eval_in_distribution")
        seen: list[list[str]] = [[], [], []]
        infos = [env.reset(options={"task_id": ids[(i % 2) * 50]})[1] for i, env in enumerate(envs)]
        for turn in range(5):
            for i in (0, 1):  # env 0 and env 1 interleaved; env 2 (same game as env 0) alone afterwards
                command = infos[i]["admissible_actions"][turn % len(infos[i]["admissible_actions"])]
                obs, *_, infos[i] = envs[i].step(f"<action>{command}</action>")
                seen[i].append(obs)
        for turn in range(5):
            command = infos[2]["admissible_actions"][turn % len(infos[2]["admissible_actions"])]
            obs, *_, infos[2] = envs[2].step(f"<action>{command}</action>")
            seen[2].append(obs)
        assert seen[0] == seen[2] and seen[0] != seen[1]
    finally:
        for env in envs:
            env.close()
