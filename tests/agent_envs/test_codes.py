"""Codes: conformance, the code layout, hints, the lure and invalid codes."""

from __future__ import annotations

import gymnasium as gym
import pytest

from agent_envs.codes import door_codes
from agent_envs.testing import TextEnvConformance


class TestCodesConformance(TextEnvConformance):
    env_id = "agent_envs/Codes-v0"


class TestCodesWithLureConformance(TextEnvConformance):
    env_id = "agent_envs/Codes-v0"
    env_kwargs = {"lure_reward": 0.3, "alphabet": "ABC", "n_doors": 5}


def test_codes_share_prefixes_and_are_fixed() -> None:
    codes = door_codes("ABCD", 3, 6)
    assert codes == door_codes("ABCD", 3, 6) and len(set(codes)) == 6
    assert all(len(c) == 3 and set(c) <= set("ABCD") for c in codes)
    assert len({c[:2] for c in codes}) < 6 and len({c[0] for c in codes}) < 6  # shared 1- and 2-letter prefixes
    with pytest.raises(ValueError, match="n_doors"):
        door_codes("AB", 2, 5)
    with pytest.raises(ValueError, match="alphabet"):
        door_codes("abc", 3, 4)


def test_expert_wins_through_every_room() -> None:
    env = gym.make("agent_envs/Codes-v0", expert=True, n_rooms=3, max_episode_steps=3)
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert f"door {info['expert_action']}." in obs
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(info["expert_action"])  # bare code: lenient
            done = terminated or truncated
        assert terminated and reward == 1.0 and info["success"] and info["score"] == 1.0
    env.close()


def test_wrong_code_locked_non_door_invalid_and_lure_ends() -> None:
    env = gym.make("agent_envs/Codes-v0", expert=True, lure_reward=0.3)
    inner = env.unwrapped
    _, info = env.reset(options={"task_id": "codes-valid-3"})
    right = info["expert_action"]
    assert inner.lure in inner.codes and right != inner.lure
    wrong = next(c for c in inner.codes if c not in (right, inner.lure))
    obs, reward, terminated, _, info = env.step(f"<action>door {wrong.lower()}</action>")
    assert info["action_valid"] and "locked" in obs and reward == 0.0 and not terminated
    non_door = next(a + b + c for a in "ABCD" for b in "ABCD" for c in "ABCD" if a + b + c not in inner.codes)
    obs, reward, terminated, _, info = env.step(non_door)
    assert not info["action_valid"] and "no door" in obs and not terminated
    obs, reward, terminated, _, info = env.step("ABDC")  # four letters: no code
    assert not info["action_valid"]
    obs, reward, terminated, _, info = env.step(inner.lure)
    assert terminated and reward == 0.3 and not info["success"] and info["score"] == 0.3 and "window" in obs


def test_splits_are_disjoint_and_seeded() -> None:
    env = gym.make("agent_envs/Codes-v0")
    task_set = env.unwrapped.task_set
    assert task_set.sizes() == {"train": 1000, "valid": 100, "test": 100}
    first, _ = env.reset(seed=7, options={"split": "test"})
    again, info = env.reset(seed=7, options={"split": "test"})
    assert first == again and info["task_id"].startswith("codes-test-")
    hints = {tuple(t.data["doors"]) for t in task_set.tasks("train")}
    assert len(hints) > 20  # the right doors vary between tasks
    env.close()
