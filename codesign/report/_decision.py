"""The study's decision on the report page: the recommended design marked on every scatter,
and the paragraph that says why.

Reads the recommendation the study stored (:func:`codesign.search.recommendation_of`, written
by ``study run`` and ``study confirm``), or, for a study that stored none, the one the policy
gives now on the stored figures (as ``codesign study status`` does, and says so); never
chooses a design itself (the policy is :mod:`codesign.search._recommend`'s). Everything
interpolated into the page's HTML is escaped by its template (``templates/decision.html.j2``,
autoescaped), and into Plotly's hovers passed through :func:`~codesign.report._pareto.plot_text`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from codesign.report._labels import metric_label
from codesign.report._pareto import MarkedPoint, plot_text
from codesign.report._templates import render
from codesign.search import (
    KNEE,
    DesignPoint,
    Recommendation,
    StudyView,
    is_heldout_engine_split,
    measured_on_lines,
    no_recommendation_reason,
    parse_point_id,
    recommend,
    recommendation_of,
)

#: Metrics shown beside the objectives in the decision's table when they are no objective.
_COST_METRICS = ("energy_uj", "latency_ms", "area_mm2")
#: Task metrics shown beside the objectives when they are no objective: the validation figure
#: the search selected on, then the same on the engines never heard in training (and, for
#: keywords, how often an unknown word spoken by them is answered ``unknown``).
TASK_COLUMNS = ("accuracy", "heldout_engine_accuracy", "heldout_engine_unknown_recall",
                "wer", "heldout_engine_wer")


#: The held-out-engine figures shown right after their validation figure.
_BESIDE = {"accuracy": ("heldout_engine_accuracy", "heldout_engine_unknown_recall"), "wer": ("heldout_engine_wer",)}


def table_columns(view: StudyView, points: Iterable[DesignPoint | None]) -> list[str]:
    """The objectives of ``view`` with the :data:`TASK_COLUMNS` one of ``points`` measured (in
    its metrics or its confirmed means) that are no objective: each held-out-engine figure
    right after its validation figure, the others after the objectives."""
    measured = _measured_metrics(points)
    extra = [n for n in TASK_COLUMNS if n in measured and n not in view.objective_names]
    columns: list[str] = []
    for name in (*view.objective_names, *extra):
        if name not in columns:
            columns.append(name)
            columns.extend(m for m in _BESIDE.get(name, ()) if m in extra and m not in columns)
    return columns


def _measured_metrics(points: Iterable[DesignPoint | None]) -> set[str]:
    """Every metric one of ``points`` measured, in its metrics or its confirmed means."""
    measured: set[str] = set()
    for p in points:
        if p is not None:
            measured |= set(p.metrics) | (set(p.confirmed.mean) if p.confirmed is not None else set())
    return measured


def study_recommendation(view: StudyView) -> tuple[Recommendation | None, bool]:
    """The study's stored recommendation, else the one its policy gives now on the stored
    figures: (recommendation or None, whether it was stored)."""
    stored = recommendation_of(view)
    if stored is not None:
        return stored, True
    return recommend(view), False


def _point(view: StudyView, point_id: str | None) -> DesignPoint | None:
    if point_id is None:
        return None
    return next((p for p in view.points if p.point_id == point_id), None)


def _figures(rec: Recommendation, runner: bool, names: tuple[str, ...]) -> list[str]:
    mean, std = (rec.runner_up_mean, rec.runner_up_std) if runner else (rec.mean, rec.std)
    return [f"{metric_label(n).split(' (')[0]} = {mean[n]:.4g}" + (f" ± {std[n]:.2g}" if n in std else "")
            for n in names if n in mean]


def marked_points(view: StudyView, rec: Recommendation | None) -> tuple[MarkedPoint, ...]:
    """The recommended design (a black open star) and its runner-up (a grey open circle), as
    :class:`MarkedPoint` marks for every scatter; none without a recommendation."""
    if rec is None or _point(view, rec.point_id) is None:
        return ()
    how = f"confirmed over seeds {', '.join(str(s) for s in rec.seeds)}" if rec.confirmed else "one seed, not confirmed"
    lines = [f"<b>recommended: design {plot_text(rec.point_id)}</b>",
             plot_text(f"policy: {_policy_words(rec)}; {how}"),
             *(plot_text(t) for t in _figures(rec, False, view.objective_names)),
             "<i>click the point for the full design</i>"]
    marks = [MarkedPoint(rec.key, f"recommended: design {rec.point_id}", "<br>".join(lines))]
    if rec.runner_up is not None and _point(view, rec.runner_up) is not None:
        lines = [f"<b>runner-up: design {plot_text(rec.runner_up)}</b>",
                 *(plot_text(t) for t in _figures(rec, True, view.objective_names)),
                 "<i>click the point for the full design</i>"]
        marks.append(MarkedPoint(parse_point_id(rec.runner_up), f"runner-up: design {rec.runner_up}",
                                 "<br>".join(lines), color="#666666", symbol="circle-open", size=18))
    return tuple(marks)


def _policy_words(rec: Recommendation) -> str:
    if rec.policy == KNEE:
        return "knee of the front (nearest the utopia point, each objective scaled to the front's range)"
    return f"pick '{rec.policy}'"


def _cell(mean: dict[str, float], std: dict[str, float], name: str, point: DesignPoint | None,
          confirmed: bool = False) -> str:
    if name in mean:
        return f"{mean[name]:.4g}" + (f" ± {std[name]:.2g}" if name in std else "")
    spread = point.confirmed.spread(name) if point is not None and point.confirmed is not None else None
    if spread is not None:  # a figure the choice did not use, over the same confirmation seeds
        return f"{spread[0]:.4g} ± {spread[1]:.2g}"
    if point is not None and name in point.metrics:  # the search's figure: one seed
        return f"{point.metrics[name]:.4g}" + (" (one seed)" if confirmed else "")
    return "–"


@dataclass(frozen=True)
class _Row:
    """A design's row of the decision's table."""

    title: str
    recommended: bool
    cells: tuple[str, ...]


def decision_html(view: StudyView, rec: Recommendation | None, stored: bool) -> str:
    """The summary's decision: the recommended design, its policy, its figures (confirmed mean
    ± std where confirmed) beside the runner-up's, what it traded (the stored rationale), and
    the accuracy floor; or why there is no recommendation (``templates/decision.html.j2``)."""
    floor = _floor(view)
    if rec is None:
        reason = no_recommendation_reason(view)
        return render("decision.html.j2", rec=None, reason=reason[:1].upper() + reason[1:], **floor)
    point, runner = _point(view, rec.point_id), _point(view, rec.runner_up)
    names = _decision_columns(view, point, runner)
    return render("decision.html.j2", rec=rec, stored=stored, how=_how(rec), policy=_policy_words(rec),
                  label=point.label if point is not None else f"design {rec.point_id}",
                  head=[metric_label(n) for n in names], rows=_decision_rows(rec, point, runner, names),
                  measured_note=_measured_note(view, names), **floor)


def _floor(view: StudyView) -> dict[str, object]:
    """The accuracy floor and how many feasible design points are below it or degenerate."""
    return {"floor": view.floor,
            "below": sum(p.feasible and p.below_floor for p in view.points),
            "degenerate": sum(p.feasible and p.degenerate for p in view.points)}


def _how(rec: Recommendation) -> str:
    if rec.confirmed:
        return f"confirmed over {len(rec.seeds)} seeds ({', '.join(str(s) for s in rec.seeds)}): mean ± std"
    return "not confirmed: the search's single-seed figures (codesign study confirm)"


def _decision_columns(view: StudyView, point: DesignPoint | None, runner: DesignPoint | None) -> list[str]:
    """The table's metrics: :func:`table_columns`, then the cost figures the recommended design
    has that are no objective."""
    cost = [m for m in _COST_METRICS if m not in view.objective_names and point is not None and m in point.metrics]
    return [*table_columns(view, (point, runner)), *cost]


def _decision_rows(rec: Recommendation, point: DesignPoint | None, runner: DesignPoint | None,
                   names: list[str]) -> list[_Row]:
    """The recommended design's row, and the runner-up's when there is one."""
    rows = [_Row(f"recommended: design {rec.point_id}", True,
                 tuple(_cell(rec.mean, rec.std, n, point, rec.confirmed) for n in names))]
    if rec.runner_up is not None:
        rows.append(_Row(f"runner-up: design {rec.runner_up}", False,
                         tuple(_cell(rec.runner_up_mean, rec.runner_up_std, n, runner, rec.confirmed) for n in names)))
    return rows


#: The task metrics whose table says what they were measured on.
_TASK_METRICS = ("accuracy", "wer", "cer", "unknown_recall")
#: (split, what its figures are) in the note under the decision's table.
_SPLIT_WORDS = (("validation", "validation figures: unseen speakers of"),
                ("test", "held-out-engine figures: speakers of"))


def _measured_note(view: StudyView, names: Iterable[str]) -> str | None:
    """What the table's task metrics were measured on: validation speakers of the training
    engines, and the held-out engines' speakers (from the trials' records); None when the
    table has no task metric."""
    if not any(_is_task_metric(n) for n in names):
        return None
    measured = view.measured_on
    if not measured:
        return ("The study's records do not say which engines and voices its scores were "
                "measured on (stored before codesign kept it).")
    said = [_split_words(split, what, measured) for split, what in _SPLIT_WORDS]
    if not any(said):  # recorded speech: its source
        return "Task metrics measured on the " + "; the ".join(measured_on_lines(measured)) + "."
    return "; ".join(s for s in said if s) + " (the voices: under the objectives above)."


def _is_task_metric(name: str) -> bool:
    return name in TASK_COLUMNS or name in _TASK_METRICS or name.startswith(("heldout_engine_", "test_"))


def _split_words(split: str, what: str, measured: dict[str, dict[str, Any]]) -> str | None:
    """``validation figures: unseen speakers of espeak, flite``, or None when the split names no
    engines (or the test split is no held-out-engine split)."""
    engines = (measured.get(split) or {}).get("engines") or []
    if not engines or (split == "test" and not is_heldout_engine_split(measured[split])):
        return None
    return f"{what} {', '.join(engines)}" + (", never heard in training" if split == "test" else "")
