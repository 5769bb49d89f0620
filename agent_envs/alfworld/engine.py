"""A thin adapter over the real ALFWorld text engine: TextWorld's `PddlEnv` wrapped in ALFWorld's own wrappers.

`PddlEnv` (fast-downward state + ALFWorld's twl2 grammar) -> `AlfredDemangler(shuffle=False)` -> `AlfredInfos`,
exactly as `AlfredTWEnv` builds each batch env, but one plain instance per process (no `textworld.gym` async
workers). Everything is imported lazily so `import agent_envs` never needs the `alfworld` extra.

Game data comes from a `game.tw-pddl` as shipped, or is (re)generated in the 0.4 grammar from the game's PDDL problem
with the packaged domain and grammar, keeping the original task sentence (`grammar="new"`).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import sys
import tarfile
import threading
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agent_envs.errors import DataNotFound, DependencyNotInstalled

INSTALL_HINT = "install the ALFWorld engine: `bash scripts/install/20-alfworld.sh` (see agent_envs/alfworld/README.md)"
CACHE_DIR = Path(os.environ.get("AEMGYM_CACHE", Path.home() / ".cache" / "aemgym")) / "alfworld"
GRAMMARS = ("as_shipped", "new")
_TASK_LINE = re.compile(r'"rhs":\s*"Your task is to: (.*?)"')
_NEW_TEMPLATE = 'template :: "move {o} to {r}"'

# The engine keeps process-wide state that is not thread-safe: three module-level tatsu parsers in textworld (game
# grammar, text generation, logic rules; used on load, reset and every step; concurrent use raises "IndexError: pop
# from empty list" or a spurious FailedToken), `fast_downward.pddl2sas` (global translator options, swaps
# `sys.stdout` and `sys.argv`) and our own temporary patch of `pddl_logic` in `reset`. Every engine call holds this
# lock. Threads lose nothing by it: the engine is pure Python under the GIL; use processes for parallelism.
ENGINE_LOCK = threading.RLock()


def grammar_version(grammar: str) -> str:
    """'new' for the 0.4 grammar (`move X to Y`), 'old' for the json_2.1.1 one (`put X in/on Y`)."""
    return "new" if _NEW_TEMPLATE in grammar else "old"


def task_sentence(grammar: str) -> str:
    """The task sentence embedded in a game's grammar, without its final period."""
    match = _TASK_LINE.search(grammar)
    if match is None:
        raise DataNotFound("game grammar has no 'Your task is to: ...' line")
    return match.group(1).rstrip(".")


@lru_cache(maxsize=1)
def packaged_logic() -> tuple[str, str]:
    """The (domain, grammar) shipped in the alfworld wheel, read without importing `alfworld`."""
    spec = importlib.util.find_spec("alfworld")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyNotInstalled(f"the 'alfworld' package is missing: {INSTALL_HINT}")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return (data / "alfred.pddl").read_text(), (data / "alfred.twl2").read_text()


def new_grammar_game(pddl_problem: str, sentence: str) -> dict[str, Any]:
    """A game dict in the 0.4 grammar built from a PDDL problem and a task sentence (as `alfworld-generate` does)."""
    domain, grammar = packaged_logic()
    grammar = grammar.replace("UNKNOWN GOAL", sentence.rstrip("."))
    return {"pddl_domain": domain, "grammar": grammar, "pddl_problem": pddl_problem, "solvable": True}


def _sentence_from_traj(traj_file: str) -> str:
    traj = json.loads(Path(traj_file).read_text())
    anns = traj.get("turk_annotations", {}).get("anns") or []
    if anns and anns[0].get("task_desc"):
        return str(anns[0]["task_desc"])
    from alfworld.gen import goal_library  # the first (deterministic) template of the task type

    params = traj["pddl_params"]
    template = goal_library.gdict[traj["task_type"]]["templates"][0]
    fields = {k: str(params.get(f"{k}_target", "")).lower() for k in ("object", "parent", "toggle", "mrecep")}
    return template.format(
        obj=fields["object"], recep=fields["parent"], toggle=fields["toggle"], mrecep=fields["mrecep"]
    )


def extracted_archive(archive: str | os.PathLike) -> Path:
    """The directory where a game archive is unpacked, once per machine (file-locked, atomic rename)."""
    archive = Path(archive)
    stat = archive.stat()
    target = CACHE_DIR / "archives" / f"{archive.name}-{stat.st_size}-{int(stat.st_mtime)}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            with tarfile.open(archive, "r:*") as tar:
                members = [m for m in tar if m.isfile() and m.name.endswith("game.tw-pddl")]
                tar.extractall(tmp, members=members, filter="data")
            tmp.rename(target)
    return target


def read_game(data: dict[str, Any], grammar: str = "as_shipped") -> dict[str, Any]:
    """The game dict (`pddl_domain`, `grammar`, `pddl_problem`, `walkthrough`?) of a task's `data`.

    Args:
        data: `Task.data` from `agent_envs.alfworld.data` (`game_file`, or `archive`+`member`, or `trial_dir`).
        grammar: "as_shipped" keeps the file's own grammar; "new" regenerates old-grammar games in the 0.4 grammar.
    """
    if grammar not in GRAMMARS:
        raise ValueError(f"grammar must be one of {GRAMMARS}, got {grammar!r}")
    if data.get("archive"):
        path = extracted_archive(data["archive"]) / data["member"]
    elif data.get("game_file"):
        path = Path(data["game_file"])
    else:  # only initial_state.pddl + traj_data.json: build it in the packaged (new) grammar
        problem = (Path(data["trial_dir"]) / "initial_state.pddl").read_text()
        return new_grammar_game(problem, _sentence_from_traj(data["traj_file"]))
    try:
        game = json.loads(path.read_text())
        game["pddl_problem"], game["grammar"]  # noqa: B018 - the keys every game needs
    except (OSError, ValueError, KeyError) as exc:
        raise DataNotFound(f"malformed ALFWorld game file {path}: {exc!r}") from exc
    if grammar == "new" and grammar_version(game["grammar"]) == "old":
        game = new_grammar_game(game["pddl_problem"], task_sentence(game["grammar"]))
    return game


