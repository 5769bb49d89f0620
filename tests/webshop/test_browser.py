"""The browser env on real headless Chromium: same observations and rewards as the text env for the same actions."""

from __future__ import annotations

import gymnasium as gym
import pytest

import agent_envs  # noqa: F401
from agent_envs.webshop.browser_env import browser_available

REASON = browser_available()
if REASON:  # a missing browser is a machine limitation on this project's CI only if the installer could not run
    pytest.fail(f"browser env unavailable: {REASON}", pytrace=False)


@pytest.mark.slow
def test_oracle_sequence_matches_text_env(webshop_dir):
    text_env = gym.make("agent_envs/WebShop-v0", data_dir=str(webshop_dir), expert=True)
    browser = gym.make("agent_envs/WebShopBrowser-v0", data_dir=str(webshop_dir), expert=True)
    try:
        for task_id in ("synthetic-0", "synthetic-1"):
            t_obs, t_info = text_env.reset(options={"task_id": task_id})
            b_obs, b_info = browser.reset(options={"task_id": task_id})
            assert t_obs == b_obs
            actions = [t_info["expert_action"]]
            for _ in range(15):
                response = f"<action>{actions[-1]}</action>"
                t_obs, t_r, t_done, _, t_info = text_env.step(response)
                b_obs, b_r, b_done, _, b_info = browser.step(response)
                assert t_obs == b_obs and t_r == b_r and t_done == b_done
                assert sorted(t_info["admissible_actions"]) == sorted(b_info["admissible_actions"])
                if t_done:
                    break
                assert b_info["expert_action"] == t_info["expert_action"]
                actions.append(t_info["expert_action"])
            assert t_r == 1.0 and b_r == 1.0
        # a detour: wrong product, sub page, back, next page, invalid click
        for env in (text_env, browser):
            env.reset(options={"task_id": "synthetic-2"})
        for action in ("search[wall art canvas]", "click[next >]", "click[< prev]", "click[nonexistent]",
                       "click[back to search]", "search[pillow cover]"):
            t = text_env.step(f"<action>{action}</action>")
            b = browser.step(f"<action>{action}</action>")
            assert t[0] == b[0] and t[4]["action_valid"] == b[4]["action_valid"], action
    finally:
        browser.close()
        text_env.close()
