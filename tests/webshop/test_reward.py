"""Reward parity: hand-computed cases for every branch of the original formula, and purchases on the 1k catalog."""

from __future__ import annotations

from math import isclose

import pytest

from agent_envs.webshop.normalize import normalize_color
from agent_envs.webshop.reward import attribute_matches, compute_reward, option_matches, type_reward

BASE = {"query": "q1", "product_category": "a › b › c", "name": "n"}


@pytest.mark.parametrize(
    ("purchased", "p_nouns", "g_nouns", "expected"),
    [
        ({"query": "q1", "product_category": "a › b › c"}, ["x"], ["x"], (1.0, True, True, 1.0)),
        ({"query": "q2", "product_category": "d › e › f"}, ["x"], ["x", "y"], (1.0, False, False, 0.5)),
        # no query/category match and title_score <= 0.2 -> 0.5
        ({"query": "q2", "product_category": "d › e"}, ["x"], ["x", "y", "z", "w", "v"], (0.5, False, False, 0.2)),
        # title_score < 0.1 -> 0.1 even with a query match
        ({"query": "q1", "product_category": "d"}, ["x"], ["x"] + list("abcdefghijk"), (0.1, True, False, 1 / 12)),
        # title_score == 0 -> 0.0
        ({"query": "q1", "product_category": "a › b"}, ["zz"], ["x"], (0.0, True, True, 0.0)),
        # empty goal noun list -> title_score 0.2 (no type penalty below 0.5)
        ({"query": "q2", "product_category": "z"}, ["x"], [], (0.5, False, False, 0.2)),
    ],
)
def test_type_reward_branches(purchased, p_nouns, g_nouns, expected):
    out = type_reward(purchased, BASE, p_nouns, g_nouns)
    r_type, query_match, category_match, title_score = expected
    assert out["r_type"] == r_type
    assert out["query_match"] is query_match and out["category_match"] is category_match
    assert isclose(out["title_score"], title_score)


def test_category_overlap_ignores_order_and_duplicates():
    goal = {"query": "q", "product_category": "a › b › c"}
    for cats, match in [("b › c › a", True), ("a › d › b", True), ("a › a › b", True), ("a › a › d", False)]:
        assert type_reward({"query": "x", "product_category": cats}, goal, ["n"], ["n"])["category_match"] is match


def test_title_score_denominator_counts_duplicate_nouns():
    out = type_reward({"query": "x", "product_category": "y"}, BASE, ["shoe"], ["shoe", "shoe", "lace", "box"])
    assert out["title_score"] == 0.25


def test_attribute_matches_fuzzy_then_text():
    goal_attrs = ["tea tree", "essential oils", "natural ingredients"]
    exact = {"Attributes": ["tea tree", "essential oil", "natural ingredients"], "Title": "", "BulletPoints": [],
             "Description": ""}
    assert attribute_matches(exact, goal_attrs) == 3
    partial = {**exact, "Attributes": ["essential oil", "natural ingredients"]}
    assert attribute_matches(partial, goal_attrs) == 2
    in_text = {"Attributes": [], "Title": "", "BulletPoints": ["This shampoo has essential oils"],
               "Description": "Made with natural ingredients"}
    assert attribute_matches(in_text, goal_attrs) == 2
    none = {"Attributes": ["tea bag", "earl gray"], "Title": "English tea", "BulletPoints": ["Soothing"],
            "Description": "Best tea"}
    assert attribute_matches(none, goal_attrs) == 0


def test_option_matches_and_colour_normalisation():
    assert option_matches(["pack of 12", "grey", "XL"], ["grey", "XL", "pack of 12"]) == 3
    assert option_matches(["pack of 12", "blue", "XL"], ["grey", "XL", "pack of 12"]) == 2
    assert option_matches(["pack of 12", "powder snow", "XL"], ["cool powder snow", "XL", "pack of 12"]) == 3
    assert option_matches(["a"], []) == 0
    assert normalize_color("navy blue") == "blue" and normalize_color("lightning") == "light"
    # synthetic goals compare (name, value) items; only exact colour values normalise inside a tuple
    assert normalize_color(("color", "black")) == "black"
    assert normalize_color(("color", "navy blue")) == ("color", "navy blue")
    assert option_matches(["navy blue"], [("color", "navy blue")]) == 1  # "blue" is a token of "color navy blue"
    assert option_matches(["lightning"], [("style", "lightning")]) == 0  # the original's quirk: "light" vs tuple


def _product(**kw):
    base = {"query": "q1", "product_category": "a › b › c", "Attributes": ["gluten free", "low sugar"],
            "Title": "Crunchy Cookies", "BulletPoints": ["tasty"], "Description": "cookies"}
    return base | kw


def test_total_reward_formula_and_components():
    goal = {"query": "q1", "product_category": "a › b › c", "attributes": ["gluten free", "dairy free"],
            "goal_options": {"flavor": "honey", "size": "large"}, "price_upper": 20.0}
    out = compute_reward(_product(), goal, 15.0, {"flavor": "honey", "size": "small"}, ["cookies"], ["cookies"])
    # attributes 1/2, options 1/2, price 1 -> (1 + 1 + 1) / (2 + 2 + 1)
    assert out.n_att == 1 and out.n_opt == 1 and out.r_price is True
    assert isclose(out.reward, 3 / 5)
    assert isclose(out.w_att, 2 / 5) and isclose(out.w_option, 2 / 5) and isclose(out.w_price, 1 / 5)
    over = compute_reward(_product(), goal, 25.0, {"flavor": "honey", "size": "small"}, ["cookies"], ["cookies"])
    assert over.r_price is False and isclose(over.reward, 2 / 5)
    typed = compute_reward(_product(query="q9", product_category="x"), goal, 15.0, {"flavor": "honey", "size": "large"},
                           ["cookies"], ["cookies", "jar", "box", "lid", "cap", "tin"])
    assert typed.r_type == 0.5 and isclose(typed.reward, 0.5 * 4 / 5)
    no_opts = compute_reward(_product(), goal | {"goal_options": []}, 15.0, {}, ["cookies"], ["cookies"])
    assert no_opts.r_option is None and "r_option" not in no_opts.info() and isclose(no_opts.reward, 2 / 3)


