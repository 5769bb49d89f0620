"""The ALFWorld expert: one plan per game, replayed step by step.

The plan is the game's shipped `walkthrough` (0.4 data) or else one Fast Downward plan from the initial state
(`policy_commands`), computed once per game in a forked child under a CPU-time limit (`RLIMIT_CPU`: a busy machine
slows planning down but does not make it fail) and a memory limit, and cached on disk by the game's digest.
Two-object goals are planned in two stages (one object, then both): the planner's search is blind and the direct
plan can take minutes and gigabytes. The plan is replanned only when the agent leaves it. When planning fails (a
limit hit, no plan) the expert raises `ExpertUnavailable`: the episode is an error, not an expert playing `look`.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import random
import re
import resource
import signal
import time
from pathlib import Path
from typing import Any

from agent_envs.alfworld.engine import CACHE_DIR, ENGINE_LOCK, AlfredEngine, game_digest
from agent_envs.errors import ExpertUnavailable

PLAN_CACHE = CACHE_DIR / "plans"
FALLBACK_ACTION = "look"  # the handcoded expert's first action (as AlfredExpert's) and what it says once it gave up


def first_object_problem(problem: str) -> str | None:
    """For a two-object goal (`pick_two_obj_and_place`: `?o1` and `(exists (?o2 - object) ...)` in one receptacle),
    the same PDDL problem with the goal for the first object only; None for any other goal.
    """
    goal = problem.find("(:goal")
    start = problem.find("(exists (?o2", goal)
    if goal < 0 or start < 0:
        return None
    depth = 0
    for end in range(start, len(problem)):
        depth += {"(": 1, ")": -1}.get(problem[end], 0)
        if depth == 0:
            return problem[:start] + problem[end + 1 :]
    return None


def staged_plan(engine: AlfredEngine) -> list[str]:
    """A plan in two stages for two-object goals: first object placed, then the full goal from there.

    The library's search is blind (uniform cost; the packaged planner has no heuristic), so the full two-object goal
    can need minutes and gigabytes (`pick_two_obj_and_place-Knife-None-Drawer-18`: out of 12 GB) while each stage
    takes seconds. The plan need not be optimal. Steps `engine`: call it on a throwaway copy (the forked child).
    """
    assert engine.game is not None
    subgoal = first_object_problem(engine.game["pddl_problem"])
    if subgoal is None:
        return engine.plan()
    first = engine.plan(subgoal)
    won = False
    for command in first:
        if command not in engine.admissible():
            return engine.plan()  # not expected; fall back to the direct plan
        _obs, _admissible, won = engine.step(command)
    if won:
        return first
    rest = engine.plan()
    return first + rest if rest else []


def _plan_in_child(engine: AlfredEngine, conn: mp.connection.Connection, cpu_s: int, memory_mb: int) -> None:
    try:
        # soft limit: SIGXCPU ends the child; the hard limit (SIGKILL) one second later if SIGXCPU is caught
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        if memory_mb > 0:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        conn.send(("ok", staged_plan(engine)))  # the child's engine is a copy: stepping it is harmless
    except BaseException as exc:  # noqa: BLE001 - report any failure to the parent
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def _death_reason(exitcode: int | None, cpu_s: int, memory_mb: int) -> str:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"the planner used up its CPU limit of {cpu_s} s (plan_cpu_s) or was killed (exit code {exitcode})"
    return f"the planner process died (exit code {exitcode}; memory limit {memory_mb} MB)"


def plan_with_limits(engine: AlfredEngine, cpu_s: float = 600.0, memory_mb: int = 4096) -> list[str]:
    """A Fast Downward plan from the engine's current state, computed in a forked child (two-object goals in two
    stages, see `staged_plan`) under `RLIMIT_CPU` = `cpu_s` CPU seconds and `RLIMIT_DATA` = `memory_mb`.

    Wall-clock time is not limited: on a loaded machine planning takes longer but gives the same plan.

    Raises:
        ExpertUnavailable: the CPU or memory limit was hit, the planner failed, or there is no plan.
    """
    cpu_limit = max(1, math.ceil(cpu_s))
    if "fork" not in mp.get_all_start_methods():  # no fork: plan in-process, without limits or stages
        plan = engine.plan()
        if not plan:
            raise ExpertUnavailable("Fast Downward found no plan from this state")
        return plan
    ctx = mp.get_context("fork")
    # Fork while holding the engine lock: no other thread is then halfway through the engine's shared state, and the
    # child (whose only thread is this one, the lock's owner) can take the lock again instead of deadlocking on it.
    # The pipe is made and its write end closed under the lock too, so no other planner child inherits that end
    # (the parent sees EOF as soon as this child dies). A child that hangs without using CPU is the caller's to time
    # out (the harness's step timeout); wall-clock limits here failed plans on busy machines.
    with ENGINE_LOCK:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_plan_in_child, args=(engine, child, cpu_limit, memory_mb), daemon=True)
        proc.start()
        child.close()
    try:
        status, result = parent.recv()  # returns when the child sends or dies (EOF): its CPU limit bounds the wait
    except EOFError:
        proc.join()
        status, result = "died", _death_reason(proc.exitcode, cpu_limit, memory_mb)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    if status != "ok":
        raise ExpertUnavailable(f"Fast Downward planning failed: {result}")
    if not result:
        raise ExpertUnavailable("Fast Downward found no plan from this state")
    return list(result)


class PlanExpert:
    """Keeps one plan per game and says the next command; follows the agent and replans only off-plan.

    Args:
        engine: the engine the env plays on (its current state is planned from).
        cache_dir: where plans are cached by game digest (None: no cache).
        cpu_s / memory_mb: CPU-time (`RLIMIT_CPU`) and memory (`RLIMIT_DATA`) limits of one Fast Downward run.
        use_walkthrough: take the game's shipped walkthrough when there is one.
    """

    def __init__(self, engine: AlfredEngine, *, cache_dir: str | os.PathLike | None = PLAN_CACHE,
                 cpu_s: float = 600.0, memory_mb: int = 4096, use_walkthrough: bool = True) -> None:  # fmt: skip
        self.engine = engine
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.cpu_s, self.memory_mb, self.use_walkthrough = cpu_s, memory_mb, use_walkthrough
        self.plan: list[str] = []
        self.cursor = 0
        self.source = "none"
        self._stale = True
        self.replans = 0
        self.plan_seconds = 0.0  # wall time spent planning in this episode
        self.error: ExpertUnavailable | None = None  # planning failed in this episode: raised again, no new try

    def start(self) -> None:
        """Forget the previous game; the plan is made lazily at the first `next_action` (never if unused)."""
        self.plan, self.cursor, self.source, self._stale, self.replans = [], 0, "none", True, 0
        self.plan_seconds = 0.0
        self.error = None

    def _planned(self) -> list[str]:
        start = time.perf_counter()
        try:
            return plan_with_limits(self.engine, self.cpu_s, self.memory_mb)
        finally:
            self.plan_seconds += time.perf_counter() - start

    def initial_plan(self) -> list[str]:
        """The plan from the game's initial state: walkthrough, cached plan, or a new Fast Downward plan."""
        assert self.engine.game is not None
        walk = self.engine.walkthrough() if self.use_walkthrough else None
        if walk:
            self.source = "walkthrough"
            return walk
        cache_file = self.cache_dir / f"{game_digest(self.engine.game)}.json" if self.cache_dir else None
        if cache_file is not None and cache_file.is_file():
            self.source = "cache"
            return json.loads(cache_file.read_text())
        plan = self._planned()
        self.source = "planner"
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(plan))
            tmp.replace(cache_file)
        return plan

    def next_action(self) -> str:
        """The expert's next command (plans on first use, replans when the agent left the plan or the planned
        command is not admissible, e.g. a walkthrough that does not fit this game).

        Raises:
            ExpertUnavailable: planning failed (CPU or memory limit, no plan), now or earlier in this episode.
        """
        if self.error is not None:
            raise ExpertUnavailable(str(self.error))
        try:
            for _attempt in range(2):
                if self._stale:
                    if self.cursor == 0 and not self.plan and self.replans == 0:
                        self.plan = self.initial_plan()
                    else:
                        self.plan, self.cursor, self.source = self._planned(), 0, "replanned"
                    self.replans += 1
                    self._stale = False
                if self.cursor < len(self.plan) and self.plan[self.cursor] in self.engine.admissible():
                    return self.plan[self.cursor]
                self._stale = True
            raise ExpertUnavailable(f"the new plan's next command {self.plan[self.cursor:][:1]} is not admissible")
        except ExpertUnavailable as exc:
            self.error = exc
            raise

    def observe(self, command: str, admissible_before: list[str]) -> None:
        """Track a command the env applied: advance along the plan, or mark it stale when the agent deviated."""
        if command not in admissible_before or self._stale:
            return  # an invalid command changes nothing; a stale plan is rebuilt on demand anyway
        if self.cursor < len(self.plan) and command == self.plan[self.cursor]:
            self.cursor += 1
        elif command not in ("look", "inventory", "help") and not command.startswith("examine"):
            self._stale = True  # the state changed in a way the plan did not foresee


