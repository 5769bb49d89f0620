"""Product catalog: loading the original WebShop formats, the original's cleaning rules, prices and noun lists.

Formats read (all from one data directory, see `README.md`):

- raw `items_shuffle*.json` (JSON array of scraped products; files over 64 MB are streamed with `ijson`, never
  `json.load`ed), cleaned exactly as the original `load_products` does (§3 of the spec);
- processed `resources*/documents.jsonl` (`{"id", "contents", "product"}` per line, `product` already cleaned);
- `items_ins_v2*.json` (attributes and synthetic instructions) and `items_human_ins*.json` (human instructions).

Prices: a single price is used as is; a `[lo, hi]` range is drawn uniformly. The original draws it with the unseeded
global `random` (prices differ between processes); here each ASIN's price comes from `random.Random(f"{seed}:{asin}")`
so it is the same in every process. `original_randomness=True` restores the original's global, unseeded draw.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent_envs.errors import DataNotFound
from agent_envs.webshop.nouns import noun_lists, tagger_id

DUMMY_ATTR = "DUMMY_ATTR"
STREAM_THRESHOLD_BYTES = 64 << 20
DROPPED_KEYS = (
    "product_information", "brand", "brand_url", "list_price", "availability_quantity", "availability_status",
    "total_reviews", "total_answered_questions", "seller_id", "seller_name", "fulfilled_by_amazon",
    "fast_track_message", "aplus_present", "small_description_old",
)  # fmt: skip


def default_cache_dir() -> Path:
    """`$AEMGYM_CACHE/webshop`, default `~/.cache/aemgym/webshop` (search indexes, noun lists)."""
    return Path(os.environ.get("AEMGYM_CACHE", Path.home() / ".cache" / "aemgym")) / "webshop"


def cached_noun_lists(names: list[str], kind: str, cache_dir: Path | None = None) -> list[tuple[str, ...]]:
    """`noun_lists(names, kind)`, stored once per catalog and tagger under `cache_dir` (spaCy only on a miss)."""
    key = hashlib.sha256(f"{tagger_id(kind)}\n".encode() + "\n".join(names).encode()).hexdigest()[:20]
    path = (cache_dir or default_cache_dir()) / f"nouns-{key}.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(cached, list) and len(cached) == len(names):
            return [tuple(nouns) for nouns in cached]
    except (OSError, ValueError):
        pass
    lists = noun_lists(names, kind)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(lists), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache only costs tagging again next time
    return lists


def iter_json_array(path: Path) -> Iterator[dict[str, Any]]:
    """The items of a JSON array file; large files are streamed (constant memory)."""
    if path.stat().st_size < STREAM_THRESHOLD_BYTES:
        with open(path, encoding="utf-8") as f:
            yield from json.load(f)
        return
    try:
        import ijson
    except ImportError as e:  # pragma: no cover - ijson is in the webshop extra
        from agent_envs.errors import DependencyNotInstalled

        raise DependencyNotInstalled("streaming a large catalog needs ijson: pip install 'aem-gym[webshop]'") from e
    with open(path, "rb") as f:
        yield from ijson.items(f, "item", use_float=True)


def iter_documents(path: Path) -> Iterator[dict[str, Any]]:
    """The `product` dicts of a processed `documents.jsonl` file."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)["product"]


def parse_pricing(pricing: str | list | None) -> tuple[list[float], str]:
    """`"$a"` / `"$a$b"` -> (`[a]` / `[a, b]`, `"$a"` / `"$a to $b"`); empty -> `([100.0], "$100.0")`."""
    if isinstance(pricing, list):  # already processed
        values = [float(v) for v in pricing] or [100.0]
    elif not pricing:
        return [100.0], "$100.0"
    else:
        values = [float(Decimal(re.sub(r"[^\d.]", "", p))) for p in pricing.split("$")[1:]]
    if len(values) == 1:
        return values, f"${values[0]}"
    return values[:2], f"${values[0]} to ${values[1]}"


