"""The report page: all figure data computed first (:func:`report_data`), then drawn into one
self-contained HTML file with plotly.js embedded, so it opens offline."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import optuna
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from codesign import __version__
from codesign._io import write_text_atomic
from codesign.report._breakdown import BreakdownInfo, breakdown_infos
from codesign.report._decision import decision_html, marked_points, study_recommendation, table_columns
from codesign.report._importance import ImportanceInfo, combined_importance, importance_infos
from codesign.report._labels import GROUPS, bare_name, group_of, metric_label
from codesign.report._parallel import ParallelCoordinatesInfo, parallel_coordinates_infos
from codesign.report._pareto import (
    HypervolumeInfo,
    ParetoFrontInfo,
    UnevaluatedKind,
    design_id,
    hypervolume_info,
    pareto_front_info,
)
from codesign.report._render import (
    breakdown_figure,
    hypervolume_figure,
    importance_figure,
    parallel_figure,
    pareto_figures,
)
from codesign.report._templates import render
from codesign.search import DesignPoint, StudyView, TrialView, measured_on_lines, split_named, study_view


@dataclass(frozen=True)
class ReportData:
    """Every figure's data for one study; :func:`render_report` draws it."""

    view: StudyView
    pareto: ParetoFrontInfo
    hypervolume: HypervolumeInfo
    parallel: tuple[ParallelCoordinatesInfo, ...]
    importances: tuple[ImportanceInfo, ...]
    breakdowns: tuple[BreakdownInfo, ...]
    #: HTML placed in the summary right after the study's counts: the decision the study
    #: supports (a recommendation's rationale, the accuracy floor); None: nothing there.
    decision: str | None = None

    @property
    def n_figures(self) -> int:
        """How many Plotly plots the page holds."""
        return (len(self.pareto.pairs) + (self.pareto.triple is not None) + 2 + len(self.parallel)
                + len(self.breakdowns))


def report_data(
    study: optuna.Study,
    artifact_dir: str | Path | None = None,
    reference_point: tuple[float, ...] | None = None,
) -> ReportData:
    """Compute every figure's data for ``study`` (no plotting): the recommended design (stored,
    else the policy's now) is marked on every scatter and explained in the summary."""
    view = study_view(study, artifact_dir)
    rec, stored = study_recommendation(view)
    pareto = dataclasses.replace(pareto_front_info(view), marked=marked_points(view, rec))
    importances = importance_infos(study, view)
    return ReportData(
        decision=decision_html(view, rec, stored) if view.objective_names else None,
        view=view,
        pareto=pareto,
        hypervolume=hypervolume_info(view, reference_point),
        parallel=parallel_coordinates_infos(view, combined_importance(importances)),
        importances=importances,
        breakdowns=breakdown_infos(view, pareto.front),
    )


def write_report(
    study: optuna.Study,
    out: str | Path,
    artifact_dir: str | Path | None = None,
    reference_point: tuple[float, ...] | None = None,
) -> ReportData:
    """Write the study's report page to ``out`` (atomically) and return the data drawn."""
    data = report_data(study, artifact_dir, reference_point)
    text = render_report(data)
    write_text_atomic(out, text)
    return data


@dataclass(frozen=True)
class _Member:
    """One front member's part of the page: its breakdown figure and the notes under it."""

    figure: Markup
    source: str | None  # the cost report it was read from, relative to the artifacts
    method: str | None  # how it was computed, when it was not read from a file
    check: str | None  # a warning about its figures


@dataclass(frozen=True)
class _Figures:
    """Every figure of the page as HTML, numbered ``fig-0``, ``fig-1``, … in page order."""

    pareto: tuple[Markup, ...]
    hypervolume: Markup
    parallel: tuple[Markup, ...]
    importance: Markup
    breakdowns: tuple[_Member, ...]


class _FigureHtml:
    """Plotly figures as page fragments, numbered in the order they are asked for."""

    def __init__(self) -> None:
        self._count = 0

    def __call__(self, fig: go.Figure) -> Markup:
        height = fig.layout.height or 450
        div: str = fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{self._count}",
            default_height=f"{height}px",
            config={"displaylogo": False, "responsive": True},
        )
        self._count += 1
        return Markup(div)


