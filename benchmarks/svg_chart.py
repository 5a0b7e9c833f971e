"""A line chart as a standalone SVG document, for plots in docs/benchmarks.md.

The benchmarks run where matplotlib is not installed and Plotly cannot write static images
(no kaleido), and a plot in the docs must be readable on GitHub without JavaScript. So a
benchmark that has curves to show writes them through :func:`line_chart`: step curves (a
hypervolume reached by a CPU budget holds until the next improvement), linear axes with
rounded ticks, a legend, and a dashed vertical marker for a budget of interest.
"""

from __future__ import annotations

import itertools
import math
from html import escape

#: Colour-blind-safe palette (Okabe and Ito), one colour per series in order.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
WIDTH, HEIGHT = 720, 420
MARGIN = {"left": 70, "right": 190, "top": 40, "bottom": 55}


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """About ``count`` round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2e}"


def line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, x_label: str, y_label: str,
               marker_x: float | None = None, marker_label: str = "") -> str:
    """An SVG document plotting each series of (x, y) points as a step curve.

    Args:
        series: name -> points sorted by x; empty series are left out of the plot and legend.
        title, x_label, y_label: the chart's texts (escaped).
        marker_x: where to draw a dashed vertical line (e.g. the common budget), or None.
        marker_label: the text beside that line.
    """
    drawn = {name: pts for name, pts in series.items() if pts}
    if not drawn:
        raise ValueError("line_chart: no series with points")
    xs = [x for pts in drawn.values() for x, _ in pts] + ([marker_x] if marker_x is not None else [])
    ys = [y for pts in drawn.values() for _, y in pts]
    x_ticks = nice_ticks(0.0, max(xs))
    y_ticks = nice_ticks(min(0.0, min(ys)), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w = WIDTH - MARGIN["left"] - MARGIN["right"]
    plot_h = HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def px(x: float) -> float:
        return MARGIN["left"] + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return MARGIN["top"] + plot_h - (y - y0) / (y1 - y0) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2:.1f}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>']
    for t in x_ticks:
        out.append(f'<line x1="{px(t):.1f}" y1="{MARGIN["top"]}" x2="{px(t):.1f}" y2="{MARGIN["top"] + plot_h}" '
                   'stroke="#e5e5e5"/>')
        out.append(f'<text x="{px(t):.1f}" y="{MARGIN["top"] + plot_h + 16}" text-anchor="middle">{_label(t)}</text>')
    for t in y_ticks:
        out.append(f'<line x1="{MARGIN["left"]}" y1="{py(t):.1f}" x2="{MARGIN["left"] + plot_w}" y2="{py(t):.1f}" '
                   'stroke="#e5e5e5"/>')
        out.append(f'<text x="{MARGIN["left"] - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_label(t)}</text>')
    out.append(f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{plot_w}" height="{plot_h}" '
               'fill="none" stroke="#333"/>')
    out.append(f'<text x="{MARGIN["left"] + plot_w / 2:.1f}" y="{HEIGHT - 14}" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    out.append(f'<text transform="translate(18 {MARGIN["top"] + plot_h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    if marker_x is not None:
        out.append(f'<line x1="{px(marker_x):.1f}" y1="{MARGIN["top"]}" x2="{px(marker_x):.1f}" '
                   f'y2="{MARGIN["top"] + plot_h}" stroke="#666" stroke-dasharray="5 4"/>')
        out.append(f'<text x="{px(marker_x) + 4:.1f}" y="{MARGIN["top"] + 14}" fill="#444">{escape(marker_label)}</text>')
    for i, (name, pts) in enumerate(drawn.items()):
        colour = PALETTE[i % len(PALETTE)]
        path = [f"M{px(pts[0][0]):.1f},{py(pts[0][1]):.1f}"]
        for (_, y_prev), (x, y) in itertools.pairwise(pts):
            path.append(f"H{px(x):.1f}V{py(y):.1f}" if y != y_prev else f"H{px(x):.1f}")
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        ly = MARGIN["top"] + 10 + 20 * i
        lx = MARGIN["left"] + plot_w + 14
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{lx + 28}" y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
