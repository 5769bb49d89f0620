"""Grading many predictions and building many templates: one bad instance never stops the others.

`evaluate` grades predictions in a thread pool (the work runs in sandboxes, i.e. subprocesses); each instance ends
as `resolved`, `unresolved` or `error` (no template, no clone, unknown id, a crash) with a one-line `reason` and the
path of its log. Results are appended to `<out>/results.jsonl` as they finish, so an interrupted run loses nothing
and `resume=True` skips the instances already graded (errors are retried). `prepare` builds templates ahead of
time the same way (`<out>/prepare.jsonl`).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from agent_envs.errors import AgentEnvsError
from agent_envs.sandbox.base import SandboxLimits
from agent_envs.swebench.build_env import TemplateError, one_line
from agent_envs.swebench.grading import grade
from agent_envs.swebench.spec import image_name
from agent_envs.swebench.template import BUILD_LOG, build_template, template_dir

RESULTS = "results.jsonl"
GRADED = ("resolved", "unresolved")


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """The last record per key (the instance id unless a prediction set one) of a results JSONL file."""
    records: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
            records[record.get("key", record["instance_id"])] = record
    return records


class ResultWriter:
    """Appends one JSON line per finished instance (thread-safe)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one result line (thread-safe)."""
        with self._lock, self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


def _error_record(instance_id: str, exc: BaseException, log_path: Path | None) -> dict[str, Any]:
    if isinstance(exc, TemplateError):
        reason, log_path = f"template build failed: {exc.reason}", exc.log_path or log_path
    elif isinstance(exc, AgentEnvsError):
        reason = str(exc)
    else:  # a bug or an unexpected failure: keep the traceback in the log, one line in the record
        reason = f"{type(exc).__name__}: {one_line(str(exc)) or 'no message'}"
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text("".join(traceback.format_exception(exc)))
    return {"instance_id": instance_id, "status": "error", "resolved": False, "patch_applied": False,
            "reason": one_line(reason, 400), "log": str(log_path) if log_path and log_path.exists() else ""}


def evaluate(
    instances: Mapping[str, Mapping[str, Any]],
    predictions: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    backend: str = "local",
    repos_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    python: str | None = None,
    docker_url: str | None = None,
    timeout_s: float = 1800,
    concurrency: int = 1,
    resume: bool = False,
    run_empty: bool = False,
    network: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Grade every prediction (`instance_id`, `model_patch`); returns {key: record}, also in `<out_dir>/results.jsonl`.

    A prediction may carry a `key` (default: its instance id) when one instance is graded with several patches, and
    `run_empty` (see `grade`). `network=True` lets the eval script reach the network, as the official harness's
    containers can: the reinstall step then installs dependencies a patch adds, and tests that
    call real servers can pass. Off by default: the patch's code runs during grading.
    """
    out = Path(out_dir)
    writer = ResultWriter(out / RESULTS)
    done = {k: r for k, r in read_results(writer.path).items() if r.get("status") in GRADED} if resume else {}
    todo = [p for p in predictions if p.get("key", p["instance_id"]) not in done]

    def one(pred: Mapping[str, Any]) -> dict[str, Any]:
        key, iid = pred.get("key", pred["instance_id"]), pred["instance_id"]
        log_path = out / "logs" / f"{key}.log"
        started = time.monotonic()
        try:
            if iid not in instances:
                raise AgentEnvsError(f"unknown instance_id {iid!r}: not in the instance data")
            instance = dict(instances[iid])
            factory, template = _sandbox_factory(instance, backend, repos_dir, cache_dir, python, docker_url,
                                                 timeout_s, network)
            result = grade(instance, pred.get("model_patch") or "", factory, local=backend == "local",
                           timeout_s=timeout_s, run_empty=bool(pred.get("run_empty", run_empty)),
                           prelude=template.prelude if template is not None else "")
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(result.log)
            info = result.info()
            record = {"instance_id": iid, "status": "resolved" if result.resolved else "unresolved",
                      "resolved": result.resolved, "patch_applied": result.patch_applied, "reason": result.error,
                      "f2p": info["f2p"], "p2p": info["p2p"], "f2p_failed": result.fail_to_pass["failure"],
                      "p2p_failed": result.pass_to_pass["failure"], "eval_s": round(result.eval_s, 1),
                      "log": str(log_path)}
            if template is not None:
                record.update(env_date=template.env_date, build_s=template.build_s, notes=template.notes)
            if network:
                record["network"] = True
        except Exception as exc:  # noqa: BLE001  (one instance never stops the others)
            build_log = template_dir(iid, cache_dir) / BUILD_LOG if backend == "local" else None
            record = _error_record(iid, exc, build_log if isinstance(exc, TemplateError) else log_path)
        record.update(key=key, total_s=round(time.monotonic() - started, 1))
        writer.write(record)
        if on_result is not None:
            on_result(record)
        return record

    results = dict(done)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for future in as_completed([pool.submit(one, p) for p in todo]):
            record = future.result()
            results[record["key"]] = record
    return results


def _sandbox_factory(instance: dict[str, Any], backend: str, repos_dir: Any, cache_dir: Any, python: str | None,
                     docker_url: str | None, timeout_s: float, network: bool) -> tuple[Callable[[], Any], Any]:
    limits = SandboxLimits(timeout_s=timeout_s, episode_budget_s=timeout_s + 600)
    if backend == "docker":
        from agent_envs.sandbox.docker import DockerSandbox

        image = image_name(instance["instance_id"])
        return (lambda: DockerSandbox(image, base_url=docker_url, network=network,
                                      limits=SandboxLimits(**vars(limits)))), None
    template = build_template(instance, cache_dir=cache_dir, repos_dir=repos_dir, python=python)
    work_root = template_dir(instance["instance_id"], cache_dir).parent.parent / "episodes"
    return (lambda: template.sandbox(limits=SandboxLimits(**vars(limits)), work_root=work_root,
                                     network=network)), template


def prepare(
    instances: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    repos_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    python: str | None = None,
    concurrency: int = 1,
    rebuild: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Build the local templates of `instances`; each ends `ready` or `error` (reason, build log), in
    `<out_dir>/prepare.jsonl`.
    """
    writer = ResultWriter(Path(out_dir) / "prepare.jsonl")

    def one(instance: Mapping[str, Any]) -> dict[str, Any]:
        iid = instance["instance_id"]
        started = time.monotonic()
        log_path = template_dir(iid, cache_dir) / BUILD_LOG
        try:
            tpl = build_template(instance, cache_dir=cache_dir, repos_dir=repos_dir, python=python, rebuild=rebuild)
            record = {"instance_id": iid, "status": "ready", "reason": "", "env_date": tpl.env_date,
                      "build_s": tpl.build_s, "notes": tpl.notes, "log": str(log_path) if log_path.exists() else ""}
        except Exception as exc:  # noqa: BLE001  (one instance never stops the others)
            record = _error_record(iid, exc, log_path if log_path.exists() else None)
        record["total_s"] = round(time.monotonic() - started, 1)
        writer.write(record)
        if on_result is not None:
            on_result(record)
        return record

    results = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for future in as_completed([pool.submit(one, i) for i in instances]):
            record = future.result()
            results[record["instance_id"]] = record
    return results