def _figures(data: ReportData) -> _Figures:
    """Draw every figure of ``data``, in the order the page shows them."""
    view, html_of = data.view, _FigureHtml()
    pareto = tuple(html_of(f) for f in pareto_figures(data.pareto))
    hypervolume = html_of(hypervolume_figure(data.hypervolume, view.objective_names))
    parallel = tuple(html_of(parallel_figure(info)) for info in data.parallel)
    importance = html_of(importance_figure(data.importances))
    return _Figures(pareto, hypervolume, parallel, importance,
                    tuple(_member(view, info, html_of) for info in data.breakdowns))


def _member(view: StudyView, info: BreakdownInfo, html_of: _FigureHtml) -> _Member:
    point = view.point((info.number, info.chip))
    objectives = ", ".join(f"{split_named(n)}={v:.4g}" for n, v in zip(view.objective_names, point.values, strict=True))
    return _Member(
        figure=html_of(breakdown_figure(info, point.label, objectives)),
        source=_shown_path(view, info.source) if info.source is not None else None,
        method=info.method if info.source is None and not info.empty else None,
        check=info.check,
    )


def render_report(data: ReportData) -> str:
    """The HTML page for ``data``: summary, Pareto plots, hypervolume, parameters, breakdowns
    (``templates/page.html.j2``)."""
    page = render(
        "page.html.j2",
        name=data.view.name,
        plotlyjs=Markup(get_plotlyjs()),
        summary=_summary(data),
        figures=_figures(data),
        marked=bool(data.pareto.marked),
        confirmed=data.pareto.confirmed is not None,
        designs=data.pareto.designs,
        version=__version__,
    )
    return page + "\n"


def _shown_path(view: StudyView, path: Path) -> str:
    """``path`` relative to the study's artifact directory: the page never names this machine's
    folders (it is shared, and the folders differ elsewhere)."""
    if view.artifact_dir is not None:
        try:
            return str(Path(path).relative_to(view.artifact_dir))
        except ValueError:
            pass
    return Path(path).name


@dataclass(frozen=True)
class _Figure:
    """A figure in the front table: the search's value, and the confirmed mean ± std."""

    shown: str
    spread: str | None = None


@dataclass(frozen=True)
class _Row:
    """One front member in the summary's table."""

    ident: str
    label: str
    marks: tuple[str, ...]
    figures: tuple[_Figure, ...]
    params: tuple[str, ...]  # per varying group: ``name=value · name=value``


@dataclass(frozen=True)
class _FrontTable:
    head: tuple[str, ...]
    rows: tuple[_Row, ...]
    confirmed: bool


@dataclass(frozen=True)
class _Reason:
    number: int
    reason: str


@dataclass(frozen=True)
class _Listed:
    """Failed, or pruned and stopped, trials with their reasons (the first 20)."""

    count: int
    what: str
    trials: tuple[_Reason, ...]


@dataclass(frozen=True)
class _Summary:
    """What the summary says, as text and numbers; ``templates/summary.html.j2`` lays it out."""

    trials: int
    states: tuple[str, ...]
    points: int
    infeasible: int
    front: int
    unevaluated: tuple[str, ...]
    objectives: tuple[str, ...]
    measured: tuple[str, ...]
    measured_varies: bool
    decision: Markup | None
    references: tuple[str, ...]
    load_dependent: int
    table: _FrontTable | None
    listed: tuple[_Listed, ...]


#: Trials with no objective values, by kind: what the summary says of them.
_UNEVALUATED: tuple[tuple[UnevaluatedKind, str], ...] = (
    ("pruned", "pruned before training (infeasible chip): no objective values"),
    ("stopped", "stopped early by successive halving: figures at a lower budget only"),
    ("failed", "failed: no objective values"),
)
#: Cost figures the front table shows when they are no objective: (BreakdownInfo field, heading).
_COST_COLUMNS = (("cycles", "cycles"), ("latency_ms", "latency (ms)"), ("area_mm2", "area (mm²)"))
#: Trials listed at the end of the summary, by state.
_LISTED = (("FAIL", "failed trials"), ("PRUNED", "trials pruned or stopped early"))


def _summary(data: ReportData) -> _Summary:
    view = data.view
    return _Summary(
        trials=len(view.trials),
        states=_state_counts(view),
        points=len(view.points),
        infeasible=sum(not p.feasible for p in view.points),
        front=len(data.pareto.front),
        unevaluated=_unevaluated_notes(data.pareto),
        objectives=_objective_words(view),
        measured=tuple(f"the {m}" for m in measured_on_lines(view.measured_on)),
        measured_varies=view.measured_on_varies,
        decision=Markup(data.decision) if data.decision else None,
        references=tuple(p.label for p in view.references),
        load_dependent=sum(t.record is not None and t.record.load_dependent for t in view.trials),
        table=_front_table(data) if data.pareto.front else None,
        listed=tuple(_listed(view, state, what) for state, what in _LISTED),
    )


