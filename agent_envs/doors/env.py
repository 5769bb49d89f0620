"""Doors: walk through a row of rooms by picking the right door in each — a tiny multi-turn puzzle.

Written the way a user writes an env: a task set, `_start`, `_parse`, `_act`. Each room has `n_doors` doors
labelled A, B, C, ...; one of them leads on, and a hint in the observation names it unless the task is "dark"
(then the agent must remember which doors it already tried). The episode succeeds (reward 1) when the agent leaves
the last room; a wrong door costs a turn. With the default 3 rooms, 4 doors and 8 turns, a uniformly random policy
succeeds about 32% of the time and an attentive one always: learnable by a 0.2 M-parameter model, yet several turns
with a sparse reward.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np

from agent_envs.core import ACTION_VALID, Task, TaskSet, TextEnv, Transition
from agent_envs.parsing import door_label
from agent_envs.tools import function_tool

SPLIT_SIZES = {"train": 1000, "valid": 100, "test": 100}
_BARE_DOOR = re.compile(r"\s*(?:door\s+)?([A-Za-z])(?![A-Za-z])", re.IGNORECASE)


def _make_task(split: str, index: int, n_rooms: int, n_doors: int, dark_fraction: float) -> Task:
    task_id = f"doors-{split}-{index}"
    rng = np.random.default_rng(zlib.crc32(task_id.encode()))
    doors = [chr(ord("A") + int(d)) for d in rng.integers(n_doors, size=n_rooms)]
    dark = bool(rng.random() < dark_fraction)
    return Task(task_id, split, "dark" if dark else "lit", {"doors": doors, "n_doors": n_doors, "dark": dark})


class DoorsEnv(TextEnv):
    """Pick the right door in each of `n_rooms` rooms. Actions: a door label, e.g. `<action>B</action>`.

    Args:
        n_rooms: rooms to cross; success needs `n_rooms` correct choices.
        n_doors: doors per room (2..26).
        dark_fraction: share of tasks without hints (memory needed: the observation lists doors already tried).
        lenient: also accept a bare door label ("B", "door b") without tags, as tiny models emit.
    """

    executor_hint = "inline"

    def __init__(
        self, *, n_rooms: int = 3, n_doors: int = 4, dark_fraction: float = 0.0, lenient: bool = True, **kw: Any
    ):
        super().__init__(**kw)
        if not 2 <= n_doors <= 26 or n_rooms < 1:
            raise ValueError(f"need 2 <= n_doors <= 26 and n_rooms >= 1, got {n_doors=} {n_rooms=}")
        self.n_rooms, self.n_doors, self.dark_fraction, self.lenient = n_rooms, n_doors, dark_fraction, lenient
        self.labels = [chr(ord("A") + i) for i in range(n_doors)]
        self._room = 0
        self._tried: list[str] = []

    @classmethod
    def load_task_set(  # type: ignore[override]  # each env names its own task-set options
        cls, n_rooms: int = 3, n_doors: int = 4, dark_fraction: float = 0.0) -> TaskSet:
        """1000 train, 100 valid and 100 test tasks; each task's doors are fixed by a hash of its id."""
        tasks = (
            _make_task(split, i, n_rooms, n_doors, dark_fraction) for split, n in SPLIT_SIZES.items() for i in range(n)
        )
        return TaskSet(tasks, name="Doors")

    def _task_set_kwargs(self) -> dict[str, Any]:
        return {"n_rooms": self.n_rooms, "n_doors": self.n_doors, "dark_fraction": self.dark_fraction}

    def _describe_room(self) -> str:
        assert self.task is not None
        # In a lit room the hint is the only door letter in the text: with a list of doors next to it, a tiny byte
        # model needed twice the supervised updates to learn to read the hint.
        text = f"Room {self._room + 1} of {self.n_rooms}."
        if self.task.data["dark"]:
            if self._tried:
                text += f" Locked so far: {' '.join(self._tried)}."
        else:
            text += f" The draft comes from door {self.task.data['doors'][self._room]}."
        return text

    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._room, self._tried = 0, []
        instruction = (f"Leave the last of {self.n_rooms} rooms. Each room has {self.n_doors} doors labelled with "
                       "letters; open the one that leads on.")
        return f"{instruction}\n{self._describe_room()}", {"instruction": instruction}

    def _parse(self, response: str) -> str | None:
        return door_label(response, _BARE_DOOR if self.lenient else None)

    def _act(self, action: str) -> Transition:
        assert self.task is not None
        if action not in self.labels:
            feedback = f"There is no door {action[:20]!r} here. {self._describe_room()}"
            return Transition(feedback, info={ACTION_VALID: False})
        if action != self.task.data["doors"][self._room]:
            self._tried.append(action)
            return Transition(f"That door is locked. {self._describe_room()}")
        self._room, self._tried = self._room + 1, []
        if self._room == self.n_rooms:
            return Transition("You step outside. Well done!", reward=1.0, terminated=True, success=True, score=1.0)
        return Transition(f"The door opens. {self._describe_room()}")

    def _admissible_actions(self) -> list[str] | None:
        return list(self.labels)

    def tools(self) -> list[dict[str, Any]]:
        """One tool: `open_door(door)`."""
        door = {"type": "string", "enum": list(self.labels), "description": "the door label"}
        return [function_tool("open_door", "Open one door of the current room.", {"door": door}, ["door"])]

    def _tool_action(self, name: str, arguments: dict[str, Any]) -> str | None:
        door = arguments.get("door")
        return self._parse(self.action_format.format(action=door)) if isinstance(door, str) else None

    def expert_action(self) -> str:
        """The correct door now (used by tests and the scripted expert)."""
        assert self.task is not None
        return self.task.data["doors"][min(self._room, self.n_rooms - 1)]
