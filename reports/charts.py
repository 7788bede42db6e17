"""Charts as inline SVG, rendered on the server: no JavaScript, no fonts, no CDN.

Pure functions from (label, value) points to SVG markup. Every piece of text that goes
into the markup is escaped here, so the result can be marked safe: labels are alarm
titles and integration names, which anyone who can post an alarm controls.

Sizes are in viewBox units; the SVG scales to its container (CSS sets ``width: 100%``),
so one chart serves a 375 px phone and a desktop. Colours come from CSS classes
(``static/css/reports.css``); text uses the page's font.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Point = tuple[str, float | None]
ValueText = Callable[[float], str]
NOT_AVAILABLE = "n/a"
_CSS_CLASS = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Series:
    """One set of bars: its legend name, its CSS class (its colour) and its points.

    Series drawn together share their labels, in the same order."""

    name: str
    css_class: str
    points: Sequence[Point]


def number_text(value: float) -> str:
    """1234 -> "1,234"; 2.5 -> "2.5"."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _n(value: float) -> str:
    """A coordinate: short, and never in exponent notation."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _css_class(name: str) -> str:
    if not _CSS_CLASS.fullmatch(name):
        raise ValueError(f"not a CSS class name: {name!r}")
    return name


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _labels_of(series: Sequence[Series]) -> list[str]:
    if not series:
        raise ValueError("a chart needs at least one series")
    labels = [label for label, _ in series[0].points]
    for other in series[1:]:
        if [label for label, _ in other.points] != labels:
            raise ValueError("series drawn together must share their labels")
    return labels


def _largest(series: Sequence[Series]) -> float:
    values = [v for s in series for _, v in s.points if v is not None and v > 0]
    return max(values, default=0.0)


def _open(*, width: float, height: float, title: str, description: str, kind: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-label="{escape(title)}" '
        f'font-size="12">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
    ]


def _legend(series: Sequence[Series], *, x: float, y: float) -> list[str]:
    if len(series) < 2:
        return []
    parts = ['<g class="chart-legend">']
    for s in series:
        parts.append(
            f'<rect class="{_css_class(s.css_class)}" x="{_n(x)}" y="{_n(y)}" '
            f'width="10" height="10" rx="2"/>'
            f'<text x="{_n(x + 14)}" y="{_n(y + 9)}">{escape(s.name)}</text>'
        )
        x += 14 + 11 * len(s.name) + 16  # room for the larger text phones get
    parts.append("</g>")
    return parts


def _hover_text(label: str, series: Sequence[Series], index: int, value_text: ValueText) -> str:
    values = []
    for s in series:
        value = s.points[index][1]
        values.append(f"{s.name} {NOT_AVAILABLE if value is None else value_text(value)}")
    return f"{label}: {', '.join(values)}"


def bar_chart(
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    value_text: ValueText = number_text,
    width: float = 360,
    label_width: float = 112,
    value_width: float = 76,
) -> SafeString:
    """Horizontal bars, one group per label, one bar per series, each with its value
    written at its end (in ``value_width`` units). A value of None draws no bar and says
    "n/a". Labels longer than ``label_width`` allows are shortened; the tooltip over the
    row has them whole."""
    labels = _labels_of(series)
    label_chars = int((label_width - 6) / 6.8)  # 12-unit text: about 6.8 units a character
    bar, inner_gap, row_gap = 12.0, 2.0, 12.0
    plot_width = width - label_width - value_width
    top = 24.0 if len(series) > 1 else 4.0
    row_height = len(series) * bar + (len(series) - 1) * inner_gap + row_gap
    height = top + max(len(labels), 1) * row_height
    largest = _largest(series)

    parts = _open(width=width, height=height, title=title, description=description, kind="bars")
    parts += _legend(series, x=label_width, y=4)
    for index, label in enumerate(labels):
        y = top + index * row_height
        block = len(series) * bar + (len(series) - 1) * inner_gap
        parts.append('<g class="chart-row">')
        parts.append(
            f'<text class="chart-label" x="0" y="{_n(y + block / 2 + 4)}">'
            f"{escape(_shorten(label, label_chars))}</text>"
        )
        for position, s in enumerate(series):
            value = s.points[index][1]
            bar_y = y + position * (bar + inner_gap)
            text_y = _n(bar_y + bar - 2)
            if value is None:
                parts.append(
                    f'<text class="chart-na" x="{_n(label_width + 4)}" y="{text_y}">'
                    f"{NOT_AVAILABLE}</text>"
                )
                continue
            length = plot_width * value / largest if largest and value > 0 else 0.0
            if value > 0:
                length = max(length, 1.0)  # a tiny value stays visible
                parts.append(
                    f'<rect class="{_css_class(s.css_class)}" x="{_n(label_width)}" '
                    f'y="{_n(bar_y)}" width="{_n(length)}" height="{_n(bar)}" rx="2"/>'
                )
            parts.append(
                f'<text class="chart-value" x="{_n(label_width + length + 4)}" '
                f'y="{text_y}">{escape(value_text(value))}</text>'
            )
        # A transparent band over the row carries the tooltip with the full label.
        parts.append(
            f'<rect class="chart-hit" fill="transparent" x="0" y="{_n(y - row_gap / 2)}" '
            f'width="{_n(width)}" height="{_n(row_height)}">'
            f"<title>{escape(_hover_text(label, series, index, value_text))}</title></rect>"
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above went through escape()


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def column_chart(
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    value_text: ValueText = number_text,
    width: float = 600,
    height: float = 220,
    max_axis_labels: int = 7,
) -> SafeString:
    """Vertical columns, one slot per label (e.g. per day), zero values included.

    Series are drawn over one another in order, each narrower than the one before: put
    the series with the larger values first (alarms before the incidents they opened)."""
    labels = _labels_of(series)
    ceiling = _nice_ceiling(_largest(series))
    # Room for the widest axis number, at the larger text phones get (reports.css).
    left = 14.0 + 11 * len(value_text(ceiling))
    right, top, bottom = 16.0, 28.0 if len(series) > 1 else 8.0, 26.0
    plot_width, plot_height = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    slot = plot_width / count

    parts = _open(width=width, height=height, title=title, description=description, kind="columns")
    parts += _legend(series, x=left, y=4)
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_height * (1 - fraction)
        parts.append(
            f'<line class="chart-grid" x1="{_n(left)}" x2="{_n(width - right)}" '
            f'y1="{_n(y)}" y2="{_n(y)}"/>'
            f'<text class="chart-axis" x="{_n(left - 4)}" y="{_n(y + 4)}" text-anchor="end">'
            f"{escape(value_text(ceiling * fraction))}</text>"
        )
    every = max(1, math.ceil(len(labels) / max_axis_labels))
    for index, label in enumerate(labels):
        x = left + index * slot
        parts.append('<g class="chart-slot">')
        for position, s in enumerate(series):
            value = s.points[index][1]
            if value is None or value <= 0:
                continue
            column = slot * max(0.85 - 0.3 * position, 0.25)
            column_height = max(plot_height * value / ceiling, 1.0)
            parts.append(
                f'<rect class="{_css_class(s.css_class)}" x="{_n(x + (slot - column) / 2)}" '
                f'y="{_n(top + plot_height - column_height)}" width="{_n(column)}" '
                f'height="{_n(column_height)}"/>'
            )
        if index % every == 0:
            parts.append(
                f'<text class="chart-axis" x="{_n(x + slot / 2)}" y="{_n(height - 6)}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
        parts.append(
            f'<rect class="chart-hit" fill="transparent" x="{_n(x)}" y="{_n(top)}" '
            f'width="{_n(slot)}" height="{_n(plot_height)}">'
            f"<title>{escape(_hover_text(label, series, index, value_text))}</title></rect>"
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above went through escape()