def _state_counts(view: StudyView) -> tuple[str, ...]:
    """``8 complete``, ``1 fail``, …: trials by state, in the states' alphabetical order."""
    states = Counter(t.state for t in view.trials)
    return tuple(f"{n} {s.lower()}" for s, n in sorted(states.items()))


def _unevaluated_notes(pareto: ParetoFrontInfo) -> tuple[str, ...]:
    """``2 trials failed: no objective values``, … for each kind of unevaluated trial present."""
    kinds = {u.kind: len(u.numbers) for u in pareto.unevaluated}
    return tuple(f"{kinds[k]} trials {what}" for k, what in _UNEVALUATED if kinds.get(k, 0))


def _objective_words(view: StudyView) -> tuple[str, ...]:
    """``energy per inference (µJ) (min)``, … for each objective."""
    return tuple(f"{metric_label(n)} ({'min' if d == 'minimize' else 'max'})"
                 for n, d in zip(view.objective_names, view.directions, strict=True))


def _front_table(data: ReportData) -> _FrontTable:
    """The front members' table: the objectives (held-out-engine figures beside validation
    ones), the cost figures that are no objective, and the parameters that differ."""
    view = data.view
    extra = tuple(key for key, _ in _COST_COLUMNS if key not in view.objective_names)
    members = [view.point((info.number, info.chip)) for info in data.breakdowns]
    columns = table_columns(view, members)
    varying = {g: names for g in GROUPS if (names := _varying(members, g))}
    rows = tuple(_front_row(data.pareto, info, point, columns, extra, varying)
                 for info, point in zip(data.breakdowns, members, strict=True))
    return _FrontTable(_front_head(columns, extra, varying), rows, confirmed=data.pareto.confirmed is not None)


def _front_head(columns: list[str], extra: tuple[str, ...], varying: dict[str, list[str]]) -> tuple[str, ...]:
    """The table's headings after ``design``: metrics, cost figures, varying parameter groups."""
    units = dict(_COST_COLUMNS)
    return (*(metric_label(n) for n in columns), *(units[k] for k in extra),
            *(f"{GROUPS[g]} ({g}.*)" for g in varying))


def _front_row(pareto: ParetoFrontInfo, info: BreakdownInfo, point: DesignPoint, columns: list[str],
               extra: tuple[str, ...], varying: dict[str, list[str]]) -> _Row:
    """One front member: its id, label and marks, its figures, its varying parameters."""
    return _Row(
        ident=design_id(point.key),
        label=point.label,
        marks=tuple(m.label.split(":")[0] for m in pareto.marked if m.key == point.key),
        figures=(*(_front_figure(point, n) for n in columns), *(_Figure(_g4(getattr(info, k))) for k in extra)),
        params=tuple(" · ".join(f"{bare_name(k)}={_short(point.params.get(k))}" for k in names)
                     for names in varying.values()),
    )


def _varying(members: list[DesignPoint], group: str) -> list[str]:
    """The parameters of ``group`` whose value differs between ``members``, in first-seen order."""
    names = dict.fromkeys(k for p in members for k in p.params)
    return [k for k in names if group_of(k) == group and len({repr(p.params.get(k)) for p in members}) > 1]


def _front_figure(point: DesignPoint, name: str) -> _Figure:
    spread = point.confirmed.spread(name) if point.confirmed is not None else None
    return _Figure(_g4(point.objectives.get(name, point.metrics.get(name))),
                   f"{spread[0]:.4g} ± {spread[1]:.2g}" if spread else None)


def _g4(value: float | None) -> str:
    return f"{value:.4g}" if value is not None else "–"


def _listed(view: StudyView, state: str, what: str) -> _Listed:
    listed = [t for t in view.trials if t.state == state]
    return _Listed(len(listed), what, tuple(_Reason(t.number, _reason(t) or "no reason recorded") for t in listed[:20]))


def _short(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _reason(t: TrialView) -> str | None:
    if t.state == "PRUNED":
        return t.record.pruned if t.record is not None else None
    return t.error
