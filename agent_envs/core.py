"""The environment contract: `TextEnv`, a Gymnasium env whose observations and actions are text.

A subclass supplies four things (see `agent_envs/doors/env.py` for a complete 100-line example):

- `load_task_set(**kwargs) -> TaskSet` (classmethod): the tasks per split, cheap to call (no engine start);
- `_start(task) -> (observation, info)`: begin an episode on `task`;
- `_parse(response) -> str | None`: turn the raw model response into an engine action (None = unparseable);
- `_act(action) -> Transition`: apply a parsed action.

Optionally `tools()` (the env's actions as JSON-schema tools, for models driven through tool calls) and
`_tool_action(name, arguments)` (a tool call → the engine action); by default one `act` tool whose `action` argument
is parsed as if written inside `<action>` tags. Tool calls reach `step` as one text action (`agent_envs.tools`).

`TextEnv` does the rest: seeding, task choice (`options={"task_id": ..., "split": ...}`), the standard `info` keys,
invalid-action handling (bad model output never raises), the step counter, `render()` and an idempotent `close()`.
The turn limit comes from `gymnasium.make(..., max_episode_steps=...)` → `truncated=True`; the env learns it as
`turn_limit` (set by `agent_envs.wrappers.TurnLimitNotice`, which registration adds to every built-in env).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym

from agent_envs.errors import TaskNotFound
from agent_envs.parsing import clean_action, describe_response, extract_tag
from agent_envs.spaces import UnicodeText
from agent_envs.tools import call_arguments, function_tool, parse_tool_calls, tool_name

_TASK_SETS: dict[tuple[type, str], TaskSet] = {}  # see TextEnv.task_set
_TASK_SETS_LOCK = threading.RLock()

# Keys every `info` dict carries.
ACTION_VALID = "action_valid"
ACTION = "action"  # the engine action parsed from the response (None when there was none)
ADMISSIBLE_ACTIONS = "admissible_actions"
TASK_ID = "task_id"
SUCCESS = "success"
SCORE = "score"
STEP = "step"
ANCHOR_OBS = "anchor_obs"  # the env state without history: GiGPO groups step samples by it
INSTRUCTION = "instruction"
TASK_TYPE = "task_type"
EXPERT_ACTION = "expert_action"  # only with expert=True: the next action of the env's expert/oracle
TOOLS = "tools"  # reset info only: the env's tools (JSON schemas, OpenAI format)

STANDARD_SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Task:
    """One task: its id, its split and whatever the env needs to start it (`data`)."""

    task_id: str
    split: str
    task_type: str = "default"
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


class TaskSet:
    """Tasks grouped by split, looked up by id. Envs build one in `load_task_set` and may build it lazily."""

    def __init__(self, tasks: Iterable[Task], *, aliases: Mapping[str, str] | None = None, name: str = ""):
        self.name = name
        self._by_split: dict[str, list[Task]] = {}
        self._by_id: dict[str, Task] = {}
        for task in tasks:
            if task.task_id in self._by_id:
                raise ValueError(f"duplicate task id {task.task_id!r} in task set {name!r}")
            self._by_split.setdefault(task.split, []).append(task)
            self._by_id[task.task_id] = task
        self.aliases = dict(aliases or {})  # e.g. {"valid": "eval_in_distribution"}

    def resolve_split(self, split: str) -> str:
        """The canonical split name for `split` (following aliases); raises `TaskNotFound` for unknown splits."""
        split = self.aliases.get(split, split)
        if split not in self._by_split:
            raise TaskNotFound(f"unknown split {split!r} for {self.name or 'this env'}; splits: {self.splits()}")
        return split

    def splits(self) -> list[str]:
        """The split names, in insertion order."""
        return list(self._by_split)

    def tasks(self, split: str) -> list[Task]:
        """All tasks of a split."""
        return list(self._by_split[self.resolve_split(split)])

    def task_ids(self, split: str) -> list[str]:
        """The task ids of a split, in their canonical order."""
        return [t.task_id for t in self._by_split[self.resolve_split(split)]]

    def size(self, split: str) -> int:
        """Number of tasks in a split."""
        return len(self._by_split[self.resolve_split(split)])

    def sizes(self) -> dict[str, int]:
        """Number of tasks per split."""
        return {s: len(ts) for s, ts in self._by_split.items()}

    def get(self, task_id: str) -> Task:
        """The task with this id; raises `TaskNotFound` with a hint."""
        try:
            return self._by_id[task_id]
        except KeyError:
            some = ", ".join(list(self._by_id)[:3])
            raise TaskNotFound(f"no task {task_id!r} in {self.name or 'this env'} (e.g. {some})") from None

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)


@dataclass
class Transition:
    """What `_act` returns: the new observation and the env's own view of the step."""

    observation: str
    reward: float = 0.0
    terminated: bool = False
    success: bool = False
    score: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


