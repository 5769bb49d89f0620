"""Hostile model output through every env via `gymnasium.make`: no exception, observations are `str`.

A seeded generator (`agent_envs.testing.hostile_response`) mixes lone surrogates, NUL and control characters, bidi
marks, 1 MB strings, nested/unclosed tags, injections and format strings, a third of them around or inside the
admissible actions of the moment, so the fuzz also reaches deeper pages and game states. Counts: 10,000 actions for
Doors, WebShop text and ALFWorld (bundled games; invalid actions never reach the engine, and only 1% of ALFWorld's
are plain admissible commands, so that the test stays around 15 s); 40 for the WebShop browser env (each action is a
real page load in Chromium, ~0.2 s); 5,000 for SWE-bench (the ~4% with a usable fenced command run in a real
sandbox, ~50 ms each; 10,000 took 21 s). No env echoes a lone surrogate: actions are cleaned first (U+FFFD).
The turn limit is lifted (`max_episode_steps`) so that resets, the costly part, happen only when an episode ends.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from typing import Any

import gymnasium as gym
import pytest

import agent_envs  # noqa: F401 - registers the ids
from agent_envs.core import ACTION_VALID, ADMISSIBLE_ACTIONS, EXPERT_ACTION
from agent_envs.testing import hostile_response

LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def fuzz(env: gym.Env, n_actions: int, seed: int, plain_share: float) -> Counter:
    """Step `n_actions` hostile responses; every result is checked. Returns counts (steps, resets, valid, ...)."""
    rng = random.Random(seed)
    counts: Counter = Counter()
    obs, info = env.reset(seed=seed)
    for _ in range(n_actions):
        actions = list(info.get(ADMISSIBLE_ACTIONS) or []) + [info.get(EXPERT_ACTION) or ""]
        response = hostile_response(rng, [a for a in actions if a], plain_share=plain_share)
        obs, reward, terminated, truncated, info = env.step(response)
        assert isinstance(obs, str) and isinstance(reward, float) and isinstance(info[ACTION_VALID], bool)
        json.dumps(obs)  # storable as JSON (lone surrogates are escaped by json.dumps)
        counts["steps"] += 1
        counts["valid"] += info[ACTION_VALID]
        counts["surrogate_in_obs"] += bool(LONE_SURROGATE.search(obs))
        counts["surrogate_in_info"] += bool(LONE_SURROGATE.search(json.dumps(info, default=str, ensure_ascii=False)))
        if terminated or truncated:
            counts["resets"] += 1
            obs, info = env.reset(seed=rng.randrange(1 << 30))
    return counts


def run_fuzz(env_id: str, n_actions: int, *, seed: int = 16, plain_share: float = 0.1, **kwargs: Any) -> Counter:
    env = gym.make(env_id, max_episode_steps=10**7, **kwargs)
    try:
        counts = fuzz(env, n_actions, seed, plain_share)
    finally:
        env.close()
    print(f"{env_id}: {dict(counts)}")
    assert counts["steps"] == n_actions
    # all envs clean actions first: nothing they return needs escaping
    assert counts["surrogate_in_obs"] == counts["surrogate_in_info"] == 0, "an env echoed a lone surrogate"
    return counts


def test_generator_is_seeded_and_hostile() -> None:
    first = [hostile_response(random.Random(3), ["click[buy now]"]) for _ in range(5)]
    assert first == [hostile_response(random.Random(3), ["click[buy now]"]) for _ in range(5)]
    many = [hostile_response(random.Random(i)) for i in range(2000)]
    assert sum(bool(LONE_SURROGATE.search(r)) for r in many) > 100 and sum("\x00" in r for r in many) > 50
    assert any(len(r) >= 1 << 20 for r in many)


def test_doors() -> None:
    counts = run_fuzz("agent_envs/Doors-v0", 10_000, expert=True)
    assert counts["valid"] > 100


def test_webshop_text() -> None:
    counts = run_fuzz("agent_envs/WebShop-v0", 10_000, expert=True)  # the bundled 200-product catalog
    assert counts["valid"] > 200 and counts["resets"] > 0


@pytest.mark.slow
def test_alfworld() -> None:
    # the six bundled games; 1% plain admissible actions (each engine step costs ~0.1 s, a hostile one ~1 ms)
    counts = run_fuzz("agent_envs/ALFWorld-v0", 10_000, plain_share=0.01, expert=True)
    assert counts["valid"] > 100


@pytest.mark.slow
def test_webshop_browser() -> None:
    counts = run_fuzz("agent_envs/WebShopBrowser-v0", 40, expert=True)
    assert counts["valid"] > 0


@pytest.mark.slow
def test_swebench_synthetic() -> None:
    counts = run_fuzz("agent_envs/SWEBench-v0", 5_000)
    assert counts["valid"] > 10
