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