def clean_raw_product(p: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """Turn one raw scraped product into the processed form (the original's `load_products` body)."""
    for key in DROPPED_KEYS:
        p.pop(key, None)
    asin = p["asin"]
    p["Title"] = p["name"]
    p["Description"] = p["full_description"]
    p["Reviews"] = []
    p["Rating"] = "N.A."
    small = p["small_description"]
    p["BulletPoints"] = small if isinstance(small, list) else [small]
    p["pricing"], p["Price"] = parse_pricing(p.get("pricing"))
    options: dict[str, list[str]] = {}
    option_to_image: dict[str, Any] = {}
    for name, contents in (p.get("customization_options") or {}).items():
        if contents is None:
            continue
        values = []
        for content in contents:
            value = content["value"].strip().replace("/", " | ").lower()
            values.append(value)
            option_to_image[value] = content.get("image")
        options[name.lower()] = values
    p["options"], p["option_to_image"] = options, option_to_image
    entry = attributes.get(asin)
    p["Attributes"] = entry["attributes"] if entry and "attributes" in entry else [DUMMY_ATTR]
    p["MainImage"] = p["images"][0] if p.get("images") else ""
    p["query"] = p["query"].lower().strip()
    return p


@dataclass
class CatalogFiles:
    """Where a catalog's files are (see `find_catalog_files`)."""

    products: Path
    attributes: Path | None
    human: Path | None
    processed: bool


def find_catalog_files(data_dir: Path, full: bool = False) -> CatalogFiles:
    """Locate the catalog files in `data_dir` (1k files unless `full`); raises `DataNotFound` with what was tried."""
    data_dir = Path(data_dir)
    suffix = "" if full else "_1000"
    candidates = [
        (data_dir / f"items_shuffle{suffix}.json", False),
        (data_dir / ("resources" if full else "resources_1k") / "documents.jsonl", True),
        (data_dir / "documents.jsonl", True),
    ]
    found = next(((p, proc) for p, proc in candidates if p.is_file()), None)
    if found is None:
        tried = ", ".join(str(p) for p, _ in candidates)
        raise DataNotFound(f"no WebShop catalog in {data_dir} (tried {tried}); run `aemgym data fetch webshop`")
    path, processed = found

    def first(*names: str) -> Path | None:
        return next((data_dir / n for n in names if (data_dir / n).is_file()), None)

    attrs = first(f"items_ins_v2{suffix}.json", "items_ins_v2.json")
    human = first("items_human_ins.json", "items_human_ins.subset_1000.json")
    return CatalogFiles(path, attrs, human, processed)


@dataclass
class Catalog:
    """Products in catalog order, by ASIN, with prices and precomputed name-noun lists."""

    products: list[dict[str, Any]]
    prices: dict[str, float]
    nouns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    name: str = "catalog"
    noun_tagger: str = "spacy"
    by_asin: dict[str, dict[str, Any]] = field(init=False)
    attribute_to_asins: dict[str, set[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_asin = {p["asin"]: p for p in self.products}
        self.attribute_to_asins = defaultdict(set)
        for p in self.products:
            for a in p["Attributes"]:
                self.attribute_to_asins[a].add(p["asin"])

    def __len__(self) -> int:
        return len(self.products)

    def nouns_of(self, asin: str) -> tuple[str, ...]:
        """The noun list of a product's name (computed on first use when not precomputed)."""
        if asin not in self.nouns:
            self.nouns[asin] = noun_lists([self.by_asin[asin]["name"]], self.noun_tagger)[0]
        return self.nouns[asin]


def draw_prices(products: Iterable[dict[str, Any]], seed: int = 0,
                original_randomness: bool = False) -> dict[str, float]:
    """Each product's price: single -> as is; range -> uniform draw (seeded per ASIN unless `original_randomness`)."""
    prices = {}
    for p in products:
        pricing = p["pricing"]
        if not pricing:
            price = 100.0
        elif len(pricing) == 1:
            price = pricing[0]
        elif original_randomness:
            price = random.uniform(*pricing[:2])
        else:
            price = random.Random(f"{seed}:{p['asin']}").uniform(*pricing[:2])
        prices[p["asin"]] = price
    return prices


def load_catalog(
    data_dir: str | Path,
    *,
    full: bool = False,
    num_products: int | None = None,
    seed: int = 0,
    original_randomness: bool = False,
    noun_tagger: str = "spacy",
    cache_dir: Path | None = None,
) -> Catalog:
    """Load, clean and de-duplicate a catalog; attach instructions, attributes, prices and noun lists.

    Args:
        data_dir: the catalog directory (see `find_catalog_files`).
        full: use the full-catalog files instead of the 1k ones.
        num_products: keep only the first N products (None: all).
        seed: seed of the prices of products without one.
        original_randomness: draw prices as the original does (unseeded `random`), not from `seed`.
        noun_tagger: "spacy" (the original's rule; needs the `webshop` extra) or "heuristic" (approximate fallback).
        cache_dir: where noun lists are cached (default `default_cache_dir()`).
    """
    files = find_catalog_files(Path(data_dir), full=full)
    attributes: dict[str, Any] = json.loads(files.attributes.read_text()) if files.attributes else {}
    human: dict[str, Any] = json.loads(files.human.read_text()) if files.human else {}
    source = iter_documents(files.products) if files.processed else iter_json_array(files.products)
    products, seen = [], set()
    for i, p in enumerate(source):
        if num_products is not None and i >= num_products:
            break
        asin = p.get("asin", "nan")
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        if not files.processed:
            p = clean_raw_product(p, attributes)
        if asin in human:
            p["instructions"] = human[asin]
        ins = attributes.get(asin, {})
        p["instruction_text"] = ins.get("instruction")
        p["instruction_attributes"] = ins.get("instruction_attributes")
        products.append(p)
    prices = draw_prices(products, seed=seed, original_randomness=original_randomness)
    asins = [p["asin"] for p in products]
    nouns = dict(zip(asins, cached_noun_lists([p["name"] for p in products], noun_tagger, cache_dir), strict=True))
    return Catalog(products, prices, nouns, name=str(files.products), noun_tagger=noun_tagger)
