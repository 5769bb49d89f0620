"""`aemgym swebench eval | prepare`: grade SWE-bench predictions (local bubblewrap or Docker backend) and build local
templates ahead of time. One failing instance never stops the others; results are written as they finish.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from harness.commands import options as o

swebench_app = typer.Typer(help="SWE-bench: grade predictions in local or Docker sandboxes.", no_args_is_help=True)

LEGACY_C_HELP = "deprecated spelling of --concurrency (-c will mean --config)"


def read_predictions(path: Path) -> list[dict]:
    """Predictions in the usual SWE-bench format: JSONL, a JSON list, or a JSON dict keyed by instance id."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        preds = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        data = json.loads(text)
        preds = list(data.values()) if isinstance(data, dict) else list(data)
    for i, pred in enumerate(preds):
        if not isinstance(pred, dict) or "instance_id" not in pred:
            raise ValueError(f"prediction {i} has no instance_id")
    return preds


def _concurrency(concurrency: int, legacy_c: str | None) -> int:
    """`--concurrency`, or the deprecated `-c N` (with a one-line note)."""
    if legacy_c is None:
        return concurrency
    if not legacy_c.isdigit():
        _fail(f"-c {legacy_c!r}: -c is reserved for --config; use --concurrency/-j N for parallel work")
    typer.echo(f"note: `-c {legacy_c}` is deprecated: use --concurrency/-j {legacy_c}", err=True)
    return int(legacy_c)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _instances(data: str | None, cache_dir: str | None) -> dict[str, dict[str, Any]]:
    """Instances by id from the data (default `$AEMGYM_SWEBENCH_DATA`), or the synthetic instance when there is none."""
    from agent_envs.swebench import synthetic
    from agent_envs.swebench.data import load_instances
    from agent_envs.swebench.template import default_cache_dir

    rows = load_instances(data)
    if rows is None:
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        rows = [synthetic.tinycalc_instance(synthetic.build_source_repo(cache / "sources" / "aemgym__tinycalc"))]
    if any(r["repo"] == synthetic.REPO for r in rows):
        synthetic.register_spec()
    return {r["instance_id"]: r for r in rows}


def _line(record: dict[str, Any]) -> str:
    key = record.get("key", record["instance_id"])
    if record["status"] == "error":
        return f"{key}: ERROR {record['reason']}" + (f" (log: {record['log']})" if record.get("log") else "")
    verdict = "RESOLVED" if record["resolved"] else "not resolved"
    why = f"; {record['reason']}" if record.get("reason") else ""
    return (f"{key}: {verdict} (applied={record['patch_applied']}, F2P {record.get('f2p')}, P2P {record.get('p2p')}, "
            f"{record['total_s']:.1f} s{why})")


@swebench_app.command("eval")
def eval_predictions(
    predictions: Path = typer.Option(..., "--predictions", "-p", exists=True, dir_okay=False,
                                     help="preds.jsonl / .json (instance_id, model_patch)"),
    config: o.Config = None,
    backend: str = typer.Option(None, help="local (bubblewrap, no Docker) or docker (official images) "
                                           "(grading.backend)"),
    data: str = typer.Option(None, help="instance file or directory (default $AEMGYM_SWEBENCH_DATA; none = synthetic)"),
    repos_dir: str = typer.Option(None, help="local clones <owner>__<name> for the local backend"),
    cache_dir: str = typer.Option(None, help="template cache (default ~/.cache/aemgym/swebench)"),
    python: str = typer.Option(None, help="interpreter for local templates (default: pyenv's matching version)"),
    docker_url: str = typer.Option(None, help="Docker engine for --backend docker (default $DOCKER_HOST)"),
    timeout: float = typer.Option(None, help="seconds for each eval script (default 1800)"),
    out: o.Out = None,
    resume: bool = typer.Option(False, "--resume", help="skip instances already graded in --out (errors are retried)"),
    network: bool = typer.Option(None, "--grading-network", help="let local grading reach the network (off: as "
                                 "offline as an agent's sandbox; on: a patch's new dependencies can be installed)"),
    concurrency: o.Concurrency = None,
) -> None:
    """Grade every prediction in a fresh sandbox (reward 1 iff resolved) and print one line per instance.

    The options are shorthands of the `grading`, `rollout` and `output` keys that `-c` files and `key=value`
    overrides set too (as for `bench` and `train`); results go to `--out` (default `swebench-eval/`).
    """
    from agent_envs.errors import AgentEnvsError
    from agent_envs.swebench.evaluate import evaluate
    from harness.config import SWEBenchEvalConfig

    specs, old_concurrency = o.split_deprecated_concurrency(config)
    flags = {"grading.backend": backend, "grading.data": data, "grading.repos_dir": repos_dir,
             "grading.cache_dir": cache_dir, "grading.python": python, "grading.docker_url": docker_url,
             "grading.timeout_s": timeout, "grading.network": network, "output.dir": str(out) if out else None,
             "output.resume": resume or None, "rollout.concurrency": concurrency or old_concurrency}
    cfg = o.build_config(SWEBenchEvalConfig, specs, flags)
    grading, out_dir = cfg.grading, Path(cfg.output.dir or "swebench-eval")
    try:
        preds = read_predictions(predictions)
        instances = _instances(grading.data, grading.cache_dir)
    except (ValueError, AgentEnvsError) as exc:  # json.JSONDecodeError is a ValueError
        _fail(f"{predictions}: {exc}" if isinstance(exc, ValueError) else str(exc))
    results = evaluate(instances, preds, out_dir, backend=grading.backend, repos_dir=grading.repos_dir,
                       cache_dir=grading.cache_dir, python=grading.python, docker_url=grading.docker_url,
                       timeout_s=grading.timeout_s, concurrency=max(1, cfg.rollout.concurrency),
                       resume=cfg.output.resume, network=grading.network, on_result=lambda r: typer.echo(_line(r)))
    counts = {s: sum(r["status"] == s for r in results.values()) for s in ("resolved", "unresolved", "error")}
    typer.echo(f"resolved {counts['resolved']}/{len(results)} ({counts['unresolved']} not resolved, "
               f"{counts['error']} errors); results: {out_dir / 'results.jsonl'}")


