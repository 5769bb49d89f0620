"""Codes: Doors with doors labelled by short codes, so each turn's answer is several tokens.

Every room has the same `n_doors` doors, labelled by codes of `code_length` letters over a small `alphabet`; the codes
share prefixes (default AAA BAA BAC BAD BCC CDC), so how uncertain the next letter is depends on the letters already
written: the entropy of a response depends on which response was sampled. One door leads on and a hint names it ("The
draft comes from door BAC."); a code that is no door is an invalid action; optionally one door is a lure (a window)
that ends the episode at once with a small reward, a premature-exploitation trap. Reward 1 for leaving the last room.

With a byte-level model decoding only the alphabet and the end token, the response space is small enough to enumerate
(`harness/train/exact.py`): exact response entropy and surprisal. Chance (uniform over the doors, 2 rooms, 6 doors, 4
turns): 0.13.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np

from agent_envs.core import ACTION_VALID, Task, TaskSet, TextEnv, Transition
from agent_envs.parsing import door_label

SPLIT_SIZES = {"train": 1000, "valid": 100, "test": 100}


def door_codes(alphabet: str = "ABCD", code_length: int = 3, n_doors: int = 6) -> list[str]:
    """The door codes (sorted), fixed by the three arguments. Most codes share a prefix with an earlier one."""
    if len(set(alphabet)) != len(alphabet) or not (alphabet.isascii() and alphabet.isalpha() and alphabet.isupper()):
        raise ValueError(f"alphabet must be distinct upper-case ASCII letters, got {alphabet!r}")
    if code_length < 1 or not 2 <= n_doors <= len(alphabet) ** code_length:
        raise ValueError(f"need code_length >= 1 and 2 <= n_doors <= {len(alphabet)}**{code_length}, got "
                         f"{code_length=} {n_doors=}")
    rng = np.random.default_rng(zlib.crc32(f"codes-{alphabet}-{code_length}-{n_doors}".encode()))
    codes: list[str] = []
    while len(codes) < n_doors:
        keep = 0
        if codes and code_length > 1 and rng.random() < 0.7:  # a sibling: reuse a prefix of an earlier code
            keep = int(rng.integers(1, code_length))
        prefix = codes[int(rng.integers(len(codes)))][:keep] if keep else ""
        code = prefix + "".join(alphabet[int(i)] for i in rng.integers(len(alphabet), size=code_length - keep))
        if code not in codes:
            codes.append(code)
    return sorted(codes)


def _make_task(split: str, index: int, n_rooms: int, doors: list[str]) -> Task:
    task_id = f"codes-{split}-{index}"
    rng = np.random.default_rng(zlib.crc32(task_id.encode()))
    right = [doors[int(d)] for d in rng.integers(len(doors), size=n_rooms)]
    return Task(task_id, split, "default", {"doors": right})


class CodesEnv(TextEnv):
    """Open the right door in each of `n_rooms` rooms by writing its code, e.g. `ABD` or `<action>ABD</action>`.

    Args:
        n_rooms: rooms to cross; success needs `n_rooms` correct codes.
        alphabet: the letters of the codes (distinct upper-case letters).
        code_length: letters per code.
        n_doors: doors per room (the same codes in every room; see `door_codes`).
        lure_reward: > 0 adds a lure: one fixed door (never the right one) ends the episode with this reward and no
            success. 0 = no lure.
        lenient: also accept a bare code ("ABD", "door abd") without tags, as tiny models emit.
    """

    def __init__(self, *, n_rooms: int = 2, alphabet: str = "ABCD", code_length: int = 3, n_doors: int = 6,
                 lure_reward: float = 0.0, lenient: bool = True, **kw: Any):
        super().__init__(**kw)
        if n_rooms < 1 or lure_reward < 0:
            raise ValueError(f"need n_rooms >= 1 and lure_reward >= 0, got {n_rooms=} {lure_reward=}")
        self.n_rooms, self.alphabet, self.code_length, self.n_doors = n_rooms, alphabet, code_length, n_doors
        self.lure_reward, self.lenient = float(lure_reward), lenient
        self.codes = door_codes(alphabet, code_length, n_doors)
        # The lure is the middle code: it shares a prefix with others, so avoiding it takes more than a first letter.
        self.lure = self.codes[len(self.codes) // 2] if lure_reward > 0 else None
        self._bare = re.compile(rf"\s*(?:door\s+)?([A-Za-z]{{{code_length}}})(?![A-Za-z])", re.IGNORECASE)
        self._room = 0

    @classmethod
    def load_task_set(  # type: ignore[override]  # each env names its own task-set options
        cls, n_rooms: int = 2, alphabet: str = "ABCD", code_length: int = 3, n_doors: int = 6,
        lure: str | None = None) -> TaskSet:
        """1000 train, 100 valid and 100 test tasks; each task's right doors are fixed by a hash of its id."""
        doors = [c for c in door_codes(alphabet, code_length, n_doors) if c != lure]
        tasks = (_make_task(split, i, n_rooms, doors) for split, n in SPLIT_SIZES.items() for i in range(n))
        return TaskSet(tasks, name="Codes")

    def _task_set_kwargs(self) -> dict[str, Any]:
        return {"n_rooms": self.n_rooms, "alphabet": self.alphabet, "code_length": self.code_length,
                "n_doors": self.n_doors, "lure": self.lure}

    def _describe_room(self) -> str:
        assert self.task is not None
        hint = self.task.data["doors"][self._room]
        return f"Room {self._room + 1} of {self.n_rooms}. The draft comes from door {hint}."

    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._room = 0
        instruction = (f"Leave the last of {self.n_rooms} rooms. Each room has {self.n_doors} doors labelled with "
                       f"{self.code_length}-letter codes; open the one that leads on.")
        if self.lure is not None:
            instruction += " One door is a window: it ends the game early with a small prize."
        return f"{instruction}\n{self._describe_room()}", {"instruction": instruction}

    def _parse(self, response: str) -> str | None:
        return door_label(response, self._bare if self.lenient else None)

    def _act(self, action: str) -> Transition:
        assert self.task is not None
        if action not in self.codes:
            feedback = f"There is no door {action[:20]!r} here. {self._describe_room()}"
            return Transition(feedback, info={ACTION_VALID: False})
        if action == self.lure:
            return Transition("You climb out of the window with a small prize.", reward=self.lure_reward,
                              terminated=True, score=self.lure_reward)
        if action != self.task.data["doors"][self._room]:
            return Transition(f"That door is locked. {self._describe_room()}")
        self._room += 1
        if self._room == self.n_rooms:
            return Transition("You step outside. Well done!", reward=1.0, terminated=True, success=True, score=1.0)
        return Transition(f"The door opens. {self._describe_room()}")

    def _admissible_actions(self) -> list[str] | None:
        return list(self.codes)

    def expert_action(self) -> str:
        """The code of the right door now (used by tests and the scripted expert)."""
        assert self.task is not None
        return self.task.data["doors"][min(self._room, self.n_rooms - 1)]
