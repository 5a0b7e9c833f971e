"""Drawing the report's figure data with Plotly. Holds no logic beyond layout and colour.

Layout rules that keep the page readable: legends lie horizontally above the plot area (never
clipped at the right edge), axis titles name the physical quantity and its unit
(:mod:`codesign.report._labels`), parallel-coordinate labels are at most two short lines and a
panel holds at most :data:`MAX_PARAM_AXES` parameter axes (a menu pages through the rest), and
importances share one labelled axis so no label can spill into a neighbouring panel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypedDict

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from codesign.report._breakdown import BreakdownInfo, SeedCost
from codesign.report._importance import ImportanceInfo
from codesign.report._labels import GROUPS, metric_label, param_label, short_metric_label
from codesign.report._parallel import Axis, ParallelCoordinatesInfo
from codesign.report._pareto import (
    ConfirmedSpread,
    HypervolumeInfo,
    ParetoFrontInfo,
    ParetoPoints,
    Unevaluated,
    coincident_front,
)


class _Marker(TypedDict):
    """How one kind of point is drawn: legend name, colour, Plotly marker symbol and size (px)."""

    name: str
    color: str
    symbol: str
    size: int


_STYLE: dict[str, _Marker] = {
    "front": {"name": "Pareto front (feasible)", "color": "#1f77b4", "symbol": "circle", "size": 10},
    "dominated": {"name": "dominated (feasible)", "color": "#9ecae1", "symbol": "circle", "size": 7},
    "below_floor": {"name": "below the accuracy floor or degenerate (off the front)", "color": "#bbbbbb",
                    "symbol": "circle-open", "size": 7},
    "infeasible": {"name": "infeasible (violates a constraint)", "color": "#d62728", "symbol": "x", "size": 7},
    "reference": {"name": "reference (e.g. ANN twin)", "color": "#000000", "symbol": "star", "size": 14},
    "pruned": {"name": "pruned before training (infeasible chip)", "color": "#7f7f7f", "symbol": "x-thin-open",
               "size": 9},
    "stopped": {"name": "stopped early by successive halving (lower budget)", "color": "#8c564b",
                "symbol": "circle-open", "size": 8},
    "failed": {"name": "failed", "color": "#444444", "symbol": "triangle-down-open", "size": 9},
    "confirmed": {"name": "confirmed: mean ± std over seeds", "color": "#2ca02c", "symbol": "diamond-open",
                  "size": 12},
}
_CATEGORY_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
)
#: Parameter axes in one parallel-coordinates view; more are paged with a menu.
MAX_PARAM_AXES = 9
_LEGEND_ABOVE = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0}


def _axis_title(name: str, direction: str) -> str:
    better = "lower is better" if direction == "minimize" else "higher is better"
    return f"{metric_label(name)}, {better}"


def _legend_name(points: ParetoPoints) -> str:
    return f"{_STYLE[points.kind]['name']} ({len(points.keys)})"


#: Colours of chip precisions (weight x state bits), in order of increasing bits; green is
#: left for confirmed points and red for violations.
_PRECISION_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f",
                      "#393b79", "#637939")
#: Marker symbols of networks (a trial's network), cycled; each has an ``-open`` form.
_NETWORK_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "pentagon", "hexagon",
                    "star", "hourglass", "bowtie", "triangle-left", "triangle-right", "hexagram", "star-square",
                    "octagon", "star-diamond")


def _precision_order(label: str) -> tuple[int, int, str]:
    if label.startswith("w") and "s" in label:
        w, _, st = label[1:].partition("s")
        if w.isdigit() and st.isdigit():
            return (int(w), int(st), label)
    return (99, 99, label)


def precision_colours(info: ParetoFrontInfo) -> dict[str, str]:
    """Chip precision label -> colour, fewest bits first."""
    labels = sorted({p for pts in info.points for p in pts.precisions}, key=_precision_order)
    return {label: _PRECISION_COLOURS[k % len(_PRECISION_COLOURS)] for k, label in enumerate(labels)}


def network_symbols(info: ParetoFrontInfo) -> dict[int, str]:
    """Trial (network) number -> marker symbol, in trial order."""
    numbers = sorted({n for pts in info.points for n in pts.numbers})
    return {n: _NETWORK_SYMBOLS[k % len(_NETWORK_SYMBOLS)] for k, n in enumerate(numbers)}


def _design_traces(info: ParetoFrontInfo, i: int, j: int) -> list[go.Scatter]:
    """The design points of one scatter: coloured by chip precision, shaped by network; front
    points filled and outlined, dominated ones open, those below the accuracy floor (or
    degenerate) open and faded, infeasible ones faded crosses, reference points black stars. One legend entry per precision (its front points); the others share
    its legend group, so a click on the legend shows or hides a whole precision."""
    colours, symbols = precision_colours(info), network_symbols(info)
    front_counts = _front_counts(info)
    traces: list[go.Scatter] = []
    shown: set[str] = set()
    for pts in info.points:
        precisions = pts.precisions or ("",) * len(pts.keys)
        for label in sorted(set(precisions), key=_precision_order):
            rows = [r for r, p in enumerate(precisions) if p == label]
            colour = colours.get(label, "#7f7f7f")
            if pts.kind != "reference" and label not in shown:  # the legend entry: a plain dot in the precision's colour
                shown.add(label)
                traces.append(go.Scatter(
                    x=[None], y=[None], mode="markers", legendgroup=f"precision {label}", showlegend=True,
                    name=f"{label or 'precision unknown'}: {front_counts.get(label, 0)} on the front",
                    marker={"color": colour, "symbol": "circle", "size": 11}, hoverinfo="skip"))
            traces.append(_points_trace(pts, rows, label, _design_marker(pts, rows, colour, symbols), i, j))
    return traces


def _front_counts(info: ParetoFrontInfo) -> dict[str, int]:
    """Chip precision label -> how many front points have it."""
    counts: dict[str, int] = {}
    for pts in info.points:
        if pts.kind == "front":
            for label in pts.precisions:
                counts[label] = counts.get(label, 0) + 1
    return counts


def _design_marker(pts: ParetoPoints, rows: list[int], colour: str, symbols: dict[int, str]) -> dict[str, object]:
    """The marker of ``rows`` of ``pts`` by their kind: reference stars, front filled and
    outlined, dominated open, below the floor open and faded, infeasible faded crosses."""
    if pts.kind == "reference":
        return {"color": "#000000", "symbol": "star", "size": 14}
    base = [symbols.get(pts.keys[r][0], "circle") for r in rows]
    if pts.kind == "front":
        return {"color": colour, "symbol": base, "size": 12, "line": {"width": 1.5, "color": "#222"}}
    if pts.kind == "dominated":
        return {"color": colour, "symbol": [b + "-open" for b in base], "size": 8,
                "line": {"width": 1.5}, "opacity": 0.75}
    if pts.kind == "below_floor":
        return {"color": colour, "symbol": [b + "-open" for b in base], "size": 7,
                "line": {"width": 1}, "opacity": 0.3}
    return {"color": colour, "symbol": "x-thin-open", "size": 8, "line": {"width": 2, "color": colour},
            "opacity": 0.45}


def _points_trace(pts: ParetoPoints, rows: list[int], label: str, marker: dict[str, object], i: int,
                  j: int) -> go.Scatter:
    """``rows`` of ``pts`` (one precision of one kind) in the scatter of objectives i and j;
    reference points have their own legend entry, the others their precision's group."""
    reference = pts.kind == "reference"
    return go.Scatter(
        x=pts.values[rows, i], y=pts.values[rows, j], mode="markers",
        name=f"{_STYLE['reference']['name']} ({len(rows)})" if reference else label,
        legendgroup="reference" if reference else f"precision {label}",
        showlegend=reference, marker=marker,
        text=[pts.hover[r] for r in rows], hovertemplate="%{text}<extra></extra>",
        customdata=[pts.ids[r] for r in rows] if pts.ids else None,
    )


