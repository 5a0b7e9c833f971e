"""Reading a confirmed trial's spread: the figures ``codesign study confirm`` re-measured over seeds.

A confirmed trial carries the trial user attribute :data:`CONFIRMED_ATTR`::

    {"seeds": [0, 1, 2],
     "points": [{"chip": None, "mean": {"accuracy": 0.31}, "std": {"accuracy": 0.02}}]}

``chip`` is None for a ``joint`` trial and the index into the record's ``hw_front`` for a
``nested`` one. The report (error bars) and ``codesign study front`` (``±``) read it through
:func:`confirmed_figures` only, so both show the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codesign.config import ConfigError

#: Trial user attribute written by ``codesign study confirm``.
CONFIRMED_ATTR = "codesign.confirmed"


@dataclass(frozen=True)
class ConfirmedPoint:
    """One design point's figures over the confirmation seeds.

    Attributes:
        chip: index into the record's ``hw_front`` (nested), or None (joint).
        seeds: the seeds the figures were measured with.
        mean, std: metric -> mean and standard deviation over those seeds.
    """

    chip: int | None
    seeds: tuple[int, ...]
    mean: dict[str, float]
    std: dict[str, float]

    def spread(self, metric: str) -> tuple[float, float] | None:
        """(mean, std) of ``metric``, or None when it was not confirmed."""
        if metric not in self.mean:
            return None
        return self.mean[metric], self.std.get(metric, 0.0)


def confirmed_figures(user_attrs: Mapping[str, Any]) -> dict[int | None, ConfirmedPoint]:
    """A trial's confirmed figures keyed by chip (None for a joint trial); empty if unconfirmed.

    Raises:
        ConfigError: the attribute is there but does not follow the contract (names the key).
    """
    raw = user_attrs.get(CONFIRMED_ATTR)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(None, CONFIRMED_ATTR, "a mapping with 'seeds' and 'points'", got=raw)
    seeds = raw.get("seeds", [])
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(None, f"{CONFIRMED_ATTR}.seeds", "a list of integer seeds", got=seeds)
    points = raw.get("points")
    if not isinstance(points, list):
        raise ConfigError(None, f"{CONFIRMED_ATTR}.points", "a list of {chip, mean, std}", got=points)
    out: dict[int | None, ConfirmedPoint] = {}
    for i, entry in enumerate(points):
        key = f"{CONFIRMED_ATTR}.points[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(None, key, "a mapping {chip, mean, std}", got=entry)
        chip = entry.get("chip")
        if chip is not None and (not isinstance(chip, int) or isinstance(chip, bool) or chip < 0):
            raise ConfigError(None, f"{key}.chip", "null (joint trial) or a chip index >= 0", got=chip)
        out[chip] = ConfirmedPoint(chip, tuple(seeds), _figures(entry.get("mean"), f"{key}.mean"),
                                   _figures(entry.get("std", {}), f"{key}.std"))
    return out


def _figures(value: Any, key: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ConfigError(None, key, "a mapping metric -> number", got=value)
    out: dict[str, float] = {}
    for name, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise ConfigError(None, f"{key}.{name}", "a finite number", got=number)
        out[str(name)] = float(number)
    return out
