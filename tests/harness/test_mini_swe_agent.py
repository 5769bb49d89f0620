"""SWE-bench's default scaffold is mini-swe-agent's: a scripted agent in its format resolves the synthetic instance
through `run_bench`, with its messages, observations, format errors, step limit and sentinel submission."""

from __future__ import annotations

import json

from agent_envs.swebench.prompts import PROMPTS
from harness.bench import run_bench
from harness.config import BenchConfig
from harness.policies.scripted import ScriptedPolicy
from harness.storage import read_episodes
from harness.types import prompts


def mini(thought: str, command: str) -> str:
    return f"THOUGHT: {thought}\n\n```mswea_bash_command\n{command}\n```"


FIX = ("python - <<'EOF'\nimport pathlib\np = pathlib.Path('tinycalc/stats.py')\n"
       "s = p.read_text().replace('    return ordered[len(ordered) // 2]\\n', "
       "'    m = len(ordered) // 2\\n    return ordered[m] if len(ordered) % 2 else "
       "(ordered[m - 1] + ordered[m]) / 2\\n')\np.write_text(s)\nEOF")
REPLIES = [
    mini("Find the function.", "grep -n 'def median' -A4 tinycalc/stats.py"),
    mini("Two at once.", "ls") + "\n\n```mswea_bash_command\npwd\n```",  # a format error
    mini("Fix even lengths.", FIX),
    mini("Check.", "python -c 'from tinycalc.stats import median; print(median([4, 1, 3, 2]))'"),
    mini("Make the patch.", "git diff -- tinycalc/stats.py > patch.txt"),
    mini("Verify it.", "cat patch.txt"),
    mini("Submit.", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"),
]


def test_mini_swe_agent_style_episode_resolves(tmp_path):
    config = BenchConfig.model_validate({"env": {"id": "swebench"}, "policy": {"name": "scripted"},
                                         "output": {"dir": str(tmp_path / "run")}})
    summary, _, run_dir = run_bench(config, ScriptedPolicy(REPLIES), progress=False)
    assert summary["success_rate"] == 1.0
    stored = json.loads((run_dir / "config.json").read_text())["config"]
    assert stored["prompt"]["scaffold"] == "chat" and stored["env"]["max_steps"] == 250
    assert stored["env"]["kwargs"] == {"max_format_errors": 3, "grade_on_truncation": False}
    assert stored["policy"]["stop"] is None
    (episode,) = read_episodes(run_dir)
    assert len(episode.turns) == len(REPLIES) and episode.turns[-1].terminated
    assert episode.turns[-1].info["grade"]["f2p"] == "1/1"
    final = prompts(episode.turns)[-1]
    assert final[0] == {"role": "system", "content": PROMPTS["chat_system"]}
    assert final[1]["content"].startswith("<pr_description>\nConsider the following PR description:\n")
    assert "median" in final[1]["content"] and "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" in final[1]["content"]
    roles = [m["role"] for m in final[2:]]
    assert roles == ["assistant", "user"] * (len(REPLIES) - 1)
    observations = [m["content"] for m in final[3::2]]
    assert observations[0].startswith("<returncode>0</returncode>\n<output>\n") and "def median" in observations[0]
    assert observations[1].startswith("Format error:\n\n<error>\nfound 2 code blocks")
    assert "2.5" in observations[3] and "+++ b/tinycalc/stats.py" in observations[5]
    assert [m["content"] for m in final[2::2]] == REPLIES[:-1]  # every response, whole


def test_the_step_limit_ends_the_run_without_a_submission(tmp_path):
    config = BenchConfig.model_validate({"env": {"id": "swebench", "max_steps": 2}, "policy": {"name": "scripted"},
                                         "output": {"dir": str(tmp_path / "run")}})
    summary, _, run_dir = run_bench(config, ScriptedPolicy([REPLIES[2], REPLIES[3]]), progress=False)
    (episode,) = read_episodes(run_dir)
    last = episode.turns[-1]
    assert summary["success_rate"] == 0.0 and last.truncated and not last.terminated
    assert last.info["truncation"] == "turn_limit" and last.info["auto_submitted"] is False and "grade" not in last.info
    assert "2.5" in episode.turns[-1].observation and "nothing was submitted" in last.observation
