"""The viewer's web app (FastAPI): server-rendered pages over a `Catalog` of runs, plus the JSON state pages poll.

Every view is a GET with its whole state in the query string, so its URL is its permalink. Unknown runs or
episodes answer 404 with a page saying so; malformed parameters 400; a malformed run directory renders with notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from harness.view.catalog import Catalog
from harness.view.html import link, notice, page, tag
from harness.view.pages.compare import compare_page
from harness.view.pages.episode import episode_page
from harness.view.pages.run import Filters, run_page
from harness.view.pages.runs import runs_page
from harness.view.pages.train import train_page

STATIC = Path(__file__).with_name("static")
STATIC_TYPES = {"view.css": "text/css; charset=utf-8", "view.js": "text/javascript; charset=utf-8"}


def _message(title: str, message: str, status: int) -> HTMLResponse:
    body = tag("div", tag("h1", title), notice(message, "error"), tag("p", link("← all runs", "/")))
    return HTMLResponse(page(title, body, crumbs=[("runs", "/"), (title, None)]), status_code=status)


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise StarletteHTTPException(400, f"{name} must be an integer, not {value[:40]!r}") from None


def create_app(paths: list[Path]) -> FastAPI:
    """The viewer over the run directories (or directories of runs) in `paths`."""
    catalog = Catalog(paths)
    app = FastAPI(title="aemgym view", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.catalog = catalog

    def run_or_404(run_id: str | None) -> Any:
        run = catalog.get(run_id)
        if run is None:
            raise StarletteHTTPException(404, f"No run {run_id!r} among the runs shown here." if run_id
                                         else "Which run? Add ?run=<id> (see the list of runs).")
        return run

    @app.get("/", response_class=HTMLResponse)
    def runs() -> HTMLResponse:
        return HTMLResponse(runs_page(catalog))

    @app.get("/run", response_class=HTMLResponse)
    def run_view(run: str = "", outcome: str = "", type: str = "", phase: str = "", iteration: str = "",
                 q: str = "", page: str = "1") -> HTMLResponse:
        target = run_or_404(run)
        filters = Filters(outcome=outcome, type=type, phase=phase, iteration=iteration, q=q[:500])
        return HTMLResponse(run_page(catalog, target, filters, _int(page, "page") or 1))

    @app.get("/episode", response_class=HTMLResponse)
    def episode_view(run: str = "", id: str = "") -> HTMLResponse:
        target = run_or_404(run)
        html, status = episode_page(target, id)
        return HTMLResponse(html, status_code=status)

    @app.get("/compare", response_class=HTMLResponse)
    def compare_view(request: Request) -> HTMLResponse:
        html, status = compare_page(catalog, dict(request.query_params))
        return HTMLResponse(html, status_code=status)

    @app.get("/train", response_class=HTMLResponse)
    def train_view(run: str = "", iteration: str = "", group: str = "") -> HTMLResponse:
        target = run_or_404(run)
        return HTMLResponse(train_page(target, _int(iteration, "iteration"), group or None))

    @app.get("/api/state")
    def state(run: str = "") -> JSONResponse:
        return JSONResponse(run_or_404(run).state())

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC_TYPES:
            raise StarletteHTTPException(404, f"No static file {name[:80]!r}.")
        return Response((STATIC / name).read_bytes(), media_type=STATIC_TYPES[name],
                        headers={"Cache-Control": "no-cache"})

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        title = "not found" if exc.status_code == 404 else f"error {exc.status_code}"
        return _message(title, str(exc.detail), exc.status_code)

    @app.exception_handler(RequestValidationError)
    def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return _message("bad request", f"Malformed parameters: {exc.errors()[:3]}", 400)

    @app.exception_handler(Exception)
    def internal_error(request: Request, exc: Exception) -> Response:
        return _message("viewer error", f"The viewer failed on this page ({type(exc).__name__}: {exc}). This is a "
                                        "bug in aemgym view; please report it with the run directory.", 500)

    return app
