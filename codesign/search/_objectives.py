"""Objectives and constraints: turning a trial's measured metrics into what Optuna is told.

Objectives are metric names with a direction (``wer: min``). Constraints are strings
``"<metric> <= <bound>"``, ``"<metric> >= <bound>"`` or ``fits_on_chip``; each becomes one
Optuna constraint value, feasible when ``<= 0`` (Optuna's convention):

- ``area_mm2 <= 10``   -> ``area_mm2 - 10``
- ``accuracy >= 0.8``  -> ``0.8 - accuracy``
- ``fits_on_chip``     -> ``0`` when the network fits on the chip, else ``1``

What a chip cannot represent is measured, so studies can constrain it:
``state_overflow_rate`` (state updates that saturated the chip's ``state_bits``) and
``split_spike_fraction`` (spike events the chip's ``graded_spike_bits`` cannot carry in one
event, so it splits them), e.g. ``state_overflow_rate <= 0.01``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Metrics the evaluation pipeline measures, with the direction that is better.
METRICS: dict[str, str] = {
    "accuracy": "max",
    "wer": "min",
    "cer": "min",
    "activation_sparsity": "max",
    "energy_uj": "min",
    "latency_ms": "min",
    "area_mm2": "min",
    "sram_used_kb": "min",
    "cycles": "min",
    "fits_on_chip": "max",
    "state_overflow_rate": "min",
    "split_spike_fraction": "min",
    "weight_bits": "min",
    "state_bits": "min",
}

#: The task metric each task's training measures (the other task metrics are never measured).
TASK_METRICS: dict[str, tuple[str, ...]] = {"commands": ("accuracy",), "digits": ("wer", "cer")}


def unmeasured_metric(names: Sequence[str], task: str) -> tuple[str, str] | None:
    """The first of ``names`` that a study of ``task`` never measures, with what it does
    measure instead (None when all are measured)."""
    every_task_metric = {m for ms in TASK_METRICS.values() for m in ms}
    measured = TASK_METRICS.get(task)
    if measured is None:
        return None
    for name in names:
        if name in every_task_metric and name not in measured:
            return name, ", ".join(measured)
    return None

FITS_ON_CHIP = "fits_on_chip"
_BOUND = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint; ``value(metrics)`` is feasible when ``<= 0``."""

    metric: str
    op: str  # "<=", ">=" or "fits"
    bound: float = 0.0

    @property
    def name(self) -> str:
        return FITS_ON_CHIP if self.op == "fits" else f"{self.metric} {self.op} {self.bound:g}"

    def value(self, metrics: Mapping[str, float]) -> float:
        """The constraint value from measured metrics.

        Raises:
            KeyError: the metric was not measured.
        """
        if self.op == "fits":
            return 0.0 if metrics[FITS_ON_CHIP] >= 1.0 else 1.0
        measured = float(metrics[self.metric])
        return measured - self.bound if self.op == "<=" else self.bound - measured


def parse_constraint(text: str) -> Constraint:
    """Parse ``"area_mm2 <= 10"`` / ``"accuracy >= 0.8"`` / ``"fits_on_chip"``.

    Raises:
        ValueError: anything else (message says what is expected).
    """
    if text.strip() == FITS_ON_CHIP:
        return Constraint(FITS_ON_CHIP, "fits")
    match = _BOUND.match(text)
    if match is None:
        raise ValueError(f"'<metric> <= <number>', '<metric> >= <number>' or '{FITS_ON_CHIP}', got '{text}'")
    metric, op, bound = match.groups()
    try:
        value = float(bound)
    except ValueError:
        raise ValueError(f"a number after '{op}' in '{text}'") from None
    if not math.isfinite(value):
        raise ValueError(f"a finite number after '{op}' in '{text}'")
    if metric not in METRICS:
        raise ValueError(f"a known metric in '{text}' (one of {', '.join(sorted(METRICS))})")
    return Constraint(metric, op, value)


def objective_values(metrics: Mapping[str, float], names: Sequence[str]) -> list[float]:
    """The objective vector in study order.

    Raises:
        ValueError: an objective is missing or not finite (the trial must fail, not score).
    """
    values = []
    for name in names:
        if name not in metrics:
            raise ValueError(f"objective '{name}' was not measured")
        value = float(metrics[name])
        if not math.isfinite(value):
            raise ValueError(f"objective '{name}' is {value}")
        values.append(value)
    return values


def constraint_values(metrics: Mapping[str, float], constraints: Sequence[Constraint]) -> dict[str, float]:
    """Constraint name -> value (feasible when <= 0).

    Raises:
        ValueError: a constrained metric is missing or not finite.
    """
    out: dict[str, float] = {}
    for c in constraints:
        try:
            value = c.value(metrics)
        except KeyError:
            raise ValueError(f"constraint '{c.name}': metric '{c.metric}' was not measured") from None
        if not math.isfinite(value):
            raise ValueError(f"constraint '{c.name}' is {value}")
        out[c.name] = value
    return out
