"""`agent_envs/SWEBench-v0`: fix a GitHub issue in a sandboxed repository, graded by the instance's official tests.

reset() starts a sandbox with the repository at its base commit (future history stripped) and returns the issue
text. Each step runs one bash command (a ```bash block) and returns its exit code and truncated output. `submit`
(or mini-swe-agent's sentinel) ends the episode: the env takes `git diff` from the sandbox, grades it in a fresh
sandbox and returns reward 1.0 if resolved, with FAIL_TO_PASS / PASS_TO_PASS details in `info["grade"]`.

Without data the env serves the embedded synthetic instance `aemgym__tinycalc-1` (local backend, no Docker).
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from agent_envs.core import ACTION_VALID, INSTRUCTION, Task, TaskSet, TextEnv, Transition
from agent_envs.sandbox.base import Sandbox, SandboxLimits
from agent_envs.swebench import actions, synthetic
from agent_envs.swebench.data import load_instances
from agent_envs.swebench.grading import GradeResult, grade
from agent_envs.swebench.spec import image_name, patch_test_files
from agent_envs.swebench.template import build_template, default_cache_dir


class SWEBenchEnv(TextEnv):
    """SWE-bench episodes in a local (bubblewrap) or Docker sandbox.

    Args:
        data_path: instance file or directory (default `$AEMGYM_SWEBENCH_DATA`; none = the synthetic instance).
        hf_dataset: a Hugging Face dataset name to load when no path is given.
        instance_ids / repos: filters.
        backend: "local" (bubblewrap over a cached template) or "docker" (official images).
        repos_dir: local clones for templates (default `$AEMGYM_SWEBENCH_REPOS`).
        cache_dir: template cache (default `$AEMGYM_SWEBENCH_CACHE` or ~/.cache/aemgym/swebench).
        python: interpreter for local templates (default: pyenv's matching the spec's version).
        command_timeout: seconds per command; episode_budget_s: total command time per episode.
        grade_timeout_s: limit for the eval script.
        max_format_errors: end the episode after this many consecutive unparseable replies (None: never).
        docker / docker_namespace: docker executable and image namespace for the Docker backend.
        **kwargs: `TextEnv` options (split, expert, invalid_action_penalty, render_mode, ...).
    """

    prompt_module: ClassVar[str] = "agent_envs.swebench.prompts"
    invalid_feedback: ClassVar[str] = (
        "Invalid response: {reason}. Reply with exactly one bash command in a ```bash code block "
        "(or `submit` in one when you are done)."
    )

    def __init__(self, *, data_path: str | None = None, hf_dataset: str | None = None,
                 instance_ids: list[str] | None = None, repos: list[str] | None = None, backend: str = "local",
                 repos_dir: str | None = None, cache_dir: str | None = None, python: str | None = None,
                 command_timeout: float = 60.0, episode_budget_s: float = 1800.0, grade_timeout_s: float = 1800.0,
                 max_format_errors: int | None = None, docker: str = "docker", docker_namespace: str = "swebench",
                 split: str = "test", **kwargs: Any):
        super().__init__(split=split, **kwargs)
        if backend not in ("local", "docker"):
            raise ValueError(f"backend must be 'local' or 'docker', got {backend!r}")
        self.data_path, self.hf_dataset, self.instance_ids, self.repos = data_path, hf_dataset, instance_ids, repos
        self.backend, self.repos_dir, self.python = backend, repos_dir, python
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.limits = SandboxLimits(timeout_s=command_timeout, episode_budget_s=episode_budget_s)
        self.grade_timeout_s, self.max_format_errors = grade_timeout_s, max_format_errors
        self.docker, self.docker_namespace = docker, docker_namespace
        self.sandbox: Sandbox | None = None
        self.last_grade: GradeResult | None = None
        self.last_patch = ""
        self._parse_error = ""
        self._format_errors = 0
        self._gold_applied = False

    # ----- tasks -----------------------------------------------------------------------------------------------------
    @classmethod
    def load_task_set(cls, data_path: str | None = None, hf_dataset: str | None = None, split: str = "test",
                      instance_ids: list[str] | None = None, repos: list[str] | None = None,
                      cache_dir: str | Path | None = None) -> TaskSet:
        """Instances from the data source, or the embedded synthetic instance when there is none."""
        rows = load_instances(data_path, split=split, hf_dataset=hf_dataset, instance_ids=instance_ids, repos=repos)
        if rows is None:
            cache = Path(cache_dir) if cache_dir else default_cache_dir()
            source = synthetic.build_source_repo(cache / "sources" / "aemgym__tinycalc")
            rows, name = [synthetic.tinycalc_instance(source)], "SWE-bench (synthetic tinycalc)"
        else:
            name = f"SWE-bench ({data_path or hf_dataset})"
        return TaskSet((Task(r["instance_id"], split, r["repo"], r) for r in rows), name=name)

    def _task_set_kwargs(self) -> dict[str, Any]:
        return {"data_path": self.data_path, "hf_dataset": self.hf_dataset, "split": self.split,
                "instance_ids": self.instance_ids, "repos": self.repos, "cache_dir": self.cache_dir}

    # ----- sandboxes -------------------------------------------------------------------------------------------------
    def sandbox_factory(self, instance: dict[str, Any], *, agent: bool) -> Callable[[], Sandbox]:
        """A function returning a new unstarted sandbox for `instance` (agent sandboxes strip history in Docker)."""
        if instance["repo"] == synthetic.REPO:
            synthetic.register_spec()
        limits = self.limits if agent else SandboxLimits(timeout_s=self.grade_timeout_s,
                                                         episode_budget_s=self.grade_timeout_s + 600)
        if self.backend == "docker":
            from agent_envs.sandbox.docker import DockerSandbox

            image = image_name(instance["instance_id"], self.docker_namespace)
            base = instance["base_commit"] if agent else None
            return lambda: DockerSandbox(image, docker=self.docker, strip_history=base,
                                         limits=SandboxLimits(**vars(limits)))
        template = build_template(instance, cache_dir=self.cache_dir, repos_dir=self.repos_dir, python=self.python)
        work_root = self.cache_dir / "episodes"
        return lambda: template.sandbox(limits=SandboxLimits(**vars(limits)), work_root=work_root)

    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._close_sandbox()
        instance = dict(task.data)
        self.sandbox = self.sandbox_factory(instance, agent=True)().start()
        self.last_grade, self.last_patch, self._format_errors, self._gold_applied = None, "", 0, False
        problem = instance["problem_statement"]
        obs = f"<issue>\n{problem.strip()}\n</issue>\nThe repository is at /testbed. Reply with one ```bash command."
        return obs, {INSTRUCTION: problem, "repo": instance["repo"], "backend": self.backend}

    # ----- steps -----------------------------------------------------------------------------------------------------
    def _parse(self, response: str) -> str | None:
        try:
            command = actions.parse_command(response)
        except actions.ParseError as exc:
            self._parse_error = str(exc)
            return None
        self._format_errors = 0
        return command

    def _unparseable(self, reason: str) -> Transition:
        self._format_errors += 1
        feedback = self.invalid_feedback.format(reason=self._parse_error or reason)
        if self.max_format_errors is not None and self._format_errors >= self.max_format_errors:
            return Transition(feedback + " Too many format errors: the episode ends.", terminated=True,
                              info={ACTION_VALID: False})
        return Transition(feedback, info={ACTION_VALID: False})

    def _act(self, action: str) -> Transition:
        assert self.sandbox is not None and self.task is not None
        if actions.is_submit_command(action):
            return self._submit("Submitted.")
        result = self.sandbox.exec(action)
        if action == self._gold_command():
            self._gold_applied = True
        observation = actions.format_observation(result)
        info = {"exit_code": result.exit_code, "timed_out": result.timed_out}
        if actions.is_submit_output(result):
            return self._submit("Submitted.")
        if result.note.startswith("episode time budget"):
            return self._submit(observation + "\nThe episode time budget is spent; your changes are submitted.")
        return Transition(observation, info=info)

    def _submit(self, message: str) -> Transition:
        assert self.sandbox is not None and self.task is not None
        instance = dict(self.task.data)
        self.last_patch = self.sandbox.diff(instance["base_commit"], exclude=patch_test_files(instance["test_patch"]))
        self._close_sandbox()
        result = grade(instance, self.last_patch, self.sandbox_factory(instance, agent=False),
                       local=self.backend == "local", timeout_s=self.grade_timeout_s)
        self.last_grade = result
        verdict = "RESOLVED" if result.resolved else "NOT RESOLVED"
        summary = (f"{message} Patch: {len(self.last_patch.splitlines())} lines, applied: {result.patch_applied}. "
                   f"FAIL_TO_PASS {result.info()['f2p']}, PASS_TO_PASS {result.info()['p2p']}: {verdict}.")
        return Transition(summary, reward=result.reward, terminated=True, success=result.resolved,
                          score=result.reward, info={"grade": result.info(), "patch": self.last_patch})

    # ----- expert ----------------------------------------------------------------------------------------------------
    def _gold_command(self) -> str:
        assert self.task is not None
        encoded = base64.b64encode(self.task.data["patch"].encode()).decode()
        return f"echo {encoded} | base64 -d | git apply -v -"

    def expert_action(self) -> str:
        """Apply the gold patch (base64, so any content survives the code fence), then `submit`."""
        return "submit" if self._gold_applied else self._gold_command()

    # ----- cleanup ---------------------------------------------------------------------------------------------------
    def _close_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None

    def _close(self) -> None:
        self._close_sandbox()

    def __del__(self) -> None:  # a forgotten env must not leave sandboxes behind
        if sys is not None and getattr(self, "sandbox", None) is not None:
            try:
                self._close_sandbox()
            except Exception:  # interpreter shutdown: best effort only
                pass
