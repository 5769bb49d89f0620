"""The ALFWorld expert: one plan per game, replayed step by step.

The plan is the game's shipped `walkthrough` (0.4 data) or else one Fast Downward plan from the initial state
(`policy_commands`), computed once per game in a forked child under a time and memory limit (a few games need
minutes and gigabytes) and cached on disk by the game's digest. The plan is replanned only when the agent leaves it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import resource
import time
from pathlib import Path

from agent_envs.alfworld.engine import CACHE_DIR, AlfredEngine, game_digest

log = logging.getLogger(__name__)
PLAN_CACHE = CACHE_DIR / "plans"
FALLBACK_ACTION = "look"  # harmless and always admissible: what the expert says when it has no plan


def _plan_in_child(engine: AlfredEngine, conn: mp.connection.Connection, memory_mb: int) -> None:
    try:
        if memory_mb > 0:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        conn.send(("ok", engine.plan()))
    except BaseException as exc:  # noqa: BLE001 - report any failure to the parent
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def plan_with_limits(engine: AlfredEngine, timeout_s: float = 600.0, memory_mb: int = 4096) -> list[str] | None:
    """A Fast Downward plan from the engine's current state, or None on timeout, memory exhaustion or no plan."""
    if "fork" not in mp.get_all_start_methods():  # no fork: plan in-process, without limits
        return engine.plan() or None
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_plan_in_child, args=(engine, child, memory_mb), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            log.warning("Fast Downward planning exceeded %.0f s; giving up on this plan", timeout_s)
            return None
        status, result = parent.recv()
    except EOFError:
        status, result = "error", f"planner process died (exit code {proc.exitcode})"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    if status != "ok":
        log.warning("Fast Downward planning failed: %s", result)
        return None
    return list(result) or None


class PlanExpert:
    """Keeps one plan per game and says the next command; follows the agent and replans only off-plan.

    Args:
        engine: the engine the env plays on (its current state is planned from).
        cache_dir: where plans are cached by game digest (None: no cache).
        timeout_s / memory_mb: limits for one Fast Downward run.
        use_walkthrough: take the game's shipped walkthrough when there is one.
    """

    def __init__(self, engine: AlfredEngine, *, cache_dir: str | os.PathLike | None = PLAN_CACHE,
                 timeout_s: float = 600.0, memory_mb: int = 4096, use_walkthrough: bool = True) -> None:  # fmt: skip
        self.engine = engine
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.timeout_s, self.memory_mb, self.use_walkthrough = timeout_s, memory_mb, use_walkthrough
        self.plan: list[str] = []
        self.cursor = 0
        self.source = "none"
        self._stale = True
        self.replans = 0
        self.plan_seconds = 0.0  # wall time spent planning in this episode
        self.failed = False  # the planner gave no plan (limits hit) in this episode

    def start(self) -> None:
        """Forget the previous game; the plan is made lazily at the first `next_action` (never if unused)."""
        self.plan, self.cursor, self.source, self._stale, self.replans = [], 0, "none", True, 0
        self.plan_seconds = 0.0
        self.failed = False

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
        start = time.perf_counter()
        plan = plan_with_limits(self.engine, self.timeout_s, self.memory_mb) or []
        self.plan_seconds += time.perf_counter() - start
        self.source = "planner"
        if plan and cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(plan))
            tmp.replace(cache_file)
        return plan

    def next_action(self) -> str:
        """The expert's next command (plans on first use, replans when the agent left the plan or the planned
        command is not admissible, e.g. a walkthrough that does not fit this game)."""
        for _attempt in range(2):
            if self._stale and self.failed:
                break  # the planner already failed (time/memory limit) in this episode: do not retry every step
            if self._stale:
                if self.cursor == 0 and not self.plan and self.replans == 0:
                    self.plan = self.initial_plan()
                else:
                    start = time.perf_counter()
                    self.plan, self.cursor = plan_with_limits(self.engine, self.timeout_s, self.memory_mb) or [], 0
                    self.plan_seconds += time.perf_counter() - start
                    self.source = "replanned"
                self.replans += 1
                self._stale = False
            if self.cursor < len(self.plan) and self.plan[self.cursor] in self.engine.admissible():
                return self.plan[self.cursor]
            self.failed = self.failed or not self.plan
            self._stale = True
        return FALLBACK_ACTION

    def observe(self, command: str, admissible_before: list[str]) -> None:
        """Track a command the env applied: advance along the plan, or mark it stale when the agent deviated."""
        if command not in admissible_before or self._stale:
            return  # an invalid command changes nothing; a stale plan is rebuilt on demand anyway
        if self.cursor < len(self.plan) and command == self.plan[self.cursor]:
            self.cursor += 1
        elif command not in ("look", "inventory", "help") and not command.startswith("examine"):
            self._stale = True  # the state changed in a way the plan did not foresee
