"""A synthetic catalog in the original's schema: the bundled default catalog and scaled catalogs for benchmarks.

Products are invented (no scraped content): a category, a product noun, a brand, adjectives, options (colour x size
or flavour x pack), a price or price range, attributes and a synthetic instruction, written as the original's
processed `documents.jsonl` plus `items_ins_v2.json`. Regenerate the bundled copy with
`python -m agent_envs.webshop.synthetic agent_envs/webshop/data 150`.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from agent_envs.webshop.search import index_text

CATEGORIES = {
    "fashion": ("Clothing, Shoes & Jewelry › Women › Clothing", ["dress", "shirt", "hoodie", "jacket", "sneakers",
                "sandals", "leggings", "sweater", "jeans", "boots"], "color", "size"),
    "beauty": ("Beauty & Personal Care › Hair Care", ["shampoo", "conditioner", "serum", "lotion", "lipstick",
               "perfume", "moisturizer", "sunscreen", "toner", "cleanser"], "scent", "size"),
    "grocery": ("Grocery & Gourmet Food › Snacks", ["cookies", "crackers", "chips", "granola", "almonds", "tea",
                "coffee", "chocolate", "jerky", "popcorn"], "flavor name", "size"),
    "garden": ("Home & Kitchen › Furniture › Living Room Furniture", ["table", "chair", "lamp", "shelf", "rug",
               "cushion", "curtain", "mirror", "stool", "bench"], "color", "size"),
    "electronics": ("Electronics › Accessories & Supplies", ["charger", "cable", "headphones", "speaker", "mouse",
                    "keyboard", "adapter", "case", "stand", "microphone"], "color", "style"),
}  # fmt: skip
BRANDS = ["Acme", "Northwind", "Zephyr", "Lumen", "Orchid", "Granite", "Pioneer", "Willow", "Cobalt", "Maple", "Nimbus",
          "Sable", "Tundra", "Vesper", "Harbor", "Quill"]
ADJECTIVES = ["lightweight", "waterproof", "organic", "vintage", "compact", "premium", "soft", "durable", "portable",
              "handmade", "slim", "classic"]
ATTRIBUTES = ["machine wash", "long lasting", "gluten free", "easy clean", "high quality", "non slip", "dairy free",
              "fast charging", "paraben free", "natural ingredients", "wood finish", "quick release", "low sugar",
              "noise cancelling", "button closure", "solid wood"]
OPTION_VALUES = {
    "color": ["black", "white", "navy blue", "light grey", "red", "olive green", "beige", "pink"],
    "size": ["small", "medium", "large", "x-large", "8 ounce", "16 ounce", "pack of 2", "pack of 6"],
    "scent": ["lavender", "citrus", "unscented", "vanilla", "coconut"],
    "flavor name": ["sea salt", "dark chocolate", "honey", "spicy", "original", "caramel"],
    "style": ["usb-c", "lightning", "wireless", "2 pack"],
}


def make_product(rng: random.Random, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One processed product and its `items_ins_v2` entry."""
    category = rng.choice(sorted(CATEGORIES))
    path, nouns, opt_a, opt_b = CATEGORIES[category]
    noun, brand = rng.choice(nouns), rng.choice(BRANDS)
    adjs = rng.sample(ADJECTIVES, 2)
    asin = f"BS{index:08d}"
    title = f"{brand} {adjs[0].title()} {adjs[1].title()} {noun.title()} for Everyday Use, Model {rng.randint(10, 999)}"
    attrs = rng.sample(ATTRIBUTES, 4)
    options = {opt_a: rng.sample(OPTION_VALUES[opt_a], rng.randint(2, 4)),
               opt_b: rng.sample(OPTION_VALUES[opt_b if opt_b in OPTION_VALUES else "size"], rng.randint(2, 4))}
    lo = round(rng.uniform(5, 120), 2)
    pricing = [lo] if rng.random() < 0.8 else [lo, round(lo * rng.uniform(1.1, 1.6), 2)]
    price_tag = f"${pricing[0]}" if len(pricing) == 1 else f"${pricing[0]} to ${pricing[1]}"
    bullets = [f"{a.capitalize()}: designed for daily use" for a in attrs[:3]] + [f"Made by {brand}"]
    product = {
        "name": title, "full_description": f"The {brand} {noun} is {adjs[0]} and {adjs[1]}. {attrs[0]}, {attrs[1]}.",
        "pricing": pricing, "images": [f"/static/images/{category}.png"],
        "product_category": f"{path} › {noun.title()}", "average_rating": "", "small_description": bullets,
        "customization_options": "", "asin": asin,
        "category": category, "query": f"{noun}", "page": 1, "Title": title,
        "Description": f"The {brand} {noun} is {adjs[0]} and {adjs[1]}. {attrs[0]}, {attrs[1]}.", "Reviews": [],
        "Rating": "N.A.", "BulletPoints": bullets, "Price": price_tag, "options": options,
        "option_to_image": {v: None for vs in options.values() for v in vs}, "Attributes": attrs, "MainImage": "",
    }  # fmt: skip
    chosen = rng.sample(attrs, 2)
    ins = {"attributes": attrs, "instruction": f"i need a {adjs[0]} {noun} that is {chosen[0]} and {chosen[1]}",
           "instruction_attributes": chosen}
    return product, ins


def generate(n_products: int, seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`n_products` products and their attribute/instruction entries."""
    rng = random.Random(seed)
    products, attrs = [], {}
    for i in range(n_products):
        product, ins = make_product(rng, i)
        products.append(product)
        attrs[product["asin"]] = ins
    return products, attrs


def write_catalog(out_dir: str | Path, n_products: int, seed: int = 0) -> Path:
    """Write `documents.jsonl` and `items_ins_v2.json` for a synthetic catalog into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    products, attrs = generate(n_products, seed)
    with open(out / "documents.jsonl", "w", encoding="utf-8") as f:
        for p in products:
            f.write(json.dumps({"id": p["asin"], "contents": index_text(p), "product": p}) + "\n")
    (out / "items_ins_v2.json").write_text(json.dumps(attrs))
    return out


if __name__ == "__main__":
    write_catalog(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 150)
