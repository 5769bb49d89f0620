"""The WebShop web site (FastAPI): the original's routes and pages for humans and browsers, offline (no CDN).

Routes (as `web_agent_site/app.py`): `/` -> `/abc`; `/<session_id>` (search page; POST `search_query`);
`/search_results/<sid>/<keywords>/<page>`; `/item_page/<sid>/<asin>/<keywords>/<page>/<options>`;
`/item_sub_page/<sid>/<asin>/<keywords>/<page>/<sub_page>/<options>`; `/done/<sid>/<asin>/<options>`.
Session ids `fixed_<i>` get goal i; other new ids a goal drawn with the goals' weights. Sessions are bounded: at most
`max_sessions` (least recently used evicted first) and each expires after `session_ttl_s` idle seconds; a request for
an evicted session gets a 404 that says to open `/<sid>` again. Malformed paths (bad literals, non-ASCII or huge
numbers, unknown ASINs, pages out of range, unknown sessions) get a 4xx with a short message, never a 500.
"""

from __future__ import annotations

import ast
import json
import random
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from agent_envs.webshop.engine import World
from agent_envs.webshop.pages import SUB_PAGES, Page
from agent_envs.webshop.search import page_of
from agent_envs.webshop.site_html import render_page

MAX_PAGE = 1000
MAX_SEGMENT = 4000
MAX_SESSION_ID = 200
MAX_SESSIONS = 10_000
SESSION_TTL_S = 3600.0
_SMALL_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() accepts "²", which int() rejects


class BadRequest(Exception):
    """A malformed URL or form (answered with 400/404)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_keywords(raw: str) -> list[str]:
    """`['a', 'b']` (a Python list literal, as the original's url_for writes it) or a bare string."""
    if len(raw) > MAX_SEGMENT:
        raise BadRequest(400, "keywords too long")
    if not raw.startswith("["):
        return [raw]
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise BadRequest(400, "keywords must be a list literal of strings") from None
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise BadRequest(400, "keywords must be a non-empty list of strings")
    return value


def parse_options(raw: str) -> dict[str, str]:
    """A dict literal of option name -> value."""
    if len(raw) > MAX_SEGMENT:
        raise BadRequest(400, "options too long")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise BadRequest(400, "options must be a dict literal") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadRequest(400, "options must map strings to strings")
    return value


def parse_page(raw: str) -> int:
    """A results page number, 1..MAX_PAGE."""
    if not _SMALL_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(400, f"page must be an integer in 1..{MAX_PAGE}")
    return int(raw)


class SessionStore:
    """Sessions by id, bounded: beyond `max_sessions` the least recently used is dropped, and a session idle for
    `ttl_s` seconds expires. Not thread-safe on its own (the shop holds a lock).
    """

    def __init__(self, max_sessions: int = MAX_SESSIONS, ttl_s: float = SESSION_TTL_S,
                 clock: Callable[[], float] = time.monotonic):
        if max_sessions < 1 or ttl_s <= 0:
            raise ValueError(f"need max_sessions >= 1 and ttl_s > 0, got {max_sessions}, {ttl_s}")
        self.max_sessions, self.ttl_s, self.clock = max_sessions, ttl_s, clock
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()  # oldest use first

    def _expire(self, now: float) -> None:
        while self._items and now - next(iter(self._items.values()))[0] > self.ttl_s:
            self._items.popitem(last=False)

    def get(self, sid: str) -> dict[str, Any] | None:
        """The live session `sid` (marked as just used), or None."""
        now = self.clock()
        self._expire(now)
        if sid not in self._items:
            return None
        self._items.move_to_end(sid)
        session = self._items[sid][1]
        self._items[sid] = (now, session)
        return session

    def add(self, sid: str, session: dict[str, Any]) -> None:
        """Store a new session, evicting the least recently used beyond the bound."""
        self._expire(self.clock())
        self._items[sid] = (self.clock(), session)
        self._items.move_to_end(sid)
        while len(self._items) > self.max_sessions:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, sid: object) -> bool:
        return sid in self._items


