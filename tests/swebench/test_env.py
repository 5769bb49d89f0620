"""`agent_envs/SWEBench-v0` on the embedded synthetic instance: conformance, a scripted episode, submission paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import agent_envs  # noqa: F401  (registers the ids)
from agent_envs.swebench.actions import SUBMIT_SENTINEL, ParseError, fence, parse_command
from agent_envs.testing import TextEnvConformance

#: A scripted fix of the synthetic bug (median of even-length inputs), as an agent would type it.
FIX = ("python - <<'EOF'\nimport pathlib\np = pathlib.Path('tinycalc/stats.py')\n"
       "s = p.read_text().replace('    return ordered[len(ordered) // 2]\\n', "
       "'    m = len(ordered) // 2\\n    return ordered[m] if len(ordered) % 2 else "
       "(ordered[m - 1] + ordered[m]) / 2\\n')\np.write_text(s)\nEOF")


class TestSWEBenchConformance(TextEnvConformance):
    env_id = "agent_envs/SWEBench-v0"

    def good_response(self, env: gym.Env, info: dict[str, Any]) -> str:
        return "Let me look.\n" + fence("ls")


def test_parse_command() -> None:
    assert parse_command("think\n```bash\nls -la\n```") == "ls -la"
    assert parse_command("```\ngrep -rn foo .\n```") == "grep -rn foo ."
    for bad, why in [("ls", "no ```bash"), ("```bash\n\n```", "empty"), ("```bash\na\n```\n```bash\nb\n```", "2 code")]:
        with pytest.raises(ParseError, match=why):
            parse_command(bad)


def test_scripted_episode_resolves() -> None:
    env = gym.make("agent_envs/SWEBench-v0")
    try:
        obs, info = env.reset(options={"task_id": "aemgym__tinycalc-1"})
        assert "median" in obs and info["backend"] == "local"
        obs, *_ = env.step(fence("grep -n 'def median' -A4 tinycalc/stats.py"))
        assert "<returncode>0</returncode>" in obs and "ordered[len(ordered) // 2]" in obs
        obs, reward, terminated, _, info = env.step(fence(FIX))
        assert not terminated and info["exit_code"] == 0
        obs, *_ = env.step(fence("python -c 'from tinycalc.stats import median; print(median([4, 1, 3, 2]))'"))
        assert "2.5" in obs
        obs, reward, terminated, truncated, info = env.step(fence(f"echo {SUBMIT_SENTINEL}"))
        assert terminated and not truncated and reward == 1.0 and info["success"] is True
        assert info["grade"]["f2p"] == "1/1" and info["grade"]["p2p"] == "4/4"
        assert "tinycalc/stats.py" in info["patch"] and "__pycache__" not in info["patch"]
    finally:
        env.close()


def test_expert_and_unresolved_submission() -> None:
    env = gym.make("agent_envs/SWEBench-v0", expert=True)
    try:
        _, info = env.reset(seed=0)
        obs, _, _, _, info = env.step(fence(info["expert_action"]))
        assert "Applied patch" in obs and info["expert_action"] == "submit"
        _, reward, terminated, _, info = env.step(fence("submit"))
        assert terminated and reward == 1.0
        env.reset(seed=0)  # a new episode starts from the pristine base commit
        obs, *_ = env.step(fence("git status --short; echo '# touched' >> README.md"))
        assert obs.count("\n") <= 4
        _, reward, terminated, _, info = env.step(fence("submit"))
        assert terminated and reward == 0.0 and info["grade"]["f2p"] == "0/1" and info["success"] is False
    finally:
        env.close()


@pytest.mark.parametrize(
    ("reason", "make_kwargs", "commands"),
    [
        ("turn_limit", {"max_episode_steps": 3}, ["ls", "git status --short"]),
        ("episode_budget", {"episode_budget_s": 2.0}, ["sleep 30"]),
        ("wall_time", {"wall_time_limit_s": 3.0}, ["sleep 3"]),
    ],
)
def test_truncated_episode_is_graded_on_its_diff(reason: str, make_kwargs: dict, commands: list[str]) -> None:
    """A policy that fixes the bug but never submits is still graded when the episode is cut short."""
    env = gym.make("agent_envs/SWEBench-v0", **make_kwargs)
    try:
        env.reset(seed=0)
        obs, reward, terminated, truncated, info = env.step(fence(FIX))
        assert (reward, terminated, truncated) == (0.0, False, False) and info["exit_code"] == 0
        for command in commands:
            obs, reward, terminated, truncated, info = env.step(fence(command))
        assert truncated and not terminated, obs
        assert info["auto_submitted"] is True and info["truncation"] == reason
        assert reward == 1.0 and info["success"] is True and info["score"] == 1.0
        assert info["grade"]["f2p"] == "1/1" and info["grade"]["p2p"] == "4/4" and "tinycalc/stats.py" in info["patch"]
        assert "your current changes are submitted" in obs and "RESOLVED" in obs
    finally:
        env.close()


def test_unfixed_truncated_episode_scores_zero() -> None:
    env = gym.make("agent_envs/SWEBench-v0", max_episode_steps=1)
    try:
        env.reset(seed=0)
        _, reward, terminated, truncated, info = env.step(fence("ls"))
        assert truncated and not terminated and reward == 0.0 and info["auto_submitted"] is True
        assert info["grade"]["f2p"] == "0/0" and info["success"] is False  # nothing changed: not graded
        assert info["grade"]["error"] == "empty patch: nothing to apply" and not info["grade"]["patch_applied"]
    finally:
        env.close()


def test_timeout_observation_and_format_error_limit() -> None:
    env = gym.make("agent_envs/SWEBench-v0", command_timeout=1, max_format_errors=2)
    try:
        env.reset(seed=0)
        obs, _, terminated, _, info = env.step(fence("sleep 30"))
        assert "<returncode>124</returncode>" in obs and "timed out" in obs and info["timed_out"] and not terminated
        _, _, terminated, _, info = env.step("no code")
        assert not terminated and info["action_valid"] is False
        obs, _, terminated, _, _ = env.step("still no code")
        assert terminated and "Too many format errors" in obs
    finally:
        env.close()


def test_setup_edits_are_not_the_agents(tmp_path, tiny_instance) -> None:
    """A template's uncommitted setup edit (as `pre_install` leaves them) stays out of the submitted patch."""
    import json
    import os

    from agent_envs.sandbox.hardening import host_ids, privileged
    from agent_envs.swebench.template import build_template

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(tiny_instance) + "\n")
    readme = Path(build_template(tiny_instance, cache_dir=tmp_path / "cache").repo_dir) / "README.md"
    readme.write_text("# tinycalc, edited by setup\n")
    if privileged():
        os.chown(readme, *host_ids())
    env = gym.make("agent_envs/SWEBench-v0", data_path=str(data), cache_dir=str(tmp_path / "cache"))
    try:
        env.reset(seed=0)
        env.step(fence(FIX))
        _, reward, terminated, _, info = env.step(fence("submit"))
        assert terminated and reward == 1.0, info.get("grade")
        assert "tinycalc/stats.py" in info["patch"] and "README.md" not in info["patch"]
    finally:
        env.close()
