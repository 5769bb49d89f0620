"""Report numbers on a hand-made run directory, and the Wilson interval."""

from __future__ import annotations

import json

import pytest

from harness.report import report_run, wilson_interval
from harness.types import Episode, PolicyResponse, Turn


def test_wilson_interval_known_values():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def _episode(i: int, task_type: str, success: bool, status: str = "ok") -> Episode:
    turns = [
        Turn(step, [{"role": "user", "content": "x"}],
             PolicyResponse(text="<action>A</action>", usage={"prompt_tokens": 100, "completion_tokens": 10},
                            latency_s=0.1 * (step + 1)),
             "obs", 0.0, False, False, {"action_valid": step != 0}, 0.001)
        for step in range(2)
    ]
    return Episode(f"t{i}/0", "agent_envs/Doors-v0", f"t{i}", f"t{i}", 0, turns, float(success), success,
                   1.0 if success else 0.25, status=status, error="boom" if status == "error" else None,
                   task_type=task_type, wall_time_s=1.0)


def test_report_numbers_on_a_hand_made_run(tmp_path):
    episodes = [_episode(0, "lit", True), _episode(1, "lit", True), _episode(2, "lit", False),
                _episode(3, "dark", True), _episode(4, "dark", False, status="error")]
    (tmp_path / "config.json").write_text(json.dumps({"env_id": "agent_envs/Doors-v0", "policy": "hand"}))
    lines = [json.dumps(e.to_dict()) for e in episodes]
    (tmp_path / "episodes.jsonl").write_text("\n".join(lines) + "\n" + lines[0][:40])  # plus a torn line
    summary, markdown = report_run(tmp_path)
    assert summary["episodes"] == 5 and summary["completed"] == 4 and summary["errors_count"] == 1
    assert summary["successes"] == 3 and summary["success_rate"] == pytest.approx(0.75)  # errors are not task failures
    assert summary["success_rate_errors_as_failures"] == pytest.approx(0.6)
    assert summary["success_ci95"] == pytest.approx(list(wilson_interval(3, 4))) and summary["ci_method"] == "Wilson"
    assert summary["mean_score"] == pytest.approx((1 + 1 + 0.25 + 1) / 4)
    assert summary["per_task_type"]["lit"]["success_rate"] == pytest.approx(2 / 3)
    assert summary["per_task_type"]["dark"]["episodes"] == 2 and summary["per_task_type"]["dark"]["successes"] == 1
    assert summary["tokens"] == {"prompt": 1000, "completion": 100, "per_episode": 220.0}
    assert summary["latency_s"]["policy_mean"] == pytest.approx(0.15)
    assert summary["invalid_action_rate"] == pytest.approx(0.5)
    assert summary["errors"]["count"] == 1
    assert "**Success rate: 75.0%**" in markdown and "errors counted as failures: 60.0%" in markdown
    assert "| dark | 2 | 1 | 100.0% |" in markdown
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "summary.json").read_text())["successes"] == 3


def test_several_samples_per_task_get_pass_at_k_and_a_task_clustered_interval(tmp_path):
    from harness.stats import pass_at_k, pass_hat_k

    wins = {0: [True, True, True, True], 1: [True, False, False, False], 2: [False] * 4, 3: [True, True, False, False]}
    episodes = []
    for task, outcomes in wins.items():
        for sample, won in enumerate(outcomes):
            e = _episode(task, "lit", won)
            e.episode_id, e.sample_index = f"t{task}/{sample}", sample
            episodes.append(e)
    (tmp_path / "episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in episodes))
    summary, markdown = report_run(tmp_path)
    assert summary["samples_per_task"] == 4 and summary["ci_method"] == "bootstrap over tasks"
    expected = sum(pass_at_k(4, sum(v), 4) for v in wins.values()) / 4
    assert summary["pass@4"] == pytest.approx(expected) == pytest.approx(0.75)
    assert summary["pass^4"] == pytest.approx(sum(pass_hat_k(4, sum(v), 4) for v in wins.values()) / 4) == 0.25
    low, high = summary["success_ci95"]
    wilson_low, wilson_high = wilson_interval(7, 16)
    assert low <= 7 / 16 <= high and high - low > wilson_high - wilson_low  # correlated samples: a wider interval
    assert "pass@4: 75.0%" in markdown


def test_tasks_that_all_agree_still_get_an_interval_as_wide_as_wilson_over_tasks(tmp_path):
    """5 failed samples on each of 2 tasks: the bootstrap over tasks alone would say 0–0%."""
    episodes = []
    for task in range(2):
        for sample in range(5):
            e = _episode(task, "lit", False)
            e.episode_id, e.sample_index = f"t{task}/{sample}", sample
            episodes.append(e)
    (tmp_path / "episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in episodes))
    summary, _ = report_run(tmp_path)
    assert summary["samples_per_task"] == 5 and summary["success_rate"] == 0.0
    assert summary["success_ci95"] == pytest.approx(list(wilson_interval(0, 2)))
    assert summary["success_ci95"][1] > 0.6
