"""`aemgym swebench eval`: grade a SWE-bench predictions file with the local (bubblewrap) or Docker backend."""

from __future__ import annotations

import json
from pathlib import Path

import typer

swebench_app = typer.Typer(help="SWE-bench: grade predictions in local or Docker sandboxes.", no_args_is_help=True)


def read_predictions(path: Path) -> list[dict]:
    """Predictions in the usual SWE-bench format: JSONL, a JSON list, or a JSON dict keyed by instance id."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    return list(data.values()) if isinstance(data, dict) else list(data)


@swebench_app.command("eval")
def eval_predictions(
    predictions: Path = typer.Option(..., "--predictions", "-p", help="preds.jsonl / .json (instance_id, model_patch)"),
    backend: str = typer.Option("local", help="local (bubblewrap, no Docker) or docker (official images)"),
    data: str = typer.Option(None, help="instance file or directory (default $AEMGYM_SWEBENCH_DATA; none = synthetic)"),
    repos_dir: str = typer.Option(None, help="local clones <owner>__<name> for the local backend"),
    cache_dir: str = typer.Option(None, help="template cache (default ~/.cache/aemgym/swebench)"),
    python: str = typer.Option(None, help="interpreter for local templates (default: pyenv's matching version)"),
    docker_url: str = typer.Option(None, help="Docker engine for --backend docker (default $DOCKER_HOST)"),
    timeout: float = typer.Option(1800, help="seconds for each eval script"),
    out: Path = typer.Option(None, help="write the per-instance report JSON here"),
) -> None:
    """Grade every prediction in a fresh sandbox and print resolved counts (reward 1 iff resolved)."""
    from agent_envs.swebench.env import SWEBenchEnv
    from agent_envs.swebench.grading import grade

    preds = read_predictions(predictions)
    env = SWEBenchEnv(data_path=data, backend=backend, repos_dir=repos_dir, cache_dir=cache_dir, python=python,
                      grade_timeout_s=timeout, instance_ids=None, docker_url=docker_url)
    reports = {}
    for pred in preds:
        iid = pred["instance_id"]
        instance = dict(env.task_set.get(iid).data)
        result = grade(instance, pred.get("model_patch") or "", env.sandbox_factory(instance, agent=False),
                       local=backend == "local", timeout_s=timeout)
        reports[iid] = result.info()
        typer.echo(f"{iid}: {'RESOLVED' if result.resolved else 'not resolved'} "
                   f"(applied={result.patch_applied}, F2P {reports[iid]['f2p']}, P2P {reports[iid]['p2p']}, "
                   f"{result.total_s:.1f} s)")
    resolved = sum(r["resolved"] for r in reports.values())
    typer.echo(f"resolved {resolved}/{len(reports)}")
    if out:
        out.write_text(json.dumps(reports, indent=1))


def register(app: typer.Typer) -> None:
    """Add the `swebench` command group."""
    app.add_typer(swebench_app, name="swebench")