def _marked_traces(info: ParetoFrontInfo, i: int, j: int, three_d: bool = False, k: int = 0) -> list[go.BaseTraceType]:
    """The marked design points (:class:`MarkedPoint`), drawn over their ordinary marks."""
    traces: list[go.BaseTraceType] = []
    for mark in info.marked:
        found = next(((pts, pts.keys.index(mark.key)) for pts in info.points if mark.key in pts.keys), None)
        if found is None:
            continue
        pts, row = found
        ident = [pts.ids[row]] if pts.ids else None
        if three_d:
            traces.append(go.Scatter3d(
                x=[pts.values[row, i]], y=[pts.values[row, j]], z=[pts.values[row, k]], mode="markers",
                name=mark.label, text=[mark.hover], hovertemplate="%{text}<extra></extra>", customdata=ident,
                marker={"color": mark.color, "symbol": "diamond-open", "size": mark.size // 2 + 2}))
        else:
            traces.append(go.Scatter(
                x=[pts.values[row, i]], y=[pts.values[row, j]], mode="markers", name=mark.label,
                text=[mark.hover], hovertemplate="%{text}<extra></extra>", customdata=ident,
                marker={"color": mark.color, "symbol": mark.symbol, "size": mark.size, "line": {"width": 2.5}}))
    return traces


def _floor_line(fig: go.Figure, info: ParetoFrontInfo, i: int, cell: dict[str, int]) -> None:
    """The accuracy floor as a dashed line across the scatter, on the axis of the objective it
    bounds (x when that objective is ``i``, else y), labelled with the floor."""
    assert info.floor is not None
    style = {"line_dash": "dash", "line_color": "#a33", "line_width": 1.5,
             "annotation_text": f"floor: {info.floor.label}", "annotation_font_color": "#a33",
             "annotation_font_size": 11}
    if info.floor.index == i:
        fig.add_vline(x=info.floor.value, annotation_position="top right", **style, **cell)
    else:
        fig.add_hline(y=info.floor.value, annotation_position="bottom right", **style, **cell)


def _coincident_trace(info: ParetoFrontInfo, groups: list[tuple[int, ...]], i: int, j: int) -> go.Scatter:
    """A ``×n`` label beside each group of front points drawn on top of each other, its hover
    naming every design of the group with the objectives this view does not show."""
    front = next(p for p in info.points if p.kind == "front")
    hover = [_coincident_hover(info, front, group, (i, j)) for group in groups]
    return go.Scatter(
        x=[front.values[g[0], i] for g in groups], y=[front.values[g[0], j] for g in groups], mode="text",
        text=[f"×{len(g)}" for g in groups], textposition="top right", textfont={"size": 12, "color": "#222"},
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", showlegend=False, name="coincident",
        customdata=[front.ids[g[0]] for g in groups] if front.ids else None)


def _coincident_hover(info: ParetoFrontInfo, front: ParetoPoints, group: tuple[int, ...], shown: tuple[int, int]) -> str:
    """The hover of one ``×n`` label: up to six of the group's designs, each with the
    objectives this view does not show (those not in ``shown``)."""
    others = [k for k in range(len(info.objective_names)) if k not in shown]
    lines = [f"<b>{len(group)} front designs here</b>"]
    for r in group[:6]:
        rest = ", ".join(f"{info.objective_names[k]} = {front.values[r, k]:.4g}" for k in others)
        lines.append(f"design {front.ids[r] if front.ids else front.keys[r]}" + (f": {rest}" if rest else ""))
    if len(group) > 6:
        lines.append(f"… and {len(group) - 6} more")
    return "<br>".join(lines)


def _log_ticks(info: ParetoFrontInfo, k: int) -> dict[str, object]:
    """Ticks of a log axis at 1, 2 and 5 times the powers of ten the drawn values span, printed
    in full (plotly's own log ticks print every digit of a decade as a small superscript)."""
    if not info.is_log(k):
        return {}
    values = np.concatenate([p.values[:, k] for p in info.points] or [np.zeros(0)])
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return {}
    ticks = _ticks_125(float(values.min()), float(values.max()))
    return {"tickmode": "array", "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


def _ticks_125(lo: float, hi: float) -> list[float]:
    """1, 2 and 5 times the powers of ten from ``lo`` to ``hi``, within a factor 2.5 of them."""
    low, high = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks = [m * 10.0 ** e for e in range(low, high + 1) for m in (1, 2, 5)]
    return [t for t in ticks if lo / 2.5 <= t <= hi * 2.5]


def _axis_menu(info: ParetoFrontInfo, i: int, j: int, strip: bool) -> list[dict[str, object]]:
    """A toggle between log and linear axes for the objectives that are log by default."""
    x_log, y_log = info.is_log(i), info.is_log(j)
    if not (x_log or y_log):
        return []

    def layout(kind: str) -> dict[str, str]:
        out = {}
        mode = "array" if kind == "log" else "auto"  # 1-2-5 ticks on log axes, plotly's on linear ones
        if x_log:
            out.update({"xaxis.type": kind, "xaxis.tickmode": mode})
            if strip:
                out.update({"xaxis2.type": kind, "xaxis2.tickmode": mode})
        if y_log:
            out.update({"yaxis.type": kind, "yaxis.tickmode": mode})
        return out

    which = " and ".join(w for w, on in (("x", x_log), ("y", y_log)) if on)
    return [{
        "type": "buttons", "direction": "right", "showactive": True, "active": 0,
        "x": 1.0, "xanchor": "right", "y": 1.0, "yanchor": "bottom", "pad": {"b": 4},
        "buttons": [
            {"label": f"log {which}", "method": "relayout", "args": [layout("log")]},
            {"label": "linear axes", "method": "relayout", "args": [layout("linear")]},
        ],
    }]


def pareto_figures(info: ParetoFrontInfo) -> list[go.Figure]:
    """One 2-D scatter per objective pair, then a 3-D scatter when there are 3+ objectives.

    Points are coloured by chip precision and shaped by network (:func:`_design_traces`);
    energies and latencies are on log axes, with a button to switch to linear. Each point
    carries its design id (``customdata``) so that a click opens the full design. Pruned and
    failed trials have no objective values; each 2-D scatter shows them in a strip under the
    plot (at their measured x value where the record has one), hover giving the reason.
    """
    figures = [_pair_figure(info, i, j) for i, j in info.pairs]
    if info.triple is not None:
        figures.append(_triple_figure(info, *info.triple))
    return figures


def _placed(group: Unevaluated, i: int, j: int) -> np.ndarray:
    """Which of ``group``'s trials have both figures of the pair (i, j) (stopped trials do)."""
    placed: np.ndarray = np.isfinite(group.known[:, i]) & np.isfinite(group.known[:, j])
    return placed


def _needs_strip(info: ParetoFrontInfo, i: int, j: int) -> bool:
    """Whether the pair's scatter has trials it cannot place: pruned, failed, or stopped ones
    without both figures."""
    return any(g.kind != "stopped" or not _placed(g, i, j).all() for g in info.unevaluated)


def _pair_figure(info: ParetoFrontInfo, i: int, j: int) -> go.Figure:
    """The 2-D scatter of objectives i (x) and j (y), with the strip of unplaced trials under it."""
    strip = _needs_strip(info, i, j)
    if strip:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.85, 0.15], vertical_spacing=0.04)
    else:
        fig = go.Figure()
    cell = {"row": 1, "col": 1} if strip else {}
    groups = coincident_front(info, i, j)
    for trace in _pair_traces(info, i, j, groups):
        fig.add_trace(trace, **cell)
    if strip:
        _unevaluated_strip(fig, info, i, j)
    floor = info.floor is not None and info.floor.index in (i, j)
    if floor:
        _floor_line(fig, info, i, cell)
    fig.update_layout(
        title={"text": f"Pareto front: {metric_label(info.objective_names[i])} vs "
                       f"{metric_label(info.objective_names[j])}<br><sup>{_pair_key(info, i, j, groups, floor)}</sup>",
               "y": 0.98, "yanchor": "top"},
        height=600 if strip else 540,
        legend=_LEGEND_ABOVE,
        margin={"t": 150},
        updatemenus=_axis_menu(info, i, j, strip),
        clickmode="event",
    )
    fig.update_yaxes(title_text=_axis_title(info.objective_names[j], info.directions[j]),
                     type=_axis_type(info, j), **_log_ticks(info, j), **cell)
    fig.update_xaxes(title_text=_axis_title(info.objective_names[i], info.directions[i]),
                     **({"row": 2, "col": 1} if strip else {}))
    fig.update_xaxes(type=_axis_type(info, i), **_log_ticks(info, i))
    return fig


def _axis_type(info: ParetoFrontInfo, k: int) -> str:
    return "log" if info.is_log(k) else "linear"


def _pair_traces(info: ParetoFrontInfo, i: int, j: int, groups: list[tuple[int, ...]]) -> list[go.BaseTraceType]:
    """The scatter's traces, bottom to top: designs, confirmed points, stopped trials, the
    marked designs, the labels of coincident front designs."""
    traces: list[go.BaseTraceType] = [*_design_traces(info, i, j)]
    if info.confirmed is not None:
        traces.append(_confirmed_trace(info.confirmed, i, j))
    traces += [_stopped_trace(g, i, j) for g in info.unevaluated if g.kind == "stopped" and _placed(g, i, j).any()]
    traces += _marked_traces(info, i, j)
    if groups:
        traces.append(_coincident_trace(info, groups, i, j))
    return traces


def _confirmed_trace(c: ConfirmedSpread, i: int, j: int) -> go.Scatter:
    """Confirmed points: mean with ± std error bars on both axes."""
    style = _STYLE["confirmed"]
    return go.Scatter(
        x=c.mean[:, i], y=c.mean[:, j], mode="markers",
        name=f"{style['name']} ({len(c.keys)})",
        text=list(c.hover), hovertemplate="%{text}<extra></extra>",
        error_x={"type": "data", "array": c.std[:, i].tolist(), "visible": True, "color": style["color"]},
        error_y={"type": "data", "array": c.std[:, j].tolist(), "visible": True, "color": style["color"]},
        marker={"color": style["color"], "symbol": style["symbol"], "size": style["size"]},
    )


def _stopped_trace(group: Unevaluated, i: int, j: int) -> go.Scatter:
    """Trials stopped by successive halving, at their lower-budget figures (those placed)."""
    both = _placed(group, i, j)
    style = _STYLE["stopped"]
    return go.Scatter(
        x=group.known[both, i], y=group.known[both, j], mode="markers",
        name=f"{style['name']} ({int(both.sum())})",
        text=[h for h, b in zip(group.hover, both, strict=True) if b],
        hovertemplate="%{text}<extra></extra>",
        marker={"color": style["color"], "symbol": style["symbol"], "size": style["size"]},
    )


def _pair_key(info: ParetoFrontInfo, i: int, j: int, groups: list[tuple[int, ...]], floor: bool) -> str:
    """The scatter's subtitle: what colour, shape and fill mean, the floor, coincident designs."""
    key = ("colour: chip precision (weight/state bits) · shape: network (trial) · filled, outlined: "
           "Pareto front · open: dominated · faint ×: infeasible") + _floor_key(info, floor)
    if groups:
        hidden = sum(len(g) for g in groups)
        others = ", ".join(n for k, n in enumerate(info.objective_names) if k not in (i, j))
        key += (f"<br>×n: {hidden} front designs lie on top of another in this view (they differ in "
                f"{others or 'nothing shown'}); hover the label for their ids")
    return key


def _floor_key(info: ParetoFrontInfo, floor: bool) -> str:
    """The subtitle's line on the accuracy floor: dashed where drawn, else what faded means."""
    if floor and info.floor is not None:
        return f"<br>dashed: the accuracy floor ({info.floor.label}); faded: below it or degenerate, off the front"
    if any(p.kind == "below_floor" for p in info.points):
        return "<br>faded: below the accuracy floor or degenerate, off the front"
    return ""


def _triple_figure(info: ParetoFrontInfo, i: int, j: int, k: int) -> go.Figure:
    """The 3-D scatter of objectives i, j and k."""
    fig = go.Figure()
    colours = precision_colours(info)
    for pts in info.points:
        fig.add_trace(_triple_trace(pts, colours, i, j, k))
    for trace in _marked_traces(info, i, j, three_d=True, k=k):
        fig.add_trace(trace)
    names = info.objective_names
    fig.update_layout(
        title={"text": "Pareto front in 3-D: " + ", ".join(metric_label(names[n]) for n in (i, j, k)),
               "y": 0.98, "yanchor": "top"},
        scene={f"{axis}axis": {"title": short_metric_label(names[n]).replace("<br>", " "), "type": _axis_type(info, n)}
               for axis, n in zip("xyz", (i, j, k), strict=True)},
        legend=_LEGEND_ABOVE,
        margin={"t": 110},
        height=640,
    )
    return fig


def _triple_trace(pts: ParetoPoints, colours: dict[str, str], i: int, j: int, k: int) -> go.Scatter3d:
    """One kind of point in the 3-D scatter, coloured by chip precision."""
    style = _STYLE[pts.kind]
    symbol = {"x": "x", "star": "diamond"}.get(str(style["symbol"]), "circle" if pts.kind == "front"
                                               else "circle-open")
    colour: object = style["color"]
    if pts.precisions and pts.kind != "reference":
        colour = [colours.get(p, "#7f7f7f") for p in pts.precisions]
    return go.Scatter3d(
        x=pts.values[:, i],
        y=pts.values[:, j],
        z=pts.values[:, k],
        mode="markers",
        name=_legend_name(pts),
        text=list(pts.hover),
        hovertemplate="%{text}<extra></extra>",
        customdata=list(pts.ids) if pts.ids else None,
        marker={"color": colour, "symbol": symbol, "size": int(style["size"]) // 2 + 2,
                "opacity": {"infeasible": 0.45, "below_floor": 0.3}.get(pts.kind, 1.0)},
    )


def _unevaluated_strip(fig: go.Figure, info: ParetoFrontInfo, i: int, j: int) -> None:
    """Pruned / failed trials in the strip under a scatter (and stopped ones the scatter could
    not place): x where measured, else spread in trial order."""
    lo, hi = _strip_range(info, i)
    rows: list[str] = []
    for group in info.unevaluated:
        unplaced = _unplaced(group, i, j)
        if unplaced is None:
            continue
        row = _unevaluated_row(unplaced)
        rows.append(row)
        fig.add_trace(_strip_trace(info, unplaced, row, i, lo, hi), row=2, col=1)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=rows, showgrid=False,
                     title_text="", row=2, col=1)


def _strip_range(info: ParetoFrontInfo, i: int) -> tuple[float, float]:
    """The x range the drawn points span on objective ``i`` (never empty)."""
    drawn = [p.values[:, i] for p in info.points if len(p.values)]
    values = np.concatenate(drawn) if drawn else np.zeros(0)
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5 * (abs(lo) or 1.0), hi + 0.5 * (abs(hi) or 1.0)
    return lo, hi


def _unplaced(group: Unevaluated, i: int, j: int) -> Unevaluated | None:
    """The trials of ``group`` the scatter of (i, j) cannot place: all of a pruned or failed
    group, the stopped ones missing a figure (None when there is none)."""
    if group.kind != "stopped":
        return group
    placed = _placed(group, i, j)
    if placed.all():
        return None
    return Unevaluated(group.kind, tuple(n for n, p in zip(group.numbers, placed, strict=True) if not p),
                       group.known[~placed], tuple(h for h, p in zip(group.hover, placed, strict=True) if not p))


def _strip_trace(info: ParetoFrontInfo, group: Unevaluated, row: str, i: int, lo: float, hi: float) -> go.Scatter:
    """One kind of unplaced trial in the strip: at its measured x, else spread over [lo, hi]
    in trial order (geometrically on a log axis)."""
    known = group.known[:, i]
    fraction = (np.arange(len(known)) + 0.5) / len(known)
    if info.is_log(i) and lo > 0:
        spread = lo * (hi / lo) ** fraction
    else:
        spread = lo + fraction * (hi - lo)
    x = np.where(np.isfinite(known), known, spread)
    measured = np.isfinite(known)
    hover = [h + ("" if m else f"<br>(no {info.objective_names[i]}: drawn in trial order)")
             for h, m in zip(group.hover, measured, strict=True)]
    style = _STYLE[group.kind]
    return go.Scatter(
        x=x.tolist(), y=[row] * len(x), mode="markers",
        name=f"{style['name']} ({len(group.numbers)})",
        text=hover, hovertemplate="%{text}<extra></extra>",
        marker={"color": style["color"], "symbol": style["symbol"], "size": style["size"],
                "line": {"width": 2, "color": style["color"]}},
    )


def _unevaluated_row(group: Unevaluated) -> str:
    return {"pruned": "not trained", "stopped": "stopped"}.get(group.kind, "failed")


def hypervolume_figure(info: HypervolumeInfo, objective_names: tuple[str, ...]) -> go.Figure:
    fig = go.Figure()
    ref = ", ".join(f"{n}={v:.4g}" for n, v in zip(objective_names, info.reference_point, strict=False))
    if info.reason is None:
        fig.add_trace(
            go.Scatter(x=list(info.trial_numbers), y=list(info.values), mode="lines+markers", name="hypervolume")
        )
        title = f"Hypervolume of the eligible front (feasible, above the accuracy floor)<br><sup>reference point: {ref} — {info.reference_source}</sup>"
    else:
        fig.add_annotation(text=info.reason, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        title = "Hypervolume of the eligible front (feasible, above the accuracy floor)"
    fig.update_layout(title=title, xaxis_title="trial number",
                      yaxis_title="hypervolume (product of the objectives' units)", height=420)
    return fig


def _dimension(axis_name: str, values: tuple[float, ...], ticks: tuple[str, ...] | None, log: bool,
               objective: bool) -> dict[str, object]:
    label = short_metric_label(axis_name) if objective else param_label(axis_name, log)
    dim: dict[str, object] = {"label": label, "values": list(values)}
    if ticks is not None:
        dim["tickvals"] = list(range(len(ticks)))
        dim["ticktext"] = list(ticks)
    return dim


def parallel_figure(info: ParallelCoordinatesInfo) -> go.Figure:
    """One parallel-coordinates panel: a group's parameters (paged), then the objectives."""
    title = _parallel_title(info)
    fig = go.Figure()
    notes = _parallel_notes(info)
    if info.reason is not None:
        fig.add_annotation(text=info.reason, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.update_layout(title=title, height=300)
        _add_notes(fig, notes)
        return fig
    params = [a for a in info.axes if not a.objective]
    objectives = [_dimension(a.name, a.values, a.tick_labels, a.log, True) for a in info.axes if a.objective]
    pages = [params[k : k + MAX_PARAM_AXES] for k in range(0, len(params), MAX_PARAM_AXES)] or [[]]

    def dims(page: list[Axis]) -> list[dict[str, object]]:
        return [_dimension(a.name, a.values, a.tick_labels, a.log, False) for a in page] + objectives

    names = list(info.colour_by)
    first = names[0]
    height, top, bottom = 560, 200, 40 + 18 * len(notes)
    # menus in the title's band, right of it: above the axis labels (paper y > 1 is the margin)
    menu_y = 1 + (top - 70) / (height - top - bottom)
    fig.add_trace(
        go.Parcoords(
            dimensions=dims(pages[0]),
            labelangle=0,
            labelside="top",
            labelfont={"size": 12},
            tickfont={"size": 10},
            # the min/max figures plotly prints above and below each axis collide with two-line
            # labels; the ticks already show the range
            rangefont={"size": 1, "color": "rgba(0,0,0,0)"},
            line={
                "color": list(info.colour_by[first]),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": short_metric_label(first)}},
            },
        )
    )
    menus = [_colour_menu(info, menu_y)]
    if len(pages) > 1:
        menus.append(_page_menu(info, pages, dims, menu_y))
    fig.update_layout(
        title={"text": f"{title}<br><sup>{_parallel_subtitle(info, len(params), len(pages))}</sup>",
               "x": 0.02, "xanchor": "left", "y": 0.965, "yanchor": "top"},
        height=height,
        margin={"t": top, "l": 70, "r": 90, "b": bottom},
        updatemenus=menus,
    )
    _add_notes(fig, notes)
    return fig


def _parallel_title(info: ParallelCoordinatesInfo) -> str:
    heading = GROUPS.get(info.group, "")
    if heading:
        return f"{heading.capitalize()} parameters ({info.group}.*) of every finished design"
    return "Parameters of every finished design"


def _colour_menu(info: ParallelCoordinatesInfo, menu_y: float) -> dict[str, object]:
    """The 'colour by' menu: one entry per objective (and node)."""
    return {
        "buttons": [
            {
                "label": f"colour by {name}",
                "method": "restyle",
                "args": [{"line.color": [list(info.colour_by[name])],
                          "line.colorbar.title.text": short_metric_label(name)}],
            }
            for name in info.colour_by
        ],
        "direction": "down", "x": 1.0, "xanchor": "right", "y": menu_y, "yanchor": "top",
    }


def _page_menu(info: ParallelCoordinatesInfo, pages: list[list[Axis]],
               dims: Callable[[list[Axis]], list[dict[str, object]]], menu_y: float) -> dict[str, object]:
    """The 'parameters' menu: one entry per page of :data:`MAX_PARAM_AXES` parameter axes
    (``dims``: a page's dimensions, the objectives' after its parameters')."""
    return {
        "buttons": [
            {
                "label": f"parameters {k * MAX_PARAM_AXES + 1}–{k * MAX_PARAM_AXES + len(page)}"
                + (" (most important)" if k == 0 and info.by_importance else ""),
                "method": "restyle",
                "args": [{"dimensions": [dims(page)]}],
            }
            for k, page in enumerate(pages)
        ],
        "direction": "down", "x": 0.72, "xanchor": "right", "y": menu_y, "yanchor": "top",
    }


def _parallel_subtitle(info: ParallelCoordinatesInfo, n_params: int, n_pages: int) -> str:
    """How the axes are ordered and paged."""
    order = "most important first, " if info.by_importance else ("in the search space's order, " if info.group else "")
    paged = f", {MAX_PARAM_AXES} at a time" if n_pages > 1 else ""
    return f"{order}{n_params} parameters that differ between designs{paged}; then the objectives"


def _parallel_notes(info: ParallelCoordinatesInfo) -> list[str]:
    notes = []
    if info.constant:
        items = ", ".join(f"{param_label(k).replace('<br>', ' ')}={v}" for k, v in info.constant.items())
        notes.append(f"same on every design: {items}")
    if info.conditional:
        notes.append("not set on every design (conditional), not drawn: "
                     + ", ".join(param_label(k).replace("<br>", " ") for k in info.conditional))
    return notes


def _add_notes(fig: go.Figure, notes: list[str]) -> None:
    for n, note in enumerate(notes):
        fig.add_annotation(text=note, showarrow=False, xref="paper", yref="paper", x=0.0, xanchor="left",
                           y=0.0, yanchor="top", yshift=-22 - 18 * n, font={"size": 11, "color": "#555"})


def importance_figure(infos: tuple[ImportanceInfo, ...]) -> go.Figure:
    """Importances of every objective as grouped bars on one parameter axis."""
    fig = go.Figure()
    shown = [i for i in infos if i.reason is None]
    evaluator = infos[0].evaluator if infos else ""
    n_trials = infos[0].n_trials if infos else 0
    if not shown:
        return _no_importance(fig, infos, evaluator)
    order = _importance_order(shown)
    for k, info in enumerate(shown):
        fig.add_trace(
            go.Bar(
                x=[info.importances.get(n, 0.0) for n in order],
                y=order,
                orientation="h",
                name=metric_label(info.objective),
                marker_color=_CATEGORY_COLOURS[k % len(_CATEGORY_COLOURS)],
            )
        )
    caveat = shown[0].caveat
    subtitle = f"from {n_trials} finished trials" + (f" — {caveat.split(': ', 1)[1]}" if caveat else "")
    fig.update_layout(
        title={"text": f"Parameter importance per objective ({evaluator})<br><sup>{subtitle}</sup>"},
        barmode="group",
        height=max(360, 150 + 26 * len(order)),
        legend=_LEGEND_ABOVE,
        margin={"t": 130},
        xaxis_title="importance (normalised; sums to 1 per objective)",
    )
    fig.update_yaxes(automargin=True)
    return fig


def _no_importance(fig: go.Figure, infos: tuple[ImportanceInfo, ...], evaluator: str) -> go.Figure:
    """The importance panel when none could be computed: why, in its middle."""
    reason = infos[0].reason if infos else "no objectives"
    fig.add_annotation(text=str(reason), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font={"size": 14})
    fig.update_layout(title=f"Parameter importance per objective ({evaluator})", height=240,
                      xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="white")
    return fig


def _importance_order(shown: list[ImportanceInfo]) -> list[str]:
    """Parameters by their largest importance over the objectives, least important first (at
    the bottom of the axis)."""
    best: dict[str, float] = {}
    for info in shown:
        for name, value in info.importances.items():
            best[name] = max(best.get(name, 0.0), value)
    return sorted(best, key=lambda n: best[n])


def _wrap(parts: list[str], width: int = 110) -> list[str]:
    """Parts joined by `` · `` into lines of at most about ``width`` characters."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines


def breakdown_figure(info: BreakdownInfo, label: str, objectives: str) -> go.Figure:
    """Stacked energy per layer by category, and energy per category; costs in the title."""
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.7, 0.3],
        horizontal_spacing=0.12,
        subplot_titles=["energy per layer and category (pJ per inference)", "energy per category (pJ)"],
    )
    categories = list(info.categories) or list(info.energy_by_category_pj)
    colours = {c: _CATEGORY_COLOURS[k % len(_CATEGORY_COLOURS)] for k, c in enumerate(categories)}
    _layer_bars(fig, info, colours)
    _category_bars(fig, info, colours)
    read = [s for s in info.seeds if s.energy_by_category_pj]
    for k, seed in enumerate(read):
        fig.add_trace(_seed_marks(seed, first=k == 0), row=1, col=2)
    figures = _wrap([*_cost_figures(info), *_seed_figures(info, read)])
    fig.update_layout(
        title={"text": f"{label.capitalize()}: {objectives}<br><sup>{'<br>'.join(figures)}</sup>"},
        height=540 + 18 * (len(figures) - 1),
        legend={**_LEGEND_ABOVE, "y": 1.1},
        margin={"t": 160 + 18 * (len(figures) - 1)},
    )
    fig.update_yaxes(title_text="pJ per inference", row=1, col=1)
    fig.update_xaxes(automargin=True, tickangle=-45)
    return fig


def _layer_bars(fig: go.Figure, info: BreakdownInfo, colours: dict[str, str]) -> None:
    """The left panel: energy per layer stacked by category, or a note when there is no table."""
    if info.energy_by_layer_category_pj is None:
        fig.add_trace(go.Bar(x=[], y=[], showlegend=False), row=1, col=1)
        fig.add_annotation(
            text=info.note or "no layer table", showarrow=False, xref="x domain", yref="y domain", x=0.5, y=0.5
        )
        return
    for c, cat in enumerate(info.categories):
        fig.add_trace(
            go.Bar(
                x=list(info.layers),
                y=info.energy_by_layer_category_pj[:, c].tolist(),
                name=cat.replace("_", " "),
                marker_color=colours[cat],
                legendgroup=cat,
            ),
            row=1,
            col=1,
        )
    fig.update_layout(barmode="stack")


def _category_bars(fig: go.Figure, info: BreakdownInfo, colours: dict[str, str]) -> None:
    """The right panel: energy per category of this design (empty without figures)."""
    if not info.energy_by_category_pj:
        fig.add_trace(go.Bar(x=[], y=[], showlegend=False), row=1, col=2)
        return
    fig.add_trace(
        go.Bar(
            x=[c.replace("_", " ") for c in info.energy_by_category_pj],
            y=list(info.energy_by_category_pj.values()),
            marker_color=[colours.get(c, "#7f7f7f") for c in info.energy_by_category_pj],
            showlegend=False,
            name="this design",
        ),
        row=1,
        col=2,
    )


def _seed_marks(seed: SeedCost, first: bool) -> go.Scatter:
    """One confirmation run's energy per category, as marks over the design's bars."""
    return go.Scatter(
        x=[c.replace("_", " ") for c in seed.energy_by_category_pj],
        y=list(seed.energy_by_category_pj.values()),
        mode="markers",
        marker={"symbol": "diamond-open", "size": 9, "color": "#2ca02c"},
        name="confirmation runs (one mark per seed)",
        legendgroup="seeds",
        showlegend=first,
        text=[f"seed {seed.seed}"] * len(seed.energy_by_category_pj),
        hovertemplate="%{text}: %{y:.4g} pJ<extra></extra>",
    )


def _cost_figures(info: BreakdownInfo) -> list[str]:
    """The subtitle's figures: total energy (or why there is none), cycles, latency, area."""
    if info.empty:
        figures = [f"no energy figures: {info.note or 'no cost report'}"]
    else:
        figures = [f"total {info.total_energy_pj / 1e6:.4g} µJ per inference"]
    if info.cycles is not None and math.isfinite(info.cycles):
        figures.append(f"{info.cycles:.4g} cycles")
    if info.latency_ms is not None:
        figures.append(f"{info.latency_ms:.4g} ms")
    if info.area_mm2 is not None:
        figures.append(f"{info.area_mm2:.4g} mm²")
    return figures


def _seed_figures(info: BreakdownInfo, read: list[SeedCost]) -> list[str]:
    """The confirmation runs' totals, and the runs whose cost report could not be read."""
    figures = []
    if read:
        figures.append("confirmation runs: " + ", ".join(f"seed {x.seed} {x.total_energy_pj / 1e6:.4g} µJ" for x in read))
    missing = [x for x in info.seeds if not x.energy_by_category_pj]
    if missing:
        figures.append("confirmation cost reports " + "; ".join(f"seed {x.seed} {x.note}" for x in missing))
    return figures
