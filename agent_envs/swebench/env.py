"""`agent_envs/SWEBench-v0`: fix a GitHub issue in a sandboxed repository, graded by the instance's official tests.

reset() starts a sandbox with the repository at its base commit (future history stripped) and returns the issue
text. Each step runs one bash command (a ```bash block, or a `bash` tool call) and returns its exit code and
truncated output as mini-swe-agent shows them. `submit` (command or tool) or mini-swe-agent's sentinel ends the
episode: the env takes `git diff` from the sandbox, grades it in a fresh sandbox and returns reward 1.0 if resolved,
with FAIL_TO_PASS / PASS_TO_PASS details in `info["grade"]`.
An episode cut short without a submission (the turn limit, the episode's command-time budget or its wall-clock limit)
is graded the same way on its current diff, as SWE-bench agents' final diffs are: that last step has
`truncated=True`, the grade's reward, and `info["auto_submitted"] = True` with `info["truncation"]` saying why
(`grade_on_truncation=False`: not graded, as mini-swe-agent's limits end a run).

Without data the env serves the embedded synthetic instance `aemgym__tinycalc-1` (local backend, no Docker).
"""

from __future__ import annotations

import base64
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from agent_envs.core import (
    ACTION_VALID,
    ANCHOR_OBS,
    EXPERT_ACTION,
    INSTRUCTION,
    SCORE,
    SUCCESS,
    Task,
    TaskSet,
    TextEnv,
    Transition,
)
from agent_envs.sandbox.base import Sandbox, SandboxLimits
from agent_envs.swebench import actions, prompts, synthetic
from agent_envs.swebench.data import find_data_file, load_instances
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
        wall_time_limit_s: wall-clock limit per episode (model time included; None: none).
        max_turns: turn limit at which the current diff is graded; default: the `max_episode_steps` of the
            `gymnasium.make` (`turn_limit`, 50 as registered).
        grade_timeout_s: limit for the eval script.
        max_format_errors: end the episode after this many consecutive unparseable replies (None: never).
        grade_on_truncation: grade the current diff of an episode cut short (False: it ends unresolved, as
            mini-swe-agent's step limit does).
        docker_url / docker_namespace: Docker engine (default `$DOCKER_HOST` / the default socket) and image
            namespace for the Docker backend.
        **kwargs: `TextEnv` options (split, expert, invalid_action_penalty, render_mode, ...).
    """

    prompt_module: ClassVar[str] = "agent_envs.swebench.prompts"
    invalid_feedback: ClassVar[str] = prompts.FORMAT_ERROR
    tool_feedback: ClassVar[str] = prompts.TOOL_ERROR
    action_format: ClassVar[str] = "```bash\n{action}\n```"

    def __init__(self, *, data_path: str | None = None, hf_dataset: str | None = None,
                 instance_ids: list[str] | None = None, repos: list[str] | None = None, backend: str = "local",
                 repos_dir: str | None = None, cache_dir: str | None = None, python: str | None = None,
                 command_timeout: float = 60.0, episode_budget_s: float = 1800.0, grade_timeout_s: float = 1800.0,
                 wall_time_limit_s: float | None = None, max_turns: int | None = None,
                 max_format_errors: int | None = None, grade_on_truncation: bool = True, docker_url: str | None = None,
                 docker_namespace: str = "swebench", split: str = "test", **kwargs: Any):
        super().__init__(split=split, **kwargs)
        if backend not in ("local", "docker"):
            raise ValueError(f"backend must be 'local' or 'docker', got {backend!r}")
        self.data_path, self.hf_dataset, self.instance_ids, self.repos = data_path, hf_dataset, instance_ids, repos
        self.backend, self.repos_dir, self.python = backend, repos_dir, python
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.limits = SandboxLimits(timeout_s=command_timeout, episode_budget_s=episode_budget_s)
        self.grade_timeout_s, self.max_format_errors = grade_timeout_s, max_format_errors
        self.grade_on_truncation = grade_on_truncation
        self.docker_url, self.docker_namespace = docker_url, docker_namespace
        self.wall_time_limit_s, self.max_turns = wall_time_limit_s, max_turns
        self._turn_limit: int | None = max_turns
        self._started_at = 0.0
        self._truncation = ""
        self.sandbox: Sandbox | None = None
        self.last_grade: GradeResult | None = None
        self.last_patch = ""
        self._parse_error = ""
        self._format_errors = 0
        self._gold_applied = False
        self._grade_prelude = ""
        self._diff_base = ""
        self._tool_call = False  # the action came as a tool call: answer in mini-swe-agent's tool layout

    # ----- tasks -----------------------------------------------------------------------------------------------------
    @classmethod
    def load_task_set(  # type: ignore[override]  # each env names its own task-set options
        cls, data_path: str | None = None, hf_dataset: str | None = None, split: str = "test",
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

    def data_files(self, task_ids: Iterable[str] | None = None) -> list[str]:
        """The instance file (none for a Hugging Face dataset or the synthetic instance)."""
        source = self.data_path or os.environ.get("AEMGYM_SWEBENCH_DATA")
        return [str(find_data_file(source, self.split).resolve())] if source else []

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
            return lambda: DockerSandbox(image, base_url=self.docker_url, strip_history=base,
                                         limits=SandboxLimits(**vars(limits)))
        template = build_template(instance, cache_dir=self.cache_dir, repos_dir=self.repos_dir, python=self.python)
        self._grade_prelude = template.prelude  # the tests' local servers (services.py), started by grading
        work_root = self.cache_dir / "episodes"
        return lambda: template.sandbox(limits=SandboxLimits(**vars(limits)), work_root=work_root)

    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._close_sandbox()
        instance = dict(task.data)
        self.sandbox = self.sandbox_factory(instance, agent=True)().start()
        # The diff base is the episode's starting state: setup edits (uncommitted in local templates, a SWE-bench
        # commit in the official images) are not the agent's; `git stash create` snapshots them without moving HEAD.
        start = self.sandbox.exec("git stash create 2>/dev/null || true; git rev-parse HEAD", timeout=60).output.split()
        self._diff_base = start[0] if start and re.fullmatch(r"[0-9a-f]{40}", start[0]) else instance["base_commit"]
        self.last_grade, self.last_patch, self._format_errors, self._gold_applied = None, "", 0, False
        self._started_at, self._truncation = time.monotonic(), ""
        problem = instance["problem_statement"]
        obs = f"<issue>\n{problem.strip()}\n</issue>\nThe repository is at /testbed. Reply with one ```bash command."
        return obs, {INSTRUCTION: problem, "repo": instance["repo"], "backend": self.backend}

    # ----- episode limits --------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode (see `TextEnv.reset`) with `max_turns`, else the turn limit `gymnasium.make` set."""
        self._turn_limit = self.max_turns if self.max_turns is not None else self.turn_limit
        return super().reset(seed=seed, options=options)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """One turn (see `TextEnv.step`); at the turn limit or a time limit the current diff is graded."""
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated or self.sandbox is None:
            return obs, reward, terminated, truncated, info
        if not self._truncation:
            if self._turn_limit is not None and self.steps >= self._turn_limit:
                self._truncation = "turn_limit"
            elif self.wall_time_limit_s is not None and time.monotonic() - self._started_at >= self.wall_time_limit_s:
                self._truncation = "wall_time"
        if not self._truncation:
            return obs, reward, terminated, truncated, info
        why = {"turn_limit": f"the turn limit ({self._turn_limit}) is reached",
               "episode_budget": f"the command time budget ({self.limits.episode_budget_s:g} s) is spent",
               "wall_time": f"the wall-clock limit ({self.wall_time_limit_s} s) is reached"}[self._truncation]
        if not self.grade_on_truncation:
            self._close_sandbox()
            info.update({"auto_submitted": False, "truncation": self._truncation})
            info.pop(EXPERT_ACTION, None)
            return f"{obs}\n\nThe episode ends: {why}; nothing was submitted.", reward, False, True, info
        graded = self._submit(f"{obs}\n\nThe episode ends: {why}; your current changes are submitted.")
        self.success, self.score = self.success or graded.success, max(self.score, graded.score)
        self._last_obs = graded.observation
        info.update(graded.info)
        info.update({"auto_submitted": True, "truncation": self._truncation, SUCCESS: self.success, SCORE: self.score,
                     ANCHOR_OBS: graded.observation})
        info.pop(EXPERT_ACTION, None)
        return graded.observation, reward + graded.reward, False, True, info

    # ----- steps -----------------------------------------------------------------------------------------------------
    def _parse(self, response: str) -> str | None:
        self._tool_call = False
        try:
            command = actions.parse_command(response)
        except actions.ParseError as exc:
            self._parse_error = str(exc)
            return None
        self._format_errors = 0
        return command

    def tools(self) -> list[dict[str, Any]]:
        """mini-swe-agent's `bash` tool, and `submit`."""
        return prompts.TOOLS

    def _tool_action(self, name: str, arguments: dict[str, Any]) -> str | None:
        self._tool_call = True
        if name == "submit":
            command = "submit"
        else:
            try:
                command = actions.check_command(str(arguments.get("command", "")))
            except actions.ParseError:
                return None
        self._format_errors = 0
        return command

    def _invalid_tool_call(self, reason: str) -> Transition:
        self._tool_call = True
        return self._format_error(self.tool_feedback.format(reason=reason))

    def _unparseable(self, reason: str) -> Transition:
        return self._format_error(self.invalid_feedback.format(reason=self._parse_error or reason))

    def _format_error(self, feedback: str) -> Transition:
        self._format_errors += 1
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
        observation = actions.format_observation(result, tool=self._tool_call)
        info = {"exit_code": result.exit_code, "timed_out": result.timed_out}
        if actions.is_submit_output(result):
            return self._submit("Submitted.")
        if self.sandbox.used_s >= self.sandbox.limits.episode_budget_s or result.note.startswith("episode time"):
            self._truncation = "episode_budget"
        return Transition(observation, info=info)

    def _submit(self, message: str) -> Transition:
        assert self.sandbox is not None and self.task is not None
        instance = dict(self.task.data)
        self.sandbox.limits.episode_budget_s = float("inf")  # taking the patch is the env's work, not the agent's
        self.last_patch = self.sandbox.diff(self._diff_base, exclude=patch_test_files(instance["test_patch"]))
        self._close_sandbox()
        factory = self.sandbox_factory(instance, agent=False)
        result = grade(instance, self.last_patch, factory, local=self.backend == "local",
                       timeout_s=self.grade_timeout_s, prelude=self._grade_prelude if self.backend == "local" else "")
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
