"""The report page: all figure data computed first (:func:`report_data`), then drawn into one
self-contained HTML file with plotly.js embedded, so it opens offline."""

from __future__ import annotations

import dataclasses
import html
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import optuna
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from codesign import __version__
from codesign._io import write_text_atomic
from codesign.report._breakdown import BreakdownInfo, breakdown_infos
from codesign.report._decision import decision_html, marked_points, study_recommendation
from codesign.report._importance import ImportanceInfo, combined_importance, importance_infos
from codesign.report._labels import GROUPS, bare_name, group_of, metric_label
from codesign.report._parallel import ParallelCoordinatesInfo, parallel_coordinates_infos
from codesign.report._pareto import (
    HypervolumeInfo,
    ParetoFrontInfo,
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
from codesign.search import StudyView, TrialView, split_named, study_view


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


def render_report(data: ReportData) -> str:
    """The HTML page for ``data``: summary, Pareto plots, hypervolume, parameters, breakdowns."""
    view = data.view
    parts: list[str] = []
    counter = iter(range(10_000))

    def figure(fig: go.Figure) -> str:
        height = fig.layout.height or 450
        html: str = fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{next(counter)}",
            default_height=f"{height}px",
            config={"displaylogo": False, "responsive": True},
        )
        return html

    parts.append(_summary(data))
    parts.append("<h2>Pareto front</h2>")
    parts.append(
        "<p>Eligible design points (feasible, above the accuracy floor, not degenerate) that no other "
        "eligible point beats on every objective are the front; infeasible points violate a constraint, "
        "and points below the floor (the dashed line) or degenerate are drawn faded. "
        + ("The black open star is the recommended design, the grey open circle its runner-up. "
           if data.pareto.marked else "")
        + "Trials with no objective values are in the "
        "strip under each plot: pruned before training (the chip failed a cheap check) or failed. "
        "Trials that successive halving stopped early are drawn at their lower-budget figures. "
        "Colour is the chip's precision (weight and state bits), shape the network (its trial). "
        "Energy and latency axes are logarithmic (the buttons above each plot switch to linear). "
        "Hover a point for its figures; click it for the full design (every parameter and metric)."
        + (" Green diamonds with error bars are confirmed points: mean ± standard deviation over "
           "the confirmation seeds." if data.pareto.confirmed is not None else "")
        + "</p>"
    )
    parts += [figure(f) for f in pareto_figures(data.pareto)]
    parts.append("<h2>Hypervolume over trials</h2>")
    parts.append(figure(hypervolume_figure(data.hypervolume, view.objective_names)))
    parts.append("<h2>Parameters</h2>")
    parts.append(
        "<p>One line per design; the network's parameters and the chip's are in separate panels, "
        "each ordered by importance (largest over the objectives) where importances could be "
        "computed, and paged with the 'parameters' menu when there are many; the 'colour by' menu "
        "recolours the lines by an objective.</p>"
    )
    parts += [figure(parallel_figure(info)) for info in data.parallel]
    parts.append(figure(importance_figure(data.importances)))
    parts.append("<h2>Front members: energy, cycles and area</h2>")
    if not data.breakdowns:
        parts.append("<p>No feasible trial has finished, so the front is empty.</p>")
    for info in data.breakdowns:
        point = view.point((info.number, info.chip))
        objectives = ", ".join(f"{split_named(n)}={v:.4g}" for n, v in zip(view.objective_names, point.values, strict=True))
        parts.append(figure(breakdown_figure(info, point.label, objectives)))
        if info.source is not None:
            parts.append(f"<p class='src'>from {html.escape(_shown_path(view, info.source))} "
                         "in the study's artifacts</p>")
        elif not info.empty:
            parts.append(f"<p class='src'>{html.escape(info.method)}</p>")
        if info.check is not None:
            parts.append(f"<p class='warn'>{html.escape(info.check)}</p>")
    title = f"codesign study {html.escape(view.name)}"
    parts.append(_design_panel(data))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em 3em;color:#222}"
        "table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "th{background:#f3f3f3}.src{color:#777;font-size:small}"
        "td.params{text-align:left;font-size:small;min-width:26em;max-width:44em}"
        ".warn{color:#a33}"
        "#design-panel{position:fixed;top:1em;right:1em;width:30em;max-height:90vh;overflow:auto;"
        "background:#fff;border:1px solid #888;box-shadow:0 2px 12px rgba(0,0,0,.25);padding:.6em 1em;"
        "z-index:1000;font-size:small}"
        "#design-panel td,#design-panel th{text-align:left}#design-panel th{background:#eef}"
        "#design-panel button{float:right}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<h1>{title}</h1>" + "\n".join(parts) + f"<p class='src'>codesign {__version__}</p></body></html>\n"
    )


