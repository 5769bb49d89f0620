"""HTML for the web site and the `html` observation mode, rendered from the same `page_nodes` as the text modes.

Structure follows the original templates (ids `search_input`, `instruction-text`, `product-image`, `reward`; classes
`btn`, `product-link`, `purchase`; option radios with `data-url`), but with no CDN assets: a small inline style sheet
and a vanilla `onclick` on each radio, so the site works offline and in a headless browser.
`nodes_from_html` is the reverse (visible text nodes of any page, the original's bs4 rule) for the browser env.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from urllib.parse import quote

from agent_envs.webshop.pages import BUTTON, LABEL, LINK, TEXT, Node, Page, page_nodes

STYLE = (
    "body{font-family:sans-serif;margin:2em}.btn{margin:4px;padding:4px 10px;cursor:pointer}"
    ".radio-toolbar label{border:1px solid #888;padding:2px 8px;margin:2px;display:inline-block;cursor:pointer}"
    ".radio-toolbar input:checked+label{background:#5b8}.list-group-item{border-bottom:1px solid #ddd;padding:6px}"
)
IGNORED = {"style", "script", "head", "title", "meta"}


def _q(value: object) -> str:
    return quote(str(value), safe="")


def item_url(page: Page, asin: str, options: dict[str, str]) -> str:
    """The site path of an item page (keywords and options as Python literals, as the original's `url_for`)."""
    return f"/item_page/{_q(page.session_id)}/{_q(asin)}/{_q(page.keywords)}/{page.page}/{_q(options)}"


def _button(action: str, label: str, cls: str = "btn btn-primary") -> str:
    return (f'<form method="post" action="{html.escape(action)}"><button type="submit" class="{cls}">'
            f"{html.escape(label)}</button></form>")


def _text(tag: str, text: str, attrs: str = "") -> str:
    return f"<{tag}{attrs}>{html.escape(text, quote=False)}</{tag}>"


def render_page(page: Page) -> str:
    """The page as a complete HTML document."""
    e, sid = html.escape, _q(page.session_id)
    kw = _q(page.keywords)
    head = f"<!DOCTYPE html><html><head><title>WebShop</title><style>{STYLE}</style></head><body>"
    instr_label = "Instruction: " if page.kind == "search" else "Instruction:"
    instr = f'<div id="instruction-text"><h4>{e(instr_label)}<br>{e(page.instruction)}</h4></div>'
    parts: list[str] = []
    if page.kind == "search":
        parts += ["<h2>WebShop</h2>", instr,
                  f'<form id="form-buscar" method="post" action="/{sid}"><input id="search_input" type="text" '
                  'name="search_query" placeholder="Search..." required/>'
                  '<button class="btn btn-success" type="submit">Search</button></form>']
    elif page.kind == "done":
        parts.append('<div id="thankyou">')
        for node in page_nodes(page):
            if node.text == str(page.reward):
                parts.append(f'<h3 id="reward"><pre>{e(node.text)}</pre></h3>')
            else:
                parts.append(_text("p", node.text))
        parts.append("</div>")
    else:
        parts += [instr, _button(f"/{sid}", "Back to Search", "btn btn-success")]
        if page.kind == "results":
            parts.append(_text("h3", f"Page {page.page} (Total results: {page.total})"))
            if page.page > 1:
                parts.append(_button(f"/search_results/{sid}/{kw}/{page.page - 1}", "< Prev"))
            parts.append(_button(f"/search_results/{sid}/{kw}/{page.page + 1}", "Next >"))
            for item in page.products:
                parts.append(f'<div class="list-group-item"><h4><a class="product-link" '
                             f'href="{e(item_url(page, item["asin"], {}))}">{e(item["asin"])}</a></h4>'
                             f'{_text("h4", item["Title"])}{_text("h5", item["Price"])}</div>')
        else:
            asin = (page.product or {})["asin"]
            if page.kind == "item":
                parts.append(_button(f"/search_results/{sid}/{kw}/{page.page}", "< Prev"))
                parts += _item_body(page, asin)
            else:
                parts.append(_button(item_url(page, asin, page.options), "< Prev"))
                skip = {"Instruction:", page.instruction, "Back to Search", "< Prev"}
                body = [n for n in page_nodes(page)[4:] if not (n.role == BUTTON and n.text in skip)]
                parts += [_text("p", n.text, ' class="product-info"') for n in body]
    return head + "".join(parts) + "</body></html>"


def _item_body(page: Page, asin: str) -> list[str]:
    e, p = html.escape, page.product or {}
    out = [f'<img id="product-image" src="{e(p.get("MainImage", ""))}" alt="">']
    for name, values in p.get("options", {}).items():
        out.append(f'{_text("h4", name)}<div class="radio-toolbar">')
        for i, value in enumerate(values):
            url = item_url(page, asin, {**page.options, name: value})
            checked = " checked" if page.options.get(name) == value else ""
            rid = e(f"radio_{name}{i}")
            out.append(f'<input type="radio" id="{rid}" name="{e(name)}" value="{e(value)}" data-url="{e(url)}"'
                       f'{checked} onclick="window.location.href=this.dataset.url">'
                       f'<label for="{rid}">{e(value, quote=False)}</label>')
        out.append("</div>")
    out += [_text("h2", p.get("Title", "")), _text("h4", f"Price: {p.get('Price', '')}"),
            _text("h4", f"Rating: {p.get('Rating', '')}")]
    kw, sid = _q(page.keywords), _q(page.session_id)
    subs = ["Description", "Features", "Reviews"] + (["Attributes"] if page.show_attrs else [])
    for sub in subs:
        out.append(_button(f"/item_sub_page/{sid}/{_q(asin)}/{kw}/{page.page}/{sub}/{_q(page.options)}", sub))
    out.append(_button(f"/done/{sid}/{_q(asin)}/{_q(page.options)}", "Buy Now", "btn btn-lg purchase"))
    return out


class _NodeParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.nodes: list[Node] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("br", "input", "img", "meta", "link"):
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not data.strip() or any(t in IGNORED for t, _ in self.stack):
            return
        tag, attrs = self.stack[-1] if self.stack else ("", {})
        role = TEXT
        if tag == "button":
            role = BUTTON
        elif tag == "label":
            role = LABEL
        elif tag == "a" and "product-link" in (attrs.get("class") or "").split():
            role = LINK
        self.nodes.append(Node(data, role))


def nodes_from_html(source: str) -> list[Node]:
    """The visible, non-blank text nodes of an HTML page with their parent roles (label nodes carry no option name)."""
    parser = _NodeParser()
    parser.feed(source)
    parser.close()
    return parser.nodes
