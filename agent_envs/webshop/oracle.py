"""The oracle: search the target's name, open it, choose the goal's options, buy.

It reads the session's goal (which an agent cannot see) and the current page, so it can be asked for the next action
at any point of an episode (`WebShopEnv(expert=True)` puts it into `info["expert_action"]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_envs.webshop.normalize import normalize_color
from agent_envs.webshop.pages import Page
from agent_envs.webshop.search import PRODUCT_WINDOW, SEARCH_RETURN_N


def target_options(goal: Mapping[str, Any], product: Mapping[str, Any]) -> dict[str, str]:
    """The option values to choose on the target's page: the goal's own (synthetic) or the best fuzzy match (human)."""
    goal_options = goal["goal_options"]
    if isinstance(goal_options, Mapping):
        return {k: v for k, v in goal_options.items() if v in product["options"].get(k, [])}
    from thefuzz import fuzz

    chosen: dict[str, str] = {}
    for g in goal_options:
        best, best_score = None, -1
        for name, values in product["options"].items():
            for v in values:
                score = fuzz.token_set_ratio(normalize_color(v), normalize_color(g))
                if score > best_score:
                    best, best_score = (name, v), score
        if best is not None and best_score > 85:
            chosen[best[0]] = best[1]
    return chosen


def search_query(goal: Mapping[str, Any]) -> str:
    """The oracle's query: the target product's name, lower-cased, whitespace collapsed."""
    return " ".join(goal["name"].lower().split())


def next_action(page: Page, goal: Mapping[str, Any]) -> str:
    """The oracle's next action on `page` for `goal`."""
    asin = goal["asin"]
    if page.kind in ("search", "done"):
        return f"search[{search_query(goal)}]"
    if page.kind == "results":
        if any(p["asin"] == asin for p in page.products):
            return f"click[{asin.lower()}]"
        if page.products and page.page * PRODUCT_WINDOW < min(page.total, SEARCH_RETURN_N):
            return "click[next >]"
        return f"search[{search_query(goal)}]"  # not found: a fresh search (the target is not reachable this way)
    if page.kind == "sub":
        return "click[< prev]"
    product = page.product or {}
    if product.get("asin") != asin:
        return "click[< prev]"
    for name, value in target_options(goal, product).items():
        if page.options.get(name) != value:
            return f"click[{value}]"
    return "click[buy now]"