#: The script that opens a design's full description when its point is clicked: every Plotly
#: plot's ``plotly_click`` reads the point's ``customdata`` (its design id) and fills the panel.
_PANEL_JS = """
(function(){
var designs=JSON.parse(document.getElementById('design-data').textContent);
var panel=document.getElementById('design-panel');
function esc(t){var d=document.createElement('div');d.textContent=String(t);return d.innerHTML;}
function show(id){var d=designs[id];if(!d)return;
  var h='<button onclick="this.parentNode.hidden=true">close</button><b>design '+esc(id)+'</b><table>';
  d.forEach(function(sec){h+='<tr><th colspan=2>'+esc(sec[0])+'</th></tr>';
    sec[1].forEach(function(r){h+='<tr><td>'+esc(r[0])+'</td><td>'+esc(r[1])+'</td></tr>';});});
  panel.innerHTML=h+'</table>';panel.hidden=false;}
window.codesignShowDesign=show;
function hook(){document.querySelectorAll('.js-plotly-plot').forEach(function(p){
  if(p.on&&!p.__codesignClick){p.__codesignClick=true;p.on('plotly_click',function(e){
    var pt=e&&e.points&&e.points[0];if(pt&&pt.customdata!==undefined)show(String(pt.customdata));});}});}
if(document.readyState==='complete')hook();else window.addEventListener('load',hook);
})();
"""


def _design_panel(data: ReportData) -> str:
    """The panel a click on a scatter point opens, and every drawn design's full description."""
    designs = json.dumps(data.pareto.designs).replace("</", "<\\/")
    return ("<div id='design-panel' hidden></div>"
            f"<script type='application/json' id='design-data'>{designs}</script>"
            f"<script>{_PANEL_JS}</script>")


def _shown_path(view: StudyView, path: Path) -> str:
    """``path`` relative to the study's artifact directory: the page never names this machine's
    folders (it is shared, and the folders differ elsewhere)."""
    if view.artifact_dir is not None:
        try:
            return str(Path(path).relative_to(view.artifact_dir))
        except ValueError:
            pass
    return Path(path).name


