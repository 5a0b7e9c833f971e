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

Also owns what a usable network is: the accuracy *floor* of a task (:func:`accuracy_floor`,
clearly above chance: ``accuracy >= 2 x chance`` for classification, ``wer <= 0.9`` for
digits) and a *degenerate* network, one that outputs a constant or nothing
(:func:`is_degenerate`: one distinct output over the validation split, or WER 1.0 when that
count was not measured). Both are marks on stored design points, never reasons to drop them.

Also owns the one condition grammar, ``NAME OP NUMBER`` (:func:`parse_condition`,
:class:`Condition`), that constraints and ``codesign export --pick`` both read: a constraint
is a condition on a known metric with ``<=`` or ``>=`` (or ``fits_on_chip``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from codesign.search._metrics import DirectionView, task_metrics

#: Metrics a study may select on (objectives, constraints, floor), with the direction that is
#: better: a live view of the metric registry (``codesign.search._metrics``), where each is
#: declared once, with its unit, source and labels; a metric registered later is in it.
METRICS: Mapping[str, str] = DirectionView()


def unmeasured_metric(names: Sequence[str], task: str) -> tuple[str, str] | None:
    """The first of ``names`` that a study of ``task`` never measures, with what it does
    measure instead (None when all are measured)."""
    by_task = task_metrics()
    every_task_metric = {m for ms in by_task.values() for m in ms}
    measured = by_task.get(task)
    if measured is None:
        return None
    for name in names:
        if name in every_task_metric and name not in measured:
            return name, ", ".join(measured)
    return None

FITS_ON_CHIP = "fits_on_chip"

#: Metric: how many distinct outputs the network gave over a split (classes predicted, or
#: distinct decoded token sequences, the empty one included); 1 is a network that says one
#: thing whatever it hears. The plain name is the validation split's.
DISTINCT_OUTPUTS = "distinct_outputs"

#: The floor a task's designs must clear to be on a front, by task: a condition text, or a
#: multiple of chance for classification (chance = 1 / classes).
FLOOR_CHANCE_MULTIPLE = 2.0
FLOOR_WER = 0.9


def chance_accuracy(task: str) -> float | None:
    """Accuracy of a uniform guess on a classification task (None for a CTC task)."""
    if task != "commands":
        return None
    from codesign.data import COMMAND_CLASSES

    return 1.0 / len(COMMAND_CLASSES)


def accuracy_floor(task: str, given: str | None = "auto") -> Condition | None:
    """The floor of ``task``: the default (``given`` ``"auto"``: ``accuracy >= 2 x chance``
    on ``commands``, ``wer <= 0.9`` on ``digits``), a study's own condition (``"accuracy >=
    0.3"``), or None (``given`` ``"none"`` or None).

    Raises:
        ValueError: ``given`` is not ``auto``, ``none`` or a condition on a task metric.
    """
    if given is None or given == "none":
        return None
    if given == "auto":
        chance = chance_accuracy(task)
        if chance is not None:
            return Condition("accuracy", ">=", round(FLOOR_CHANCE_MULTIPLE * chance, 6))
        return Condition("wer", "<=", FLOOR_WER) if task == "digits" else None
    condition = parse_condition(given)
    measured = {m for ms in task_metrics().values() for m in ms}
    if condition.name not in measured:
        raise ValueError(f"'auto', 'none' or a condition on a task metric ({', '.join(sorted(measured))}), "
                         f"got '{given}'")
    return condition


def is_degenerate(metrics: Mapping[str, float]) -> bool:
    """Whether a network says nothing useful: one distinct output over the validation split
    (a constant class, or the same transcript, often the empty one, for every utterance), or,
    where that count was not measured (older records), a WER of 1.0 (no word right)."""
    distinct = metrics.get(DISTINCT_OUTPUTS)
    if distinct is not None and math.isfinite(float(distinct)):
        return float(distinct) <= 1.0
    wer = metrics.get("wer")
    return wer is not None and float(wer) >= 1.0 - EQUAL_REL_TOL

#: The comparison operators of a condition, for constraints and ``--pick`` alike.
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}
#: The operators a constraint takes: it becomes a signed distance to its bound, for which
#: ``<`` and ``<=`` are the same.
CONSTRAINT_OPERATORS = ("<=", ">=")
#: One token of a condition: an operator, or a run of anything else but blanks (so
#: ``snn.levels==4`` reads as three tokens).
_TOKEN = re.compile(r"\s*(<=|>=|==|!=|<|>|[^\s<>=!]+)")

#: Metrics come from float32 computations (an accuracy of 0.04 is stored as 0.03999999911),
#: so a value within this relative distance of the bound counts as equal to it.
EQUAL_REL_TOL = 1e-6


@dataclass(frozen=True)
class Condition:
    """``NAME OP NUMBER``: a measured value compared with a bound."""

    name: str
    op: str
    value: float

    def holds(self, x: float) -> bool:
        """Whether ``x`` meets the condition (within :data:`EQUAL_REL_TOL` of the bound counts as equal)."""
        if abs(x - self.value) <= EQUAL_REL_TOL * max(abs(self.value), abs(x)):
            x = self.value
        return OPERATORS[self.op](x, self.value)

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"


def condition_tokens(text: str) -> list[str]:
    """``text`` split into names, operators and numbers.

    Raises:
        ValueError: a character no token starts with (a lone ``=`` or ``!``); says where.
    """
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read from position {pos + 1}: '{text[pos:]}'")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def condition_of(name: str, op: str, bound: str, operators: Collection[str] = tuple(OPERATORS)) -> Condition:
    """The condition of three tokens ``NAME OP NUMBER``.

    Raises:
        ValueError: the operator is not one of ``operators`` or the bound not a finite
            number; the message says which, in a few words.
    """
    if op not in operators:
        if op in OPERATORS:
            raise ValueError(f"'{op}' is not allowed here, only {' or '.join(operators)}")
        raise ValueError(f"'{op}' is not an operator")
    try:
        value = float(bound)
    except ValueError:
        raise ValueError(f"'{bound}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"'{bound}' is not a finite number")
    return Condition(name, op, value)


def parse_condition(text: str, operators: Collection[str] = tuple(OPERATORS)) -> Condition:
    """Parse ``"NAME OP NUMBER"`` (``"area_mm2 <= 4"``, ``"snn.levels==4"``).

    Raises:
        ValueError: anything else; the message says what is wrong, in a few words.
    """
    tokens = condition_tokens(text)
    if len(tokens) != 3:
        raise ValueError("a condition is 'NAME OP NUMBER'")
    name, op, bound = tokens
    return condition_of(name, op, bound, operators=operators)


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
    """Parse ``"area_mm2 <= 10"`` / ``"accuracy >= 0.8"`` / ``"fits_on_chip"``: a
    :func:`parse_condition` on a known metric with ``<=`` or ``>=``.

    Raises:
        ValueError: anything else (message says what is expected, and what is wrong).
    """
    if text.strip() == FITS_ON_CHIP:
        return Constraint(FITS_ON_CHIP, "fits")
    try:
        condition = parse_condition(text, CONSTRAINT_OPERATORS)
    except ValueError as err:
        raise ValueError(f"'<metric> <= <number>', '<metric> >= <number>' or '{FITS_ON_CHIP}', "
                         f"got '{text}' ({err})") from None
    if condition.name not in METRICS:
        raise ValueError(f"a known metric in '{text}' (one of {', '.join(sorted(METRICS))})")
    return Constraint(condition.name, condition.op, condition.value)


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
