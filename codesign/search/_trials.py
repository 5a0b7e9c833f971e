"""The design points a stored trial holds: the one rule every reader of a study follows.

A completed trial's record names its strategy (``joint`` | ``nested``), and the strategy says
which design points the record holds (:func:`record_points`); :func:`trial_points` adds what
a stored trial may lack (no record, or no point carrying the study's objectives) and
:func:`study_points` collects them over a study, leaving out reference trials
(:data:`~codesign.search._front.REFERENCE_ATTR`). Design points themselves, their marks and
the Pareto policy are :mod:`codesign.search._front`'s.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import optuna
from optuna.trial import TrialState

from codesign.search._front import REFERENCE_ATTR, DesignPoint, mark_points
from codesign.search._objectives import Condition
from codesign.search._record import TrialRecord, record_of
from codesign.search._strategy import strategy_named


def record_points(trial_number: int, record: TrialRecord, floor: Condition | None = None) -> list[DesignPoint]:
    """The design points a completed trial's record holds (its strategy says which), marked
    against ``floor`` (:func:`mark_points`)."""
    return mark_points(strategy_named(record.strategy).points(trial_number, record), floor)


def trial_points(
    trial: optuna.trial.FrozenTrial,
    record: TrialRecord | None,
    objective_names: Sequence[str] | None = None,
    floor: Condition | None = None,
) -> list[DesignPoint]:
    """The design points of one stored trial: the one rule every reader of a study follows.

    Only a trial that completed with finite objective values holds any, and none when its
    record names an error or a pruning reason. A record's points are its strategy's
    (:func:`record_points`); with ``objective_names`` given, only those that carry every
    objective are kept, and a trial left with none (written without a record, or a ``nested``
    trial none of whose chips was feasible) is one point of Optuna's values under those names,
    the trial's parameters and the record's constraints (else Optuna's) and metrics.

    Args:
        trial: a stored trial; record: its TrialRecord, or None when it has none.
        objective_names: the study's objective names in Optuna's value order; None keeps
            every point the record holds and makes none for a trial without one.
        floor: the study's accuracy floor; points are marked against it (:func:`mark_points`).
    """
    values = trial.values
    if trial.state != TrialState.COMPLETE or values is None or not _holds_designs(values, record):
        return []
    points = record_points(trial.number, record, floor) if record is not None else []
    if objective_names is None:
        return points
    points = _carrying(points, objective_names)
    if points or len(objective_names) != len(values):
        return points
    return _values_point(trial, values, record, objective_names, floor)


def _holds_designs(values: Sequence[float], record: TrialRecord | None) -> bool:
    """Whether a completed trial with these values and record holds design points: its values
    are finite, its record (if any) names no error or pruning reason, and the record's strategy
    says it holds designs (a network searched without a chip: its told values are no design)."""
    if not all(math.isfinite(v) for v in values):
        return False
    if record is None:
        return True
    if record.error is not None or record.pruned is not None:
        return False
    return strategy_named(record.strategy).holds_designs(record)


def _carrying(points: list[DesignPoint], objective_names: Sequence[str]) -> list[DesignPoint]:
    """The points that carry every objective, with just those objectives."""
    return [dataclasses.replace(p, objectives={n: p.objectives[n] for n in objective_names})
            for p in points if all(n in p.objectives for n in objective_names)]


def _values_point(trial: optuna.trial.FrozenTrial, values: Sequence[float], record: TrialRecord | None,
                  objective_names: Sequence[str], floor: Condition | None) -> list[DesignPoint]:
    """A trial's one point made from Optuna's values under ``objective_names``, its parameters,
    the record's constraints (else Optuna's) and metrics, marked against ``floor``."""
    constraints = dict(record.constraints) if record is not None and record.constraints else {}
    if not constraints:
        constraints = {str(k): float(v) for k, v in trial.constraints.items()}
    return mark_points([DesignPoint(
        trial.number, dict(trial.params), dict(zip(objective_names, (float(v) for v in values), strict=True)),
        constraints, dict(record.metrics) if record is not None else {},
    )], floor)


def study_points(trials: Iterable[optuna.trial.FrozenTrial], floor: Condition | None = None) -> list[DesignPoint]:
    """Every design point of the study's completed trials that carry a record (reference
    trials, flagged :data:`REFERENCE_ATTR`, are none), marked against ``floor``."""
    points: list[DesignPoint] = []
    for trial in trials:
        if trial.state == TrialState.COMPLETE and not trial.user_attrs.get(REFERENCE_ATTR):
            points.extend(trial_points(trial, record_of(trial.user_attrs), floor=floor))
    return points


__all__ = ["record_points", "study_points", "trial_points"]
