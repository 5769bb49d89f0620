"""Option normalisation used by the reward: the original's colour list and `normalize_color` rule.

`COLOR_SET` is a fact of the original WebShop (`web_agent_site/engine/normalize.py`); the order matters because the
first colour word contained in an option value wins ("navy blue" -> "blue").
"""

from __future__ import annotations

COLOR_SET: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal",
    "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite", "grass",
    "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon", "leopard", "light",
    "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha", "multicolor", "mushroom",
    "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink", "plum", "purple", "rainbow",
    "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver", "skull", "slate", "steel", "stone",
    "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise", "violet", "walnut", "wheat", "white",
    "wine", "yellow",
)  # fmt: skip


def normalize_color(option: str | tuple[str, str]) -> str | tuple[str, str]:
    """The first `COLOR_SET` word contained in `option`, else `option` unchanged.

    Synthetic goals pass `(name, value)` tuples (the original feeds `dict.items()`); for a tuple, containment is
    element equality, so only an exact colour value such as `("color", "black")` normalises.
    """
    for color in COLOR_SET:
        if color in option:
            return color
    return option
