"""Search: BM25 top 50, 10 per page, special prefixes, backends and the on-disk cache."""

from __future__ import annotations

import random

from agent_envs.webshop.search import SEARCH_RETURN_N, BM25sBackend, ProductSearch, page_of


def test_target_found_by_its_name(world_1k):
    found = 0
    for goal in world_1k.goals[:100]:
        hits = world_1k.search.top_products(goal["name"].lower().split(" "))
        assert len(hits) <= SEARCH_RETURN_N
        found += hits[0]["asin"] == goal["asin"]
    assert found >= 95


def test_prefixes(world_1k):
    s, products = world_1k.search, world_1k.catalog.products
    assert len(s.top_products(["<r>"], random.Random(0))) == 50
    q = products[0]["query"]
    assert {p["query"] for p in s.top_products(["<q>", *q.split()])} == {q}
    assert all(p["category"] == "garden" for p in s.top_products(["<c>", "garden"]))
    attr = products[0]["Attributes"][0]
    assert all(attr in p["Attributes"] for p in s.top_products(["<a>", *attr.split()]))
    assert s.top_products(["zzzqqqxxx"]) == []


def test_paging():
    items = [{"asin": str(i)} for i in range(23)]
    assert [len(page_of(items, p)) for p in (1, 2, 3, 4)] == [10, 10, 3, 0]


def test_bm25s_cache_is_reused(tmp_path):
    texts = ["red running shoes", "blue cotton shirt", "green garden chair", "red wine glass"]
    first = BM25sBackend(texts, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1
    second = BM25sBackend(texts, cache_dir=tmp_path)
    assert first.search("red shoes", 10) == second.search("red shoes", 10) == [0, 3]


def test_tantivy_backend(world_1k, tmp_path):
    search = ProductSearch(world_1k.catalog, backend="tantivy", cache_dir=tmp_path)
    found = sum(search.top_products(g["name"].lower().split())[0]["asin"] == g["asin"] for g in world_1k.goals[:30])
    assert found >= 27
    assert (next(tmp_path.iterdir()) / ".complete").exists()


HOSTILE_QUERIES = [
    "", " ", "   ", "s", "t shirt size s", "the and of a", "'s", "us", "²", "x²", "\u202etxet\u202c", "\x00\x01\x7f",
    "\ud83d shoes \udc00", "日本語 商品", "ﬁ ligature", "a" * 100_000, "red " * 20_000, "{0} %s %(x)s", "<r>", "<a>",
    "<c>", "<q>", "AND OR NOT", "field:value", '"unclosed', "(((", "-+*?~^", "title:[a TO z]", "\\", "1e309",
]


def test_search_for_size_s_with_the_bundled_catalog():
    """Porter stemming turned "s" into "", which bm25s keeps in its vocabulary but not in its index (ValueError)."""
    from agent_envs.webshop.engine import load_world

    search = load_world().search
    hits = search.top_products("t shirt size s".split(" "))
    assert hits and all("asin" in p for p in hits)
    assert search.backend.analyze("s us bus buses") == ["s", "us", "bu", "buse"]  # short words are not stemmed


def test_any_query_returns_results_or_nothing(world_1k, tmp_path):
    """Empty, stop-word-only, unicode, control-character and huge queries never raise, on both backends."""
    backends = [world_1k.search, ProductSearch(world_1k.catalog, backend="tantivy", cache_dir=tmp_path)]
    for search in backends:
        for query in HOSTILE_QUERIES:
            hits = search.top_products(query.split(" "), random.Random(0))
            assert isinstance(hits, list) and len(hits) <= SEARCH_RETURN_N, query[:20]
        assert search.top_products([]) == [] and search.top_products(["the", "and"]) == []