_OLD_PUT = re.compile(r"put (.+) in/on (.+)")
_NEW_MOVE = re.compile(r"move (.+) to (.+)")


def _to_new_grammar(command: str) -> str:
    match = _OLD_PUT.fullmatch(command)
    return f"move {match[1]} to {match[2]}" if match else command


def _tracked_command(command: str) -> str:
    # alfworld 0.4.2 tracks what the agent holds with `"put" in last_action`, which the 0.4 grammar's "move X to Y"
    # never matches: the placed object stays in its inventory and pick_two games loop. Report placements as "put".
    match = _NEW_MOVE.fullmatch(command)
    return f"put {match[1]} in/on {match[2]}" if match else command


def handcoded_task_params(task_type: str, data: dict[str, Any], trial_dir: str) -> dict[str, Any]:
    """The task parameters ALFWorld's handcoded expert needs: `traj_data.json`'s `pddl_params`, else the directory
    name `<task_type>-<Object>-<MRecep|None>-<Recep>-<scene>` (0.4 train games ship no traj_data.json).
    """
    from alfworld.gen import constants

    traj_file = data.get("traj_file")
    if traj_file and Path(traj_file).is_file():
        traj = json.loads(Path(traj_file).read_text())
        params = {**traj["pddl_params"], "task_type": traj["task_type"]}
    else:
        parts = Path(trial_dir).parent.name.split("-")
        obj, mrecep, recep = parts[1], parts[2], parts[3]
        is_light = task_type == "look_at_obj_in_light"
        params = {
            "object_target": obj,
            "parent_target": "" if is_light else recep,
            "toggle_target": recep if is_light else "",
            "mrecep_target": "" if mrecep == "None" else mrecep,
            "object_sliced": False,
            "task_type": task_type,
        }
    # as HandCodedAgent.reset does: lower-case the ALFRED object classes
    return {k: v.lower() if v in constants.OBJECTS else v for k, v in params.items()}


