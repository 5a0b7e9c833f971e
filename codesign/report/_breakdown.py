"""Energy breakdown (layer x category), cycles and area of each Pareto-front member.

A design's breakdown is the cost report stored for it, where its strategy stored one (a joint
trial's, :attr:`DesignPoint.cost_report`). A hardware sweep stores one trace per chip
precision, not a cost report per chip, so the breakdown of a design without one is computed
here: the chip model (``codesign.hardware.estimate_cost``, a pure function of the
trace and the chip) on the network's stored trace at that chip's precision, for that chip
(:func:`codesign.search.point_trace`, :func:`codesign.search.point_chip`). Nothing is
re-trained. A confirmed design also gets the cost reports its confirmation runs wrote, one per
seed. A panel that cannot be filled says exactly why (:attr:`BreakdownInfo.note`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codesign.config import load_json
from codesign.search import (
    DesignPoint,
    StudyView,
    TrialView,
    chip_label,
    confirmation_cost_reports,
    point_chip,
    point_cost_report,
    point_trace,
)

if TYPE_CHECKING:
    from codesign.hardware import CostReport

#: The record's artifact name of a design's stored cost report.
COST_REPORT_ARTIFACT = "cost_report"
#: A recomputed breakdown whose total differs from the energy the search stored by more than
#: this fraction is flagged: the chip model changed since the study ran.
RECOMPUTED_REL_TOL = 1e-6


@dataclass(frozen=True)
class SeedCost:
    """One confirmation run's cost report (a design re-trained with another seed).

    Attributes:
        seed: the training seed; source: the report's path relative to the study's folder.
        energy_by_category_pj: per-category energy, empty when the report could not be read.
        latency_ms: its latency (None when unread); note: why it could not be read, else None.
    """

    seed: int
    source: str
    energy_by_category_pj: dict[str, float]
    latency_ms: float | None
    note: str | None = None

    @property
    def total_energy_pj(self) -> float:
        return float(sum(self.energy_by_category_pj.values()))


@dataclass(frozen=True)
class BreakdownInfo:
    """One front point's costs.

    Attributes:
        number: trial number; chip: the design's member id within its trial (``DesignPoint.member``:
            set by its strategy, e.g. a nested trial's chip; None for a trial's only design).
        layers, categories: the energy table's row and column names (empty without a report).
        energy_by_layer_category_pj: [layers, categories] energy per inference in pJ, or None when the cost
            report could not be read (``note`` says why).
        energy_by_category_pj: per-category totals (from the report, else from the record).
        cycles, latency_ms, area_mm2: the chip figures (None when neither source has them).
        source: the cost-report file the table came from, or None (recomputed, or missing).
        note: why the layer table is missing, else None.
        method: how the table was obtained, in words (``stored cost report``, or ``chip model
            on the stored trace ...`` for a nested design).
        check: a recomputed table whose total differs from what the search stored, in words;
            else None.
        seeds: the confirmation runs' cost reports of a confirmed design, by seed.
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
    method: str = "stored cost report"
    check: str | None = None
    seeds: tuple[SeedCost, ...] = field(default_factory=tuple)

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

    @property
    def empty(self) -> bool:
        """Nothing to draw: no layer table and no category figure."""
        return self.energy_by_layer_category_pj is None and not self.energy_by_category_pj


def read_cost_report(path: Path) -> CostReport:
    """Read a ``cost_report.json`` artifact with the one parser, ``CostReport.from_dict``
    (strict: every figure the chip model writes, its energy categories; a file written before
    the typed feasibility fields loads with their defaults).

    Raises:
        ValueError: the file is not a cost report (its path and what is wrong).
    """
    from codesign.hardware import CostReport

    data = load_json(path, "a cost report (JSON)")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    try:
        return CostReport.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a cost report ({type(err).__name__}: {err})") from None


def breakdown_infos(
    view: StudyView, keys: tuple[tuple[int, int | None], ...]
) -> tuple[BreakdownInfo, ...]:
    """A :class:`BreakdownInfo` for each design point in ``keys`` (usually the front)."""
    return tuple(breakdown_info(view, k) for k in keys)


