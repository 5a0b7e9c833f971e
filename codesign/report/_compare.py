"""Comparing stored studies: their fronts overlaid, hypervolume against CPU time, and the best
design of each (``codesign study compare A B [C...]``).

Every study is read through ``codesign.search.study_view`` and every figure uses the search's
own rules (:func:`codesign.search.pareto_front`, :func:`codesign.search.hypervolume`), with
one reference point for all the studies: :func:`codesign.search.hypervolume_reference` of
their pooled eligible design points (feasible, above the floor), so the hypervolumes are comparable. The x axis of the
hypervolume curve is the CPU seconds the trials took (``TrialRecord.cpu_time_s``, summed in
trial order), which does not depend on how busy the machine was. Nothing is re-evaluated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from codesign import __version__
from codesign._io import write_text_atomic
from codesign.config import ConfigError
from codesign.report._labels import metric_label
from codesign.report._pareto import LOG_OBJECTIVE_PREFIXES, design_id, precision_label
from codesign.report._templates import render
from codesign.search import (
    DesignPoint,
    StudyView,
    hypervolume,
    hypervolume_reference,
    minimisation_signs,
    pareto_front,
    pareto_mask,
    split_named,
    study_view,
)


@dataclass(frozen=True)
class BestDesign:
    """A study's best design in one objective (among its front's feasible points).

    Attributes:
        objective: the objective it is best in; id: its design id (``12.3``); label: its label.
        values: its objective values; precision: its chip precision (``w4s12``), or "".
        confirmed: objective -> (mean, std) over the confirmation seeds, when it was confirmed.
    """

    objective: str
    id: str
    label: str
    values: dict[str, float]
    precision: str
    confirmed: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class StudySummary:
    """One study of a comparison.

    Attributes:
        name: the study; strategy: its trial kind (``nested``, ``joint``) and scheduling.
        trials, complete, failed, pruned: trial counts; points: its design points.
        front: its Pareto front (feasible, non-dominated design points), best first.
        cpu_s: cumulative CPU seconds after each trial, in trial order (``TrialRecord.cpu_time_s``).
        hypervolume: the hypervolume of the eligible front after each trial (same order), against
            the comparison's common reference point.
        best: the best design per objective.
    """

    name: str
    strategy: str
    trials: int
    complete: int
    failed: int
    pruned: int
    points: int
    front: tuple[DesignPoint, ...]
    cpu_s: tuple[float, ...]
    hypervolume: tuple[float, ...]
    best: tuple[BestDesign, ...]

    @property
    def final_hypervolume(self) -> float:
        return self.hypervolume[-1] if self.hypervolume else 0.0

    @property
    def total_cpu_s(self) -> float:
        return self.cpu_s[-1] if self.cpu_s else 0.0


@dataclass(frozen=True)
class ComparisonData:
    """Several studies of the same objectives, side by side.

    Attributes:
        objective_names, directions: the shared objectives (Optuna's value order).
        reference_point: the common hypervolume reference, in objective units.
        studies: one :class:`StudySummary` per study, in the order given.
        views: the studies as read.
    """

    objective_names: tuple[str, ...]
    directions: tuple[str, ...]
    reference_point: tuple[float, ...]
    studies: tuple[StudySummary, ...]
    views: tuple[StudyView, ...]


def comparison_data(studies: list[optuna.Study] | list[StudyView]) -> ComparisonData:
    """Compare ``studies`` (at least two, with the same objectives and directions).

    Raises:
        ConfigError: fewer than two studies, or studies whose objectives differ.
    """
    views = [s if isinstance(s, StudyView) else study_view(s) for s in studies]
    _check_comparable(views)
    first = views[0]
    objectives = first.objectives
    signs = minimisation_signs(objectives)
    ref_loss = hypervolume_reference(np.array(_pooled_eligible(views)) * signs, objectives)
    summaries = tuple(_summary(v, ref_loss, signs) for v in views)
    return ComparisonData(first.objective_names, first.directions, tuple(float(x) for x in ref_loss * signs),
                          summaries, tuple(views))


def _pooled_eligible(views: list[StudyView]) -> list[tuple[float, ...]]:
    """The objective values of every study's eligible design points (at least one)."""
    pooled = [p.values for v in views for p in v.points if p.eligible]
    if not pooled:
        raise ConfigError(None, "NAME", "studies with at least one eligible design point (feasible, above the "
                          "accuracy floor, not degenerate)",
                          got=", ".join(v.name for v in views))
    return pooled


def _check_comparable(views: list[StudyView]) -> None:
    """At least two studies, all with the first one's objectives and directions."""
    if len(views) < 2:
        raise ConfigError(None, "NAME", "at least two studies to compare", got=len(views))
    first = views[0]
    for v in views[1:]:
        if v.objective_names != first.objective_names or v.directions != first.directions:
            raise ConfigError(None, "NAME", "studies with the same objectives and directions",
                              got=f"{first.name}: {_objectives(first)}; {v.name}: {_objectives(v)}")


def _objectives(view: StudyView) -> str:
    return ", ".join(f"{n} ({d})" for n, d in view.objectives.items())


def _summary(view: StudyView, ref_loss: np.ndarray, signs: np.ndarray) -> StudySummary:
    objectives = view.objectives
    by_trial: dict[int, list[DesignPoint]] = {}
    for p in view.points:
        by_trial.setdefault(p.trial, []).append(p)
    cpu, hv = [], []
    total = 0.0
    kept = np.empty((0, len(objectives)))
    for t in view.trials:
        if t.reference is not None or t.state not in ("COMPLETE", "FAIL", "PRUNED"):
            continue
        total += float(t.record.cpu_time_s) if t.record is not None else 0.0
        eligible = [p.values for p in by_trial.get(t.number, []) if p.eligible]
        if eligible:
            kept = np.vstack([kept, np.array(eligible) * signs])
            kept = kept[pareto_mask(kept)]
        cpu.append(total)
        hv.append(hypervolume(kept, ref_loss))
    front = tuple(pareto_front(view.points, objectives))
    best = []
    for name, direction in objectives.items():
        if not front:
            break
        ranked = sorted(front, key=lambda p: p.objectives[name])
        top = ranked[0] if direction == "min" else ranked[-1]
        confirmed: dict[str, tuple[float, float]] = {}
        for n in objectives:
            spread = top.confirmed.spread(n) if top.confirmed is not None else None
            if spread is not None:
                confirmed[n] = spread
        best.append(BestDesign(name, design_id(top.key), top.label, dict(top.objectives), precision_label(view, top),
                               confirmed))
    states = [t.state for t in view.trials if t.reference is None]
    spec = view.spec
    strategy = (spec.strategy if spec is not None else "?") + (" + MO-ASHA" if spec and spec.multi_fidelity else "")
    return StudySummary(view.name, strategy, len(states), states.count("COMPLETE"), states.count("FAIL"),
                        states.count("PRUNED"), len(view.points), front, tuple(cpu), tuple(hv), tuple(best))


def comparison_table(data: ComparisonData) -> str:
    """The comparison as plain text: one block per study (counts, CPU time, hypervolume
    against the common reference, and its best design per objective)."""
    ref = ", ".join(f"{n}={v:.4g}" for n, v in zip(data.objective_names, data.reference_point, strict=True))
    lines = [f"{len(data.studies)} studies; hypervolume against one reference for all ({ref}: the pooled eligible "
             "points' worst values, widened)", ""]
    head = f"{'study':<20} {'strategy':<22} {'trials':>7} {'failed':>7} {'points':>7} {'front':>6} {'CPU s':>9} {'hypervolume':>12}"
    lines += [head, "-" * len(head)]
    for s in data.studies:
        lines.append(f"{s.name[:20]:<20} {s.strategy[:22]:<22} {s.trials:>7} {s.failed:>7} {s.points:>7} "
                     f"{len(s.front):>6} {s.total_cpu_s:>9.1f} {s.final_hypervolume:>12.4g}")
    lines.append("")
    for s in data.studies:
        lines.append(f"{s.name}: best design per objective")
        for b in s.best:
            values = ", ".join(_figure(n, v, b.confirmed.get(n)) for n, v in b.values.items())
            lines.append(f"  best {split_named(b.objective)}: design {b.id} ({b.label}"
                         + (f", {b.precision}" if b.precision else "") + f"): {values}")
        if not s.best:
            lines.append("  no feasible design point")
    return "\n".join(lines)


def _figure(name: str, value: float, spread: tuple[float, float] | None) -> str:
    text = f"{split_named(name)} {value:.4g}"
    return text + (f" (confirmed {spread[0]:.4g} ± {spread[1]:.2g})" if spread else "")


#: One colour per study, in the order given.
_STUDY_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def comparison_figures(data: ComparisonData) -> list[object]:
    """The overlaid fronts (one 2-D scatter per objective pair, one colour per study, its front
    joined by a line), and hypervolume against cumulative CPU seconds."""
    figures: list[object] = [_overlaid_fronts(data, i, j)
                             for i, j in itertools.combinations(range(len(data.objective_names)), 2)]
    figures.append(_hypervolume_over_cpu(data))
    return figures


def _overlaid_fronts(data: ComparisonData, i: int, j: int) -> go.Figure:
    """Every study's front and dominated feasible points on objectives i (x) and j (y)."""
    names = data.objective_names
    fig = go.Figure()
    for k, (s, view) in enumerate(zip(data.studies, data.views, strict=True)):
        for trace in _study_traces(s, view, _STUDY_COLOURS[k % len(_STUDY_COLOURS)], i, j):
            fig.add_trace(trace)
    for axis, index in (("xaxis", i), ("yaxis", j)):
        fig.update_layout({axis: {"type": _axis_type(data, index), "title": metric_label(names[index])}})
    fig.update_layout(title=f"Fronts overlaid: {metric_label(names[i])} vs {metric_label(names[j])}",
                      height=520, legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0},
                      margin={"t": 130})
    return fig


