"""The runs page: every run found, with its env, policy, scaffold, episodes, success and 95% CI, and date."""

from __future__ import annotations

from harness.view.catalog import Catalog
from harness.view.html import Markup, join, link, notice, page, rate_cell, select, table, tag


def runs_page(catalog: Catalog) -> str:
    """The list of runs, newest first, and a form to compare two of them."""
    runs = sorted(catalog.scan().values(), key=lambda r: (r.created, r.run_id), reverse=True)
    if not runs:
        roots = ", ".join(str(r) for r in catalog.roots)
        return page("runs", notice(f"No run directories under {roots} (a run directory holds config.json or "
                                   "episodes.jsonl)."), crumbs=[("runs", None)])
    rows = []
    for run in runs:
        stats = run.stats()
        notes = run.notes()
        flags = [tag("span", "training", class_="pill")] if run.is_train else []
        if run.in_progress():
            flags.append(tag("span", "writing", class_="pill live", title="episodes.jsonl changed in the last two "
                             "minutes and there is no summary.json yet: the run is probably in progress"))
        if notes:
            flags.append(tag("span", "⚠", class_="warn-icon", title=" ".join(notes)))
        rows.append([
            join([link(run.run_id, "/run", run=run.run_id), " ", *flags]),
            run.env, run.policy, run.scaffold or "—", len(run.index.entries),
            rate_cell(stats.overall) if stats.overall["episodes"] else "—",
            f"{stats.scope} ({stats.overall['episodes']} episodes)" if stats.scope else "all episodes", run.created,
        ])
    choices = [(r.run_id, r.run_id) for r in runs]
    compare = tag("form", "Compare ", select("a", choices, choices[0][0]), " with ",
                  select("b", choices, choices[min(1, len(choices) - 1)][0]), " ",
                  tag("button", "compare", type="submit"), action="/compare", method="get", class_="inline")
    body = join([
        tag("h1", f"Runs ({len(runs)})"),
        table(["run", "env", "policy", "scaffold", "episodes", "success (95% CI)", "scope", "date"], rows,
              id_="runs"),
        compare if len(runs) > 1 else Markup(""),
    ])
    return page("runs", body, crumbs=[("runs", None)])
