"""Energy breakdown (layer x category), cycles and area of each Pareto-front member.

Reads the TrialRecord and the cost-report artifact it names; never re-costs a trial.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.search import StudyView

COST_REPORT_ARTIFACT = "cost_report"


@dataclass(frozen=True)
class BreakdownInfo:
    """One front point's costs.

    Attributes:
        number: trial number; chip: the chip index within a nested trial, else None.
        layers, categories: the energy table's row and column names (empty without a report).
        energy_by_layer_category_pj: [layers, categories] energy per inference in pJ, or None when the cost
            report could not be read (``note`` says why).
        energy_by_category_pj: per-category totals (from the report, else from the record).
        cycles, latency_ms, area_mm2: the chip figures (None when neither source has them).
        source: the cost-report file the table came from, or None.
        note: why the layer table is missing, else None.
    """

    number: int
    chip: int | None
    layers: tuple[str, ...]
    categories: tuple[str, ...]
    energy_by_layer_category_pj: np.ndarray | None
    energy_by_category_pj: dict[str, float]
    cycles: float | None
    latency_ms: float | None
    area_mm2: float | None
    source: Path | None
    note: str | None

    @property
    def energy_by_layer_pj(self) -> dict[str, float]:
        if self.energy_by_layer_category_pj is None:
            return {}
        return {name: float(v) for name, v in zip(self.layers, self.energy_by_layer_category_pj.sum(axis=1), strict=True)}

    @property
    def total_energy_pj(self) -> float:
        if self.energy_by_layer_category_pj is not None:
            return float(self.energy_by_layer_category_pj.sum())
        return float(sum(self.energy_by_category_pj.values()))


def read_cost_report(path: Path) -> dict[str, Any]:
    """Read a cost-report JSON artifact into the fields the breakdown needs.

    Returns:
        ``layers``, ``categories``, ``energy_pj`` ([layers, categories] array) and the scalars
        ``cycles``, ``latency_ms``, ``area_mm2`` that the file holds.

    Raises:
        ValueError: the file is not a cost report.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    table = data.get("energy_pj")
    if isinstance(table, dict) and "layers" in table:
        layers, categories, values = table["layers"], table["categories"], table["values"]
    else:
        layers = data.get("layer_names", data.get("layers"))
        categories, values = data.get("categories"), table
    if not (isinstance(layers, list) and isinstance(categories, list) and isinstance(values, list)):
        raise ValueError(f"{path}: no energy_pj table (layers x categories)")
    energy = np.asarray(values, dtype=np.float64).reshape(len(layers), len(categories))
    out: dict[str, Any] = {
        "layers": tuple(str(x) for x in layers),
        "categories": tuple(str(x) for x in categories),
        "energy_pj": energy,
    }
    for key in ("cycles", "latency_ms", "area_mm2"):
        if isinstance(data.get(key), (int, float)):
            out[key] = float(data[key])
    return out


def breakdown_infos(
    view: StudyView, keys: tuple[tuple[int, int | None], ...]
) -> tuple[BreakdownInfo, ...]:
    """A :class:`BreakdownInfo` for each design point in ``keys`` (usually the front)."""
    return tuple(breakdown_info(view, k) for k in keys)


def breakdown_info(view: StudyView, key: tuple[int, int | None] | int) -> BreakdownInfo:
    number, chip = (key, None) if isinstance(key, int) else key
    trial = view.trial(number)
    point = view.point((number, chip))
    metrics = point.metrics
    by_category = dict(trial.record.energy_by_category_pj) if trial.record is not None else {}
    path = view.artifact_path(trial, COST_REPORT_ARTIFACT)
    report: dict[str, Any] = {}
    note = None
    if chip is not None:
        # A nested trial's cost report is for the trial's own chip, not each chip of its set.
        path, by_category = None, {}
        note = "nested strategy: no per-chip cost report is stored; chip figures from the record"
    elif path is None:
        note = "the trial record names no cost_report artifact"
    elif not path.is_file():
        # the record's own (relative) path: the page must not carry this machine's paths
        folder = f"artifacts folder '{view.artifact_dir.name}'" if view.artifact_dir is not None else "working folder"
        note = f"cost report not found at {_recorded(trial)} in the study's {folder}"
    else:
        try:
            report = read_cost_report(path)
        except (ValueError, OSError) as err:
            note = "cost report unreadable: " + str(err).replace(str(path), _recorded(trial))
    energy = report.get("energy_pj")
    if energy is not None:
        by_category = {
            c: float(v) for c, v in zip(report["categories"], energy.sum(axis=0), strict=True)
        }

    def pick(key: str) -> float | None:
        if key in report:
            return float(report[key])
        return float(metrics[key]) if key in metrics else None

    return BreakdownInfo(
        number=number,
        chip=chip,
        layers=report.get("layers", ()),
        categories=report.get("categories", tuple(by_category)),
        energy_by_layer_category_pj=energy,
        energy_by_category_pj=by_category,
        cycles=pick("cycles"),
        latency_ms=pick("latency_ms"),
        area_mm2=pick("area_mm2"),
        source=path if energy is not None else None,
        note=note,
    )


def _recorded(trial: Any) -> str:
    """The cost-report path as the record names it (relative to the artifact directory)."""
    return str(trial.record.artifacts.get(COST_REPORT_ARTIFACT, "")) if trial.record is not None else ""
