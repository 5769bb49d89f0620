"""`agent_envs/ALFWorld-v0`: ALFWorld's household text games on the real TextWorld PDDL engine.

    env = gymnasium.make("agent_envs/ALFWorld-v0", data_dir="~/alfworld", split="eval_in_distribution")
    obs, info = env.reset(seed=0)                     # obs: the engine's intro + "Your task is to: ..."
    obs, reward, terminated, truncated, info = env.step("<think>...</think><action>go to fridge 1</action>")

Reward `success_reward` (1; verl-agent trains with 10) on the step the goal holds (`info["won"]`), else 0. An
unparseable response or a command not in `admissible_commands` gets the engine's "Nothing happens." and
`action_valid=False`, without touching the game. 50 steps per episode (registration's `max_episode_steps`).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from agent_envs.alfworld import actions, data
from agent_envs.alfworld.engine import GRAMMARS, AlfredEngine, grammar_version, read_game, task_sentence
from agent_envs.alfworld.expert import PLAN_CACHE, HandcodedExpert, PlanExpert
from agent_envs.core import ACTION_VALID, INSTRUCTION, Task, TaskSet, TextEnv, Transition
from agent_envs.tools import function_tool

NOTHING_HAPPENS = "Nothing happens."
EXPERTS = ("planner", "handcoded")


class ALFWorldEnv(TextEnv):
    """ALFWorld text games (TextWorld `PddlEnv` + ALFWorld's domain, grammar and wrappers).

    Args:
        data_dir: an `alfworld-download` directory; None: `$ALFWORLD_DATA`, else the six bundled mini games.
        archive: a `tar.xz` of game files whose splits replace those of `data_dir` (e.g. the 3553 train games).
        task_types: task type ids 1-6 or names to keep (default all).
        grammar: "as_shipped" (each file's own grammar) or "new" (old-grammar games regenerated in the 0.4 grammar).
        success_reward: reward on winning (verl-agent uses 10).
        lenient: also accept a bare admissible command without `<action>` tags.
        plan_cache: directory caching expert plans (None disables); plan_cpu_s (CPU seconds, `RLIMIT_CPU`) and
            plan_memory_mb limit one plan. A failed plan raises `ExpertUnavailable` from `reset`/`step`.
        **kwargs: `TextEnv` options (`split`, `expert`, `invalid_action_penalty`, `render_mode`, ...). `expert=True`
            or "planner": the planner expert (one Fast Downward plan per game); "handcoded": ALFWorld's handcoded one.
    """

    executor_hint = "process"

    prompt_module: ClassVar[str] = "agent_envs.alfworld.prompts"
    _task_sets: ClassVar[dict[tuple[str, str, tuple], TaskSet]] = {}

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike | None = None,
        archive: str | os.PathLike | None = None,
        task_types: list[int] | list[str] | None = None,
        grammar: str = "as_shipped",
        success_reward: float = 1.0,
        lenient: bool = False,
        plan_cache: str | os.PathLike | None = PLAN_CACHE,
        plan_cpu_s: float = 600.0,
        plan_memory_mb: int = 4096,
        **kwargs: Any,
    ) -> None:
        expert_type = kwargs.get("expert")
        if isinstance(expert_type, str):
            if expert_type not in EXPERTS:
                raise ValueError(f"expert must be a bool or one of {EXPERTS}, got {expert_type!r}")
            kwargs["expert"] = True
        else:
            expert_type = "planner"
        super().__init__(**kwargs)
        self.expert_type = expert_type
        if grammar not in GRAMMARS:
            raise ValueError(f"grammar must be one of {GRAMMARS}, got {grammar!r}")
        self.data_dir, self.archive, self.task_types = data_dir, archive, task_types
        self.grammar, self.success_reward, self.lenient = grammar, float(success_reward), lenient
        self.engine = AlfredEngine()  # fails fast with DependencyNotInstalled when the extra is missing
        self._expert: PlanExpert | HandcodedExpert
        if expert_type == "handcoded":
            self._expert = HandcodedExpert(self.engine)
        else:
            self._expert = PlanExpert(
                self.engine, cache_dir=plan_cache, cpu_s=plan_cpu_s, memory_mb=plan_memory_mb
            )
        self._admissible: list[str] = []
        self._won = False
        self._loaded_task_id: str | None = None

    @classmethod
    def load_task_set(  # type: ignore[override]  # each env names its own task-set options
        cls, data_dir: str | os.PathLike | None = None, archive: str | os.PathLike | None = None,
        task_types: list[int] | list[str] | None = None) -> TaskSet:  # fmt: skip
        """Usable games per split (train / eval_in_distribution / eval_out_of_distribution / others found).

        Memoised per process and arguments: scanning 3553 game files takes seconds, and every env instance asks.
        """
        key = (str(data.resolve_data_dir(data_dir)), str(archive), tuple(task_types or ()))
        if key not in cls._task_sets:
            cls._task_sets[key] = data.load_tasks(data_dir, archive=archive, task_types=task_types)
        return cls._task_sets[key]

    def _task_set_kwargs(self) -> dict[str, Any]:
        return {"data_dir": self.data_dir, "archive": self.archive, "task_types": self.task_types}

    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        if self._loaded_task_id != task.task_id:  # loading costs ~1 s on real games: reuse it across resets
            self.engine.load(read_game(dict(task.data), self.grammar))
            self._loaded_task_id = task.task_id
        obs, self._admissible, self._won = self.engine.reset()
        if isinstance(self._expert, HandcodedExpert):
            self._expert.start(task.task_type, dict(task.data), obs)
        else:
            self._expert.start()
        assert self.engine.game is not None
        extra = {
            INSTRUCTION: task_sentence(self.engine.game["grammar"]),
            "won": self._won,
            "grammar": grammar_version(self.engine.game["grammar"]),
        }
        return obs, extra

    def _parse(self, response: str) -> str | None:
        return actions.project_action(response, self._admissible, lenient=self.lenient)

    def _unparseable(self, reason: str) -> Transition:
        return Transition(NOTHING_HAPPENS, info={ACTION_VALID: False, "won": self._won, "invalid_reason": reason})

    def _invalid_tool_call(self, reason: str) -> Transition:
        return self._unparseable(reason)

    def tools(self) -> list[dict[str, Any]]:
        """One tool: `act(action)`, an admissible command (the default tool, described for ALFWorld)."""
        command = {"type": "string", "description": "one admissible command, e.g. 'go to fridge 1'"}
        return [function_tool("act", "Send one command to the household.", {"action": command}, ["action"])]

    def _act(self, action: str) -> Transition:
        if action not in self._admissible:  # the engine would answer the same without changing anything
            return Transition(NOTHING_HAPPENS, info={ACTION_VALID: False, "won": self._won})
        before = self._admissible
        obs, self._admissible, won = self.engine.step(action)
        self._expert.observe(action, before)  # cheap; keeps expert_action() right even with expert=False
        newly_won = won and not self._won
        self._won = self._won or won
        reward = self.success_reward if newly_won else 0.0
        return Transition(obs, reward=reward, terminated=won, success=won, score=1.0 if won else 0.0,
                          info={ACTION_VALID: True, "won": won})  # fmt: skip

    def _admissible_actions(self) -> list[str]:
        return list(self._admissible)

    def expert_action(self) -> str:
        """The expert's next command: the planner's (the game's walkthrough or one Fast Downward plan per game) or,
        with `expert="handcoded"`, ALFWorld's handcoded expert's.
        """
        return self._expert.next_action()

    @property
    def expert_plan_source(self) -> str:
        """Where the expert's plan came from: walkthrough, cache, planner, replanned, none, or handcoded."""
        return self._expert.source

    @property
    def expert_plan_seconds(self) -> float:
        """Wall time the expert spent planning in this episode."""
        return self._expert.plan_seconds

    def _close(self) -> None:
        self.engine.close()
        self._loaded_task_id = None
