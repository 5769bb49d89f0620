r"""Product search: BM25 over the fields the original indexes, top 50, plus the original's special query prefixes.

Index text per product (`search_engine/convert_product_file_format.py`): lower(Title + " " + Description + " " +
BulletPoints[0] + " " + option text), option text like `"color: a, b, and size: c"`.

Backends:
- `bm25s` (default, in memory): Lucene-style analysis (possessive removal, `\w+` tokens, Lucene's English stop
  words, Porter stemmer) and BM25 with the original's pyserini parameters k1 = 0.9, b = 0.4; ties by catalog order.
- `tantivy` (for the full catalog): on-disk index with the `en_stem` analyzer; BM25 k1 = 1.2, b = 0.75 are fixed in
  its Python bindings. Built once (with a progress bar) and reused.
Neither is Lucene, so the top-50 list can differ from the original's pyserini results on close scores.
Both indexes are cached under `cache_dir` keyed by a hash of the index texts.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agent_envs.errors import DependencyNotInstalled
from agent_envs.webshop.catalog import Catalog, default_cache_dir

SEARCH_RETURN_N = 50
PRODUCT_WINDOW = 10
LUCENE_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "
    "this to was will with".split()
)
_POSSESSIVE = re.compile(r"'s\b")
_TOKEN = re.compile(r"[^\W_]+")


def index_text(product: dict[str, Any]) -> str:
    """The text the original indexes for a product."""
    options = product.get("options") or {}
    option_text = ", and ".join(f"{name}: {', '.join(values)}" for name, values in options.items())
    bullets = product.get("BulletPoints") or [""]
    first_bullet = bullets[0] if bullets else ""
    return f"{product['Title']} {product['Description']} {first_bullet} {option_text}".lower()


class Analyzer:
    """Lucene EnglishAnalyzer-like: lower case, possessives removed, stop words removed, Porter stems.

    Like Lucene's `PorterStemmer` (and Porter's reference code), words of one or two letters are not stemmed: the
    Snowball Porter stemmer would turn "s" into "" and "us" into "u".
    """

    def __init__(self) -> None:
        try:
            import Stemmer
        except ImportError as e:
            raise DependencyNotInstalled("WebShop search needs PyStemmer: pip install 'aem-gym[webshop]'") from e
        self._stemmer = Stemmer.Stemmer("porter")

    def __call__(self, text: str) -> list[str]:
        """The analysed tokens of `text`: possessives cut, stop words dropped, words of 3+ letters stemmed."""
        tokens = [t for t in _TOKEN.findall(_POSSESSIVE.sub("", text.lower())) if t not in LUCENE_STOPWORDS]
        stems = self._stemmer.stemWords(tokens)
        return [t if len(t) <= 2 else stem for t, stem in zip(tokens, stems, strict=True) if len(t) <= 2 or stem]


class SearchBackend(Protocol):
    """Ranks catalog positions for a free-text query."""

    def search(self, query: str, k: int) -> list[int]:
        """Positions (into `catalog.products`) of the top `k` hits, best first."""
        ...


class BM25sBackend:
    """In-memory BM25 (bm25s), k1 = 0.9, b = 0.4, Lucene IDF; the index is cached on disk."""

    def __init__(self, texts: Sequence[str], cache_dir: Path | None = None, k1: float = 0.9, b: float = 0.4):
        try:
            import bm25s
        except ImportError as e:
            raise DependencyNotInstalled("WebShop search needs bm25s: pip install 'aem-gym[webshop]'") from e
        self.analyze = Analyzer()
        key = hashlib.sha256(f"bm25s-v2:{k1}:{b}\n".encode() + "\n".join(texts).encode()).hexdigest()[:20]
        path = (cache_dir or default_cache_dir()) / f"bm25s-{key}"
        if (path / "params.index.json").exists():
            self.retriever = bm25s.BM25.load(str(path))
        else:
            self.retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
            self.retriever.index([self.analyze(t) for t in texts], show_progress=len(texts) > 50_000)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.retriever.save(str(path))
            except OSError:
                pass  # a read-only cache only costs a rebuild next time
        # bm25s adds an empty token "" after the indexed ones (never in the score matrix; querying it raises)
        n_indexed = len(self.retriever.scores["indptr"]) - 1
        self.vocab = {t: i for t, i in self.retriever.vocab_dict.items() if t and i < n_indexed}

    def search(self, query: str, k: int) -> list[int]:
        """Top-k positions with a positive score; ties broken by catalog order (as Lucene breaks them by doc id)."""
        ids = [self.vocab[t] for t in self.analyze(query) if t in self.vocab]
        if not ids:
            return []
        scores = self.retriever.get_scores_from_ids(ids)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            kth = np.partition(-scores[hits], k - 1)[k - 1]
            hits = hits[-scores[hits] <= kth]
        order = np.lexsort((hits, -scores[hits]))
        return hits[order][:k].tolist()


class TantivyBackend:
    """On-disk BM25 index (tantivy, `en_stem`), for catalogs too large to keep in memory comfortably."""

    def __init__(self, texts: Sequence[str], cache_dir: Path | None = None):
        try:
            import tantivy
        except ImportError as e:
            raise DependencyNotInstalled("the tantivy backend needs tantivy: pip install 'aem-gym[webshop]'") from e
        key = hashlib.sha256(b"tantivy-v1\n" + "\n".join(texts).encode()).hexdigest()[:20]
        path = (cache_dir or default_cache_dir()) / f"tantivy-{key}"
        builder = tantivy.SchemaBuilder()
        builder.add_unsigned_field("pos", stored=True, indexed=True, fast=True)
        builder.add_text_field("contents", stored=False, tokenizer_name="en_stem")
        schema = builder.build()
        done_marker = path / ".complete"
        path.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(schema, path=str(path))
        if not done_marker.exists():
            from tqdm import tqdm

            writer = self.index.writer(heap_size=256 << 20, num_threads=1)
            writer.delete_all_documents()
            for pos, text in enumerate(tqdm(texts, desc="tantivy index", disable=len(texts) < 50_000)):
                doc = tantivy.Document()
                doc.add_unsigned("pos", pos)
                doc.add_text("contents", text)
                writer.add_document(doc)
            writer.commit()
            writer.wait_merging_threads()
            done_marker.touch()
        self.index.reload()
        self.searcher = self.index.searcher()
        self._tantivy = tantivy

    def search(self, query: str, k: int) -> list[int]:
        """Top-k positions (tantivy's BM25; every query term optional)."""
        terms = [t for t in _TOKEN.findall(query.lower()) if t not in LUCENE_STOPWORDS]
        if not terms:
            return []
        parsed = self.index.parse_query(" OR ".join(terms), ["contents"])
        hits = self.searcher.search(parsed, k).hits
        return [self.searcher.doc(addr)["pos"][0] for _, addr in hits]


class ProductSearch:
    """The original's `get_top_n_product_from_keywords` over a catalog with a chosen backend."""

    def __init__(self, catalog: Catalog, backend: str = "bm25s", cache_dir: Path | None = None):
        self.catalog = catalog
        texts = [index_text(p) for p in catalog.products]
        if backend == "bm25s":
            self.backend: SearchBackend = BM25sBackend(texts, cache_dir)
        elif backend == "tantivy":
            self.backend = TantivyBackend(texts, cache_dir)
        else:
            raise ValueError(f"unknown search backend {backend!r}; use 'bm25s' or 'tantivy'")

    def top_products(self, keywords: Sequence[str], rng: random.Random | None = None) -> list[dict[str, Any]]:
        """Up to 50 products for a keyword list, honouring the `<r>`, `<a>`, `<c>` and `<q>` prefixes."""
        products = self.catalog.products
        head = keywords[0] if keywords else ""
        if head == "<r>":
            return (rng or random).sample(products, k=min(SEARCH_RETURN_N, len(products)))
        if head == "<a>":
            asins = self.catalog.attribute_to_asins.get(" ".join(keywords[1:]).strip(), set())
            return [p for p in products if p["asin"] in asins]
        if head == "<c>":
            category = keywords[1].strip() if len(keywords) > 1 else ""
            return [p for p in products if p["category"] == category]
        if head == "<q>":
            query = " ".join(keywords[1:]).strip()
            return [p for p in products if p["query"] == query]
        return [products[i] for i in self.backend.search(" ".join(keywords), SEARCH_RETURN_N)]


def page_of(products: Sequence[dict[str, Any]], page: int) -> list[dict[str, Any]]:
    """The products shown on results page `page` (1-based, 10 per page)."""
    return list(products[(page - 1) * PRODUCT_WINDOW : page * PRODUCT_WINDOW])