class Shop:
    """Per-visitor sessions over a shared `World`; builds each page from the URL (stateless like the original)."""

    def __init__(self, world: World, log_dir: str | Path | None = None, seed: int = 0, *,
                 max_sessions: int = MAX_SESSIONS, session_ttl_s: float = SESSION_TTL_S):
        self.world = world
        self.sessions = SessionStore(max_sessions, session_ttl_s)
        self.rng = random.Random(seed)
        self.log_dir = Path(log_dir) if log_dir else None
        self.lock = threading.Lock()
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)

    def session(self, sid: str, create: bool = False) -> dict[str, Any]:
        """The session `sid` (created on the index page only)."""
        if len(sid) > MAX_SESSION_ID:
            raise BadRequest(400, f"session id longer than {MAX_SESSION_ID} characters")
        with self.lock:
            session = self.sessions.get(sid)
            if session is None:
                if not create:
                    raise BadRequest(404, f"unknown or expired session {sid[:40]!r}: open /{sid[:40]} first")
                goals = self.world.goals
                if "fixed" in sid:
                    tail = sid.rsplit("_", 1)[-1]
                    if not _SMALL_NUMBER.fullmatch(tail) or int(tail) >= len(goals):
                        raise BadRequest(404, f"no goal {tail[:20]!r} (0..{len(goals) - 1})")
                    goal = goals[int(tail)]
                else:
                    goal = self.rng.choices(goals, [g["weight"] for g in goals])[0]
                session = {"goal": goal, "done": False, "reward": None}
                self.sessions.add(sid, session)
            return session

    def pin(self, sid: str, goal: dict[str, Any]) -> None:
        """Start session `sid` on `goal` (for an in-process server, e.g. the browser env's)."""
        with self.lock:
            self.sessions.add(sid, {"goal": goal, "done": False, "reward": None})

    def log(self, sid: str, record: dict[str, Any]) -> None:
        """Append one JSON line to the session's trajectory log (when logging is on)."""
        if self.log_dir:
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in sid)
            with open(self.log_dir / f"{safe}.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record, default=str) + "\n")

    def _page(self, kind: str, sid: str, **kw: Any) -> Page:
        s = self.session(sid)
        return Page(kind, sid, s["goal"]["instruction_text"], show_attrs=self.world.show_attrs, **kw)

    def index(self, sid: str) -> str:
        """The search page."""
        s = self.session(sid, create=True)
        self.log(sid, {"page": "index", "goal": s["goal"]})
        return render_page(self._page("search", sid))

    def results(self, sid: str, keywords: list[str], page: int) -> str:
        """A search results page."""
        top = self.world.search.top_products(keywords, self.rng)
        self.log(sid, {"page": "search_results", "keywords": keywords, "page_no": page})
        return render_page(self._page("results", sid, keywords=keywords, page=page, total=len(top),
                                      products=page_of(top, page)))

    def product(self, asin: str) -> dict[str, Any]:
        """The catalog product `asin` (404 when unknown)."""
        if asin not in self.world.catalog.by_asin:
            raise BadRequest(404, f"no product {asin[:20]!r}")
        return self.world.catalog.by_asin[asin]

    def item(self, sid: str, asin: str, keywords: list[str], page: int, options: dict[str, str],
             sub_page: str | None = None) -> str:
        """An item page or one of its sub pages."""
        product = self.product(asin)
        if sub_page is not None and sub_page not in SUB_PAGES:
            raise BadRequest(404, f"no sub page {sub_page[:20]!r}")
        kind = "item" if sub_page is None else "sub"
        self.log(sid, {"page": f"{kind}_page", "asin": asin, "options": options, "sub_page": sub_page})
        return render_page(self._page(kind, sid, keywords=keywords, page=page, product=product, options=options,
                                      sub_page=sub_page or ""))

    def done(self, sid: str, asin: str, options: dict[str, str]) -> str:
        """Purchase: compute the reward, show the done page."""
        s = self.session(sid)
        self.product(asin)
        breakdown = self.world.reward(s["goal"], asin, options)
        s.update(done=True, reward=breakdown.reward, reward_info=breakdown.info())
        self.log(sid, {"page": "done", "asin": asin, "options": options, "reward": breakdown.reward,
                       "reward_info": breakdown.info()})
        return render_page(self._page("done", sid, options=options, reward=breakdown.reward, done_asin=asin))


def create_app(world: World, log_dir: str | Path | None = None, *, max_sessions: int = MAX_SESSIONS,
               session_ttl_s: float = SESSION_TTL_S) -> FastAPI:
    """The FastAPI application serving `world` (sessions bounded by `max_sessions` and `session_ttl_s` idle seconds)."""
    app = FastAPI(title="WebShop", docs_url=None, redoc_url=None, openapi_url=None)
    shop = Shop(world, log_dir, max_sessions=max_sessions, session_ttl_s=session_ttl_s)
    app.state.shop = shop
    methods = ["GET", "POST"]

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> PlainTextResponse:
        return PlainTextResponse(str(exc), status_code=exc.status)

    @app.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/abc", status_code=302)

    @app.api_route("/{sid}", methods=methods, response_class=HTMLResponse)
    async def index(sid: str, request: Request) -> Any:
        if request.method == "POST":
            form = await request.form()
            query = form.get("search_query")
            if isinstance(query, str) and query.strip():
                shop.session(sid, create=True)
                keywords = [k.replace("/", " ") for k in query.lower().split(" ")]  # '/' cannot travel in a segment
                url = f"/search_results/{quote(sid, safe='')}/{quote(str(keywords), safe='')}/1"
                return RedirectResponse(url, status_code=303)
        return shop.index(sid)

    @app.api_route("/search_results/{sid}/{keywords}/{page}", methods=methods, response_class=HTMLResponse)
    def search_results(sid: str, keywords: str, page: str) -> str:
        shop.session(sid)
        return shop.results(sid, parse_keywords(keywords), parse_page(page))

    @app.api_route("/item_page/{sid}/{asin}/{keywords}/{page}/{options}", methods=methods, response_class=HTMLResponse)
    def item_page(sid: str, asin: str, keywords: str, page: str, options: str) -> str:
        shop.session(sid)
        return shop.item(sid, asin, parse_keywords(keywords), parse_page(page), parse_options(options))

    @app.api_route("/item_sub_page/{sid}/{asin}/{keywords}/{page}/{sub_page}/{options}", methods=methods,
                   response_class=HTMLResponse)
    def item_sub_page(sid: str, asin: str, keywords: str, page: str, sub_page: str, options: str) -> str:
        shop.session(sid)
        return shop.item(sid, asin, parse_keywords(keywords), parse_page(page), parse_options(options), sub_page)

    @app.api_route("/done/{sid}/{asin}/{options}", methods=methods, response_class=HTMLResponse)
    def done(sid: str, asin: str, options: str) -> str:
        return shop.done(sid, asin, parse_options(options))

    return app


class ServerThread:
    """Serve an app with uvicorn in a daemon thread on `host` (port 0 = any free port); `url` once started."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted connections inherit it: without, every keep-alive response waited ~40 ms for a delayed ACK
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind((host, port))
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 20.0) -> ServerThread:
        """Start and wait until the server accepts requests."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the WebShop server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
