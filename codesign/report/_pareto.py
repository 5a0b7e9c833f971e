"""Pareto-front and hypervolume data, computed without any plotting library.

Owns dominance (over feasible, finished candidates only), the front members, the points each
scatter draws (feasible front / dominated / infeasible / reference), and the hypervolume of
the feasible front as trials arrive, with its reference point.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from optuna._hypervolume import compute_hypervolume

from codesign.report._study import StudyView, TrialView

PointKind = Literal["front", "dominated", "infeasible", "reference"]
POINT_KINDS: tuple[PointKind, ...] = ("front", "dominated", "infeasible", "reference")

#: How far beyond the worst feasible value the default hypervolume reference point lies, as a
#: fraction of that objective's observed range (the usual nadir-plus-margin convention, e.g.
#: pymoo's and Optuna's examples use the worst point shifted outward).
REFERENCE_MARGIN = 0.1


def to_loss(values: np.ndarray, directions: tuple[str, ...]) -> np.ndarray:
    """Objective values turned into losses (maximised objectives negated), shape [n, m]."""
    signs = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    return np.asarray(values, dtype=np.float64) * signs


def non_dominated(losses: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``losses`` [n, m] that no other row dominates (minimising).

    Row a dominates row b when a <= b everywhere and a < b somewhere; equal rows do not
    dominate each other, so duplicates of a front point are all on the front.
    """
    losses = np.asarray(losses, dtype=np.float64)
    n = losses.shape[0]
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        le = np.all(losses <= losses[i], axis=1)
        lt = np.any(losses < losses[i], axis=1)
        if np.any(le & lt):
            mask[i] = False
    return mask


def front_numbers(view: StudyView) -> tuple[int, ...]:
    """Trial numbers of the Pareto front: feasible finished candidates that none dominates."""
    cands = [t for t in view.trials if t.is_candidate and t.feasible]
    if not cands:
        return ()
    losses = to_loss(np.array([t.values for t in cands]), view.directions)
    mask = non_dominated(losses)
    return tuple(t.number for t, keep in zip(cands, mask, strict=True) if keep)


def point_kind(trial: TrialView, front: frozenset[int] | set[int]) -> PointKind:
    if trial.reference is not None:
        return "reference"
    if not trial.feasible:
        return "infeasible"
    return "front" if trial.number in front else "dominated"


@dataclass(frozen=True)
class ParetoPoints:
    """The points of one kind in a Pareto plot.

    Attributes:
        kind: front | dominated | infeasible | reference.
        numbers: trial numbers.
        values: [n, m] objective values in the study's objective order.
        hover: one text per point (params and metrics, HTML line breaks).
    """

    kind: PointKind
    numbers: tuple[int, ...]
    values: np.ndarray
    hover: tuple[str, ...]


@dataclass(frozen=True)
class ParetoFrontInfo:
    """Everything a Pareto scatter needs.

    Attributes:
        objective_names, directions: the study's objectives.
        axes: pairs (i, j) of objective indices drawn as 2-D scatters, then the (i, j, k)
            triple drawn in 3-D when there are three objectives or more.
        points: one :class:`ParetoPoints` per kind that has any point.
        front: trial numbers on the front, best first by the first objective.
    """

    objective_names: tuple[str, ...]
    directions: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]
    triple: tuple[int, int, int] | None
    points: tuple[ParetoPoints, ...]
    front: tuple[int, ...]


def pareto_front_info(view: StudyView, max_hover_items: int = 12) -> ParetoFrontInfo:
    """Pareto-plot data for ``view``: which trial is drawn where and as what."""
    m = len(view.objective_names)
    front = front_numbers(view)
    front_set = frozenset(front)
    drawn = [t for t in view.trials if t.values is not None]
    points = []
    for kind in POINT_KINDS:
        members = [t for t in drawn if point_kind(t, front_set) == kind]
        if not members:
            continue
        points.append(
            ParetoPoints(
                kind=kind,
                numbers=tuple(t.number for t in members),
                values=np.array([t.values for t in members], dtype=np.float64).reshape(-1, m),
                hover=tuple(hover_text(view, t, max_hover_items) for t in members),
            )
        )
    order = {t.number: t.values for t in view.trials if t.values is not None}
    sign = 1.0 if view.directions and view.directions[0] == "minimize" else -1.0
    ordered_front = tuple(sorted(front, key=lambda n: sign * order[n][0])) if m else front
    return ParetoFrontInfo(
        objective_names=view.objective_names,
        directions=view.directions,
        pairs=tuple(itertools.combinations(range(m), 2)),
        triple=(0, 1, 2) if m >= 3 else None,
        points=tuple(points),
        front=ordered_front,
    )