def _study_traces(s: StudySummary, view: StudyView, colour: str, i: int, j: int) -> tuple[go.Scatter, go.Scatter]:
    """One study's dominated feasible points (faint, open) and its front (filled)."""
    return _dominated_trace(s, view, colour, i, j), _front_trace(s, colour, i, j)


def _dominated_trace(s: StudySummary, view: StudyView, colour: str, i: int, j: int) -> go.Scatter:
    on_front = {q.key for q in s.front}
    others = [p for p in view.points if p.feasible and p.key not in on_front]
    return go.Scatter(
        x=[p.values[i] for p in others], y=[p.values[j] for p in others], mode="markers",
        name=f"{s.name}: dominated ({len(others)})", legendgroup=s.name, opacity=0.35,
        marker={"color": colour, "size": 6, "symbol": "circle-open"},
        text=[f"{s.name} design {design_id(p.key)}" for p in others],
        hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>")


def _front_trace(s: StudySummary, colour: str, i: int, j: int) -> go.Scatter:
    front = sorted(s.front, key=lambda p: p.values[i])
    return go.Scatter(
        x=[p.values[i] for p in front], y=[p.values[j] for p in front], mode="markers",
        name=f"{s.name}: front ({len(front)})", legendgroup=s.name,
        marker={"color": colour, "size": 10, "line": {"width": 1, "color": "#222"}},
        text=[f"<b>{s.name}</b> design {design_id(p.key)}" for p in front],
        hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>")


def _axis_type(data: ComparisonData, index: int) -> str:
    """``log`` for an energy or latency objective all of whose values are positive."""
    values = [p.values[index] for v in data.views for p in v.points]
    log = data.objective_names[index].startswith(LOG_OBJECTIVE_PREFIXES) and bool(values) and min(values) > 0
    return "log" if log else "linear"


def _hypervolume_over_cpu(data: ComparisonData) -> go.Figure:
    """Each study's hypervolume against the CPU seconds its trials had used, one reference for all."""
    fig = go.Figure()
    for k, s in enumerate(data.studies):
        fig.add_trace(go.Scatter(x=list(s.cpu_s), y=list(s.hypervolume), mode="lines+markers", name=s.name,
                                 line={"color": _STUDY_COLOURS[k % len(_STUDY_COLOURS)], "shape": "hv"}))
    ref = ", ".join(f"{n}={v:.4g}" for n, v in zip(data.objective_names, data.reference_point, strict=True))
    fig.update_layout(title=f"Hypervolume against CPU time<br><sup>one reference for all studies: {ref}</sup>",
                      xaxis_title="CPU seconds of the trials so far (summed in trial order)",
                      yaxis_title="hypervolume of the eligible front", height=460)
    return fig


def write_comparison(studies: list[optuna.Study], out: str | Path) -> ComparisonData:
    """Write the comparison page of ``studies`` to ``out`` (self-contained HTML) and return its data."""
    data = comparison_data(studies)
    figures = []
    for n, fig in enumerate(comparison_figures(data)):
        assert isinstance(fig, go.Figure)
        figures.append(Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{n}",
                                          config={"displaylogo": False, "responsive": True})))
    text = render("compare.html.j2", names=[s.name for s in data.studies], table=comparison_table(data),
                  figures=figures, plotlyjs=Markup(get_plotlyjs()), version=__version__) + "\n"
    write_text_atomic(out, text)
    return data
