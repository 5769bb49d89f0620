"""Catalog cleaning rules, goal construction, canonical order, splits and seeded reproducibility."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent_envs.errors import DataNotFound
from agent_envs.webshop.catalog import DUMMY_ATTR, load_catalog, parse_pricing
from agent_envs.webshop.goals import build_goals, split_of


def _raw(asin, pricing="$10.5", options=None, **kw):
    return {"asin": asin, "name": f"Thing {asin}", "full_description": "desc", "pricing": pricing, "images": ["img"],
            "product_category": "a › b", "average_rating": "", "small_description": "bullet", "category": "c",
            "query": " Things ", "page": 1, "customization_options": options, "brand": "dropped", **kw}


def test_pricing_rules():
    assert parse_pricing("$10.5") == ([10.5], "$10.5")
    assert parse_pricing("$1,299.99$1,499.00") == ([1299.99, 1499.0], "$1299.99 to $1499.0")
    assert parse_pricing("") == ([100.0], "$100.0") and parse_pricing(None) == ([100.0], "$100.0")


def test_raw_catalog_cleaning(tmp_path):
    raw = [
        _raw("B000000001", options={"Color": [{"value": "Navy/Red ", "image": "x"}], "Size": None}),
        _raw("nan"), _raw("B0000000012345"), _raw("B000000001", pricing="$99"),  # bad ASINs and a duplicate
        _raw("B000000002", pricing="$5$9"),
    ]
    (tmp_path / "items_shuffle_1000.json").write_text(json.dumps(raw))
    (tmp_path / "items_ins_v2_1000.json").write_text(json.dumps({"B000000001": {"attributes": ["soft"]}}))
    catalog = load_catalog(tmp_path)
    assert [p["asin"] for p in catalog.products] == ["B000000001", "B000000002"]
    p1, p2 = catalog.products
    assert p1["options"] == {"color": ["navy | red"]} and p1["option_to_image"] == {"navy | red": "x"}
    assert p1["Attributes"] == ["soft"] and p2["Attributes"] == [DUMMY_ATTR]
    assert p1["BulletPoints"] == ["bullet"] and p1["query"] == "things" and "brand" not in p1
    assert catalog.prices["B000000001"] == 10.5 and 5 <= catalog.prices["B000000002"] <= 9
    assert p2["Price"] == "$5.0 to $9.0"


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFound, match="aemgym data fetch webshop"):
        load_catalog(tmp_path)


def test_synthetic_goals_match_the_original_count_and_rules(world_1k):
    goals = world_1k.goals
    assert len(goals) == 6910  # the original prints "Loaded 6910 goals" for the 1k synthetic set
    for g in goals[:300]:
        price = world_1k.catalog.prices[g["asin"]]
        if g["price_upper"] == 1000000:
            assert "price lower than" not in g["instruction_text"]
        else:
            assert price < g["price_upper"] <= price + 40 and g["price_upper"] % 10 == 0
            assert g["instruction_text"].endswith(f", and price lower than {g['price_upper']:.2f} dollars")
        assert 0 < g["weight"] <= 1 and isinstance(g["goal_options"], dict)
    assert [split_of(i) for i in (0, 499, 500, 1499, 1500)] == ["test", "test", "valid", "valid", "train"]


def test_goal_order_is_the_seed_233_shuffle(world_1k):
    import random

    from agent_envs.webshop.goals import synthetic_goals

    unshuffled = synthetic_goals(world_1k.catalog)
    expected = list(range(len(unshuffled)))
    random.seed(233)
    random.shuffle(expected)
    assert [g["instruction_text"] for g in world_1k.goals[:50]] == [unshuffled[i]["instruction_text"]
                                                                   for i in expected[:50]]


def test_prices_and_limits_reproducible_across_processes(webshop_dir):
    code = ("from agent_envs.webshop.catalog import load_catalog; from agent_envs.webshop.goals import build_goals;"
            f"c = load_catalog({str(webshop_dir)!r}); g = build_goals(c);"
            "print(sum(c.prices.values()), [x['price_upper'] for x in g[:200]])")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(runs) == 1


def test_original_randomness_flag_draws_unseeded(webshop_dir):
    catalog = load_catalog(webshop_dir, original_randomness=True)
    ranged = [p["asin"] for p in catalog.products if len(p["pricing"]) == 2]
    again = load_catalog(webshop_dir, original_randomness=True)
    assert any(catalog.prices[a] != again.prices[a] for a in ranged)
    a, b = build_goals(catalog, original_randomness=True), build_goals(again, original_randomness=True)
    assert [g["asin"] for g in a] == [g["asin"] for g in b]  # the order is still canonical
