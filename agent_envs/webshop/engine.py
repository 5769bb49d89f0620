"""The shop engine: catalog + search + goals loaded once per process (`World`), and per-visitor `Session`s that move
between pages exactly as the original's `SimServer.receive` does (including its quirks: `search[...]` works from any
page, "< Prev" means different things on different pages, "Next >" is always shown).
"""

from __future__ import annotations

import functools
import os
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_envs.webshop.catalog import Catalog, load_catalog
from agent_envs.webshop.goals import build_goals
from agent_envs.webshop.pages import SUB_PAGES, Page, clickables
from agent_envs.webshop.reward import RewardBreakdown, compute_reward
from agent_envs.webshop.search import ProductSearch, page_of

DATA_ENV_VAR = "AEMGYM_WEBSHOP_DATA"
BUNDLED_DATA = Path(__file__).parent / "data"
ACTION_PATTERN = re.compile(r"(.+)\[(.+)\]")  # the original's `parse_action` pattern (greedy)


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """`data_dir`, else `$AEMGYM_WEBSHOP_DATA`, else the bundled synthetic catalog."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR])
    return BUNDLED_DATA


@dataclass
class World:
    """Everything shared by all sessions: catalog, search engine, goals (canonical order)."""

    catalog: Catalog
    search: ProductSearch
    goals: list[dict[str, Any]]
    goal_kind: str
    show_attrs: bool = False

    def reward(self, goal: dict[str, Any], asin: str, options: dict[str, str]) -> RewardBreakdown:
        """The reward for buying `asin` with `options` under `goal`."""
        product = self.catalog.by_asin[asin]
        return compute_reward(product, goal, self.catalog.prices[asin], options, self.catalog.nouns_of(asin),
                              self.catalog.nouns_of(goal["asin"]))


@functools.lru_cache(maxsize=8)
def load_world(data_dir: str | None = None, goals: str = "synthetic", search_backend: str = "bm25s",
               full: bool = False, num_products: int | None = None, seed: int = 0, original_randomness: bool = False,
               noun_tagger: str = "spacy", show_attrs: bool = False) -> World:
    """Load (once per process and configuration) the catalog, its search index and its goals."""
    catalog = load_catalog(resolve_data_dir(data_dir), full=full, num_products=num_products, seed=seed,
                           original_randomness=original_randomness, noun_tagger=noun_tagger)
    search = ProductSearch(catalog, backend=search_backend)
    return World(catalog, search, build_goals(catalog, goals, seed, original_randomness), goals, show_attrs)


def parse_action(action: str) -> tuple[str, str | None]:
    """`name[arg]` -> (name, arg); anything else -> (action, None)."""
    m = ACTION_PATTERN.match(action)
    return (m.group(1), m.group(2)) if m else (action, None)


@dataclass
class StepResult:
    """The outcome of one action on a session."""

    valid: bool
    reward: float = 0.0
    done: bool = False
    reason: str = ""
    breakdown: RewardBreakdown | None = None


@dataclass
class Session:
    """One visitor working on one goal: the current page plus the original's per-session bookkeeping."""

    world: World
    session_id: str
    goal: dict[str, Any]
    rng: random.Random = field(default_factory=random.Random)
    page: Page = field(init=False)
    asins: set[str] = field(default_factory=set)
    actions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    done: bool = False
    reward: float = 0.0
    breakdown: RewardBreakdown | None = None
    _results: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.go_home()

    # ----- pages ----------------------------------------------------------------------------------------------------
    def go_home(self) -> None:
        """The search page; resets keywords, product, options and visited products (as the original does)."""
        self.page = Page("search", self.session_id, self.goal["instruction_text"], show_attrs=self.world.show_attrs)
        self.asins, self.actions = set(), defaultdict(int)

    def show_results(self, keywords: list[str], page: int) -> None:
        """Run the search and show results page `page`."""
        self.actions["search"] += 1
        self._results = self.world.search.top_products(keywords, self.rng)
        self.page = Page("results", self.session_id, self.goal["instruction_text"], keywords=list(keywords), page=page,
                         total=len(self._results), products=page_of(self._results, page),
                         show_attrs=self.world.show_attrs)

    def show_item(self, asin: str, options: dict[str, str]) -> None:
        """The item page of `asin` with `options` chosen."""
        p = self.page
        self.page = Page("item", self.session_id, p.instruction, keywords=p.keywords, page=p.page,
                         product=self.world.catalog.by_asin[asin], options=dict(options), show_attrs=p.show_attrs)

    def show_sub_page(self, sub_page: str) -> None:
        """One of Description / Features / Reviews / Attributes of the current product."""
        self.actions[sub_page] += 1
        p = self.page
        self.page = Page("sub", self.session_id, p.instruction, keywords=p.keywords, page=p.page, product=p.product,
                         options=dict(p.options), sub_page=sub_page, show_attrs=p.show_attrs)

    def buy(self) -> StepResult:
        """Purchase the current product with the current options; computes the reward."""
        p = self.page
        asin = (p.product or {})["asin"]
        self.actions["purchase"] += 1
        self.breakdown = self.world.reward(self.goal, asin, p.options)
        self.reward, self.done = self.breakdown.reward, True
        self.page = Page("done", self.session_id, p.instruction, keywords=p.keywords, page=p.page,
                         options=dict(p.options), reward=self.reward, done_asin=asin)
        return StepResult(True, self.reward, True, breakdown=self.breakdown)

    # ----- actions --------------------------------------------------------------------------------------------------
    def available_actions(self) -> dict[str, Any]:
        """`{"has_search_bar": bool, "clickables": [...]}` as the original's `get_available_actions`."""
        return {"has_search_bar": self.page.kind == "search", "clickables": list(clickables(self.page))}

    def step(self, action: str) -> StepResult:
        """Apply `search[...]` or `click[...]`; an inapplicable action changes nothing and is reported invalid."""
        name, arg = parse_action(action)
        if arg is not None:
            arg = arg.lower()
        if name == "search" and arg:
            self.show_results(arg.split(" "), 1)
            return StepResult(True)
        if name != "click" or arg is None:
            return StepResult(False, reason="expected search[keywords] or click[element]")
        table = clickables(self.page)
        if arg not in table or arg == "search":
            return StepResult(False, reason=f"{arg!r} is not clickable on this page")
        return self.click(arg, table[arg])

    def click(self, name: str, target: tuple[str, str]) -> StepResult:
        """The original's click dispatch (`SimServer.receive`)."""
        kind, p = self.page.kind, self.page
        if name == "buy now":
            return self.buy()
        if name == "back to search":
            self.go_home()
        elif name == "next >" and kind == "results":
            self.show_results(p.keywords, p.page + 1)
        elif name == "< prev" and kind == "results":
            self.show_results(p.keywords, p.page - 1)
        elif name == "< prev" and kind == "sub":
            self.show_item(p.product["asin"], p.options)  # type: ignore[index]
        elif name == "< prev" and kind == "item":
            self.show_results(p.keywords, p.page)
        elif name in (s.lower() for s in SUB_PAGES):
            self.show_sub_page(next(s for s in SUB_PAGES if s.lower() == name))
        elif target[0] == "link":
            asin = name.upper()
            self.actions["asin"] += 1
            self.asins.add(asin)
            self.show_item(asin, {})
        elif target[0] == "label":
            self.actions["options"] += 1
            self.show_item(p.product["asin"], {**p.options, target[1].lower(): name})  # type: ignore[index]
        else:  # a button with no special meaning re-renders the current item page
            self.show_item(p.product["asin"], p.options)  # type: ignore[index]
        return StepResult(True)
