"""A training run: its curves (success, reward, entropies, KL, clip fraction, α) from `metrics.jsonl`; per iteration
the α distribution from `advantages.jsonl`, the turns AEM amplified and damped most, and one group's turns with
their α and advantage beside their text.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.view.catalog import Run, TurnSample, as_dict, as_list, as_text
from harness.view.charts import histogram, line_chart
from harness.view.html import Markup, badge, hidden, join, link, notice, page, select, table, tag, url

#: Panels of the curves: title -> metric keys (one line each).
CURVES = {
    "success": ("train/success", "eval/success"),
    "reward": ("train/reward", "eval/reward"),
    "entropy (nats)": ("learner/token_entropy", "learner/response_entropy"),
    "KL": ("learner/kl_ref", "learner/ppo_kl"),
    "clip fraction": ("learner/clip_frac", "learner/clip_frac_lower"),
    "α (modulation)": ("learner/alpha_mean", "learner/alpha_min", "learner/alpha_max"),
    "invalid actions": ("train/invalid_frac", "eval/invalid_frac"),
}
EXTREMES = 6
MAX_TEXT = 300


def _quantile(ordered: list[float], q: float) -> float:
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _curves(rows: list[dict[str, Any]]) -> Markup:
    charts = []
    for title, keys in CURVES.items():
        series = {key.split("/", 1)[1] if key.startswith("learner/") else key:
                  [(float(r["iteration"]), float(r[key])) for r in rows if isinstance(r.get(key), (int, float))]
                  for key in keys}
        charts.append(line_chart(series, title))
    return tag("div", *charts, class_="charts", id="curves")


def _alpha_table(run: Run, advantages: dict[int, list[TurnSample]], chosen: int) -> Markup:
    rows = []
    for iteration, samples in sorted(advantages.items()):
        alphas = sorted(a for _, _, a, _, _ in samples)
        if not alphas:
            continue
        n = len(alphas)
        label = tag("b", iteration) if iteration == chosen else link(iteration, "/train", run=run.run_id,
                                                                     iteration=iteration)
        rows.append([label, n, *(f"{_quantile(alphas, q):.3f}" for q in (0.0, 0.1, 0.5, 0.9, 1.0)),
                     f"{sum(a > 1 + 1e-6 for a in alphas) / n:.0%}", f"{sum(a < 1 - 1e-6 for a in alphas) / n:.0%}"])
    return table(["iteration", "turns", "α min", "p10", "median", "p90", "max", "amplified", "damped"], rows,
                 id_="alpha-table")


class _Texts:
    """Response texts of training turns, read lazily from the episodes."""

    def __init__(self, run: Run):
        self.run = run
        self._records: dict[str, dict[str, Any] | None] = {}

    def record(self, episode_id: str) -> dict[str, Any] | None:
        if episode_id not in self._records:
            try:
                self._records[episode_id] = self.run.index.read(episode_id)
            except ValueError:
                self._records[episode_id] = None
        return self._records[episode_id]

    def response(self, episode_id: str, turn: int) -> str:
        turns = as_list(as_dict(self.record(episode_id)).get("turns"))
        if not 0 <= turn < len(turns):
            return "(not found)"
        text = as_text(as_dict(as_dict(turns[turn]).get("response")).get("text", ""))
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _kind(alpha: float) -> str:
    return "amplified" if alpha > 1 + 1e-6 else "damped" if alpha < 1 - 1e-6 else "neutral"


def _turn_table(run: Run, texts: _Texts, turns: list[TurnSample], id_: str) -> Markup:
    rows = []
    for episode_id, turn, alpha, adv, entropy in turns:
        entry = run.index.get(episode_id)
        rows.append([link(f"{episode_id} #{turn}", "/episode", run=run.run_id, id=episode_id),
                     badge(entry.outcome) if entry else "?",
                     tag("pre", texts.response(episode_id, turn), class_="text short"),
                     f"{entropy:.3f}", tag("span", f"{alpha:.3f}", class_=f"alpha {_kind(alpha)}"), f"{adv:+.3f}"])
    return table(["turn", "outcome", "response", "response entropy", "α", "advantage"], rows, id_=id_)


def _iteration(run: Run, turns: list[TurnSample], iteration: int, group: str | None) -> Markup:
    if not turns:
        return notice(f"No turn samples recorded for iteration {iteration}.", "info")
    texts = _Texts(run)
    # α matters where there is an advantage to scale: rank those turns (all turns when no turn has one)
    scaled = [t for t in turns if abs(t[3]) > 1e-9]
    ranked = sorted(scaled or turns, key=lambda t: t[2])
    which = " (of the turns with an advantage)" if scaled else ""
    parts: list[Any] = [
        tag("h2", f"Iteration {iteration}"),
        tag("div", histogram([t[2] for t in turns], f"α of {len(turns)} turns (line: α = 1)", marker=1.0),
            histogram([t[3] for t in turns], "advantage after modulation", marker=0.0), class_="charts"),
    ]
    if max(t[2] for t in turns) - min(t[2] for t in turns) > 1e-6:
        parts += [tag("h3", "Most amplified" + which),
                  _turn_table(run, texts, [t for t in reversed(ranked[-EXTREMES:]) if t[2] > 1 + 1e-6], "amplified"),
                  tag("h3", "Most damped" + which),
                  _turn_table(run, texts, [t for t in ranked[:EXTREMES] if t[2] < 1 - 1e-6], "damped")]
    else:
        parts.append(notice("Every turn of this iteration has the same α: the modulator left the advantages as "
                            "they were (no modulator, or every group's entropies within the guard).", "info"))
    groups: dict[str, list[TurnSample]] = defaultdict(list)
    for t in turns:
        entry = run.index.get(t[0])
        groups[entry.group_id if entry else "?"].append(t)
    if group not in groups:  # default: among groups with advantages, the one whose α spread is widest

        def spread(g: str) -> tuple[bool, float, str]:
            alphas = [t[2] for t in groups[g]]
            return any(abs(t[3]) > 1e-9 for t in groups[g]), max(alphas) - min(alphas), g

        group = max(groups, key=spread)
    form = tag("form", hidden(run=run.run_id, iteration=iteration), "group ",
               select("group", [(g, g) for g in sorted(groups)], group), " ", tag("button", "show", type="submit"),
               action="/train", method="get", class_="inline")
    members = sorted(groups[group], key=lambda t: (t[0], t[1]))
    parts += [tag("h3", f"Group {group}: each turn's α and advantage beside its text"), form,
              _turn_table(run, texts, members, "group")]
    return join(parts)


def train_page(run: Run, iteration: int | None, group: str | None) -> str:
    """The training page of a run."""
    rows = run.metrics()
    advantages = run.advantages()
    crumbs = [("runs", "/"), (run.run_id, url("/run", run=run.run_id)), ("training", None)]
    parts: list[Any] = [tag("h1", f"Training: {run.run_id}")]
    if not run.is_train:
        parts.append(notice("This is not a training run (no metrics.jsonl, and config.json does not say train).",
                            "info"))
        return page("training", join(parts), crumbs=crumbs)
    parts += [tag("h2", "Curves"), _curves(rows) if rows else notice("No metrics.jsonl rows yet.", "info")]
    parts.append(tag("h2", "α per iteration"))
    if not advantages:
        parts.append(notice("No advantages.jsonl: this run did not record per-turn α and advantages (runs made "
                            "before the viewer existed, or a learner that does not report them).", "info"))
    else:
        chosen = iteration if iteration in advantages else max(advantages)
        if iteration is not None and iteration not in advantages:
            parts.append(notice(f"No turn samples for iteration {iteration}; showing iteration {chosen}."))
        parts += [_alpha_table(run, advantages, chosen), _iteration(run, advantages[chosen], chosen, group)]
    return page(f"training {run.run_id}", join(parts), crumbs=crumbs, live=run.live())
