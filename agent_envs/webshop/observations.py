"""What the agent sees of a page, in each observation mode (`text`, `text_rich`, `html`, `url`)."""

from __future__ import annotations

from agent_envs.webshop.pages import BASE_URL, Page, page_nodes, page_url, text_observation, text_rich_observation
from agent_envs.webshop.site_html import render_page


def observe(page: Page, mode: str, visited_asins: set[str] | None = None, base_url: str = BASE_URL) -> str:
    """The observation of `page` in `mode` (text | text_rich | html | url)."""
    if mode == "text":
        return text_observation(page_nodes(page))
    if mode == "text_rich":
        return text_rich_observation(page_nodes(page), page_url(page, base_url), visited_asins or set())
    if mode == "url":
        return page_url(page, base_url)
    if mode == "html":
        return render_page(page)
    raise ValueError(f"observation mode must be text, text_rich, html or url, got {mode!r}")
