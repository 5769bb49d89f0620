"""HTML building blocks of the viewer: escaping, links with query strings (every view is a permalink), tables, the
page frame. Every text that comes from a run is escaped here; pages never write raw run text into markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

#: Shown at most per text block; longer texts are cut with a note (a 1 MB observation would freeze the browser).
MAX_TEXT_CHARS = 200_000


class Markup(str):
    """A string that is already HTML (never escaped again)."""

    def join(self, parts: Iterable[Any]) -> Markup:
        """The parts (escaped unless Markup) separated by this markup."""
        return Markup(str.join(self, (esc(p) for p in parts)))


def esc(value: Any) -> Markup:
    """`value` as escaped HTML text (Markup passes through)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any]) -> Markup:
    """Concatenate markup and escaped text (a single string is one part, not its characters)."""
    if isinstance(parts, str):
        return esc(parts)
    return Markup("".join(esc(p) for p in parts))


def tag(element: str, /, *children: Any, **attrs: Any) -> Markup:
    """`<name attrs>children</name>`; attribute names take `_` for `-` and a trailing `_` is dropped (`class_`);
    attributes that are None or False are left out.
    """
    rendered = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        rendered.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return Markup(f"<{element}{''.join(rendered)}>{join(children)}</{element}>")


def url(path: str, **params: Any) -> str:
    """`path?query` with the parameters that are set (None and "" are left out)."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


def link(text: Any, path: str, **params: Any) -> Markup:
    """An `<a>` to `url(path, **params)`."""
    return tag("a", text, href=url(path, **params))


def text_block(text: Any, class_: str = "text") -> Markup:
    """A `<pre>` of `text`, cut at `MAX_TEXT_CHARS` with a note."""
    value = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)
    if len(value) > MAX_TEXT_CHARS:
        cut = len(value) - MAX_TEXT_CHARS
        return tag("pre", value[:MAX_TEXT_CHARS], tag("span", f"\n[… {cut} more characters not shown]", class_="note"),
                   class_=class_)
    return tag("pre", value, class_=class_)


def json_block(value: Any) -> Markup:
    """Pretty JSON in a `<pre>`."""
    return text_block(json.dumps(value, indent=1, ensure_ascii=False, default=str), "json")


def table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], class_: str = "grid",
          id_: str | None = None) -> Markup:
    """A table; cells are escaped unless they are Markup."""
    head = tag("thead", tag("tr", *(tag("th", h) for h in headers)))
    body = tag("tbody", *(tag("tr", *(tag("td", cell) for cell in row)) for row in rows))
    return tag("table", head, body, class_=class_, id=id_)


def pct(value: float) -> str:
    """0.1234 -> '12.3%'."""
    return f"{100 * value:.1f}%"


def rate_cell(block: dict[str, Any]) -> Markup:
    """'12.3% (8.1–17.0%)' with the 95% Wilson interval."""
    low, high = block["success_ci95"]
    return join([tag("b", pct(block["success_rate"])), tag("span", f" ({pct(low)}–{pct(high)})", class_="ci")])


def badge(outcome: str) -> Markup:
    """A coloured `success` / `failure` / `error` label."""
    return tag("span", outcome, class_=f"badge {outcome}")


def notice(message: Any, kind: str = "warn") -> Markup:
    """A message box (`warn`, `error`, `info`)."""
    return tag("div", message, class_=f"notice {kind}")


def select(name: str, options: Sequence[tuple[str, str]], chosen: str | None) -> Markup:
    """A `<select>` of (value, label) pairs."""
    chosen = chosen or ""
    return tag("select", *(tag("option", label, value=value, selected=value == chosen) for value, label in options),
               name=name)


def hidden(**params: Any) -> Markup:
    """Hidden inputs carrying the parameters that are set (GET forms keep the rest of the view's state)."""
    return join(tag("input", type="hidden", name=k, value=v) for k, v in params.items() if v not in (None, ""))


def page(title: str, body: Any, *, crumbs: Sequence[tuple[str, str | None]] = (),
         live: tuple[str, dict[str, Any]] | None = None) -> str:
    """The whole document: header with breadcrumbs (label, href or None), the body, the viewer's CSS and JS.

    Args:
        title: the page title.
        body: the page content.
        crumbs: the breadcrumbs above it.
        live: (URL of the run's JSON state, the state now): the page polls it and says when the run changed.
    """
    trail = Markup(" › ").join([link(label, href) if href else tag("span", label) for label, href in crumbs])
    header = tag("header", link("aemgym view", "/"), tag("nav", trail), tag("span", "", id="live-note"),
                 data_live=live[0] if live else None,
                 data_state=json.dumps(live[1], sort_keys=True) if live else None)
    return "<!doctype html>\n" + tag(
        "html",
        tag("head", Markup('<meta charset="utf-8">'), tag("title", f"{title} · aemgym view"),
            Markup('<link rel="stylesheet" href="/static/view.css">')),
        tag("body", header, tag("main", body), Markup('<script src="/static/view.js"></script>')),
        lang="en")