def test_purchases_on_the_1k_catalog(world_1k):
    goals = world_1k.goals[:200]
    perfect = 0
    for goal in goals:
        target = world_1k.reward(goal, goal["asin"], dict(goal["goal_options"]))
        assert target.r_type == 1.0 and target.r_att == 1.0 and target.r_price is True
        perfect += target.reward == 1.0
        other = next(p["asin"] for p in world_1k.catalog.products if p["query"] != goal["query"])
        wrong = world_1k.reward(goal, other, {})
        assert wrong.reward < 1.0 and not wrong.query_match
        assert 0.0 <= wrong.reward <= 1.0
    assert perfect >= 190, perfect  # the rest lose an option to the original's colour-normalisation quirk


def test_human_goal_purchase(webshop_dir):
    from agent_envs.webshop.engine import load_world
    from agent_envs.webshop.oracle import target_options

    world = load_world(str(webshop_dir), goals="human")
    assert len(world.goals) == 13
    for goal in world.goals:
        product = world.catalog.by_asin[goal["asin"]]
        out = world.reward(goal, goal["asin"], target_options(goal, product))
        assert out.r_type == 1.0 and out.r_price is True and out.reward > 0.5


# Purchases on the 1k catalog (synthetic goal index, ASIN, options) -> (reward, r_type, title_score), with spaCy's
# en_core_web_sm 3.6.0 nouns (the original's rule). The first six differ under the heuristic tagger.
FIXED_PURCHASES = [
    (6729, "B07R54PMHD", {"size": "7", "color": "black snake"}, 0.009091, 0.1, 0.0526),
    (4748, "B099FKK27G", {"size": "small", "color": "other white"}, 0.011111, 0.1, 0.0588),
    (3032, "B01M7U6F8T", {"color": "black"}, 0.1, 0.5, 0.12),
    (4459, "B09P5CRVQ6", {}, 0.4, 1.0, 0.2308),
    (3420, "B09NTCCVGX", {"size": "110x40x40cm"}, 0.071429, 0.5, 0.1429),
    (5318, "B07WMMYB6G", {"color": "#1 grey black", "size": "38"}, 0.142857, 1.0, 0.1),
    (2522, "B09P39QN2W", {"fit type": "women", "color": "cranberry", "size": "small"}, 0.8, 1.0, 0.6667),
    (1803, "B09QGK5XHZ", {}, 0.571429, 1.0, 0.2222),
    (6119, "B09P5V8ZSK", {"size": "6"}, 0.7, 1.0, 0.381),
    (4990, "B09P39QN2W", {"fit type": "youth", "color": "kelly green", "size": "4t"}, 0.727273, 1.0, 0.2222),
]


def test_fixed_purchases_on_the_1k_catalog(world_1k):
    assert world_1k.catalog.noun_tagger == "spacy"  # the default
    for index, asin, options, reward, r_type, title_score in FIXED_PURCHASES:
        out = world_1k.reward(world_1k.goals[index], asin, options)
        assert (round(out.reward, 6), out.r_type, round(out.title_score, 4)) == (reward, r_type, title_score), index


def test_spacy_nouns_of_a_name(world_1k):
    name = "Home Dynamix Lyndhurst Rotana Modern Area Rug, Contemporary Blue/Gray/Ivory 5'2\"x7'4\""
    asin = next(p["asin"] for p in world_1k.catalog.products if p["name"] == name)
    assert world_1k.catalog.nouns_of(asin) == (
        "home", "dynamix", "lyndhurst", "rotana", "modern", "area", "rug", "contemporary", "blue", "gray", "ivory",
        "5'2\"x7'4",
    )  # fmt: skip


def test_noun_lists_are_cached_per_catalog(webshop_dir, tmp_path, monkeypatch):
    from agent_envs.webshop import nouns
    from agent_envs.webshop.catalog import load_catalog

    first = load_catalog(webshop_dir, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("nouns-*.json"))) == 1

    def no_spacy(*_a, **_kw):
        raise AssertionError("spaCy ran although the noun lists are cached")

    monkeypatch.setattr(nouns, "load_spacy_model", no_spacy)
    assert load_catalog(webshop_dir, cache_dir=tmp_path).nouns == first.nouns


def test_missing_spacy_model_is_a_clear_error_and_heuristic_is_explicit(webshop_dir, tmp_path, monkeypatch):
    from agent_envs.errors import DependencyNotInstalled
    from agent_envs.webshop import nouns
    from agent_envs.webshop.catalog import load_catalog

    monkeypatch.setattr(nouns, "SPACY_MODEL_PACKAGE", "no_such_spacy_model_package")
    with pytest.raises(DependencyNotInstalled, match=r"aem-gym\[webshop\].*noun_tagger='heuristic'"):
        load_catalog(webshop_dir, cache_dir=tmp_path)
    heuristic = load_catalog(webshop_dir, cache_dir=tmp_path, noun_tagger="heuristic")
    assert heuristic.noun_tagger == "heuristic" and len(heuristic.nouns) == 1000
    with pytest.raises(ValueError, match="unknown noun tagger"):
        load_catalog(webshop_dir, cache_dir=tmp_path, noun_tagger="lg")
