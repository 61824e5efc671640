"""Charts as SVG made on the server (no script, no library): a line chart of counts per day, one series per
key, and a grouped bar chart of counts per group and outcome. Every point and bar carries a ``<title>``
with its exact value, so the chart reads with a screen reader too; the markup is escaped."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape as _escape

#: Characters XML 1.0 does not allow at all (escaping cannot make them legal): dropped from chart text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text for SVG markup: XML-escaped, with characters XML cannot hold dropped."""
    return _escape(_NOT_XML.sub("", text))


#: Series colours (colour-blind safe, Okabe-Ito); keys beyond them cycle.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP, PAD_RIGHT = 720, 260, 48, 40, 16, 180


def timestamp(t: int | float | None) -> str:
    """``2026-12-02 00:47 UTC`` (``-`` for none)."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t)) if t else "-"


def day(t: int | float | None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t)) if t else "-"


@dataclass(frozen=True)
class Chart:
    svg: str
    points: int  # how many data points (line chart) or bars were drawn


def _scale(top: int) -> int:
    """A round axis maximum at or above ``top``."""
    if top <= 5:
        return max(top, 1)
    magnitude = 10 ** (len(str(top)) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= top:
            return step * magnitude
    return top


def _frame(title: str, top: int, body: list[str], legend: Sequence[tuple[str, str]]) -> str:
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{PAD_LEFT + plot_w}" y2="{PAD_TOP + plot_h}"'
        ' stroke="#555"/>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + plot_h}" stroke="#555"/>',
    ]
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = PAD_TOP + plot_h - plot_h * tick / top
        parts.append(f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>')
    parts += body
    for i, (name, colour) in enumerate(legend):
        y = PAD_TOP + 14 * i
        parts.append(
            f'<rect x="{WIDTH - PAD_RIGHT + 12}" y="{y}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{WIDTH - PAD_RIGHT + 26}" y="{y + 9}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, series: Mapping[str, Mapping[str, int]]) -> Chart:
    """Counts per day (``series[key][YYYY-MM-DD]``), one line and one ``circle.point`` per (key, day) with a
    count. Days with no count for a key are drawn at zero but are not points."""
    days = sorted({d for counts in series.values() for d in counts})
    keys = sorted(series)
    top = _scale(max((v for counts in series.values() for v in counts.values()), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return PAD_LEFT + (step * i if len(days) > 1 else plot_w / 2)

    def y(v: int) -> float:
        return PAD_TOP + plot_h - plot_h * v / top

    body: list[str] = []
    points = 0
    for i, d in enumerate(days):
        if len(days) <= 12 or i % max(len(days) // 8, 1) == 0:
            body.append(f'<text x="{x(i):.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle" font-size="10">'
                        f"{escape(d[5:])}</text>")  # fmt: skip
    legend = []
    for n, key in enumerate(keys):
        colour = PALETTE[n % len(PALETTE)]
        legend.append((key, colour))
        counts = series[key]
        coords = " ".join(f"{x(i):.1f},{y(counts.get(d, 0)):.1f}" for i, d in enumerate(days))
        body.append(f'<polyline class="series" data-key="{escape(key)}" fill="none" stroke="{colour}"'
                    f' stroke-width="2" points="{coords}"/>')  # fmt: skip
        for i, d in enumerate(days):
            if d in counts:
                points += 1
                body.append(
                    f'<circle class="point" data-key="{escape(key)}" data-day="{escape(d)}" data-value="{counts[d]}"'
                    f' cx="{x(i):.1f}" cy="{y(counts[d]):.1f}" r="3.5" fill="{colour}">'
                    f"<title>{escape(key)} {escape(d)}: {counts[d]}</title></circle>"
                )
    if not days:
        body.append(f'<text x="{PAD_LEFT + 12}" y="{PAD_TOP + 24}" font-size="12">no data yet</text>')
    return Chart(_frame(title, top, body, legend), points)


def bar_chart(title: str, groups: Mapping[str, Mapping[str, int]], outcomes: Sequence[str]) -> Chart:
    """Grouped bars: for each group (e.g. a category) one ``rect.bar`` per outcome with a count above zero."""
    names = sorted(groups)
    top = _scale(max((v for counts in groups.values() for v in counts.values()), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(names), 1)
    bar_w = max(slot * 0.8 / max(len(outcomes), 1), 2)
    colours = {o: PALETTE[n % len(PALETTE)] for n, o in enumerate(outcomes)}
    body: list[str] = []
    bars = 0
    for g, name in enumerate(names):
        left = PAD_LEFT + slot * g + slot * 0.1
        body.append(f'<text x="{PAD_LEFT + slot * (g + 0.5):.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle"'
                    f' font-size="10">{escape(name)}</text>')  # fmt: skip
        for o, outcome in enumerate(outcomes):
            value = groups[name].get(outcome, 0)
            if value <= 0:
                continue
            bars += 1
            h = max(plot_h * value / top, 1.0)  # a count above zero never disappears
            body.append(
                f'<rect class="bar" data-group="{escape(name)}" data-outcome="{escape(outcome)}" data-value="{value}"'
                f' x="{left + bar_w * o:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}"'
                f' fill="{colours[outcome]}"><title>{escape(name)} {escape(outcome)}: {value}</title></rect>'
            )
    if not names:
        body.append(f'<text x="{PAD_LEFT + 12}" y="{PAD_TOP + 24}" font-size="12">no data yet</text>')
    return Chart(_frame(title, top, body, list(colours.items())), bars)