class HandcodedExpert:
    """ALFWorld's handcoded expert (`alfworld.agents.expert.HandCodedTWAgent`), as `AlfredExpert` drives it.

    It explores with heuristics and the game's facts (no planner, fast, not always successful). It is written for the
    0.4 grammar: for old-grammar games its commands are translated (`move X to Y` <-> `put X in/on Y`). Its random
    choices use a generator seeded per episode, so an episode replays exactly. It reacts to the command just applied,
    so the env must report every applied command through `observe`.
    """

    def __init__(self, engine: AlfredEngine, *, seed: int = 0, max_steps: int = 200) -> None:
        self.engine, self.seed, self.max_steps = engine, seed, max_steps
        self.source = "handcoded"
        self.plan_seconds = 0.0
        self.failed = False
        self._agent: Any = None
        self._next = FALLBACK_ACTION
        self._rng = random.Random(seed)

    def start(self, task_type: str = "", data: dict[str, Any] | None = None, observation: str = "") -> None:
        """A new episode: build the task's policy and show it the intro (its receptacle list)."""
        from alfworld.agents.expert import HandCodedTWAgent

        data = data or {}
        params = handcoded_task_params(task_type, data, data.get("trial_dir") or "")
        self._agent = HandCodedTWAgent(max_steps=self.max_steps)
        self._agent.task_params = params
        self._agent.policy = self._agent.get_task_policy(params)(params, max_steps=self.max_steps)
        self._rng = random.Random(self.seed)
        self.failed = False
        self._next = FALLBACK_ACTION  # AlfredExpert's first action is "look" too
        self._agent.observe(observation)

    def next_action(self) -> str:
        """The expert's next command ("look" when it has none or gave up)."""
        return self._next

    def observe(self, command: str, admissible_before: list[str]) -> None:
        """Let the expert react to the command just applied to the engine."""
        if self._agent is None or command not in admissible_before:
            return
        from alfworld.agents.expert import handcoded_expert

        state = self.engine.state
        readable = self.engine._pddl._get_human_readable_fact  # the facts with demangled names, as AlfredExpert has
        game_state = {
            "feedback": state.feedback,
            "admissible_commands": [_to_new_grammar(c) for c in state["admissible_commands"]],
            "facts": [readable(fact) for fact in state["_facts"]],
            "won": bool(state["won"]),
        }
        self._next = FALLBACK_ACTION
        with ENGINE_LOCK:  # the expert module draws from the global `random`: swap in this episode's generator
            saved, handcoded_expert.random = handcoded_expert.random, self._rng
            try:
                action = self._agent.act(game_state, 0, game_state["won"], _tracked_command(command))
            except (handcoded_expert.HandCodedAgentTimeout, handcoded_expert.HandCodedAgentFailed, IndexError):
                self.failed = True  # gave up (or hit a corner case of its heuristics): say "look" from now on
                return
            finally:
                handcoded_expert.random = saved
        match = _NEW_MOVE.fullmatch(action)
        if match and action not in state["admissible_commands"]:
            action = f"put {match[1]} in/on {match[2]}"  # the old grammar
        if action in state["admissible_commands"]:
            self._next = action
