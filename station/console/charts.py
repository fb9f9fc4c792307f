"""Charts drawn on the server as SVG: bars, stacked bars and a line, axes and labels.

Text stays text (`<text>` elements, escaped), so Chinese is rendered by the browser's own
fonts and can be searched, copied and printed sharply. Colours come from CSS classes
(`series-0` …) in console.css: no inline style, which the Content-Security-Policy forbids.
The SVG has a viewBox and no fixed size, so it scales to a phone's width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 600, 230
LEFT, RIGHT, TOP, BOTTOM = 54, 24, 14, 30


@dataclass(frozen=True)
class Chart:
    """An SVG drawing with its title and legend, which the page shows as HTML text around
    it (so they wrap and stay legible on a phone)."""

    title: str
    svg: Markup
    legend: list[tuple[int, str]]  # (series number → CSS class series-N, name)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    kind: str = "bar"  # bar | line


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * exponent:
            return step * exponent
    return 10.0 * exponent


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
          stacked: bool = False, label_every: int = 1, marker: tuple[float, str] | None = None,
          empty_text: str = "—") -> Chart:
    """An SVG chart: `labels` along the x axis (every `label_every`-th shown), one group of
    bars per label (side by side, or `stacked`), line series drawn over them; `marker` is a
    vertical line at a fractional label index with its caption."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bars = [s for s in series if s.kind == "bar"]
    lines = [s for s in series if s.kind == "line"]
    count = max(len(labels), 1)
    if stacked:
        tallest = max((sum(s.values[i] for s in bars) for i in range(len(labels))), default=0)
    else:
        tallest = max((v for s in bars for v in s.values), default=0)
    tallest = max([tallest, *(v for s in lines for v in s.values)])
    top = _nice_max(tallest)
    slot = plot_w / count
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>"]

    def y_of(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    for step in range(5):  # grid lines and y labels
        value = top * step / 4
        y = y_of(value)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
                   f'y2="{y:.1f}"/>')
        out.append(f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{_fmt(value)}</text>')
    if tallest <= 0:
        out.append(f'<text class="chart-empty" x="{LEFT + plot_w / 2:.1f}" '
                   f'y="{TOP + plot_h / 2:.1f}" text-anchor="middle">{escape(empty_text)}</text>')
    for index, label in enumerate(labels):
        x0 = LEFT + index * slot
        if stacked:
            base = 0.0
            for number, s in enumerate(bars):
                value = s.values[index]
                if value > 0:
                    y1, y2 = y_of(base + value), y_of(base)
                    out.append(f'<rect class="series-{number}" x="{x0 + slot * 0.12:.1f}" '
                               f'y="{y1:.1f}" width="{slot * 0.76:.1f}" '
                               f'height="{max(y2 - y1, 0.5):.1f}"><title>{escape(label)} '
                               f'{escape(s.name)}: {_fmt(value)}</title></rect>')
                base += value
        else:
            width = slot * 0.8 / max(len(bars), 1)
            for number, s in enumerate(bars):
                value = s.values[index]
                if value > 0:
                    y = y_of(value)
                    out.append(f'<rect class="series-{number}" '
                               f'x="{x0 + slot * 0.1 + number * width:.1f}" y="{y:.1f}" '
                               f'width="{max(width, 0.8):.1f}" '
                               f'height="{max(TOP + plot_h - y, 0.5):.1f}"><title>'
                               f'{escape(label)} {escape(s.name)}: {_fmt(value)}</title></rect>')
        if index % label_every == 0:
            out.append(f'<text class="axis" x="{x0 + slot / 2:.1f}" y="{TOP + plot_h + 20}" '
                       f'text-anchor="middle">{escape(label)}</text>')
    for number, s in enumerate(lines, start=len(bars)):
        points = " ".join(f"{LEFT + (i + 0.5) * slot:.1f},{y_of(v):.1f}"
                          for i, v in enumerate(s.values))
        out.append(f'<polyline class="line series-{number}" points="{points}"/>')
    if marker is not None:
        position, caption = marker
        x = LEFT + position * slot
        out.append(f'<line class="marker" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" '
                   f'y2="{TOP + plot_h}"/>')
        out.append(f'<text class="marker-text" x="{x + 4:.1f}" y="{TOP + 14}">'
                   f"{escape(caption)}</text>")
    out.append(f'<line class="axis-line" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
               f'y2="{TOP + plot_h}"/>')
    out.append("</svg>")
    legend = [(number, s.name) for number, s in enumerate([*bars, *lines])]
    return Chart(title, Markup("".join(out)), legend)
