"""Design points, Pareto fronts and hypervolume, computed from stored trial records.

A *design point* is one network on one chip with its objectives and constraint values: a
``joint`` trial is one point, a ``nested`` trial holds one point per chip of its hardware
Pareto set. Each has a study-wide id, ``"12.3"`` (trial 12, its design 3) or ``"12"`` (a
trial that holds one design): :attr:`DesignPoint.point_id`, read back by
:func:`parse_point_id`, the one place that text becomes a point. The trial's strategy numbers
its designs and says what each was costed on (its chip's ``hw.*`` parameters, its trace, its
stored cost report): readers ask the point, never the record's strategy-specific fields. The study's front is the non-dominated set of its *eligible*
design points: feasible, above the task's accuracy floor and not degenerate (a point below
the floor or degenerate stays stored, marked, and is kept off the front and out of the
hypervolume).

This module owns, for every reader of a study (the driver, ``codesign study``, the report
and the export):

- the one design point (:class:`DesignPoint`), its id (:func:`parse_point_id`) and its marks
  (:func:`mark_points`: below the floor, degenerate); which design points a stored trial
  holds is :mod:`codesign.search._trials`' (it asks the trial's strategy, which builds
  design points from this module: so this module imports no strategy);
- the one min/max vocabulary: objectives are ``{name: "min" | "max"}`` and every comparison
  is made on losses, maximised objectives negated (:func:`minimisation_signs`,
  :func:`as_minimisation`);
- the one Pareto policy (:func:`pareto_mask`, :func:`pareto_front`: feasible points only,
  equal points kept once, the earliest) and the one hypervolume reference point
  (:func:`hypervolume_reference`).

All functions are pure and take plain arrays or records.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.search._objectives import Condition, is_degenerate

if TYPE_CHECKING:
    from codesign.search._confirmed import ConfirmedPoint

#: Trial user attribute marking a reference point that is not a search candidate (e.g. the ANN
#: twin); its value is the label shown in plots. Such trials are never design points of the
#: search, so never on the front.
REFERENCE_ATTR = "codesign.reference"


@dataclass(frozen=True)
class DesignPoint:
    """One network on one chip.

    Attributes:
        trial: the Optuna trial number it came from.
        params: all parameters (``snn.*`` of the trial, ``hw.*`` of the chip).
        objectives: objective name -> value, in the study's objective order; constraints:
            name -> value (feasible <= 0).
        metrics: everything measured for this point.
        member: its number among the designs its trial holds, the part after the dot of its
            id (``12.3``); None when the trial holds one design. An id the trial's strategy
            gives (:meth:`Strategy.points`), not an index into anything a reader opens.
        trace: the study-relative path of the workload trace the design was costed on (None:
            its record names none).
        cost_report: the study-relative path of the cost report stored for this very design
            (None: none is stored, e.g. a chip of a hardware sweep; a reader recomputes it
            from :attr:`trace` and the chip).
        reference: label of a reference point (e.g. ``"ANN twin"``), else None.
        confirmed: mean and std over the confirmation seeds (study attribute
            ``codesign.confirmed.<trial>``), when a study reader attached them.
        degenerate: the network outputs a constant or nothing (:func:`is_degenerate`).
        below_floor: the point misses the study's accuracy floor (:func:`mark_points`).
    """

    trial: int
    params: dict[str, Any]
    objectives: dict[str, float]
    constraints: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    member: int | None = None
    trace: str | None = None
    cost_report: str | None = None
    reference: str | None = None
    confirmed: ConfirmedPoint | None = None
    degenerate: bool = False
    below_floor: bool = False

    @property
    def feasible(self) -> bool:
        return all(v <= 0.0 for v in self.constraints.values())

    @property
    def eligible(self) -> bool:
        """Feasible, not degenerate and above the floor: what fronts and hypervolumes are made of."""
        return self.feasible and not self.degenerate and not self.below_floor

    @property
    def key(self) -> tuple[int, int | None]:
        """``(trial, member)``: which design point of the study this is."""
        return (self.trial, self.member)

    @property
    def point_id(self) -> str:
        """The study-wide id: ``"12.3"`` (trial 12, design 3) or ``"12"`` (a trial's one design)."""
        return point_id_of(self.key)

    @property
    def where(self) -> str:
        """``trial 12 chip 3`` (``trial 12`` for a trial's one design): where it came from, in words."""
        return f"trial {self.trial}" + ("" if self.member is None else f" chip {self.member}")

    @property
    def label(self) -> str:
        """``design 12.3 (trial 12 / chip 3)``, the reference's name after it for a reference point."""
        where = f"trial {self.trial}" + ("" if self.member is None else f" / chip {self.member}")
        return f"design {self.point_id} ({where})" + (f" ({self.reference})" if self.reference else "")

    @property
    def marks(self) -> tuple[str, ...]:
        """Why the point is off the front though stored: ``infeasible``, ``degenerate``,
        ``below floor`` (empty for an eligible point)."""
        return tuple(m for m, on in (("infeasible", not self.feasible), ("degenerate", self.degenerate),
                                     ("below floor", self.below_floor)) if on)

    @property
    def values(self) -> tuple[float, ...]:
        """The objective values in the order of :attr:`objectives` (the study's order)."""
        return tuple(float(v) for v in self.objectives.values())

    def values_of(self, names: Iterable[str]) -> tuple[float, ...]:
        """The objective values in the order of ``names``."""
        return tuple(float(self.objectives[n]) for n in names)


#: Trial user attribute prefix: one line per design point of the trial
#: (``codesign.point.12.3``), for optuna-dashboard, which shows trials, not design points.
POINT_ATTR = "codesign.point"


def point_summary(point: DesignPoint, limit: int = 1000) -> str:
    """One line for people (optuna-dashboard): the id, objectives, marks and chip parameters."""
    head = f"design {point.point_id}: " + ", ".join(f"{k}={v:.4g}" for k, v in point.objectives.items())
    if point.marks:
        head += " [" + ", ".join(point.marks) + "]"
    hw = " ".join(f"{k[3:]}={v:.4g}" if isinstance(v, float) else f"{k[3:]}={v}"
                  for k, v in point.params.items() if k.startswith("hw."))
    text = head + (f" | hw: {hw}" if hw else "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def point_id_of(key: tuple[int, int | None]) -> str:
    """The id of design point ``(trial, member)``: ``"12.3"``, or ``"12"`` for a trial's one design."""
    trial, member = key
    return f"{trial}" if member is None else f"{trial}.{member}"


def parse_point_id(text: str) -> tuple[int, int | None]:
    """``"12.3"`` -> ``(12, 3)``, ``"12"`` -> ``(12, None)``: the one reading of a design id.

    Raises:
        ValueError: anything else, in a few words.
    """
    head, dot, tail = text.strip().partition(".")
    if not head.isdigit() or (dot and not tail.isdigit()):
        raise ValueError(f"a design id is TRIAL or TRIAL.CHIP (e.g. 12 or 12.3), got '{text}'")
    return int(head), (int(tail) if dot else None)


def mark_points(points: Iterable[DesignPoint], floor: Condition | None) -> list[DesignPoint]:
    """``points`` with their marks set from their metrics: ``degenerate``
    (:func:`~codesign.search.is_degenerate`) and ``below_floor`` (the floor's metric was
    measured and misses it; a point that never measured it is not marked)."""
    out = []
    for p in points:
        below = False
        if floor is not None:
            value = p.objectives.get(floor.name, p.metrics.get(floor.name))
            below = value is not None and math.isfinite(float(value)) and not floor.holds(float(value))
        out.append(dataclasses.replace(p, degenerate=is_degenerate({**p.metrics, **p.objectives}),
                                       below_floor=below))
    return out


def minimisation_signs(objectives: Mapping[str, str]) -> np.ndarray:
    """``+1`` per ``min`` objective and ``-1`` per ``max`` one: multiplying objective values by
    these turns them into losses, and losses back into objective values."""
    return np.array([1.0 if d == "min" else -1.0 for d in objectives.values()])


def as_minimisation(
    points: Sequence[DesignPoint], objectives: Mapping[str, str]
) -> np.ndarray:
    """Objective matrix ``[points, objectives]`` with ``max`` objectives negated (losses)."""
    if not points:
        return np.zeros((0, len(objectives)))
    values = np.array([p.values_of(objectives) for p in points], dtype=float)
    losses: np.ndarray = values * minimisation_signs(objectives)
    return losses


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of a minimisation matrix (duplicates kept once)."""
    n = len(values)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        dominated_by_i = np.all(values[i] <= values, axis=1) & np.any(values[i] < values, axis=1)
        mask &= ~dominated_by_i
        same = np.all(values == values[i], axis=1)
        same[: i + 1] = False
        mask &= ~same
    return mask


def nondominated_ranks(values: np.ndarray) -> np.ndarray:
    """Non-dominated sorting of a minimisation matrix: 0 for the Pareto set, 1 for the set
    that is non-dominated once rank 0 is removed, and so on (NSGA-II's fronts)."""
    values = np.asarray(values, dtype=float)
    ranks = np.full(len(values), -1, dtype=int)
    rank = 0
    while (ranks < 0).any():
        left = np.flatnonzero(ranks < 0)
        ranks[left[_nondominated(values[left])]] = rank
        rank += 1
    return ranks


def _nondominated(values: np.ndarray) -> np.ndarray:
    """Like :func:`pareto_mask`, but duplicates all stay (they share a rank)."""
    better_eq = np.all(values[:, None, :] <= values[None, :, :], axis=2)
    strictly = np.any(values[:, None, :] < values[None, :, :], axis=2)
    dominated = (better_eq & strictly).any(axis=0)
    nondominated: np.ndarray = ~dominated
    return nondominated


def crowding_distances(values: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row within its set (infinite at the extremes)."""
    values = np.asarray(values, dtype=float)
    n, k = values.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(k):
        order = np.argsort(values[:, j], kind="stable")
        span = values[order[-1], j] - values[order[0], j]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[order[2:], j] - values[order[:-2], j]) / span
    return distance


def promotion_order(values: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """Indices best first for multi-objective successive halving: feasible before infeasible,
    then by non-dominated rank, then by crowding distance (larger first), then by index.

    This is MO-ASHA's promotion rule (Schmucker et al. 2021) with NSGA-II's tie-breaker.
    """
    values = np.asarray(values, dtype=float)
    feasible = np.asarray(feasible, dtype=bool)
    ranks = np.zeros(len(values), dtype=int)
    crowding = np.zeros(len(values))
    for group in (feasible, ~feasible):
        idx = np.flatnonzero(group)
        if len(idx):
            ranks[idx] = nondominated_ranks(values[idx]) + (0 if group is feasible else len(values))
            for r in np.unique(ranks[idx]):
                members = idx[ranks[idx] == r]
                crowding[members] = crowding_distances(values[members])
    return np.array(sorted(range(len(values)), key=lambda i: (ranks[i], -crowding[i], i)), dtype=int)


def pareto_front(points: Sequence[DesignPoint], objectives: Mapping[str, str]) -> list[DesignPoint]:
    """The non-dominated eligible points (:attr:`DesignPoint.eligible`: feasible, above the
    floor, not degenerate), sorted by the first objective."""
    feasible = [p for p in points if p.eligible]
    if not feasible:
        return []
    values = as_minimisation(feasible, objectives)
    front = [p for p, keep in zip(feasible, pareto_mask(values), strict=True) if keep]
    first = next(iter(objectives))
    return sorted(front, key=lambda p: p.objectives[first] * (1 if objectives[first] == "min" else -1))


def hypervolume(values: np.ndarray, reference: np.ndarray) -> float:
    """Exact hypervolume dominated by minimisation ``values`` ``[n, k]`` up to ``reference``.

    Points not strictly better than the reference in every objective contribute nothing.
    Uses slicing over the last objective (HSO); exact and fast for the few hundred points and
    two to four objectives of a study.
    """
    values = np.asarray(values, dtype=float).reshape(-1, len(reference))
    reference = np.asarray(reference, dtype=float)
    inside = values[np.all(values < reference, axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(_hso(inside[pareto_mask(inside)], reference))


def _hso(points: np.ndarray, reference: np.ndarray) -> float:
    k = points.shape[1]
    if k == 1:
        return float(reference[0] - points[:, 0].min())
    if k == 2:
        order = np.argsort(points[:, 0], kind="stable")
        xs, ys = points[order, 0], points[order, 1]
        best_y = np.minimum.accumulate(ys)
        widths = np.diff(np.append(xs, reference[0]))
        return float(np.sum(widths * (reference[1] - best_y)))
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    total = 0.0
    for i in range(len(points)):
        upper = points[i + 1, -1] if i + 1 < len(points) else reference[-1]
        depth = upper - points[i, -1]
        if depth <= 0:
            continue
        slab = points[: i + 1, :-1]
        total += depth * _hso(slab[pareto_mask(slab)], reference[:-1])
    return total


#: How far beyond the worst feasible value the default reference point lies, as a fraction
#: of that objective's observed range (the nadir-plus-margin convention).
REFERENCE_MARGIN = 0.1


def default_reference(losses: np.ndarray) -> np.ndarray:
    """Default hypervolume reference point of minimisation ``losses`` ``[n, k]`` (n >= 1).

    The worst value per objective pushed outward by :data:`REFERENCE_MARGIN` of its range; a
    zero range (one point, or a constant objective) takes the margin of the value's magnitude,
    or of 1 when that is 0, so the front still has a positive volume.
    """
    worst, best = losses.max(axis=0), losses.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.where(np.abs(worst) > 0, np.abs(worst), 1.0))
    reference: np.ndarray = worst + REFERENCE_MARGIN * span
    return reference


def hypervolume_reference(
    losses: np.ndarray, objectives: Mapping[str, str], reference: Mapping[str, float] | None = None
) -> np.ndarray:
    """The hypervolume reference point of the eligible points' ``losses`` ``[n, k]`` (n >= 1:
    feasible, above the floor, not degenerate), as losses.

    The study's ``reference`` (in objective units) for the objectives it names, and
    :func:`default_reference` for the others (the nadir of those points widened by
    :data:`REFERENCE_MARGIN` of their range, so a point far below the floor never stretches
    it): the one rule the progress bar, ``codesign study status`` and the report's
    hypervolume plot all use.
    """
    signs = minimisation_signs(objectives)
    ref = default_reference(np.asarray(losses, dtype=float))
    for j, name in enumerate(objectives):
        if reference and name in reference:
            ref[j] = float(reference[name]) * signs[j]
    return ref


def study_hypervolume(
    points: Sequence[DesignPoint],
    objectives: Mapping[str, str],
    reference: Mapping[str, float] | None = None,
) -> float:
    """Hypervolume of the eligible points (feasible, above the floor, not degenerate), in the
    product of the objectives' units.

    The reference point is :func:`hypervolume_reference`'s. With a full reference in the spec
    the figure never decreases as trials are added; the progress bar, ``codesign study
    status`` and the report's hypervolume plot all show this same number.
    """
    feasible = [p for p in points if p.eligible]
    if not feasible:
        return 0.0
    values = as_minimisation(feasible, objectives)
    return hypervolume(values, hypervolume_reference(values, objectives, reference))
