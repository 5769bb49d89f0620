"""`aemgym webshop serve`: run the WebShop web site for humans and browsers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

webshop_app = typer.Typer(help="The WebShop site.", no_args_is_help=True)


@webshop_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (127.0.0.1 by default; 0.0.0.0 to expose)."),
    port: int = typer.Option(3000, help="Port."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Catalog directory (default: $AEMGYM_WEBSHOP_DATA or the "
                                                           "bundled synthetic catalog)."),
    goals: str = typer.Option(None, help="Goal set: human (the original site's) or synthetic (default: human when the "
                                         "catalog has human goals, else synthetic)."),
    full: bool = typer.Option(False, "--full", help="Use the full-catalog files."),
    backend: str = typer.Option("bm25s", help="Search backend: bm25s or tantivy."),
    attrs: bool = typer.Option(False, "--attrs", help="Show the Attributes tab on item pages."),
    log_dir: Path = typer.Option(None, "--log", help="Write per-session JSONL trajectory logs here."),
) -> None:
    """Serve the shop; sessions `/fixed_<i>` get goal i, other ids a weighted random goal."""
    import uvicorn

    from agent_envs.errors import AgentEnvsError
    from agent_envs.webshop.engine import load_world
    from agent_envs.webshop.webapp import create_app
    from harness.commands.options import fail

    def world_with(kind: str) -> Any:
        return load_world(None if data_dir is None else str(data_dir), goals=kind, search_backend=backend, full=full,
                          show_attrs=attrs)

    try:
        world = world_with(goals or "human")
        if not world.goals and goals is None:
            typer.echo("note: this catalog has no human goals (the bundled one has none); serving synthetic goals")
            goals, world = "synthetic", world_with("synthetic")
    except (AgentEnvsError, ValueError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    if not world.goals:
        raise fail(f"no {goals} goals in this catalog; use --goals synthetic, or a catalog with human goals "
                   "(`aemgym data fetch webshop`)")
    goals = goals or "human"
    typer.echo(f"WebShop: {len(world.catalog)} products, {len(world.goals)} {goals} goals on http://{host}:{port}/")
    uvicorn.run(create_app(world, log_dir), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add the `webshop` command group."""
    app.add_typer(webshop_app, name="webshop")
