from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

import agent_envs
from agent_envs import TaskNotFound, UnicodeText
from agent_envs.parsing import clean_action, extract_tag
from agent_envs.testing import TextEnvConformance


class TestDoorsConformance(TextEnvConformance):
    env_id = "agent_envs/Doors-v0"


def test_unicode_text_space() -> None:
    space = UnicodeText(10)
    assert space.contains("héllo 🙂!")
    assert not space.contains("x" * 11) and not space.contains(b"bytes")
    space.seed(0)
    assert all(space.contains(space.sample()) for _ in range(50))
    assert gym.spaces.Text(100).contains("héllo 🙂") is False  # why UnicodeText exists


def test_extract_tag_takes_last_pair() -> None:
    assert extract_tag("<think>x</think><action> go north </action>") == "go north"
    assert extract_tag("<action>a</action> then <action>b</action>") == "b"
    assert extract_tag("no tags") is None and extract_tag("<action>open") is None
    assert clean_action("go\x00\x1b  to\n desk 1") == "go to desk 1"


def test_doors_expert_wins_and_random_is_sparse() -> None:
    env = gym.make("agent_envs/Doors-v0", expert=True)
    for seed in range(5):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, reward, terminated, truncated, info = env.step(f"<action>{info['expert_action']}</action>")
            done = terminated or truncated
        assert terminated and reward == 1.0 and info["success"] and info["score"] == 1.0
    env.close()


def test_doors_wrong_door_and_bare_label() -> None:
    env = gym.make("agent_envs/Doors-v0", expert=True)
    _, info = env.reset(options={"task_id": "doors-valid-7"})
    right = info["expert_action"]
    wrong = next(d for d in "ABCD" if d != right)
    obs, reward, terminated, _, info = env.step(wrong.lower())  # lenient: bare label
    assert info["action_valid"] and "locked" in obs and reward == 0.0 and not terminated
    obs, _, _, _, info = env.step(f"door {right}")
    assert "opens" in obs and info["action_valid"]
    obs, _, _, _, info = env.step("<action>Z</action>")
    assert not info["action_valid"] and "no door" in obs


def test_unknown_task_and_split_raise_clear_errors() -> None:
    env = gym.make("agent_envs/Doors-v0")
    with pytest.raises(TaskNotFound, match="no task"):
        env.reset(options={"task_id": "nope"})
    with pytest.raises(TaskNotFound, match="unknown split"):
        env.reset(options={"split": "nope"})


def test_all_builtin_ids_registered() -> None:
    for env_id in ("Doors-v0", "Codes-v0", "ALFWorld-v0", "WebShop-v0", "WebShopBrowser-v0", "SWEBench-v0"):
        assert f"agent_envs/{env_id}" in gym.registry
    assert agent_envs.ENV_IDS[0] == "agent_envs/Doors-v0"


def test_dependency_direction() -> None:
    """`aem` imports only torch; `agent_envs` never imports `harness`."""
    code = (
        "import sys, agent_envs, aem, gymnasium as gym; env = gym.make('agent_envs/Doors-v0'); env.reset(seed=0);"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('harness',)];"
        "assert not bad, bad; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
