"""The WebShop reward, exactly the original formula (Yao et al. 2022, `goal.py::get_reward`), with its components.

    reward = (n_att + n_opt + r_price) / (|A| + |O| + 1) * r_type

Fuzzy matching uses `thefuzz.fuzz.token_set_ratio` (> 85), as the original does. Product-name nouns come from
`agent_envs.webshop.nouns` (precomputed per product; the caller passes them in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent_envs.webshop.normalize import normalize_color

FUZZY_THRESHOLD = 85


def _token_set_ratio(a: object, b: object) -> int:
    from thefuzz import fuzz  # imported lazily: keeps `import agent_envs.webshop` cheap

    return fuzz.token_set_ratio(a, b)


def type_reward(purchased: Mapping[str, Any], goal: Mapping[str, Any], purchased_nouns: Sequence[str],
                goal_nouns: Sequence[str]) -> dict[str, Any]:
    """`r_type` and its inputs: query match, category overlap (>= 2 parts) and the name-noun overlap `title_score`."""
    query_match = purchased["query"] == goal["query"]
    purchased_cats = {x.strip() for x in purchased["product_category"].split("›")}
    goal_cats = {x.strip() for x in goal["product_category"].split("›")}
    category_match = len(purchased_cats & goal_cats) >= 2
    if len(goal_nouns) == 0:
        title_score = 0.2
    else:  # the denominator is the list length (duplicates count), as in the original
        title_score = len(set(purchased_nouns) & set(goal_nouns)) / len(goal_nouns)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match, "title_score": title_score}


def attribute_matches(purchased: Mapping[str, Any], goal_attributes: Sequence[str]) -> int:
    """Goal attributes the product has: fuzzy vs its attributes, else a substring of title/bullets/description."""
    count = 0
    for g_attr in goal_attributes:
        if any(_token_set_ratio(p_attr, g_attr) > FUZZY_THRESHOLD for p_attr in purchased["Attributes"]):
            count += 1
        elif (
            g_attr in purchased["Title"].lower()
            or g_attr in " ".join(purchased["BulletPoints"]).lower()
            or g_attr in purchased["Description"].lower()
        ):
            count += 1
    return count


def option_matches(purchased_options: Sequence[Any], goal_options: Sequence[Any]) -> int:
    """How many goal options are matched by a chosen option value (colour-normalised, fuzzy > 85)."""
    chosen = [normalize_color(o) for o in purchased_options]
    count = 0
    for g_option in (normalize_color(o) for o in goal_options):
        if any(_token_set_ratio(p, g_option) > FUZZY_THRESHOLD for p in chosen):
            count += 1
    return count


@dataclass(frozen=True)
class RewardBreakdown:
    """The reward and every component the original's `verbose=True` reports."""

    reward: float
    r_type: float
    r_att: float
    w_att: float
    query_match: bool
    category_match: bool
    title_score: float
    r_option: float | None
    w_option: float | None
    r_price: bool | None
    w_price: float | None
    n_att: int
    n_opt: int

    def info(self) -> dict[str, Any]:
        """The components as the original's `verbose_info` dict (keys absent when the original omits them)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("reward", "n_att", "n_opt")}
        for key in ("r_option", "w_option", "r_price", "w_price"):
            if out[key] is None:
                del out[key]
        return out


def goal_option_list(goal_options: Sequence[str] | Mapping[str, str]) -> list[Any]:
    """Goal options as the original compares them: a list of values, or `(name, value)` items for a dict."""
    return list(goal_options.items()) if isinstance(goal_options, Mapping) else list(goal_options)


def compute_reward(purchased: Mapping[str, Any], goal: Mapping[str, Any], price: float, options: Mapping[str, str],
                   purchased_nouns: Sequence[str], goal_nouns: Sequence[str]) -> RewardBreakdown:
    """The reward for buying `purchased` at `price` with chosen `options` under `goal`.

    Args:
        purchased: the product dict (keys query, product_category, Attributes, Title, BulletPoints, Description).
        goal: the goal dict (keys query, product_category, attributes, goal_options, price_upper).
        price: the product's price (the catalog's drawn price).
        options: option name -> chosen value.
        purchased_nouns: noun list of the purchased product's name.
        goal_nouns: noun list of the goal product's name.
    """
    t = type_reward(purchased, goal, purchased_nouns, goal_nouns)
    upper = goal["price_upper"]
    r_price = (price <= upper) if upper > 0 else None
    attrs = goal["attributes"]
    n_att = attribute_matches(purchased, attrs)
    g_opts = goal_option_list(goal["goal_options"])
    n_opt = option_matches(list(options.values()), g_opts)
    denom = len(attrs) + len(g_opts) + 1
    total = (n_att + n_opt + (r_price or 0)) / denom * t["r_type"]
    return RewardBreakdown(
        reward=total,
        r_type=t["r_type"],
        r_att=n_att / len(attrs) if attrs else 0.0,
        w_att=len(attrs) / denom,
        query_match=t["query_match"],
        category_match=t["category_match"],
        title_score=t["title_score"],
        r_option=n_opt / len(g_opts) if g_opts else None,
        w_option=len(g_opts) / denom if g_opts else None,
        r_price=r_price,
        w_price=1 / denom if r_price is not None else None,
        n_att=n_att,
        n_opt=n_opt,
    )
