"""Grading: swebench's parser and report on recorded logs, and full local grading of four kinds of patch."""

from __future__ import annotations

import pytest

from agent_envs.swebench.grading import APPLY_PATCH_FAIL, grade, report_from_log, result_from_report
from agent_envs.swebench.spec import eval_script, image_name, instance_spec, make_test_spec, patch_test_files

RECORDED_PASS = """+ git apply -v -
Applied patch tests/test_stats.py cleanly.
+ : '>>>>> Start Test Output'
+ pytest -rA tests/test_stats.py
============================= test session starts ==============================
collected 5 items

tests/test_stats.py .....                                                [100%]

==================================== PASSES ====================================
=========================== short test summary info ============================
PASSED tests/test_stats.py::test_mean_basic
PASSED tests/test_stats.py::test_clamp_low
PASSED tests/test_stats.py::test_clamp_high
PASSED tests/test_stats.py::test_median_odd
PASSED tests/test_stats.py::test_median_even
============================== 5 passed in 0.02s ===============================
+ : '>>>>> End Test Output'
"""


def test_recorded_log_resolved(tiny_instance) -> None:
    report = report_from_log(tiny_instance, RECORDED_PASS, "diff")
    result = result_from_report(tiny_instance, report, RECORDED_PASS)
    assert result.resolved and result.patch_applied and result.info()["f2p"] == "1/1" and result.info()["p2p"] == "4/4"


def test_recorded_log_with_failures(tiny_instance) -> None:
    log = RECORDED_PASS.replace("PASSED tests/test_stats.py::test_median_even",
                                "FAILED tests/test_stats.py::test_median_even - assert 3 == 2.5")
    result = result_from_report(tiny_instance, report_from_log(tiny_instance, log, "diff"), log)
    assert not result.resolved and result.fail_to_pass["failure"] == ["tests/test_stats.py::test_median_even"]
    log = RECORDED_PASS.replace("PASSED tests/test_stats.py::test_clamp_low",
                                "FAILED tests/test_stats.py::test_clamp_low")
    result = result_from_report(tiny_instance, report_from_log(tiny_instance, log, "diff"), log)
    assert not result.resolved and result.pass_to_pass["failure"] == ["tests/test_stats.py::test_clamp_low"]


@pytest.mark.parametrize("log", ["no markers at all", RECORDED_PASS + APPLY_PATCH_FAIL,
                                 RECORDED_PASS.replace("+ : '>>>>> End Test Output'", "")])
def test_recorded_broken_logs_are_not_resolved(tiny_instance, log: str) -> None:
    result = result_from_report(tiny_instance, report_from_log(tiny_instance, log, "diff"), log)
    assert not result.resolved and not result.patch_applied


def test_real_instance_spec_and_eval_script(shared_data) -> None:
    from agent_envs.swebench.data import load_instances

    [inst] = load_instances(shared_data / "swebench", instance_ids=["pytest-dev__pytest-7490"])
    spec = instance_spec(inst)
    assert spec["python"] == "3.9" and "pluggy==0.13.1" in spec["pip_packages"]
    official = eval_script(inst)
    local = eval_script(inst, local=True)
    assert "conda activate testbed" in official and "conda" not in local and "safe.directory" not in local
    assert "pytest -rA testing/test_skipping.py" in local and ">>>>> Start Test Output" in local
    assert patch_test_files(inst["test_patch"]) == ["testing/test_skipping.py"]
    assert make_test_spec(inst).instance_image_key == image_name(inst["instance_id"])
    assert image_name(inst["instance_id"]) == "swebench/sweb.eval.x86_64.pytest-dev_1776_pytest-7490:latest"


BREAK_CLAMP = """--- a/tinycalc/stats.py
+++ b/tinycalc/stats.py
@@ -10,4 +10,4 @@
 
 def clamp(value, low, high):
     \"\"\"`value` limited to the closed interval [low, high].\"\"\"
-    return max(low, min(high, value))
+    return min(low, max(high, value))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, resolved, applied, f2p, p2p",
    [("gold", True, True, "1/1", "4/4"), ("empty", False, False, "0/0", "0/0"),
     ("empty_run", False, False, "0/1", "4/4"), ("breaks_p2p", False, True, "1/1", "3/4"),
     ("unapplicable", False, False, "0/0", "0/0")],
)
def test_grade_local(tiny_instance, tiny_template, kind, resolved, applied, f2p, p2p) -> None:
    patch = {"gold": tiny_instance["patch"], "empty": "", "empty_run": "",
             "breaks_p2p": tiny_instance["patch"] + BREAK_CLAMP,
             "unapplicable": "diff --git a/nothing.py b/nothing.py\n--- a/nothing.py\n+++ b/nothing.py\n"
                             "@@ -1 +1 @@\n-a\n+b\n"}
    before = tiny_template.repo_dir
    result = grade(tiny_instance, patch[kind], tiny_template.sandbox, run_empty=kind == "empty_run")
    info = result.info()
    got = (result.resolved, result.patch_applied, info["f2p"], info["p2p"])
    assert got == (resolved, applied, f2p, p2p), result.log[-2000:]
    assert result.reward == float(resolved)
    assert bool(result.error) == (kind in ("empty", "empty_run", "unapplicable"))  # why it was not applied
    assert tiny_template.repo_dir == before


def test_prelude_runs_before_the_reinstall_and_tests(tiny_instance) -> None:
    from agent_envs.swebench.services import with_prelude

    script = with_prelude(eval_script(tiny_instance, local=True), "export HTTPBIN_URL=http://127.0.0.1:8765/\n")
    lines = script.splitlines()
    at = lines.index("export HTTPBIN_URL=http://127.0.0.1:8765/")
    assert lines[at - 1] == "cd /testbed" and at < lines.index(": '>>>>> Start Test Output'")