def _summary(data: ReportData) -> str:
    view = data.view
    states = Counter(t.state for t in view.trials)
    infeasible = sum(1 for p in view.points if not p.feasible)
    refs = view.references
    objectives = ", ".join(
        f"{html.escape(metric_label(n))} ({'min' if d == 'minimize' else 'max'})"
        for n, d in zip(view.objective_names, view.directions, strict=True)
    )
    kinds = {u.kind: len(u.numbers) for u in data.pareto.unevaluated}
    pruned, stopped, failed = kinds.get("pruned", 0), kinds.get("stopped", 0), kinds.get("failed", 0)
    lines = [
        f"<p><b>{len(view.trials)}</b> trials: "
        + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
        + f". {len(view.points)} evaluated design points, {infeasible} of them infeasible (violate a "
        f"constraint), {len(data.pareto.front)} on the front."
        + "".join(f" {n} trials {what}." for n, what in (
            (pruned, "pruned before training (infeasible chip): no objective values"),
            (stopped, "stopped early by successive halving: figures at a lower budget only"),
            (failed, "failed: no objective values")) if n),
        f"Objectives: {objectives}.",
    ]
    if data.decision:
        lines.append("</p>" + data.decision + "<p>")
    if refs:
        lines.append("Reference points: " + ", ".join(html.escape(p.label) for p in refs) + ".")
    lines.append("</p>")
    timed = [t.number for t in view.trials if t.record is not None and getattr(t.record, "load_dependent", False)]
    if timed:
        lines.append(f"<p class='warn'><b>Load-dependent scores:</b> {len(timed)} trials were trained for a "
                     "wall-clock budget (<code>fidelity.seconds</code>, equal-time mode), so their figures depend "
                     "on how busy the machine was and are not reproducible from the seed.</p>")
    if data.pareto.front:
        extra = [(k, unit) for k, unit in (("cycles", "cycles"), ("latency_ms", "latency (ms)"),
                                           ("area_mm2", "area (mm²)")) if k not in view.objective_names]
        head = "".join(f"<th>{html.escape(metric_label(n))}</th>" for n in view.objective_names)
        head += "".join(f"<th>{html.escape(unit)}</th>" for _, unit in extra)
        members = [view.point((info.number, info.chip)) for info in data.breakdowns]
        varying = {
            g: [k for k in dict.fromkeys(k for p in members for k in p.params)
                if group_of(k) == g and len({repr(p.params.get(k)) for p in members}) > 1]
            for g in GROUPS
        }
        head += "".join(f"<th>{GROUPS[g]} ({g}.*)</th>" for g in GROUPS if varying[g])
        rows = []
        for info in data.breakdowns:
            point = view.point((info.number, info.chip))
            cells = ""
            for n, v in zip(view.objective_names, point.values, strict=True):
                spread = point.confirmed.spread(n) if point.confirmed is not None else None
                cells += f"<td>{v:.4g}" + (f"<br><small>{spread[0]:.4g} ± {spread[1]:.2g}</small>" if spread else "")
                cells += "</td>"
            for key, _ in extra:
                x = getattr(info, key)
                cells += f"<td>{x:.4g}</td>" if x is not None else "<td>–</td>"
            for g in GROUPS:
                if varying[g]:
                    items = " · ".join(f"{bare_name(k)}={_short(point.params.get(k))}" for k in varying[g])
                    cells += f"<td class='params'>{html.escape(items)}</td>"
            ident = design_id(point.key)
            marks = "".join(f"<br><b>{html.escape(m.label.split(':')[0])}</b>" for m in data.pareto.marked
                            if m.key == point.key)
            rows.append(f"<tr><td><b><a href='#' onclick=\"codesignShowDesign('{ident}');return false\" "
                        f"title='the full design'>{ident}</a></b><br><small>{html.escape(point.label)}</small>{marks}</td>"
                        f"{cells}</tr>")
        lines.append("<table><tr><th>design</th>" + head + "</tr>" + "".join(rows) + "</table>")
        lines.append("<p class='src'>network and chip columns: the parameters that differ between the front's "
                     "designs (click a design id, or a point, for all of them).</p>")
        if data.pareto.confirmed is not None:
            lines.append("<p class='src'>small figures: mean ± std over the confirmation seeds.</p>")
    for state, what in (("FAIL", "failed trials"), ("PRUNED", "trials pruned or stopped early")):
        listed = [t for t in view.trials if t.state == state]
        if listed:
            items = "".join(
                f"<li>trial {t.number}: {html.escape(_reason(t) or 'no reason recorded')}</li>" for t in listed[:20]
            )
            lines.append(f"<details><summary>{len(listed)} {what}</summary><ul>{items}</ul></details>")
    return "\n".join(lines)


def _short(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _reason(t: TrialView) -> str | None:
    if t.state == "PRUNED":
        return t.record.pruned if t.record is not None else None
    return t.error