def game_digest(game: dict[str, Any]) -> str:
    """A stable id of a game's logic (domain, grammar, problem), used to cache plans."""
    h = hashlib.sha1()
    for key in ("pddl_domain", "grammar", "pddl_problem"):
        h.update(game[key].encode())
    return h.hexdigest()


class AlfredEngine:
    """One real ALFWorld text game at a time.

    Each instance loads its own copy of the planner library (~4 MB resident, mostly freed by `close`), so several
    engines in one process are independent (tested); they may live in different threads (calls are serialised by
    `ENGINE_LOCK`), but for speed spread them over processes. Loading a new game reuses the library: keep an engine
    across episodes. One instance must not be used by two threads at once.
    """

    def __init__(self, *, reuse_loaded_state: bool = True) -> None:
        with ENGINE_LOCK:  # the environment variable dance below is process-wide too
            # `import alfworld` creates $ALFWORLD_DATA (default ~/.cache/alfworld) and exports it: keep the user's.
            user_value = os.environ.get("ALFWORLD_DATA")
            os.environ.setdefault("ALFWORLD_DATA", str(CACHE_DIR))
            try:
                import textworld
                from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
                from textworld.envs.pddl import PddlEnv
            except ImportError as exc:
                raise DependencyNotInstalled(f"ALFWorld engine unavailable ({exc}): {INSTALL_HINT}") from exc
            finally:
                if user_value is None:
                    os.environ.pop("ALFWORLD_DATA", None)
            infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
            self._pddl = PddlEnv(infos)
            self._env = AlfredInfos(AlfredDemangler(self._pddl, shuffle=False))
        self.game: dict[str, Any] | None = None
        self.state: Any = None
        self.reuse_loaded_state = reuse_loaded_state
        self._fresh_state: Any = None

    def load(self, game: dict[str, Any]) -> None:
        """Load a game dict (see `read_game`)."""
        with ENGINE_LOCK:
            self.game = game
            self._env.load(game)
            self._fresh_state = self._pddl._pddl_state

    def reset(self) -> tuple[str, list[str], bool]:
        """Start the loaded game: (observation, admissible commands, won).

        Right after `load` the engine's fresh PDDL state is reused instead of translated again (PDDL -> SAS twice,
        about half of the start-up cost); the observations are the same (checked by tests against the raw engine).
        """
        with ENGINE_LOCK:
            fresh = self._fresh_state
            self._fresh_state = None
            if fresh is None or not self.reuse_loaded_state:
                self.state = self._env.reset()
            else:
                module = sys.modules[type(self._pddl).__module__]
                original = getattr(module, "pddl_logic")  # noqa: B009 - a module attribute swapped for one call
                setattr(module, "pddl_logic", SimpleNamespace(PddlState=lambda *args, **kwargs: fresh))  # noqa: B010
                try:
                    self.state = self._env.reset()
                finally:
                    setattr(module, "pddl_logic", original)  # noqa: B010
            return self.state.feedback, list(self.state["admissible_commands"]), bool(self.state["won"])

    def step(self, command: str) -> tuple[str, list[str], bool]:
        """Apply one command (unknown ones give "Nothing happens."): (observation, admissible commands, won)."""
        with ENGINE_LOCK:
            self.state, _score, _done = self._env.step(command)
            return self.state.feedback, list(self.state["admissible_commands"]), bool(self.state["won"])

    def admissible(self) -> list[str]:
        """The admissible commands now."""
        return list(self.state["admissible_commands"]) if self.state is not None else []

    def walkthrough(self) -> list[str] | None:
        """The plan shipped in the game file (0.4 data only), else None."""
        walk = (self.game or {}).get("walkthrough")
        return list(walk) if walk else None

    def plan(self, problem: str | None = None) -> list[str]:
        """A Fast Downward plan from the current state to the goal, as commands (slow: seconds, rarely minutes).

        Args:
            problem: the loaded game's PDDL problem with another goal (e.g. a subgoal) to plan for; default its own.
        """
        with ENGINE_LOCK:
            state = self._pddl._pddl_state
            if problem is None:
                return list(state.replan(self._pddl._entity_infos))
            import fast_downward

            assert self.game is not None
            # the planner library searches from the current state towards the goal of its "replan" task: swap it
            _, sas = fast_downward.pddl2sas(self.game["pddl_domain"], problem, optimize=True)
            state.downward_lib.load_sas_replan(sas.encode("utf-8"))
            try:
                return list(state.replan(self._pddl._entity_infos))
            finally:
                state.downward_lib.load_sas_replan(state.sas_replan.encode("utf-8"))

    def close(self) -> None:
        """Drop the game and free the planner library's task data (idempotent; the engine is unusable afterwards).

        The library copy itself stays mapped (~1 MB resident): unloading it (`dlclose`) crashes the interpreter at
        exit. A harness keeps engines across episodes instead (`harness.rollout` reuses envs), so a process holds one
        copy per env it runs at once, not one per episode.
        """
        with ENGINE_LOCK:
            self.game, self.state, self._fresh_state = None, None, None
            lib = getattr(self._pddl, "downward_lib", None)
            if lib is not None:
                self._pddl._pddl_state = None
                self._pddl.downward_lib = None
                lib.cleanup()
