"""CLI plug-ins: every module here defines `register(app: typer.Typer)`; `harness.cli` discovers and calls them."""