def breakdown_info(view: StudyView, key: tuple[int, int | None] | int) -> BreakdownInfo:
    """The breakdown of one design point: the cost report stored for it (a joint trial's), or
    one recomputed from its trace and chip (a chip of a hardware sweep); with its confirmation
    runs' cost reports."""
    number, member = (key, None) if isinstance(key, int) else key
    trial = view.trial(number)
    point = view.point((number, member))
    stored = point_cost_report(view, point)
    if stored is not None:
        report, note = _stored(view, stored)
        method, check, path = "stored cost report", None, stored[1] if report is not None else None
        # the record's own figures when its report cannot be read (the report is of this design)
        by_category = dict(trial.record.energy_by_category_pj) if trial.record is not None else {}
    else:  # no cost report per design is stored (a sweep stores a trace per precision): cost it here
        report, note, method, check = _recomputed(view, trial, point)
        path, by_category = None, {}
    if report is not None:
        by_category = report.energy_by_category_pj

    def pick(key: str) -> float | None:
        if report is not None:
            return float(getattr(report, key))
        return float(point.metrics[key]) if key in point.metrics else None

    return BreakdownInfo(
        number=number,
        chip=member,
        layers=report.layer_names if report is not None else (),
        categories=tuple(by_category),
        energy_by_layer_category_pj=report.energy_by_layer_category_pj if report is not None else None,
        energy_by_category_pj=by_category,
        cycles=pick("cycles"),
        latency_ms=pick("latency_ms"),
        area_mm2=pick("area_mm2"),
        source=path,
        note=note,
        method=method,
        check=check,
        seeds=_seed_costs(view, point),
    )


def _stored(view: StudyView, stored: tuple[str, Path]) -> tuple[CostReport | None, str | None]:
    """The cost report stored for a design, or None and why it cannot be read (the record's
    own relative path in the note: the page must not carry this machine's paths)."""
    rel, path = stored
    if not path.is_file():
        return None, f"cost report not found at {rel} in the study's {_folder(view)}"
    try:
        return read_cost_report(path), None
    except (ValueError, OSError) as err:
        return None, "cost report unreadable: " + str(err).replace(str(path), rel)


def _recomputed(view: StudyView, trial: TrialView,
                point: DesignPoint) -> tuple[CostReport | None, str | None, str, str | None]:
    """A design's cost report where none is stored for it: the chip model on the trace it was
    costed on, for its chip. Returns (the report or None, note, method, check)."""
    from codesign.hardware import estimate_cost
    from codesign.trace import load_trace

    method = "chip model on the network's stored trace at this chip's precision"
    record = trial.record
    if record is None:
        return None, "the trial stores no record, so neither its chip nor its trace is known", method, None
    try:
        chip = point_chip(record, point)
    except ValueError as err:
        return None, f"cannot rebuild the chip: {err}", method, None
    found = point_trace(view, point)
    if found is None:
        return (None, f"the record names no trace at this chip's precision ({chip_label(chip)}), "
                "so its energy cannot be broken down", method, None)
    rel, path = found
    if not path.is_file():
        return None, f"trace not found at {rel} in the study's {_folder(view)}", method, None
    try:
        cost = estimate_cost(load_trace(path), chip)
    except (ValueError, OSError) as err:
        return None, "trace unreadable: " + str(err).replace(str(path), rel), method, None
    method = f"chip model on the stored trace {rel} ({chip_label(chip)}), for this chip"
    return cost, None, method, _recompute_check(cost, point)


def _recompute_check(cost: CostReport, point: DesignPoint) -> str | None:
    """Why a recomputed energy is not what the search stored, or None when it is."""
    stored = point.metrics.get("energy_uj")
    if stored is not None and math.isfinite(stored) and \
            abs(cost.energy_uj - stored) > RECOMPUTED_REL_TOL * max(abs(stored), 1e-30):
        return (f"recomputed {cost.energy_uj:.4g} µJ, but the search stored {stored:.4g} µJ: "
                "the chip model changed since the study ran")
    return None


def _seed_costs(view: StudyView, point: DesignPoint) -> tuple[SeedCost, ...]:
    """The cost reports the confirmation runs of ``point`` wrote, one per seed."""
    out = []
    for seed, (rel, path) in sorted(confirmation_cost_reports(view, point).items()):
        if not path.is_file():
            out.append(SeedCost(seed, rel, {}, None, f"not found at {rel} in the study's {_folder(view)}"))
            continue
        try:
            cost = read_cost_report(path)
        except (ValueError, OSError) as err:
            out.append(SeedCost(seed, rel, {}, None, "unreadable: " + str(err).replace(str(path), rel)))
            continue
        out.append(SeedCost(seed, rel, cost.energy_by_category_pj, cost.latency_ms))
    return tuple(out)


def _folder(view: StudyView) -> str:
    if view.artifact_url is not None:
        return "artifact store"
    return f"artifacts folder '{view.artifact_dir.name}'" if view.artifact_dir is not None else "working folder"
