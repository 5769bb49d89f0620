"""`aemgym webshop serve`: run the WebShop web site for humans and browsers."""

from __future__ import annotations

from pathlib import Path

import typer

webshop_app = typer.Typer(help="The WebShop site.", no_args_is_help=True)


@webshop_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (127.0.0.1 by default; 0.0.0.0 to expose)."),
    port: int = typer.Option(3000, help="Port."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Catalog directory (default: $AEMGYM_WEBSHOP_DATA or the "
                                                           "bundled synthetic catalog)."),
    goals: str = typer.Option("human", help="Goal set: human (the original site's default) or synthetic."),
    full: bool = typer.Option(False, "--full", help="Use the full-catalog files."),
    backend: str = typer.Option("bm25s", help="Search backend: bm25s or tantivy."),
    attrs: bool = typer.Option(False, "--attrs", help="Show the Attributes tab on item pages."),
    log_dir: Path = typer.Option(None, "--log", help="Write per-session JSONL trajectory logs here."),
) -> None:
    """Serve the shop; sessions `/fixed_<i>` get goal i, other ids a weighted random goal."""
    import uvicorn

    from agent_envs.webshop.engine import load_world
    from agent_envs.webshop.webapp import create_app

    world = load_world(None if data_dir is None else str(data_dir), goals=goals, search_backend=backend, full=full,
                       show_attrs=attrs)
    if not world.goals:
        typer.echo(f"no {goals} goals in this catalog; try --goals synthetic", err=True)
        raise typer.Exit(1)
    typer.echo(f"WebShop: {len(world.catalog)} products, {len(world.goals)} {goals} goals on http://{host}:{port}/")
    uvicorn.run(create_app(world, log_dir), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add the `webshop` command group."""
    app.add_typer(webshop_app, name="webshop")
