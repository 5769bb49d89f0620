"""Small inline SVG charts (no plotting library in the browser, no images to regenerate): success bars with their
95% intervals, line charts of training curves, histograms of α.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from harness.view.html import Markup, esc, tag

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
WIDTH, HEIGHT = 360, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 22, 26


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


class _Frame:
    """Maps data coordinates into the plot area and draws the axes."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float], title: str,
                 width: int = WIDTH, height: int = HEIGHT):
        self.x0, self.x1 = x_range if x_range[1] > x_range[0] else (x_range[0] - 0.5, x_range[0] + 0.5)
        self.y0, self.y1 = y_range if y_range[1] > y_range[0] else (y_range[0] - 0.5, y_range[0] + 0.5)
        self.width, self.height, self.title = width, height, title

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / (self.x1 - self.x0) * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return self.height - BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (self.height - TOP - BOTTOM)

    def axes(self, x_ticks: bool = True) -> list[Markup]:
        parts = [tag("text", self.title, x=LEFT, y=14, class_="chart-title")]
        for value in _ticks(self.y0, self.y1):
            y = self.y(value)
            parts.append(tag("line", x1=LEFT, x2=self.width - RIGHT, y1=f"{y:.1f}", y2=f"{y:.1f}", class_="grid"))
            parts.append(tag("text", _fmt(value), x=LEFT - 4, y=f"{y + 3:.1f}", class_="tick", text_anchor="end"))
        if x_ticks:
            for value in _ticks(self.x0, self.x1, 5):
                parts.append(tag("text", _fmt(value), x=f"{self.x(value):.1f}", y=self.height - BOTTOM + 14,
                                 class_="tick", text_anchor="middle"))
        parts.append(tag("line", x1=LEFT, x2=LEFT, y1=TOP, y2=self.height - BOTTOM, class_="axis"))
        parts.append(tag("line", x1=LEFT, x2=self.width - RIGHT, y1=self.height - BOTTOM, y2=self.height - BOTTOM,
                         class_="axis"))
        return parts

    def svg(self, parts: list[Markup], label: str) -> Markup:
        return tag("svg", *parts, viewBox=f"0 0 {self.width} {self.height}", width=self.width, height=self.height,
                   class_="chart", role="img", aria_label=label)


def bar_chart(bars: Sequence[tuple[str, float, float, float]], title: str) -> Markup:
    """Bars of rates in [0, 1] with interval whiskers: (label, rate, low, high) each."""
    width = max(WIDTH, LEFT + RIGHT + 46 * len(bars))
    frame = _Frame((0, max(1, len(bars))), (0, 1), title, width=width)
    parts = frame.axes(x_ticks=False)
    for i, (label, rate, low, high) in enumerate(bars):
        left, right = frame.x(i + 0.15), frame.x(i + 0.85)
        mid = (left + right) / 2
        parts.append(tag("rect", tag("title", f"{label}: {100 * rate:.1f}% ({100 * low:.1f}–{100 * high:.1f}%)"),
                         x=f"{left:.1f}", y=f"{frame.y(rate):.1f}", width=f"{right - left:.1f}",
                         height=f"{frame.y(0) - frame.y(rate):.1f}", class_="bar" + (" all" if i == 0 else "")))
        parts.append(tag("line", x1=f"{mid:.1f}", x2=f"{mid:.1f}", y1=f"{frame.y(low):.1f}",
                         y2=f"{frame.y(high):.1f}", class_="whisker"))
        short = label if len(label) <= 12 else label[:11] + "…"
        parts.append(tag("text", short, x=f"{mid:.1f}", y=frame.height - BOTTOM + 14, class_="tick",
                         text_anchor="middle"))
    return frame.svg(parts, title)


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str) -> Markup:
    """One line per named series of (x, y) points; a note instead when there is no point."""
    points = [p for values in series.values() for p in values if math.isfinite(p[1])]
    if not points:
        return tag("div", f"{title}: not recorded", class_="chart empty")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    pad = (max(ys) - min(ys)) * 0.05
    frame = _Frame((min(xs), max(xs)), (min(ys) - pad, max(ys) + pad), title)
    parts = frame.axes()
    legend_x = LEFT + 4
    for n, (name, values) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        finite = [(x, y) for x, y in values if math.isfinite(y)]
        if not finite:
            continue
        path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in finite)
        parts.append(tag("polyline", points=path, fill="none", stroke=color, class_="series"))
        if len(finite) <= 40:
            for x, y in finite:
                parts.append(tag("circle", tag("title", f"{name} @ {_fmt(x)}: {_fmt(y)}"), cx=f"{frame.x(x):.1f}",
                                 cy=f"{frame.y(y):.1f}", r=2.5, fill=color))
        if len(series) > 1:
            parts.append(tag("text", name, x=legend_x, y=TOP + 10, style=f"fill:{color}", class_="legend"))
            legend_x += 7 * len(name) + 12
    return frame.svg(parts, title)


def histogram(values: Sequence[float], title: str, bins: int = 24, marker: float | None = None) -> Markup:
    """A histogram of `values`, with an optional vertical marker (α = 1: neither amplified nor damped)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return tag("div", f"{title}: no values", class_="chart empty")
    low, high = min(finite), max(finite)
    if marker is not None:
        low, high = min(low, marker), max(high, marker)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    width = (high - low) / bins
    counts = [0] * bins
    for v in finite:
        counts[min(bins - 1, int((v - low) / width))] += 1
    frame = _Frame((low, high), (0, max(counts)), title)
    parts = frame.axes()
    for i, count in enumerate(counts):
        if count:
            left, right = frame.x(low + i * width), frame.x(low + (i + 1) * width)
            parts.append(tag("rect", tag("title", f"[{_fmt(low + i * width)}, {_fmt(low + (i + 1) * width)}): "
                                                  f"{count}"),
                             x=f"{left:.1f}", y=f"{frame.y(count):.1f}", width=f"{max(0.5, right - left - 1):.1f}",
                             height=f"{frame.y(0) - frame.y(count):.1f}", class_="bar"))
    if marker is not None:
        x = frame.x(marker)
        parts.append(tag("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=TOP, y2=frame.height - BOTTOM, class_="marker"))
    return frame.svg(parts, esc(title))