class TextEnv(gym.Env[str, str]):
    """Base class of every `agent_envs` environment. Observation: text. Action: the model's raw response text."""

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 1}  # noqa: RUF012 - gymnasium's own attribute
    #: Where a harness should run this env (`process` for engines whose calls hold a process-wide lock, `inline` for
    #: microsecond steps, `thread` otherwise).
    executor_hint: ClassVar[str] = "thread"
    #: Fed back as the observation when the response cannot be parsed into an action.
    invalid_feedback: ClassVar[str] = (
        "Invalid action: {reason}. Reply with exactly one action inside <action>...</action> tags."
    )
    #: How a text action is written in a response (a scaffold that finds an action elsewhere, e.g. after ReAct's
    #: `Action:`, writes it this way).
    action_format: ClassVar[str] = "<action>{action}</action>"
    #: Fed back when a tool-call action holds no usable call.
    tool_feedback: ClassVar[str] = "Invalid tool call: {reason}."

    def __init__(
        self,
        *,
        split: str = "train",
        invalid_action_penalty: float = 0.0,
        max_observation_chars: int = 1 << 20,
        expert: bool = False,
        render_mode: str | None = None,
    ):
        self.split = split
        self.expert = expert
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.observation_space = UnicodeText(max_observation_chars)
        self.action_space = UnicodeText(1 << 24)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self._task_set: TaskSet | None = None
        self.turn_limit: int | None = None  # the TimeLimit of gymnasium.make, for envs that act before it truncates
        self.task: Task | None = None
        self.steps = 0
        self.success = False
        self.score = 0.0
        self._last_obs = ""
        self._closed = False

    # ----- to implement -------------------------------------------------------------------------------------------
    @classmethod
    def load_task_set(cls, **kwargs: Any) -> TaskSet:
        """The env's tasks per split. Must be cheap enough to call from `aemgym envs`."""
        raise NotImplementedError

    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        """Begin an episode on `task`; return the first observation and extra info."""
        raise NotImplementedError

    def _parse(self, response: str) -> str | None:
        """The engine action in a raw model response, or None if there is none (default: `<action>` tags)."""
        action = extract_tag(response, "action")
        return clean_action(action) if action else None

    def _act(self, action: str) -> Transition:
        """Apply a parsed action. May return `info[ACTION_VALID] = False` for a parsed but inadmissible action."""
        raise NotImplementedError

    def _unparseable(self, reason: str) -> Transition:
        """The transition for a response with no action in it (override to mimic an engine's own message)."""
        return Transition(self.invalid_feedback.format(reason=reason), info={ACTION_VALID: False})

    def _invalid_tool_call(self, reason: str) -> Transition:
        """The transition for tool calls that give no action (override to mimic an engine's own message)."""
        return Transition(self.tool_feedback.format(reason=reason), info={ACTION_VALID: False})

    def _admissible_actions(self) -> list[str] | None:
        """The actions allowed now, or None when the action set is open (e.g. shell commands)."""
        return None

    def tools(self) -> list[dict[str, Any]]:
        """The env's actions as tools (OpenAI `tools` format); default: one `act` tool taking the action text."""
        return [function_tool("act", "Take one action in the environment.",
                              {"action": {"type": "string", "description": "the action, e.g. one admissible action"}},
                              ["action"])]

    def _tool_action(self, name: str, arguments: dict[str, Any]) -> str | None:
        """The engine action for one tool call (None: unusable arguments); default: `act(action)` parsed as text."""
        action = arguments.get("action")
        if name != "act" or not isinstance(action, str):
            return None
        return self._parse(self.action_format.format(action=action))

    def _parse_tool_calls(self, calls: list[dict[str, Any]]) -> tuple[str | None, str]:
        """(engine action, "") for exactly one valid tool call, else (None, why not)."""
        if not calls:
            return None, "no tool call; call exactly one of the tools"
        if len(calls) > 1:
            return None, f"{len(calls)} tool calls; call exactly one tool per turn"
        call = calls[0]
        names = [tool_name(t) for t in self.tools()]
        if call.get("name") not in names:
            return None, f"unknown tool {str(call.get('name'))[:40]!r}; tools: {', '.join(names)}"
        try:
            action = self._tool_action(str(call["name"]), call_arguments(call))
        except ValueError as exc:
            return None, str(exc)
        if action is None:
            return None, f"unusable arguments for {call['name']!r}: {describe_response(str(call.get('arguments')))}"
        return action, ""

    def expert_action(self) -> str:
        """The expert's next engine action (envs with an expert or oracle override this)."""
        raise NotImplementedError(f"{type(self).__name__} has no expert")

    def data_files(self, task_ids: Iterable[str] | None = None) -> list[str]:
        """The data files these tasks (None: the whole task set) are read from, for a run's provenance.

        The default collects the existing files that `Task.data` names under keys ending in `file`, `path` or
        `archive`; envs that read a catalog or a dataset file override it.
        """
        ids = list(task_ids) if task_ids is not None else [t.task_id for s in self.task_set.splits()
                                                             for t in self.task_set.tasks(s)]
        found: dict[str, None] = {}
        for task_id in ids:
            for key, value in self.task_set.get(task_id).data.items():
                if key.endswith(("file", "path", "archive")) and isinstance(value, str) and os.path.isfile(value):
                    found[os.path.abspath(value)] = None
        return list(found)

    def _task_set_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `load_task_set` from this instance's configuration."""
        return {}

    # ----- the Gymnasium API ----------------------------------------------------------------------------------------
    @property
    def task_set(self) -> TaskSet:
        """This env's tasks, loaded once per process for each (class, `_task_set_kwargs()`) and shared.

        A runner makes one env per episode; reloading the task set each time was 98% of a Doors step. Task sets are
        read-only after construction, so sharing them is safe.
        """
        if self._task_set is None:
            kwargs = self._task_set_kwargs()
            key = (type(self), repr(sorted(kwargs.items())))
            with _TASK_SETS_LOCK:
                if key not in _TASK_SETS:
                    _TASK_SETS[key] = type(self).load_task_set(**kwargs)
                self._task_set = _TASK_SETS[key]
        return self._task_set

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode on `options["task_id"]`, or on a seeded random task of `options["split"]` / `self.split`."""
        super().reset(seed=seed)
        options = dict(options or {})
        if options.get("task_id") is not None:
            task = self.task_set.get(str(options["task_id"]))
        else:
            tasks = self.task_set.tasks(options.get("split", self.split))
            if not tasks:
                raise TaskNotFound(f"split {options.get('split', self.split)!r} has no tasks")
            task = tasks[int(self.np_random.integers(len(tasks)))]
        self.task, self.steps, self.success, self.score = task, 0, False, 0.0
        obs, extra = self._start(task)
        self._last_obs = obs
        info = {TASK_ID: task.task_id, TASK_TYPE: task.task_type, STEP: 0, ACTION_VALID: True}
        info.update({SUCCESS: False, SCORE: 0.0})
        info.update(extra)
        info.setdefault(ADMISSIBLE_ACTIONS, self._admissible_actions())
        info.setdefault(ANCHOR_OBS, obs)
        info[TOOLS] = self.tools()
        if self.expert:
            info[EXPERT_ACTION] = self.expert_action()
        return obs, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Parse and apply one model response (or tool call, see `agent_envs.tools`). Unparseable output is an
        invalid action, never an exception.
        """
        if self.task is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        self.steps += 1
        calls = parse_tool_calls(action) if isinstance(action, str) else None
        if calls is not None:
            parsed, reason = self._parse_tool_calls(calls)
            transition = self._invalid_tool_call(reason) if parsed is None else self._act(parsed)
        else:
            parsed = self._parse(action) if isinstance(action, str) else None
            if parsed is None:
                transition = self._unparseable("no action found in " + describe_response(action))
            else:
                transition = self._act(parsed)
        valid = bool(transition.info.get(ACTION_VALID, True))
        reward = float(transition.reward) - (0.0 if valid else self.invalid_action_penalty)
        self.success = self.success or transition.success
        self.score = max(self.score, float(transition.score))
        self._last_obs = transition.observation
        info = {TASK_ID: self.task.task_id, TASK_TYPE: self.task.task_type, STEP: self.steps}
        info.update(transition.info)
        info[ACTION_VALID] = valid
        info.setdefault(ACTION, None if parsed is None else clean_action(parsed))
        info.setdefault(ADMISSIBLE_ACTIONS, self._admissible_actions())
        info.setdefault(ANCHOR_OBS, transition.observation)
        info[SUCCESS], info[SCORE] = self.success, self.score
        if self.expert and not transition.terminated:
            info[EXPERT_ACTION] = self.expert_action()
        if self.render_mode == "human":
            print(self.render())
        return transition.observation, reward, bool(transition.terminated), False, info

    def render(self) -> str | None:
        """The last observation as text (`ansi`), or None without a render mode."""
        return self._last_obs if self.render_mode in ("ansi", "human") else None

    def close(self) -> None:
        """Release engine resources. Safe to call more than once; subclasses override `_close`."""
        if not self._closed:
            self._closed = True
            self._close()

    def _close(self) -> None:
        """Subclass hook for `close()`."""


EnvFactory = Callable[[], TextEnv]
