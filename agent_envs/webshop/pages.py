"""Pages as state, and the observations built from it (no HTML rendering or parsing on the hot path).

A page is a `Page` (kind + the state it shows). `page_nodes` lists its visible text nodes in document order, each with
the role of its parent element (plain text, button, option label, product link) exactly as the original templates lay
them out; the `text` and `text_rich` observations are computed from those nodes with the original's rules
(`web_agent_text_env.py::convert_html_to_text`), and `site_html` renders the same nodes as HTML for the web site and the
`html` observation mode.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BASE_URL = "http://127.0.0.1:3000"
SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")
TEXT, BUTTON, LABEL, LINK = "text", "button", "label", "link"


@dataclass(frozen=True)
class Node:
    """One visible text node: its raw text and its parent's role (`text`, `button`, `label` or `link`)."""

    text: str
    role: str = TEXT
    meta: str = ""  # option name for labels


@dataclass
class Page:
    """What the browser shows: `kind` in search | results | item | sub | done, and the state that page depends on."""

    kind: str
    session_id: str
    instruction: str
    keywords: list[str] = field(default_factory=list)
    page: int = 1
    total: int = 0
    products: list[dict[str, Any]] = field(default_factory=list)  # results shown on this page
    product: dict[str, Any] | None = None
    options: dict[str, str] = field(default_factory=dict)
    sub_page: str = ""
    show_attrs: bool = False
    reward: float | None = None
    done_asin: str = ""


def tojson(value: Any) -> str:
    r"""Jinja's `tojson` filter: sorted keys, HTML-unsafe characters escaped as `\uXXXX`."""
    text = json.dumps(value, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")


def _head(page: Page, colon: str = "Instruction:") -> list[Node]:
    return [Node(colon), Node(page.instruction)]


def page_nodes(page: Page) -> list[Node]:
    """The visible text nodes of a page, in document order (empty strings are not nodes, as in an HTML parser)."""
    nodes: list[Node]
    if page.kind == "search":
        nodes = [Node("WebShop"), *_head(page, "Instruction: "), Node("Search", BUTTON)]
    elif page.kind == "results":
        nodes = [*_head(page), Node("Back to Search", BUTTON), Node(f"Page {page.page} (Total results: {page.total})")]
        if page.page > 1:
            nodes.append(Node("< Prev", BUTTON))
        nodes.append(Node("Next >", BUTTON))
        for item in page.products:
            nodes += [Node(item["asin"], LINK), Node(item["Title"]), Node(item["Price"])]
    elif page.kind == "item":
        p = page.product or {}
        nodes = [*_head(page), Node("Back to Search", BUTTON), Node("< Prev", BUTTON)]
        for name, values in p.get("options", {}).items():
            nodes.append(Node(name))
            nodes += [Node(v, LABEL, name) for v in values]
        nodes += [Node(p.get("Title", "")), Node(f"Price: {p.get('Price', '')}")]
        nodes.append(Node(f"Rating: {p.get('Rating', '')}"))
        buttons = ["Description", "Features", "Reviews"] + (["Attributes"] if page.show_attrs else []) + ["Buy Now"]
        nodes += [Node(b, BUTTON) for b in buttons]
    elif page.kind == "sub":
        p = page.product or {}
        nodes = [*_head(page), Node("Back to Search", BUTTON), Node("< Prev", BUTTON)]
        if page.sub_page == "Description":
            nodes.append(Node(p.get("Description", "")))
        elif page.sub_page == "Features":
            nodes += [Node(f" {b}") for b in p.get("BulletPoints", [])]
        elif page.sub_page == "Reviews":
            for r in p.get("Reviews", []):
                nodes += [Node(f'"{r.get("title", "")}"'), Node(str(r.get("score", ""))), Node(str(r.get("body", "")))]
        elif page.sub_page == "Attributes":
            nodes += [Node(f" {a}") for a in p.get("Attributes", [])]
            nodes += [Node(str(p.get(k, ""))) for k in ("category", "query", "product_category")]
    elif page.kind == "done":
        nodes = done_nodes(page)
    else:
        raise ValueError(f"unknown page kind {page.kind!r}")
    return [n for n in nodes if n.text.strip()]


def done_nodes(page: Page) -> list[Node]:
    """The done page as the original text env renders it (its purchase/target details are left empty there)."""
    texts = ["Thank you for shopping with us!", "Your code: ", "None", " (Paste it in your MTurk interface.)",
             "Purchased", "asin", page.done_asin, "options", tojson(page.options), "attrs", "None", "category", "None",
             "query", "None", "product category", "None", "Target", "asin", "options", "attrs", "price upper",
             "instuction text", "category", "product category", "query", "Goal ", "None", "Reward",
             "Your score (min 0.0, max 1.0)", str(page.reward), "Reward Details ", "None"]  # fmt: skip
    return [Node(t) for t in texts]


def clickables(page: Page) -> dict[str, tuple[str, str]]:
    """Lower-cased clickable text -> (role, option name), in the original's order: buttons, links, then radios."""
    out: dict[str, tuple[str, str]] = {}
    nodes = page_nodes(page)
    for n in nodes:
        if n.role in (BUTTON, LINK):
            out[n.text.lower()] = (n.role, "")
    for n in nodes:
        if n.role == LABEL:  # the radio's value, not lower-cased (values are already lower case)
            out[n.text] = (LABEL, n.meta)
    return out


def text_observation(nodes: Sequence[Node]) -> str:
    """`text` mode: stripped node texts joined with ` [SEP] `."""
    return " [SEP] ".join(n.text.strip() for n in nodes)


def text_rich_observation(nodes: Sequence[Node], url: str, visited_asins: set[str]) -> str:
    """`text_rich` mode: buttons, options and links marked, chosen options and visited products as clicked."""
    observation = ""
    for n in nodes:
        t = n.text
        if n.role == BUTTON:
            processed = f"[button] {t} [button_]"
        elif n.role == LABEL:
            if f'"{t}"' in url:
                processed = f"  [clicked button] {t} [clicked button_]"
                observation = f"You have clicked {t}.\n" + observation
            else:
                processed = f"  [button] {t} [button_]"
        elif n.role == LINK:
            mark = "clicked button" if t in visited_asins else "button"
            processed = f"\n[{mark}] {t} [{mark}_]"
        else:
            processed = t
        observation += processed + "\n"
    return observation


def page_url(page: Page, base_url: str = BASE_URL) -> str:
    """The URL the original text env reports for a page (formats differ per route, as in the original)."""
    sid, kw = page.session_id, "+".join(page.keywords)
    if page.kind == "search":
        return f"{base_url}/{sid}"
    if page.kind == "results":
        return f"{base_url}/search_results/{sid}/{kw}/{page.page}"
    asin = (page.product or {}).get("asin", page.done_asin)
    if page.kind == "item":
        return f"{base_url}/item_page/{sid}/{asin}/{kw}/{page.page}/{json.dumps(page.options)}"
    if page.kind == "sub":
        return f"{base_url}/item_sub_page/{sid}/{asin}/{kw}/{page.page}/{page.sub_page}/{page.options}"
    return f"{base_url}/done/{sid}/{page.done_asin}/{page.options}"


def options_from_mapping(options: Mapping[str, Any]) -> dict[str, str]:
    """A clean `{str: str}` copy of an options mapping."""
    return {str(k): str(v) for k, v in options.items()}
