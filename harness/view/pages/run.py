"""One run: its configuration, the report's numbers (overall and per task type, errors apart) and the episodes,
filtered by outcome, task type, phase, iteration and text in the responses, a page at a time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.view.catalog import Catalog, Run, as_dict, dig
from harness.view.charts import bar_chart
from harness.view.html import (
    Markup,
    badge,
    hidden,
    join,
    json_block,
    link,
    notice,
    page,
    pct,
    rate_cell,
    select,
    table,
    tag,
)
from harness.view.index import Entry

PAGE_SIZE = 50


@dataclass
class Filters:
    """The episode filters of a run page (all in the URL)."""

    outcome: str = ""  # success, failure, error
    type: str = ""
    phase: str = ""
    iteration: str = ""
    q: str = ""

    def apply(self, run: Run, entries: list[Entry]) -> list[Entry]:
        """The entries that pass every filter, in file order."""
        kept = [e for e in entries
                if (not self.outcome or e.outcome == self.outcome) and (not self.type or e.task_type == self.type)
                and (not self.phase or (e.phase or "") == self.phase)
                and (not self.iteration or str(e.iteration) == self.iteration)]
        if self.q.strip():
            found = run.index.search_responses(self.q.strip(), kept)
            kept = [e for e in kept if e.episode_id in found]
        return kept

    def params(self) -> dict[str, str]:
        """The filters that are set, as query parameters."""
        return {k: v for k, v in asdict(self).items() if v}


def _meta(run: Run) -> Markup:
    header, config = run.header, run.config
    tasks = header.get("task_ids")
    rows = [("command", run.command), ("env", run.env), ("policy", run.policy), ("scaffold", run.scaffold or "—"),
            ("created", run.created), ("directory", str(run.path))]
    samples = dig(config, "rollout", "samples", default="?")
    if run.is_train:
        rows.append(("tasks", f"{dig(config, 'loop', 'tasks_per_iter', default='?')} × {samples} samples per "
                              f"iteration, from {len(tasks) if isinstance(tasks, list) else '?'} training tasks"))
        learner = dig(config, "learner", default={})
        rows.append(("learner", f"{dig(learner, 'advantage', default='?')} + {dig(learner, 'modulator', default='?')}"
                                f", {dig(config, 'loop', 'iterations', default='?')} iterations"))
    elif isinstance(tasks, list):
        rows.append(("tasks", f"{len(tasks)} × {samples} samples"))
    grid = tag("table", *(tag("tr", tag("th", k), tag("td", v)) for k, v in rows), class_="meta")
    return join([grid, tag("details", tag("summary", "config.json"), json_block(header))]) if header else grid


def _summary_facts(summary: dict[str, Any]) -> Markup:
    """Tokens, latency and invalid actions from `summary.json` (what the index does not hold)."""
    tokens, latency = as_dict(summary.get("tokens")), as_dict(summary.get("latency_s"))
    try:
        facts = []
        if "prompt" in tokens:
            facts.append(f"tokens {int(tokens['prompt'])} prompt + {int(tokens.get('completion', 0))} completion "
                         f"({float(tokens.get('per_episode', 0)):.0f} per episode)")
        if "policy_mean" in latency:
            facts.append(f"policy latency per turn mean {float(latency['policy_mean']):.3f} s, "
                         f"p95 {float(latency.get('policy_p95', 0)):.3f} s")
        if "invalid_action_rate" in summary:
            facts.append(f"invalid actions {pct(float(summary['invalid_action_rate']))}")
    except (TypeError, ValueError):
        return notice("summary.json holds values of unexpected types; its numbers are not shown.")
    return tag("p", "From summary.json: " + " · ".join(facts), class_="note") if facts else Markup("")


def _report(run: Run) -> Markup:
    stats = run.stats()
    overall = stats.overall
    if not overall["episodes"]:
        return notice(f"No episodes {'in the report scope ' if stats.scope else ''}yet.", "info")
    rows = [[tag("b", "all"), overall["episodes"], rate_cell(overall), f"{overall['mean_score']:.3f}",
             f"{overall['mean_reward']:.3f}", f"{overall['mean_turns']:.2f}"]]
    for name, block in stats.per_task_type.items():
        rows.append([name, block["episodes"], rate_cell(block), f"{block['mean_score']:.3f}",
                     f"{block['mean_reward']:.3f}", f"{block['mean_turns']:.2f}"])
    bars = [("all", overall["success_rate"], *overall["success_ci95"])]
    bars += [(n, b["success_rate"], *b["success_ci95"]) for n, b in stats.per_task_type.items()]
    parts: list[Any] = [
        tag("h2", "Report" + (f" — {stats.scope}" if stats.scope else "")),
        tag("div", table(["task type", "episodes", "success (95% CI)", "mean score", "mean reward", "mean turns"],
                         rows, id_="report"), bar_chart(bars, "success rate (95% Wilson CI)"), class_="row"),
    ]
    if run.summary and not run.is_train:
        parts.append(_summary_facts(run.summary))
    if stats.errors:
        shown = stats.errors[:20]
        parts.append(tag("h3", f"Infrastructure errors ({len(stats.errors)}, apart from the success rate)"))
        parts.append(table(["episode", "task", "error"],
                           [[link(e.episode_id, "/episode", run=run.run_id, id=e.episode_id), e.task_id, e.error]
                            for e in shown], id_="errors"))
    return join(parts)


def _filter_form(run: Run, filters: Filters) -> Markup:
    entries = run.index.entries
    types = sorted({e.task_type for e in entries})
    controls: list[Any] = [
        hidden(run=run.run_id),
        "outcome ", select("outcome", [("", "any"), ("success", "success"), ("failure", "failure"),
                                       ("error", "error")], filters.outcome),
        " task type ", select("type", [("", "any"), *((t, t) for t in types)], filters.type),
    ]
    if run.is_train:
        phases = sorted({e.phase for e in entries if e.phase})
        iterations = sorted({e.iteration for e in entries if e.iteration is not None})
        controls += [" phase ", select("phase", [("", "any"), *((p, p) for p in phases)], filters.phase),
                     " iteration ", select("iteration", [("", "any"), *((str(i), str(i)) for i in iterations)],
                                           filters.iteration)]
    controls += [" response contains ", tag("input", type="search", name="q", value=filters.q, placeholder="text"),
                 " ", tag("button", "filter", type="submit"), " ", link("clear", "/run", run=run.run_id)]
    return tag("form", *controls, action="/run", method="get", class_="filters", id="filters")


def _episode_table(run: Run, shown: list[Entry]) -> Markup:
    train = run.is_train
    headers = ["episode", "task", "type", "sample", "outcome", "score", "reward", "turns"]
    headers += ["phase", "iteration"] if train else []
    rows = []
    for e in shown:
        row: list[Any] = [link(e.episode_id, "/episode", run=run.run_id, id=e.episode_id), e.task_id, e.task_type,
                          e.sample_index, badge(e.outcome), f"{e.score:.3f}", f"{e.total_reward:.3f}", e.turns]
        if train:
            row += [e.phase or "", "" if e.iteration is None else e.iteration]
        rows.append(row)
    return table(headers, rows, id_="episodes")


def run_page(catalog: Catalog, run: Run, filters: Filters, page_number: int) -> str:
    """The page of one run."""
    notes = run.notes()
    matching = filters.apply(run, run.index.entries)
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    page_number = min(max(1, page_number), pages)
    shown = matching[(page_number - 1) * PAGE_SIZE: page_number * PAGE_SIZE]
    params = filters.params()
    nav = [f"{len(matching)} of {len(run.index.entries)} episodes match"]
    if len(matching) > PAGE_SIZE:
        nav.append(f" · page {page_number} of {pages} ")
        if page_number > 1:
            nav.append(link("‹ previous", "/run", run=run.run_id, **params, page=page_number - 1))
        if page_number < pages:
            nav += [" ", link("next ›", "/run", run=run.run_id, **params, page=page_number + 1)]
    others = [(r, r) for r in catalog.scan() if r != run.run_id]
    tools: list[Any] = []
    if run.is_train:
        tools.append(link("training curves and α →", "/train", run=run.run_id))
    if others:
        tools.append(tag("form", hidden(a=run.run_id), "compare with ", select("b", others, None), " ",
                         tag("button", "compare", type="submit"), action="/compare", method="get", class_="inline"))
    body = join([
        tag("h1", run.run_id, " ", tag("span", "training run", class_="pill") if run.is_train else ""),
        join(notice(n) for n in notes),
        tag("div", *tools, class_="tools") if tools else "",
        _meta(run),
        _report(run),
        tag("h2", "Episodes"),
        _filter_form(run, filters),
        tag("p", *nav, class_="note", id="match-count"),
        _episode_table(run, shown) if shown else notice("No episode matches these filters.", "info"),
    ])
    return page(run.run_id, body, crumbs=[("runs", "/"), (run.run_id, None)], live=run.live())