def hover_text(view: StudyView, trial: TrialView, max_items: int = 12) -> str:
    """Hover text: trial number, objectives, parameters and metrics (each capped)."""
    label = f"trial {trial.number}" + (f" ({trial.reference})" if trial.reference else "")
    lines = [f"<b>{label}</b>"]
    if trial.values is not None:
        lines += [f"{n} = {_fmt(v)}" for n, v in zip(view.objective_names, trial.values, strict=True)]
    if not trial.feasible:
        violated = [f"{k} = {_fmt(v)}" for k, v in trial.constraints.items() if v > 0]
        lines.append("violates: " + ", ".join(violated))
    params = list(trial.params.items())
    if params:
        lines.append("<i>params</i>")
        lines += [f"{k} = {_fmt(v)}" for k, v in params[:max_items]]
        if len(params) > max_items:
            lines.append(f"... {len(params) - max_items} more")
    metrics = [(k, v) for k, v in trial.metrics.items() if k not in view.objective_names]
    if metrics:
        lines.append("<i>metrics</i>")
        lines += [f"{k} = {_fmt(v)}" for k, v in metrics[:max_items]]
        if len(metrics) > max_items:
            lines.append(f"... {len(metrics) - max_items} more")
    return "<br>".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class HypervolumeInfo:
    """Hypervolume of the feasible front after each finished trial.

    Attributes:
        trial_numbers: trial numbers in order.
        values: hypervolume after that trial, in the product of the objectives' units.
        reference_point: the reference point in objective units (study direction kept).
        reference_source: ``"spec"`` when the study spec gave it, else how it was derived.
        reason: why there is no curve (fewer than two objectives, no feasible trial), else None.
    """

    trial_numbers: tuple[int, ...]
    values: tuple[float, ...]
    reference_point: tuple[float, ...]
    reference_source: str
    reason: str | None


def default_reference_point(view: StudyView) -> tuple[float, ...] | None:
    """Worst feasible value per objective pushed outward by :data:`REFERENCE_MARGIN` of its range.

    Returns None when no feasible candidate has values.
    """
    vals = [t.values for t in view.trials if t.is_candidate and t.feasible]
    if not vals:
        return None
    losses = to_loss(np.array(vals), view.directions)
    worst, best = losses.max(axis=0), losses.min(axis=0)
    span = worst - best
    # A zero range (one point, or one objective constant) still needs a margin to give the
    # front a positive volume: take the margin of the value's magnitude, or 1 if it is 0.
    span = np.where(span > 0, span, np.where(np.abs(worst) > 0, np.abs(worst), 1.0))
    ref_loss = worst + REFERENCE_MARGIN * span
    ref = to_loss(ref_loss[None, :], view.directions)[0]
    return tuple(float(x) for x in ref)


def hypervolume_info(
    view: StudyView, reference_point: tuple[float, ...] | None = None
) -> HypervolumeInfo:
    """Hypervolume history of ``view``'s feasible front.

    Args:
        view: the study.
        reference_point: in objective units; default: the spec's ``reference_point`` if it
            has one, else :func:`default_reference_point`.
    """
    m = len(view.objective_names)
    source = "given"
    if reference_point is None and view.spec is not None and view.spec.get("reference_point") is not None:
        ref_spec = view.spec["reference_point"]
        if isinstance(ref_spec, dict):
            reference_point = tuple(float(ref_spec[n]) for n in view.objective_names)
        else:
            reference_point = tuple(float(x) for x in ref_spec)
        source = "study spec"
    if reference_point is None:
        reference_point = default_reference_point(view)
        source = (
            f"worst feasible value per objective + {REFERENCE_MARGIN:g} x its range "
            "(derived from this study)"
        )
    if m < 2:
        return HypervolumeInfo((), (), reference_point or (), source, "hypervolume needs two objectives or more")
    if reference_point is None:
        return HypervolumeInfo((), (), (), source, "no feasible trial with objective values yet")
    if len(reference_point) != m:
        raise ValueError(f"reference point has {len(reference_point)} values for {m} objectives")
    ref_loss = to_loss(np.array([reference_point]), view.directions)[0]
    numbers: list[int] = []
    values: list[float] = []
    kept = np.empty((0, m))
    for t in view.trials:
        if not t.is_candidate:
            continue
        if t.feasible:
            loss = to_loss(np.array([t.values]), view.directions)
            # Points outside the reference box add no volume; optuna's WFG expects them gone.
            if np.all(loss[0] < ref_loss):
                kept = np.vstack([kept, loss])
                kept = kept[non_dominated(kept)]
        hv = float(compute_hypervolume(kept, ref_loss)) if len(kept) else 0.0
        numbers.append(t.number)
        values.append(hv)
    return HypervolumeInfo(tuple(numbers), tuple(values), tuple(reference_point), source, None)
