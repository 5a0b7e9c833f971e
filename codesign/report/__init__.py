"""Reports from a study's storage: Pareto fronts, hypervolume, parameter views, cost breakdowns
(Plotly pages) and trial tables.

Owns drawing stored trials (read through ``codesign.search.study_view``, the one study
reader); never evaluates or re-runs a trial. Every figure
is computed as plain data first (``*_info`` functions returning frozen dataclasses, tested
without a browser) and drawn second (``codesign.report._render``); the pages' HTML is laid out
by autoescaped Jinja2 templates shipped in ``codesign/report/templates/``
(``codesign.report._templates``).
"""

from __future__ import annotations

from codesign.report._breakdown import (
    COST_REPORT_ARTIFACT,
    BreakdownInfo,
    breakdown_info,
    breakdown_infos,
    read_cost_report,
)
from codesign.report._compare import (
    BestDesign,
    ComparisonData,
    StudySummary,
    comparison_data,
    comparison_figures,
    comparison_table,
    write_comparison,
)
from codesign.report._importance import (
    MIN_TRIALS_FOR_IMPORTANCE,
    RELIABLE_TRIALS_FOR_IMPORTANCE,
    ImportanceInfo,
    combined_importance,
    importance_infos,
)
from codesign.report._labels import metric_label, param_label
from codesign.report._page import ReportData, render_report, report_data, write_report
from codesign.report._parallel import (
    Axis,
    ParallelCoordinatesInfo,
    parallel_coordinates_info,
    parallel_coordinates_infos,
)
from codesign.report._pareto import (
    MAX_HOVER_LINES,
    ConfirmedSpread,
    FloorLine,
    HypervolumeInfo,
    MarkedPoint,
    ParetoFrontInfo,
    ParetoPoints,
    Unevaluated,
    confirmed_spread,
    default_reference_point,
    design_id,
    design_table,
    front_keys,
    front_numbers,
    hypervolume_info,
    pareto_front_info,
    unevaluated_trials,
)
from codesign.report._table import TABLE_FORMATS, trials_dataframe, write_table

# The study reader is codesign.search's (one reader, one design point); these names stay
# importable from here, ``load_study`` as codesign.search.open_study.
from codesign.search import (
    REFERENCE_ATTR,
    REFERENCE_MARGIN,  # re-exported: the margin the report's reference uses
    StudyView,
    TrialView,
    study_view,
)
from codesign.search import open_study as load_study

__all__ = [
    "COST_REPORT_ARTIFACT",
    "MAX_HOVER_LINES",
    "MIN_TRIALS_FOR_IMPORTANCE",
    "REFERENCE_ATTR",
    "REFERENCE_MARGIN",
    "RELIABLE_TRIALS_FOR_IMPORTANCE",
    "TABLE_FORMATS",
    "Axis",
    "BestDesign",
    "BreakdownInfo",
    "ComparisonData",
    "ConfirmedSpread",
    "FloorLine",
    "HypervolumeInfo",
    "ImportanceInfo",
    "MarkedPoint",
    "ParallelCoordinatesInfo",
    "ParetoFrontInfo",
    "ParetoPoints",
    "ReportData",
    "StudySummary",
    "StudyView",
    "TrialView",
    "Unevaluated",
    "breakdown_info",
    "breakdown_infos",
    "combined_importance",
    "comparison_data",
    "comparison_figures",
    "comparison_table",
    "confirmed_spread",
    "default_reference_point",
    "design_id",
    "design_table",
    "front_keys",
    "front_numbers",
    "hypervolume_info",
    "importance_infos",
    "load_study",
    "metric_label",
    "parallel_coordinates_info",
    "parallel_coordinates_infos",
    "param_label",
    "pareto_front_info",
    "read_cost_report",
    "render_report",
    "report_data",
    "study_view",
    "trials_dataframe",
    "unevaluated_trials",
    "write_comparison",
    "write_report",
    "write_table",
]