@swebench_app.command("prepare")
def prepare_templates(
    repos_dir: str = typer.Option(..., help="local clones <owner>__<name> (bare is fine)"),
    repo: list[str] = typer.Option(None, "--repo", help="only this owner/name repository (repeatable)"),
    instances: str = typer.Option(None, "--instances", help="only these instance ids (comma-separated)"),
    data: str = typer.Option(None, help="instance file or directory (default $AEMGYM_SWEBENCH_DATA)"),
    cache_dir: str = typer.Option(None, help="template cache (default ~/.cache/aemgym/swebench)"),
    python: str = typer.Option(None, help="interpreter for the templates (default: pyenv's matching version)"),
    rebuild: bool = typer.Option(False, help="rebuild templates that are already there"),
    out: Path = typer.Option(Path("swebench-prepare"), "--out", "-o", help="directory for prepare.jsonl"),
    concurrency: o.Concurrency = None,
    legacy_c: str = typer.Option(None, "-c", hidden=True, help=LEGACY_C_HELP),
) -> None:
    """Build the local templates (repository + environment) of the instances whose clone is in --repos-dir."""
    from tqdm import tqdm

    from agent_envs.errors import AgentEnvsError, EnvUnavailable
    from agent_envs.swebench.evaluate import prepare
    from agent_envs.swebench.template import find_source_repo

    workers = _concurrency(concurrency or 1, legacy_c)
    wanted = [i.strip() for i in instances.split(",") if i.strip()] if instances else None
    try:
        rows = [r for r in _instances(data, cache_dir).values() if (not repo or r["repo"] in repo)
                and (wanted is None or r["instance_id"] in wanted)]
    except AgentEnvsError as exc:
        _fail(str(exc))
    unknown = sorted(set(wanted or ()) - {r["instance_id"] for r in rows})
    if unknown:
        _fail(f"unknown instance ids: {', '.join(unknown)}")
    selected = []
    for row in rows:
        try:
            find_source_repo(row, repos_dir)
            selected.append(row)
        except EnvUnavailable:
            pass
    if not selected:
        _fail(f"no instance has a clone in {repos_dir} (expected <repos_dir>/<owner>__<name>)")
    with tqdm(total=len(selected), unit="template", dynamic_ncols=True) as bar:
        def show(record: dict[str, Any]) -> None:
            bar.update(1)
            if record["status"] != "ready":
                tqdm.write(_line(record))

        results = prepare(selected, out, repos_dir=repos_dir, cache_dir=cache_dir, python=python,
                          concurrency=workers, rebuild=rebuild, on_result=show)
    ready = sum(r["status"] == "ready" for r in results.values())
    typer.echo(f"ready {ready}/{len(results)}; failures with reasons and build logs: {out / 'prepare.jsonl'}")


def register(app: typer.Typer) -> None:
    """Add the `swebench` command group."""
    app.add_typer(swebench_app, name="swebench")
