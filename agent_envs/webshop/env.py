"""`agent_envs/WebShop-v0`: the WebShop text environment (Yao et al. 2022) on our engine.

Observations follow the original's modes (`text`, `text_rich`, `html`, `url`), built from page state; actions are
`search[keywords]` and `click[element]` inside `<action>` tags (a bare action as the whole response is accepted too).
The reward is the original's, given on `click[buy now]`, which ends the episode; success = reward 1.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any

from agent_envs.core import ACTION_VALID, Task, TaskSet, TextEnv, Transition
from agent_envs.parsing import clean_action, extract_tag
from agent_envs.tools import function_tool
from agent_envs.webshop.catalog import find_catalog_files
from agent_envs.webshop.engine import Session, World, load_world, resolve_data_dir
from agent_envs.webshop.goals import split_of
from agent_envs.webshop.observations import observe
from agent_envs.webshop.oracle import next_action

_BARE_ACTION = re.compile(r"^\s*((?:search|click)\[.+\])\s*$", re.IGNORECASE | re.DOTALL)
OBSERVATION_MODES = ("text", "text_rich", "html", "url")


class WebShopEnv(TextEnv):
    """Shop for the product an instruction describes.

    Args:
        data_dir: catalog directory (original formats); default `$AEMGYM_WEBSHOP_DATA`, else the bundled synthetic one.
        goals: "synthetic" (one goal per product option combination; verl-agent's choice) or "human".
        observation_mode: text | text_rich | html | url.
        num_prev_obs, num_prev_actions: history prepended to each step's observation, as the original does.
        search_backend: "bm25s" (default) or "tantivy".
        full: use the full-catalog files (`items_shuffle.json`, ...) instead of the 1k ones.
        price_seed: seed of the reproducible price draws; `original_randomness=True` uses the original's unseeded draws.
        noun_tagger: "spacy" (the original's product-name nouns for the reward's type factor; `webshop` extra) or
            "heuristic" (dependency-free approximation; differs from the original's reward on some purchases).
        show_attrs: show the Attributes tab on item pages.
        invalid_feedback: prefix the observation with a message on invalid actions (False: the original's silent
            no-op).
    """

    prompt_module = "agent_envs.webshop.prompts"

    def __init__(self, *, data_dir: str | None = None, goals: str = "synthetic", observation_mode: str = "text",
                 num_prev_obs: int = 0, num_prev_actions: int = 0, search_backend: str = "bm25s", full: bool = False,
                 num_products: int | None = None, price_seed: int = 0, original_randomness: bool = False,
                 noun_tagger: str = "spacy", show_attrs: bool = False, invalid_feedback: bool = True, **kw: Any):
        super().__init__(**kw)
        if observation_mode not in OBSERVATION_MODES:
            raise ValueError(f"observation_mode must be one of {OBSERVATION_MODES}, got {observation_mode!r}")
        self.observation_mode = observation_mode
        self.num_prev_obs, self.num_prev_actions = num_prev_obs, num_prev_actions
        self.feedback_on_invalid = invalid_feedback
        self.world_kwargs = dict(data_dir=None if data_dir is None else str(data_dir), goals=goals,
                                 search_backend=search_backend, full=full, num_products=num_products, seed=price_seed,
                                 original_randomness=original_randomness, noun_tagger=noun_tagger,
                                 show_attrs=show_attrs)
        self.session: Session | None = None
        self._prev_obs: list[str] = []
        self._prev_actions: list[str] = []

    @property
    def world(self) -> World:
        """The shared catalog, search engine and goals (loaded once per process and configuration)."""
        return load_world(**self.world_kwargs)

    @classmethod
    def load_task_set(cls, **kwargs: Any) -> TaskSet:
        """Goals in canonical order: test = 0-499, valid = 500-1499 (alias "dev"), train = the rest."""
        world = load_world(**kwargs)
        tasks = (Task(f"{world.goal_kind}-{i}", split_of(i), g["category"], {"index": i})
                 for i, g in enumerate(world.goals))
        return TaskSet(tasks, aliases={"dev": "valid"}, name="WebShop")

    def _task_set_kwargs(self) -> dict[str, Any]:
        return dict(self.world_kwargs)

    def data_files(self, task_ids: Iterable[str] | None = None) -> list[str]:
        """The catalog's product, attribute and human-goal files."""
        data_dir, full = self.world_kwargs["data_dir"], bool(self.world_kwargs["full"])
        files = find_catalog_files(resolve_data_dir(None if data_dir is None else str(data_dir)), full=full)
        return [str(p.resolve()) for p in (files.products, files.attributes, files.human) if p is not None]

    # ----- episode ----------------------------------------------------------------------------------------------------
    def _observe(self) -> str:
        assert self.session is not None
        return observe(self.session.page, self.observation_mode, self.session.asins)

    def _with_history(self, obs: str) -> str:
        parts = [obs]
        for i in range(1, 1 + max(self.num_prev_obs, self.num_prev_actions)):
            if len(self._prev_actions) >= i and self.num_prev_actions >= i:
                parts.append(self._prev_actions[-i])
            if len(self._prev_obs) >= i and self.num_prev_obs >= i:
                parts.append(self._prev_obs[-i])
        return " [SEP] ".join(parts[::-1])

    def _start(self, task: Task) -> tuple[str, dict[str, Any]]:
        index = task.data["index"]
        goal = self.world.goals[index]
        seed = int(self.np_random.integers(1 << 31))
        self.session = Session(self.world, f"fixed_{index}", goal, random.Random(seed))
        obs = self._observe()
        self._prev_obs, self._prev_actions = [obs], []
        return obs, {"instruction": goal["instruction_text"], "available_actions": self.session.available_actions(),
                     "url": observe(self.session.page, "url")}

    def _parse(self, response: str) -> str | None:
        action = extract_tag(response, "action")
        if action is None:
            m = _BARE_ACTION.match(response[:4096]) if isinstance(response, str) else None
            action = m.group(1) if m else None
        return clean_action(action) if action else None

    def _act(self, action: str) -> Transition:
        assert self.session is not None
        result = self.session.step(action)
        obs = self._observe()
        info: dict[str, Any] = {ACTION_VALID: result.valid, "available_actions": self.session.available_actions(),
                                "url": observe(self.session.page, "url")}
        self._prev_actions.append(action)  # the original appends the action before building the history
        state = self._with_history(obs)
        self._prev_obs.append(obs)
        if not result.valid:
            if self.feedback_on_invalid:
                state = f"Invalid action: {result.reason}.\n{state}"
            return Transition(state, info=info | {"anchor_obs": obs})
        if result.done:
            assert result.breakdown is not None
            info["reward_info"] = result.breakdown.info()
            info["won"] = result.reward == 1.0
            return Transition(state, reward=result.reward, terminated=True, success=result.reward == 1.0,
                              score=result.reward, info=info | {"anchor_obs": obs})
        return Transition(state, info=info | {"anchor_obs": obs})

    def _unparseable(self, reason: str) -> Transition:
        obs = self._observe() if self.session else ""
        hint = "Reply with search[...] or click[...] inside <action> tags."
        return Transition(f"Invalid action: {reason}. {hint}\n{obs}",
                          info={ACTION_VALID: False, "anchor_obs": obs})

    def _invalid_tool_call(self, reason: str) -> Transition:
        obs = self._observe() if self.session else ""
        return Transition(f"Invalid tool call: {reason}.\n{obs}", info={ACTION_VALID: False, "anchor_obs": obs})

    def tools(self) -> list[dict[str, Any]]:
        """`search(query)` on pages with a search bar and `click(element)` on a button, product id or option."""
        query = {"type": "string", "description": "search keywords"}
        element = {"type": "string", "description": "a clickable shown on the page, e.g. a product id or 'buy now'"}
        return [function_tool("search", "Search the shop.", {"query": query}, ["query"]),
                function_tool("click", "Click a button, product or option on the page.", {"element": element},
                              ["element"])]

    def _tool_action(self, name: str, arguments: dict[str, Any]) -> str | None:
        value = arguments.get("query" if name == "search" else "element")
        return clean_action(f"{name}[{value}]") if isinstance(value, str) and value.strip() else None

    def _admissible_actions(self) -> list[str] | None:
        if self.session is None:
            return None
        available = self.session.available_actions()
        actions = ["search[<your query>]"] if available["has_search_bar"] else []
        return actions + [f"click[{c}]" for c in available["clickables"] if c != "search"]

    def expert_action(self) -> str:
        """The oracle's next action (search the target's name, open it, choose the goal's options, buy)."""
        assert self.session is not None
        return next_action(self.session.page, self.session.goal)
