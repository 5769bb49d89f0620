"""Grading a patch the official way: fresh sandbox, apply the patch, run the eval script, swebench's parser and report.

Backend-independent: `grade` takes a factory returning a new, unstarted sandbox over the pristine instance (a local
template overlay or a fresh container from the instance image). The log is parsed with swebench's per-repo parser and
`get_eval_report`; reward 1.0 iff the instance is resolved (all FAIL_TO_PASS and PASS_TO_PASS tests pass).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_envs.sandbox.base import Sandbox
from agent_envs.swebench.services import with_prelude
from agent_envs.swebench.spec import eval_script, make_test_spec, swebench_modules

# The official harness's markers and patch-application cascade (swebench.harness.constants / run_evaluation).
APPLY_PATCH_FAIL = ">>>>> Patch Apply Failed"
APPLY_PATCH_PASS = ">>>>> Applied Patch"
TESTS_TIMEOUT = ">>>>> Tests Timed Out"
APPLY_COMMANDS = ("git apply --verbose", "git apply --verbose --reject", "patch --batch --fuzz=5 -p1 -i")
PATCH_PATH = "/tmp/aemgym_model.patch"
EVAL_PATH = "/tmp/aemgym_eval.sh"
LOG_PATH = "/tmp/aemgym_eval.log"


@dataclass
class GradeResult:
    """The outcome of grading one patch; `info()` is what the env puts in its terminal `info`."""

    instance_id: str
    resolved: bool
    patch_applied: bool
    fail_to_pass: dict[str, list[str]] = field(default_factory=lambda: {"success": [], "failure": []})
    pass_to_pass: dict[str, list[str]] = field(default_factory=lambda: {"success": [], "failure": []})
    log: str = ""
    eval_s: float = 0.0
    total_s: float = 0.0
    error: str = ""  # why the patch was not applied or the tests could not be graded (one line)

    @property
    def reward(self) -> float:
        """1.0 if resolved, else 0.0."""
        return 1.0 if self.resolved else 0.0

    def info(self) -> dict[str, Any]:
        """A compact summary (no log) for `info` dicts and reports."""
        data = asdict(self)
        data.pop("log")
        data["f2p"] = f"{len(self.fail_to_pass['success'])}/{sum(map(len, self.fail_to_pass.values()))}"
        data["p2p"] = f"{len(self.pass_to_pass['success'])}/{sum(map(len, self.pass_to_pass.values()))}"
        return data


def report_from_log(instance: Mapping[str, Any], log: str, patch: str | None) -> dict[str, Any]:
    """Swebench's `get_eval_report` on a log text: {patch_successfully_applied, resolved, tests_status, ...}."""
    spec = make_test_spec(instance)
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as fh:
        fh.write(log)
        path = fh.name
    try:
        prediction = {"instance_id": instance["instance_id"], "model_patch": patch, "model_name_or_path": "aemgym"}
        report = swebench_modules().grading.get_eval_report(spec, prediction, path, include_tests_status=True)
    finally:
        Path(path).unlink(missing_ok=True)
    return report[instance["instance_id"]]


def result_from_report(instance: Mapping[str, Any], report: Mapping[str, Any], log: str) -> GradeResult:
    """A `GradeResult` from a `get_eval_report` entry."""
    status = report.get("tests_status", {})
    return GradeResult(
        instance_id=instance["instance_id"],
        resolved=bool(report.get("resolved")),
        patch_applied=bool(report.get("patch_successfully_applied")),
        fail_to_pass=dict(status.get("FAIL_TO_PASS", {"success": [], "failure": []})),
        pass_to_pass=dict(status.get("PASS_TO_PASS", {"success": [], "failure": []})),
        log=log,
    )


def apply_patch(box: Sandbox, patch: str) -> tuple[bool, str]:
    """Apply `patch` in `/testbed` with the official cascade. Returns (applied, log lines)."""
    box.write_file(PATCH_PATH, patch if patch.endswith("\n") else patch + "\n")
    lines = []
    for command in APPLY_COMMANDS:
        result = box.exec(f"{command} {PATCH_PATH}", timeout=120)
        lines.append(f"$ {command}\n{result.output}")
        if result.exit_code == 0:
            return True, "\n".join(lines) + f"\n{APPLY_PATCH_PASS}:\n"
        box.exec("git checkout -- . && git clean -fdq -e '*.egg-info'", timeout=60)  # undo a partial application
    return False, "\n".join(lines) + f"\n{APPLY_PATCH_FAIL}:\n"


def grade(
    instance: Mapping[str, Any],
    patch: str,
    new_sandbox: Callable[[], Sandbox],
    *,
    local: bool = True,
    timeout_s: float = 1800,
    run_empty: bool = False,
    prelude: str = "",
) -> GradeResult:
    """Grade `patch` for `instance` in a fresh sandbox from `new_sandbox()`. Never raises for a bad patch.

    An empty patch is not applied and never resolves (as in the official harness); with `run_empty` its tests still
    run on the base commit plus the test patch, which checks that FAIL_TO_PASS tests fail without a fix.

    Args:
        instance: the SWE-bench instance (classic fields).
        patch: the model's diff.
        new_sandbox: returns an unstarted sandbox over the pristine repository.
        local: drop the conda lines of the eval script (local backend); keep them for the official images.
        timeout_s: limit for the eval script.
        run_empty: run the tests for an empty patch too (environment checks).
        prelude: shell lines run before the eval script's reinstall and tests (local test servers, `services.py`).
    """
    start = time.monotonic()
    if not patch.strip() and not run_empty:
        return GradeResult(instance["instance_id"], resolved=False, patch_applied=False,
                           error="empty patch: nothing to apply", total_s=time.monotonic() - start)
    box = new_sandbox()
    box.limits.episode_budget_s = max(box.limits.episode_budget_s, timeout_s + 600)
    with box:
        log = ""
        if patch.strip():
            applied, log = apply_patch(box, patch)
            if not applied:
                result = result_from_report(instance, report_from_log(instance, log, patch), log)
                result.error = "patch does not apply: " + _apply_error(log)
                result.total_s = time.monotonic() - start
                return result
        box.write_file(EVAL_PATH, with_prelude(eval_script(instance, local=local), prelude))
        t0 = time.monotonic()
        run = box.exec(f"bash {EVAL_PATH} > {LOG_PATH} 2>&1", timeout=timeout_s)
        eval_s = time.monotonic() - t0
        try:
            log += box.read_file(LOG_PATH)
        except FileNotFoundError as exc:
            log += f"cannot read the eval log: {exc}\n"
        if run.timed_out:
            log += f"\n{TESTS_TIMEOUT} after {timeout_s:g} s\n"
    result = result_from_report(instance, report_from_log(instance, log, patch), log)
    result.eval_s, result.total_s = eval_s, time.monotonic() - start
    if not patch.strip():
        result.patch_applied, result.resolved, result.error = False, False, "empty patch: nothing to apply"
    elif run.timed_out:
        result.error = f"the tests timed out after {timeout_s:g} s"
    elif not result.resolved and ">>>>> End Test Output" not in log:
        result.error = "the eval script ended before its tests finished (no end marker in the log)"
    return result


def _apply_error(log: str) -> str:
    """The first error line of `git apply` (the first command of the cascade), e.g. `error: x.py: No such file`."""
    first = log.split("$ ", 2)[1].splitlines()[1:] if "$ " in log else []
    errors = [ln.strip() for ln in first if ln.strip() and ("error" in ln.lower() or "failed" in ln.lower()
                                                             or "can't find" in ln.lower())]
    return (errors[0] if errors else "no command of the cascade applied it")[:200]
