"""Inline SVG line charts for the HTML report: no scripts, no external resources."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")


def nice_ticks(high: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `high`."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    raw = high / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = [0.0]
    while ticks[-1] < high - 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


def fmt_num(v: float) -> str:
    """A compact axis label: 0, 2.5, 40, 1.2k, 3M."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


def line_chart(x: Sequence[float], series: Mapping[str, Sequence[float | None]], *, title: str, unit: str,
               x_unit: str = "s", width: int = 560, height: int = 220, area: bool = False) -> str:
    """An SVG line chart: one polyline per series (gaps where a value is None), axes, grid and legend."""
    left, right, top, bottom = 52, 12, 30, 44
    pw, ph = width - left - right, height - top - bottom
    values = [v for s in series.values() for v in s if v is not None]
    ticks = nice_ticks(max(values, default=0.0))
    y_max = ticks[-1] or 1.0
    x0, x1 = (x[0], x[-1]) if x else (0.0, 1.0)
    span = (x1 - x0) or 1.0

    def px(v: float) -> float:
        return left + (v - x0) / span * pw

    def py(v: float) -> float:
        return top + ph - v / y_max * ph

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="{left}" y="18" class="chart-title">{escape(title)}</text>']
    for tv in ticks:
        y = py(tv)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{fmt_num(tv)}</text>')
    for xv in nice_ticks(x1 - x0, 5):
        if xv > span + 1e-9:
            break
        xp = px(x0 + xv)
        out.append(f'<line x1="{xp:.1f}" y1="{top + ph}" x2="{xp:.1f}" y2="{top + ph + 4}" class="axis"/>')
        out.append(f'<text x="{xp:.1f}" y="{top + ph + 16}" class="tick" text-anchor="middle">'
                   f'{fmt_num(x0 + xv)}{x_unit}</text>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>')
    out.append(f'<text x="12" y="{top + ph / 2:.1f}" class="unit" transform="rotate(-90 12 {top + ph / 2:.1f})" '
               f'text-anchor="middle">{escape(unit)}</text>')
    legend_x = left
    for i, (name, ys) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for xv, yv in zip(x, ys, strict=False):
            if yv is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((px(xv), py(yv)))
        for run in runs:
            if not run:
                continue
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in run)
            if area and len(run) > 1:
                base = top + ph
                out.append(f'<polygon points="{run[0][0]:.1f},{base} {pts} {run[-1][0]:.1f},{base}" '
                           f'fill="{color}" fill-opacity="0.12" stroke="none"/>')
            if len(run) == 1:
                out.append(f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2" fill="{color}"/>')
            else:
                out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.8" '
                           f'stroke-linejoin="round"/>')
        ly = height - 10
        out.append(f'<rect x="{legend_x}" y="{ly - 8}" width="10" height="10" rx="2" fill="{color}"/>')
        out.append(f'<text x="{legend_x + 14}" y="{ly + 1}" class="legend">{escape(name)}</text>')
        legend_x += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)
