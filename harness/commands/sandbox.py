"""`aemgym sandbox gc`: remove what crashed runs left behind, for both sandbox backends."""

from __future__ import annotations

from pathlib import Path

import typer

sandbox_app = typer.Typer(help="Sandboxes: clean up after crashed runs.", no_args_is_help=True)


@sandbox_app.command("gc")
def gc_command(
    work_root: list[Path] = typer.Option(None, "--work-root", help="local sandbox directories to scan (repeatable; "
                                         "default: the system temp dir and the SWE-bench cache's episodes/)"),
    docker: bool = typer.Option(True, help="also remove leftover Docker sandbox containers"),
    docker_url: str = typer.Option(None, help="Docker engine (default $DOCKER_HOST / the default socket)"),
    all_containers: bool = typer.Option(False, "--all-containers", help="remove every aemgym sandbox container, "
                                        "also those of runs still going"),
) -> None:
    """Remove cgroups, sandbox directories and containers whose owning process is gone (and stopped or expired
    containers). Prints one line per kind; exits 1 when something could not be removed.
    """
    import tempfile

    from agent_envs.sandbox import gc
    from agent_envs.swebench.template import default_cache_dir

    roots = list(work_root or [Path(tempfile.gettempdir()), default_cache_dir() / "episodes"])
    reaped = gc.reap_local(roots, legacy=True)
    typer.echo(f"local: removed {len(reaped.cgroups)} cgroups, {len(reaped.dirs)} sandbox directories")
    if docker:
        from agent_envs.sandbox.docker import docker_available, docker_client

        if docker_available(docker_url):
            client = docker_client(docker_url)
            try:
                found = gc.reap_docker(client, everything=all_containers)
            finally:
                client.close()
            typer.echo(f"docker: removed {len(found.containers)} containers")
            reaped.failed += found.failed
        else:
            typer.echo("docker: no engine answers; nothing to do")
    for failure in reaped.failed:
        typer.echo(f"could not remove: {failure}", err=True)
    if reaped.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command group."""
    app.add_typer(sandbox_app, name="sandbox")
