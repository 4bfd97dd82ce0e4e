"""Small server-side SVG charts for the admin dashboard: no JavaScript, no external assets.

Values are escaped into the markup; the result is safe to mark safe in a template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 200
MARGIN_LEFT = 56
MARGIN_RIGHT = 12
MARGIN_TOP = 16
MARGIN_BOTTOM = 28
COLORS = ("#2f6fb0", "#d9822b", "#3c9a5f", "#b03a2e")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude: float = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _format(value: float, unit: str) -> str:
    if unit == "$":
        return f"${value:,.2f}" if value >= 1 else f"${value:.4g}"
    if unit == "%":
        return f"{value:.0f}%"
    return f"{value:,.0f}{unit}" if value >= 10 else f"{value:.2g}{unit}"


def _frame(title: str, y_max: float, unit: str, labels: Sequence[str]) -> list[str]:
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="10">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = MARGIN_TOP + plot_height * (1 - fraction)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y:.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 4}" y="{y + 3:.1f}" text-anchor="end" fill="#555">'
            f"{escape(_format(y_max * fraction, unit))}</text>"
        )
    if labels:
        step = max(1, len(labels) // 6)
        slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / len(labels)
        for index in range(0, len(labels), step):
            x = MARGIN_LEFT + slot * (index + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="#555">'
                f"{escape(labels[index])}</text>"
            )
    return parts


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "") -> str:
    """One bar per label; each bar's exact value is its tooltip."""
    y_max = _nice_max(max(values, default=0.0))
    parts = _frame(title, y_max, unit, labels)
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(values), 1)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot_height * (value / y_max)
        x = MARGIN_LEFT + slot * index + slot * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{MARGIN_TOP + plot_height - height:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{COLORS[0]}">'
            f"<title>{escape(label)}: {escape(_format(value, unit))}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = ""
) -> str:
    """One polyline per series; gaps (None) break the line; a legend names the series."""
    present = [v for s in series for v in s.values if v is not None]
    y_max = _nice_max(max(present, default=0.0))
    parts = _frame(title, y_max, unit, labels)
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(labels), 1)
    for number, line in enumerate(series):
        color = COLORS[number % len(COLORS)]
        runs: list[list[str]] = [[]]
        for index, value in enumerate(line.values):
            if value is None:
                runs.append([])
                continue
            x = MARGIN_LEFT + slot * (index + 0.5)
            y = MARGIN_TOP + plot_height * (1 - value / y_max)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{color}">'
                f"<title>{escape(line.name)} {escape(labels[index])}: "
                f"{escape(_format(value, unit))}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
                    'stroke-width="1.5"/>'
                )
        legend_x = MARGIN_LEFT + 8 + number * 90
        parts.append(
            f'<rect x="{legend_x}" y="2" width="10" height="8" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="10" fill="#333">{escape(line.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
