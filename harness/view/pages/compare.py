"""Two runs side by side: per task, how often each succeeded; on one task, an episode of each, turn by turn."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.view.catalog import Catalog, Run
from harness.view.html import Markup, badge, hidden, join, link, notice, page, select, table, tag, url
from harness.view.index import Entry
from harness.view.pages.episode import swebench_section, turns_table

MAX_TASK_ROWS = 500
MAX_SAMPLES = 30


def _by_task(run: Run) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = defaultdict(list)
    for entry in run.index.refresh().entries:
        out[entry.task_id].append(entry)
    return out


def _rate(entries: list[Entry]) -> str:
    return f"{sum(e.success for e in entries)}/{len(entries)}" if entries else "—"


def _form(catalog: Catalog, a: str | None, b: str | None, task: str | None) -> Markup:
    choices = [(r, r) for r in catalog.scan()]
    return tag("form", "Run A ", select("a", choices, a), " run B ", select("b", choices, b), hidden(task=task), " ",
               tag("button", "compare", type="submit"), action="/compare", method="get", class_="inline")


def _task_table(a: Run, b: Run, only_diff: bool) -> Markup:
    tasks_a, tasks_b = _by_task(a), _by_task(b)
    rows = []
    for task in sorted(set(tasks_a) | set(tasks_b)):
        ea, eb = tasks_a.get(task, []), tasks_b.get(task, [])
        rate_a = sum(e.success for e in ea) / len(ea) if ea else None
        rate_b = sum(e.success for e in eb) / len(eb) if eb else None
        differs = rate_a != rate_b
        if only_diff and not differs:
            continue
        kind = (ea or eb)[0].task_type
        marker = "" if not differs else ("A better" if (rate_a or 0) > (rate_b or 0) else "B better")
        cell = link(task, "/compare", a=a.run_id, b=b.run_id, task=task) if ea and eb else task
        rows.append((not differs, task, [cell, kind, _rate(ea), _rate(eb), tag("span", marker, class_="diffmark")]))
    rows.sort(key=lambda r: (r[0], r[1]))
    shown = [r[2] for r in rows[:MAX_TASK_ROWS]]
    note = tag("p", f"{len(rows)} tasks" + (f"; the first {MAX_TASK_ROWS} shown" if len(rows) > MAX_TASK_ROWS
                                            else ""), class_="note")
    toggle = (link("show all tasks", "/compare", a=a.run_id, b=b.run_id) if only_diff else
              link("only tasks where the success rates differ", "/compare", a=a.run_id, b=b.run_id, only="diff"))
    return join([tag("p", toggle, class_="tools"), note,
                 table(["task", "type", f"A: {a.run_id}", f"B: {b.run_id}", ""], shown, id_="tasks")])


def _column(run: Run, label: str, entries: list[Entry], chosen: str | None, params: dict[str, Any],
            key: str) -> Markup:
    if not entries:
        return tag("div", tag("h2", f"{label}: ", link(run.run_id, "/run", run=run.run_id)),
                   notice("No episode of this task in this run.", "info"), class_="side")
    entry = next((e for e in entries if e.episode_id == chosen), entries[0])
    picks = []
    for e in entries[:MAX_SAMPLES]:
        text = f"#{e.sample_index}" + (f" @it{e.iteration}" if e.iteration is not None else "") + f" {e.outcome}"
        picks.append(tag("b", text) if e is entry else link(text, "/compare", **{**params, key: e.episode_id}))
    try:
        record = run.index.read(entry.episode_id)
        body = (join([swebench_section(record), turns_table(record)]) if record is not None
                else notice("The episode is no longer in the run.", "error"))
    except ValueError as exc:
        body = notice(str(exc), "error")
    return tag("div", tag("h2", f"{label}: ", link(run.run_id, "/run", run=run.run_id)),
               tag("p", "episodes: ", Markup(" · ").join(picks), class_="note"),
               tag("p", link(entry.episode_id, "/episode", run=run.run_id, id=entry.episode_id), " ",
                   badge(entry.outcome), f" score {entry.score:.3f} · {entry.turns} turns"),
               body, class_="side")


def compare_page(catalog: Catalog, params: dict[str, str]) -> tuple[str, int]:
    """The compare page for query parameters a, b, task, sa, sb, only."""
    a_id, b_id, task = params.get("a"), params.get("b"), params.get("task")
    a, b = catalog.get(a_id), catalog.get(b_id)
    crumbs: list[tuple[str, str | None]] = [("runs", "/"), ("compare", None)]
    if a is None or b is None:
        missing = [f"no run {x!r}" for x, run in ((a_id, a), (b_id, b)) if x and run is None]
        body = join([tag("h1", "Compare two runs"), join(notice(m, "error") for m in missing),
                     _form(catalog, a_id, b_id, task)])
        return page("compare", body, crumbs=crumbs), 404 if missing else 200
    title = f"{a.run_id} vs {b.run_id}"
    crumbs[-1] = ("compare", url("/compare", a=a.run_id, b=b.run_id))
    if not task:
        body = join([tag("h1", title), _form(catalog, a.run_id, b.run_id, None),
                     _task_table(a, b, params.get("only") == "diff")])
        return page(title, body, crumbs=crumbs), 200
    crumbs.append((task, None))
    ea, eb = _by_task(a).get(task, []), _by_task(b).get(task, [])
    state = {"a": a.run_id, "b": b.run_id, "task": task, "sa": params.get("sa"), "sb": params.get("sb")}
    body = join([
        tag("h1", f"Task {task}"),
        "" if ea or eb else notice(f"Neither run has task {task!r}.", "error"),
        _form(catalog, a.run_id, b.run_id, task),
        tag("p", link("← all tasks of these runs", "/compare", a=a.run_id, b=b.run_id), class_="tools"),
        tag("div", _column(a, "A", ea, params.get("sa"), state, "sa"),
            _column(b, "B", eb, params.get("sb"), state, "sb"), class_="sides"),
    ])
    return page(title, body, crumbs=crumbs), 200 if ea or eb else 404
