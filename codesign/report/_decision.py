"""The study's decision on the report page: the recommended design marked on every scatter,
and the paragraph that says why.

Reads the recommendation the study stored (:func:`codesign.search.recommendation_of`, written
by ``study run`` and ``study confirm``), or, for a study that stored none, the one the policy
gives now on the stored figures (as ``codesign study status`` does, and says so); never
chooses a design itself (the policy is :mod:`codesign.search._recommend`'s). Everything
interpolated into the page's HTML is escaped (``html.escape``), and into Plotly's hovers
passed through :func:`~codesign.report._pareto.plot_text`.
"""

from __future__ import annotations

import html

from codesign.report._labels import metric_label
from codesign.report._pareto import MarkedPoint, plot_text
from codesign.search import (
    KNEE,
    DesignPoint,
    Recommendation,
    StudyView,
    no_recommendation_reason,
    parse_point_id,
    recommend,
    recommendation_of,
)

#: Metrics shown beside the objectives in the decision's table when they are no objective.
_COST_METRICS = ("energy_uj", "latency_ms", "area_mm2")


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


def _cell(mean: dict[str, float], std: dict[str, float], name: str, point: DesignPoint | None) -> str:
    if name in mean:
        return html.escape(f"{mean[name]:.4g}" + (f" ± {std[name]:.2g}" if name in std else ""))
    if point is not None and name in point.metrics:
        return html.escape(f"{point.metrics[name]:.4g}")
    return "–"


def decision_html(view: StudyView, rec: Recommendation | None, stored: bool) -> str:
    """The summary's decision: the recommended design, its policy, its figures (confirmed mean
    ± std where confirmed) beside the runner-up's, what it traded (the stored rationale), and
    the accuracy floor; or why there is no recommendation."""
    floor = view.floor
    below = sum(1 for p in view.points if p.feasible and p.below_floor)
    degenerate = sum(1 for p in view.points if p.feasible and p.degenerate)
    floor_text = (f"<p class='src'>Accuracy floor: {html.escape(str(floor))} (dashed on the scatters). "
                  f"{below} feasible design points below it and {degenerate} degenerate ones (one answer for "
                  "every input) stay stored, drawn faded, and are kept off the front and out of the "
                  "hypervolume.</p>") if floor is not None else ""
    if rec is None:
        reason = no_recommendation_reason(view)
        return (f"<h3 id='recommendation'>No recommended design</h3>"
                f"<p>{html.escape(reason[:1].upper() + reason[1:])}.</p>" + floor_text)
    point, runner = _point(view, rec.point_id), _point(view, rec.runner_up)
    how = (f"confirmed over {len(rec.seeds)} seeds ({', '.join(str(s) for s in rec.seeds)}): mean ± std"
           if rec.confirmed else "not confirmed: the search's single-seed figures (codesign study confirm)")
    names = [*view.objective_names, *(m for m in _COST_METRICS if m not in view.objective_names
                                      and point is not None and m in point.metrics)]
    head = "<th></th>" + "".join(f"<th>{html.escape(metric_label(n))}</th>" for n in names)
    rows = [f"<tr><td><b>recommended: design {html.escape(rec.point_id)}</b></td>"
            + "".join(f"<td>{_cell(rec.mean, rec.std, n, point)}</td>" for n in names) + "</tr>"]
    if rec.runner_up is not None:
        rows.append(f"<tr><td>runner-up: design {html.escape(rec.runner_up)}</td>"
                    + "".join(f"<td>{_cell(rec.runner_up_mean, rec.runner_up_std, n, runner)}</td>" for n in names)
                    + "</tr>")
    where = "" if stored else (" <span class='warn'>(computed now from the stored figures; the study has not "
                               "stored a recommendation: study run and study confirm store one)</span>")
    label = html.escape(point.label) if point is not None else f"design {html.escape(rec.point_id)}"
    return (f"<h3 id='recommendation'>Recommended design: {html.escape(rec.point_id)}</h3>"
            f"<p><b>{label}</b>, by the policy <b>{html.escape(_policy_words(rec))}</b>; {html.escape(how)}."
            f"{where} It is the black open star on every scatter (the runner-up: the grey open circle).</p>"
            f"<table class='decision'><tr>{head}</tr>{''.join(rows)}</table>"
            f"<p>{html.escape(rec.rationale)}</p>" + floor_text)
