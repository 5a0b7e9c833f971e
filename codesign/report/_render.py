"""Drawing the report's figure data with Plotly. Holds no logic beyond layout and colour."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from codesign.report._breakdown import BreakdownInfo
from codesign.report._importance import ImportanceInfo
from codesign.report._parallel import ParallelCoordinatesInfo
from codesign.report._pareto import HypervolumeInfo, ParetoFrontInfo, ParetoPoints

_STYLE = {
    "front": {"name": "Pareto front (feasible)", "color": "#1f77b4", "symbol": "circle", "size": 10},
    "dominated": {"name": "dominated (feasible)", "color": "#9ecae1", "symbol": "circle", "size": 7},
    "infeasible": {"name": "infeasible", "color": "#d62728", "symbol": "x", "size": 7},
    "reference": {"name": "reference (e.g. ANN twin)", "color": "#000000", "symbol": "star", "size": 14},
}
_CATEGORY_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
)


def _axis_title(name: str, direction: str) -> str:
    arrow = "lower is better" if direction == "minimize" else "higher is better"
    return f"{name} ({arrow})"


def _legend_name(points: ParetoPoints) -> str:
    return str(_STYLE[points.kind]["name"])


def pareto_figures(info: ParetoFrontInfo) -> list[go.Figure]:
    """One 2-D scatter per objective pair, then a 3-D scatter when there are 3+ objectives."""
    figures = []
    for i, j in info.pairs:
        fig = go.Figure()
        for pts in info.points:
            style = _STYLE[pts.kind]
            fig.add_trace(
                go.Scatter(
                    x=pts.values[:, i],
                    y=pts.values[:, j],
                    mode="markers",
                    name=_legend_name(pts),
                    text=list(pts.hover),
                    hovertemplate="%{text}<extra></extra>",
                    marker={"color": style["color"], "symbol": style["symbol"], "size": style["size"]},
                )
            )
        fig.update_layout(
            title=f"Pareto front: {info.objective_names[i]} vs {info.objective_names[j]}",
            xaxis_title=_axis_title(info.objective_names[i], info.directions[i]),
            yaxis_title=_axis_title(info.objective_names[j], info.directions[j]),
            height=480,
        )
        figures.append(fig)
    if info.triple is not None:
        i, j, k = info.triple
        fig = go.Figure()
        for pts in info.points:
            style = _STYLE[pts.kind]
            symbol = {"x": "x", "star": "diamond"}.get(str(style["symbol"]), "circle")
            fig.add_trace(
                go.Scatter3d(
                    x=pts.values[:, i],
                    y=pts.values[:, j],
                    z=pts.values[:, k],
                    mode="markers",
                    name=_legend_name(pts),
                    text=list(pts.hover),
                    hovertemplate="%{text}<extra></extra>",
                    marker={"color": style["color"], "symbol": symbol, "size": int(style["size"]) // 2 + 2},
                )
            )
        names = info.objective_names
        fig.update_layout(
            title=f"Pareto front in 3-D: {names[i]}, {names[j]}, {names[k]}",
            scene={
                "xaxis_title": names[i],
                "yaxis_title": names[j],
                "zaxis_title": names[k],
            },
            height=600,
        )
        figures.append(fig)
    return figures


def hypervolume_figure(info: HypervolumeInfo, objective_names: tuple[str, ...]) -> go.Figure:
    fig = go.Figure()
    ref = ", ".join(f"{n}={v:.4g}" for n, v in zip(objective_names, info.reference_point, strict=False))
    if info.reason is None:
        fig.add_trace(
            go.Scatter(x=list(info.trial_numbers), y=list(info.values), mode="lines+markers", name="hypervolume")
        )
        title = f"Hypervolume of the feasible front<br><sup>reference point: {ref} — {info.reference_source}</sup>"
    else:
        fig.add_annotation(text=info.reason, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        title = "Hypervolume of the feasible front"
    fig.update_layout(title=title, xaxis_title="trial", yaxis_title="hypervolume", height=420)
    return fig


def parallel_figure(info: ParallelCoordinatesInfo) -> go.Figure:
    fig = go.Figure()
    if info.reason is not None:
        fig.add_annotation(text=info.reason, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.update_layout(title="Parallel coordinates", height=420)
        return fig
    dims = []
    for axis in info.axes:
        dim: dict[str, object] = {"label": f"log10 {axis.name}" if axis.log else axis.name, "values": list(axis.values)}
        if axis.tick_labels is not None:
            dim["tickvals"] = list(range(len(axis.tick_labels)))
            dim["ticktext"] = list(axis.tick_labels)
        dims.append(dim)
    names = list(info.colour_by)
    first = names[0]
    fig.add_trace(
        go.Parcoords(
            dimensions=dims,
            line={
                "color": list(info.colour_by[first]),
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": first}},
            },
        )
    )
    buttons = [
        {
            "label": f"colour by {name}",
            "method": "restyle",
            "args": [{"line.color": [list(info.colour_by[name])], "line.colorbar.title.text": name}],
        }
        for name in names
    ]
    fig.update_layout(
        title="Parameters of every finished trial",
        height=520,
        margin={"t": 120},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.25}],
    )
    return fig


def importance_figure(infos: tuple[ImportanceInfo, ...]) -> go.Figure:
    fig = make_subplots(rows=1, cols=max(1, len(infos)), subplot_titles=[i.objective for i in infos])
    for col, info in enumerate(infos, start=1):
        if info.reason is None:
            names = list(info.importances)[::-1]
            fig.add_trace(
                go.Bar(
                    x=[info.importances[n] for n in names],
                    y=names,
                    orientation="h",
                    name=info.objective,
                    showlegend=False,
                ),
                row=1,
                col=col,
            )
        else:
            fig.add_trace(go.Bar(x=[], y=[], showlegend=False), row=1, col=col)
            axis = "" if col == 1 else str(col)
            fig.add_annotation(
                text=info.reason.replace(": ", ":<br>"),
                showarrow=False,
                xref=f"x{axis} domain",
                yref=f"y{axis} domain",
                x=0.5,
                y=0.5,
            )
    evaluator = infos[0].evaluator if infos else ""
    fig.update_layout(title=f"Parameter importance per objective ({evaluator})", height=420)
    return fig


def breakdown_figure(info: BreakdownInfo, label: str, objectives: str) -> go.Figure:
    """Stacked energy per layer by category, and energy per category; costs in the title."""
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.7, 0.3],
        subplot_titles=["energy per layer (pJ)", "energy per category (pJ)"],
    )
    categories = list(info.categories) or list(info.energy_by_category_pj)
    colours = {c: _CATEGORY_COLOURS[k % len(_CATEGORY_COLOURS)] for k, c in enumerate(categories)}
    if info.energy_pj is not None:
        for c, cat in enumerate(info.categories):
            fig.add_trace(
                go.Bar(
                    x=list(info.layers),
                    y=info.energy_pj[:, c].tolist(),
                    name=cat,
                    marker_color=colours[cat],
                    legendgroup=cat,
                ),
                row=1,
                col=1,
            )
        fig.update_layout(barmode="stack")
    else:
        fig.add_trace(go.Bar(x=[], y=[], showlegend=False), row=1, col=1)
        fig.add_annotation(
            text=info.note or "no layer table", showarrow=False, xref="x domain", yref="y domain", x=0.5, y=0.5
        )
    fig.add_trace(
        go.Bar(
            x=list(info.energy_by_category_pj),
            y=list(info.energy_by_category_pj.values()),
            marker_color=[colours.get(c, "#7f7f7f") for c in info.energy_by_category_pj],
            showlegend=False,
            name="by category",
        ),
        row=1,
        col=2,
    )
    figures = [f"total {info.total_energy_pj / 1e6:.4g} µJ"]
    if info.cycles is not None:
        figures.append(f"{info.cycles:.4g} cycles")
    if info.latency_ms is not None:
        figures.append(f"{info.latency_ms:.4g} ms")
    if info.area_mm2 is not None:
        figures.append(f"{info.area_mm2:.4g} mm²")
    fig.update_layout(
        title=f"{label.capitalize()}: {objectives}<br><sup>{' · '.join(figures)}</sup>",
        height=440,
        margin={"t": 100},
    )
    return fig
