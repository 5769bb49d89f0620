"""Goals (instructions with their target attributes, options and price limit), built as the original builds them.

Human goals: one per human instruction with non-empty `instruction_attributes`. Synthetic goals: one per product per
combination of its option values. Both get a price limit: `price_upper = max(sample(next 4 multiples of 10 above the
price, 2))` when at least two exist, else 1e6 with no price text. The list is then shuffled with `random.seed(233)`
exactly as the original does, so goal indices mean the same: test = 0-499, valid (the original's "dev") = 500-1499,
train = the rest.

Determinism: the original draws `price_upper` from the unseeded global `random` before seeding, so the limit at a
given index differs between processes. Here the draw for product `asin` (instruction `k`) uses
`random.Random(f"{seed}:{asin}:{k}")`; `original_randomness=True` restores the global unseeded draws.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from typing import Any

from agent_envs.webshop.catalog import Catalog

PRICE_RANGE = [10.0 * i for i in range(1, 100)]
SHUFFLE_SEED = 233
#: canonical split boundaries over the shuffled goal list (`baseline_models/env.py`)
SPLIT_BOUNDS = {"test": (0, 500), "valid": (500, 1500), "train": (1500, None)}


def _price_limit(price: float, rng: random.Random | None) -> tuple[float, str]:
    price_range = [p for p in PRICE_RANGE if p > price][:4]
    if len(price_range) >= 2:
        _, upper = sorted((rng or random).sample(price_range, 2))
        return upper, f", and price lower than {upper:.2f} dollars"
    return 1000000, ""


def human_goals(catalog: Catalog, seed: int = 0, original_randomness: bool = False) -> list[dict[str, Any]]:
    """Goals from human instructions (products with an `instructions` list), in catalog order."""
    goals = []
    for item in catalog.products:
        asin = item["asin"]
        for k, record in enumerate(item.get("instructions") or []):
            attributes = record["instruction_attributes"]
            if not attributes:
                continue
            rng = None if original_randomness else random.Random(f"{seed}:{asin}:{k}")
            upper, price_text = _price_limit(catalog.prices[asin], rng)
            goals.append({
                "asin": asin, "category": item["category"], "query": item["query"], "name": item["name"],
                "product_category": item["product_category"],
                "instruction_text": record["instruction"].strip(".") + price_text,
                "attributes": attributes, "price_upper": upper, "goal_options": record["instruction_options"],
                "weight": 1,
            })  # fmt: skip
    return goals


def synthetic_goals(catalog: Catalog, seed: int = 0, original_randomness: bool = False) -> list[dict[str, Any]]:
    """One goal per product with a synthetic instruction and per combination of its option values."""
    goals = []
    counts: dict[str, int] = defaultdict(int)
    for product in catalog.products:
        if product.get("instruction_text") is None:
            continue
        asin = product["asin"]
        attributes = product["instruction_attributes"]
        rng = None if original_randomness else random.Random(f"{seed}:{asin}:0")
        upper, price_text = _price_limit(catalog.prices[asin], rng)
        names = sorted(product["options"])
        for combination in itertools.product(*(product["options"][n] for n in names)):
            goal_options = dict(zip(names, combination, strict=True))
            option_text = ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            option_text = " with " + option_text if option_text else ""
            goals.append({
                "asin": asin, "category": product["category"], "query": product["query"],
                "name": product["Title"], "product_category": product["product_category"],
                "instruction_text": f"{product['instruction_text']}{option_text}{price_text}",
                "attributes": attributes, "price_upper": upper, "goal_options": goal_options,
            })  # fmt: skip
            for att in attributes:
                counts[att] += 1
    for goal in goals:
        goal["weight"] = sum(1.0 / counts[a] for a in goal["attributes"]) / len(goal["attributes"])
    return goals


def build_goals(catalog: Catalog, kind: str = "synthetic", seed: int = 0, original_randomness: bool = False
                ) -> list[dict[str, Any]]:
    """Goals of `kind` ("human" or "synthetic") in the original's canonical order (seed-233 shuffle)."""
    if kind == "human":
        goals = human_goals(catalog, seed, original_randomness)
    elif kind == "synthetic":
        goals = synthetic_goals(catalog, seed, original_randomness)
    else:
        raise ValueError(f"goal kind must be 'human' or 'synthetic', got {kind!r}")
    random.Random(SHUFFLE_SEED).shuffle(goals)  # same permutation as random.seed(233); random.shuffle(goals)
    return goals


def split_of(index: int) -> str:
    """The canonical split of goal `index`."""
    for split, (lo, hi) in SPLIT_BOUNDS.items():
        if index >= lo and (hi is None or index < hi):
            return split
    raise ValueError(index)
