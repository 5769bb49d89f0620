"""`aemgym data fetch <dataset>`: download an env's original data files with size/sha256 checks."""

from __future__ import annotations

from pathlib import Path

import typer

data_app = typer.Typer(help="Download env data files.", no_args_is_help=True)


@data_app.command("fetch")
def fetch(
    dataset: str = typer.Argument(..., help="Dataset to fetch: webshop."),
    full: bool = typer.Option(False, "--full", help="Also fetch the full 1.18M-product catalog (5.5 GB)."),
    dest: Path = typer.Option(None, "--dest", help="Target directory (default: $AEMGYM_WEBSHOP_DATA or "
                                                   "~/.cache/aemgym/webshop/data)."),
) -> None:
    """Fetch a dataset; fails with a clear message (exit 1) when offline or on a size/hash mismatch."""
    import os

    if dataset != "webshop":
        typer.echo(f"unknown dataset {dataset!r}; available: webshop", err=True)
        raise typer.Exit(2)
    from agent_envs.webshop.fetch import FetchError, fetch_webshop

    target = dest or Path(os.environ.get("AEMGYM_WEBSHOP_DATA") or Path.home() / ".cache/aemgym/webshop/data")
    try:
        paths = fetch_webshop(target, full=full)
    except FetchError as e:
        typer.echo(f"fetch failed: {e}", err=True)
        raise typer.Exit(1) from None
    for p in paths:
        typer.echo(f"ok {p}")
    typer.echo(f"use it with: export AEMGYM_WEBSHOP_DATA={target}")


def register(app: typer.Typer) -> None:
    """Add the `data` command group."""
    app.add_typer(data_app, name="data")
