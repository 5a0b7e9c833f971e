"""Stored confirmations: the figures of design points re-trained over several seeds.

Owns the stored form (written by :func:`store_confirmed`, read by :func:`confirmed_figures`):
finished Optuna trials are immutable, so a confirmation is a study user attribute
``codesign.confirmed.<trial>`` = ``{"seeds": [...], "points": [{"chip": int | None, "mean":
{metric: value}, "std": {metric: value}, "values": {metric: [per seed]}}]}`` (``chip`` holds
the point's :attr:`~codesign.search.DesignPoint.member`, the part after the dot of its id
``12.3``, None for a trial's one design; the stored key keeps its old name, so studies
confirmed before still read); ``codesign.confirmed_at``
marks when the front was confirmed. :class:`ConfirmedPoint` is what a design point carries
(``DesignPoint.confirmed``). Running a confirmation is :mod:`codesign.search._confirm`'s.

Imports nothing else of ``codesign.search``, so every reader of a study can use it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna

#: Study user attribute prefix of one trial's confirmed figures.
CONFIRMED_ATTR = "codesign.confirmed"
#: Study user attribute: when the study's front was last confirmed, and how.
CONFIRMED_AT_ATTR = "codesign.confirmed_at"


@dataclass(frozen=True)
class ConfirmedPoint:
    """One design point's figures over the confirmation seeds."""

    trial: int
    member: int | None
    seeds: tuple[int, ...]
    mean: dict[str, float]
    std: dict[str, float]
    values: dict[str, list[float]]

    def spread(self, metric: str) -> tuple[float, float] | None:
        """(mean, std) of ``metric`` over the seeds, or None when it was not re-measured
        (what the report's error bars and ``study front``'s ``±`` show)."""
        if metric not in self.mean:
            return None
        return self.mean[metric], self.std.get(metric, 0.0)


def confirmed_figures(study_attrs: Mapping[str, Any], trial: int, member: int | None = None) -> ConfirmedPoint | None:
    """The confirmed figures of design point (``trial``, ``member``), or None when not confirmed."""
    raw = study_attrs.get(f"{CONFIRMED_ATTR}.{trial}")
    if not isinstance(raw, dict):
        return None
    for point in raw.get("points", []):
        if point.get("chip") == member:
            return ConfirmedPoint(trial, member, tuple(raw.get("seeds", [])), dict(point["mean"]), dict(point["std"]),
                                  {k: list(v) for k, v in point.get("values", {}).items()})
    return None


def store_confirmed(study: optuna.Study, confirmed: list[ConfirmedPoint]) -> None:
    """Store ``confirmed`` on the study: one attribute per trial (a point confirmed again replaces
    its earlier figures, the trial's other points stay) and when and which points were confirmed."""
    by_trial: dict[int, list[ConfirmedPoint]] = {}
    for point in confirmed:
        by_trial.setdefault(point.trial, []).append(point)
    for trial, points in by_trial.items():
        existing = study.user_attrs.get(f"{CONFIRMED_ATTR}.{trial}") or {"points": []}
        kept = [p for p in existing.get("points", []) if p.get("chip") not in {q.member for q in points}]
        study.set_user_attr(f"{CONFIRMED_ATTR}.{trial}", {
            "seeds": list(points[0].seeds),
            "points": kept + [{"chip": p.member, "mean": p.mean, "std": p.std, "values": p.values} for p in points],
        })
    study.set_user_attr(CONFIRMED_AT_ATTR, {"utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                            "points": [[p.trial, p.member] for p in confirmed]})


__all__ = ["CONFIRMED_ATTR", "CONFIRMED_AT_ATTR", "ConfirmedPoint", "confirmed_figures", "store_confirmed"]
