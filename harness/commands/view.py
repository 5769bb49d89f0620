"""`aemgym view RUN_OR_DIR...`: browse runs in a local web app."""

from __future__ import annotations

from pathlib import Path

import typer

from harness.commands import options as o


def view(
    paths: list[Path] = typer.Argument(..., help="Run directories, or directories to search for runs (e.g. runs/)."),
    port: int = typer.Option(8765, "--port", help="Port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (local only by default)."),
) -> None:
    """Browse runs in the browser: runs, reports, episodes turn by turn, comparisons, training curves and α.

    The pages read the run directories as they are: runs in progress update as episodes land.
    """
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        raise o.fail(f"no directory {missing[0]}")
    try:
        import uvicorn

        from harness.view.app import create_app
    except ImportError as exc:
        raise o.fail(f"aemgym view needs fastapi and uvicorn ({exc}): pip install 'aem-gym[serve]'") from None
    from harness.serve.runner import free_port

    app = create_app(list(paths))
    runs = app.state.catalog.scan()
    if not runs:
        raise o.fail(f"no run directories under {', '.join(map(str, paths))} (a run directory holds config.json "
                     "or episodes.jsonl)")
    port = port or free_port(host)
    typer.echo(f"aemgym view: {len(runs)} run(s) at http://{host}:{port}/  (Ctrl-C to stop)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        raise o.fail(f"cannot serve on {host}:{port} (is the port in use? try --port 0)") from exc


def register(app: typer.Typer) -> None:
    """Add `view`."""
    app.command("view")(view)
