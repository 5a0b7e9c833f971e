"""The pick language: choose one stored design point by a goal and conditions.

Lives in ``codesign.search`` because a study's ``recommend:`` policy may be a pick expression
(:mod:`codesign.search._recommend`); ``codesign export --pick`` reads the same functions
(re-exported by ``codesign.export``). Applying a pick to a study view (``pick_point``) is
:mod:`codesign.search._reader`'s, so this module imports no study reader.

Grammar (case-sensitive names, whitespace-separated tokens)::

    pick      := ("min" | "max" | "best") NAME [ "where" condition ( "and" condition )* ]
    condition := NAME OP NUMBER | NAME "in" "top" (INTEGER | PERCENT "%")
    OP        := "<=" | "<" | ">=" | ">" | "==" | "!="

``NAME OP NUMBER`` is :mod:`codesign.search`'s one condition grammar (the one study
constraints are written in), read by :func:`codesign.search.condition_of` into a
:class:`~codesign.search.Condition`; a value within :data:`codesign.search.EQUAL_REL_TOL` of a
bound counts as equal to it.

``NAME`` is an objective, a metric of the trial record (``energy_uj``, ``wer``, ...) or a
numeric parameter (``snn.levels``). ``best`` and ``in top`` are rank-based: they follow an
objective's direction (``best accuracy`` is ``max accuracy`` when accuracy is maximised) and
need no threshold, so an expression such as ``min energy_uj where accuracy in top 3`` (the
cheapest of the three most accurate points) matches in every study with a feasible point.
``top K`` keeps the K best eligible points by that objective, ``top P%`` the best P percent
(at least one). Only the study's eligible design points are considered: feasible, above the
accuracy floor and not degenerate (never a failed trial, an infeasible, degenerate or
below-floor design point, or a reference point); ties go to the lowest trial number, then chip.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from codesign.config import ConfigError
from codesign.search._front import DesignPoint
from codesign.search._objectives import OPERATORS, Condition, condition_of, condition_tokens

_GRAMMAR = ("'min|max|best NAME [where NAME OP NUMBER | NAME in top K | NAME in top P% [and ...]]' "
            "with OP one of <= < >= > == !=")


@dataclass(frozen=True)
class Rank:
    """``NAME in top K`` (``percent`` False) or ``NAME in top K%`` (``percent`` True)."""

    name: str
    k: float
    percent: bool = False

    def size(self, n: int) -> int:
        """How many of ``n`` candidates the condition keeps (at least one)."""
        return max(1, math.ceil(n * self.k / 100.0)) if self.percent else int(self.k)

    def __str__(self) -> str:
        return f"{self.name} in top {self.k:g}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class Pick:
    """A parsed pick expression."""

    goal: str  # "min" | "max" | "best" (the objective's direction)
    name: str
    conditions: tuple[Condition | Rank, ...]

    def __str__(self) -> str:
        text = f"{self.goal} {self.name}"
        if self.conditions:
            text += " where " + " and ".join(str(c) for c in self.conditions)
        return text


def _error(text: str, why: str) -> ConfigError:
    return ConfigError(None, "--pick", _GRAMMAR, got=text, hint=why)


def parse_pick(text: str) -> Pick:
    """Parse a pick expression.

    Raises:
        ConfigError: the expression does not follow the grammar; the hint says where.
    """
    tokens = _tokenise(text)
    if len(tokens) < 2:
        raise _error(text, "a goal and a name, e.g. 'min energy_uj'")
    goal, name = tokens[0], tokens[1]
    if goal not in ("min", "max", "best"):
        raise _error(text, f"starts with 'min', 'max' or 'best', not '{goal}'")
    _check_name(text, name)
    rest = tokens[2:]
    conditions: list[Condition | Rank] = []
    if rest:
        if rest[0] != "where":
            raise _error(text, f"expected 'where' after '{goal} {name}', got '{rest[0]}'")
        conditions = _conditions(text, rest[1:])
    return Pick(goal, name, tuple(conditions))


def parse_filter(text: str) -> tuple[Condition | Rank, ...]:
    """The conditions of a filter: what follows ``where`` in a pick expression
    (``"accuracy >= 0.5 and hw.weight_bits <= 4"``, ``"accuracy in top 5"``).

    Raises:
        ConfigError: the text does not follow the grammar (key ``--filter``).
    """
    try:
        return tuple(_conditions(text, _tokenise(text)))
    except ConfigError as err:
        raise ConfigError(None, "--filter", "'NAME OP NUMBER | NAME in top K[%] [and ...]' with OP one of "
                          "<= < >= > == !=", got=text, hint=err.hint) from None


def filter_points(points: Sequence[DesignPoint], conditions: Sequence[Condition | Rank],
                  objectives: Mapping[str, str], study: str = "the study") -> list[DesignPoint]:
    """The ``points`` that meet every condition (a rank condition ranks among ``points``);
    a point that never measured a condition's name does not meet it.

    Raises:
        ConfigError: a name no point measured (with a close match; key ``--filter``).
    """
    names = _known(objectives, points)
    for cond in conditions:
        if points:
            _refuse_unknown(cond.name, names, "--filter", str(cond), study)
    left = list(points)
    for cond in conditions:
        left = _meeting(left, cond, points, objectives, str(cond), study)
    return left


def _refuse_unknown(name: str, names: list[str], key: str, got: str, study: str) -> None:
    """A ConfigError (``key``, with a close match) when ``name`` is not among the measured ``names``."""
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=1)
    raise ConfigError(None, key, "a name among: " + ", ".join(names), got=got,
                      hint=f"'{name}' is not measured in study '{study}'" + (f"; did you mean '{close[0]}'?" if close else ""))


def _meeting(left: list[DesignPoint], cond: Condition | Rank, among: Sequence[DesignPoint],
             objectives: Mapping[str, str], text: str, study: str) -> list[DesignPoint]:
    """The points of ``left`` that meet ``cond``; a rank condition ranks among ``among``."""
    if isinstance(cond, Rank):
        top = set(_ranked(objectives, list(among), cond.name, text, study)[: cond.size(len(among))])
        return [p for p in left if p.key in top]
    return [p for p in left if (v := _value(objectives, p, cond.name)) is not None and cond.holds(v)]


def _conditions(text: str, rest: list[str]) -> list[Condition | Rank]:
    """Conditions joined by ``and`` from ``rest`` (the tokens after ``where``)."""
    conditions: list[Condition | Rank] = []
    while True:
        condition, rest = _condition(text, rest)
        conditions.append(condition)
        if not rest:
            return conditions
        if rest[0] != "and":
            raise _error(text, f"conditions are joined by 'and', got '{rest[0]}'")
        rest = rest[1:]


def _condition(text: str, rest: list[str]) -> tuple[Condition | Rank, list[str]]:
    """The condition ``rest`` starts with, and the tokens after it."""
    if len(rest) < 3:
        raise _error(text, "a condition is 'NAME OP NUMBER'" + (f", got '{' '.join(rest)}'" if rest else ""))
    cname, op, raw = rest[:3]
    _check_name(text, cname)
    if op == "in":  # NAME in top K, or "top 50 %"
        after = rest[4:]
        return _rank(text, cname, rest[2:]), after[1:] if after and after[0] == "%" else after
    try:
        return condition_of(cname, op, raw), rest[3:]
    except ValueError as err:
        raise _error(text, str(err)) from None


def _rank(text: str, name: str, rest: list[str]) -> Rank:
    """``top K`` or ``top P%`` after ``NAME in`` (``rest`` starts at ``top``)."""
    if len(rest) < 2 or rest[0] != "top":
        raise _error(text, f"a rank condition is '{name} in top K' or '{name} in top P%'")
    raw = rest[1]
    percent = raw.endswith("%") or (len(rest) > 2 and rest[2] == "%")
    number = raw.rstrip("%")
    try:
        k = float(number)
    except ValueError:
        raise _error(text, f"'{raw}' is not a count or a percentage") from None
    problem = _rank_size_problem(k, percent)
    if problem is not None:
        raise _error(text, f"{problem}, got {raw}")
    return Rank(name, k, percent)


def _rank_size_problem(k: float, percent: bool) -> str | None:
    """What is wrong with ``top k`` (``percent``: ``top k%``), or None."""
    if not math.isfinite(k):  # (float() reads "inf" and "nan")
        return "a finite count or percentage after 'top'"
    if percent:
        return None if 0 < k <= 100 else "a percentage in (0, 100]"
    return None if k >= 1 and k == int(k) else "a whole number of points >= 1"


def _tokenise(text: str) -> list[str]:
    try:
        return condition_tokens(text)
    except ValueError as err:
        raise _error(text, str(err)) from None


def _check_name(text: str, name: str) -> None:
    if name in ("where", "and", "min", "max", "best", "in", "top") or name in OPERATORS:
        raise _error(text, f"expected a metric name, got the keyword '{name}'")


def _value(objectives: Mapping[str, str], point: DesignPoint, name: str) -> float | None:
    if name in objectives:
        return float(point.objectives[name])
    if name in point.metrics:
        return float(point.metrics[name])
    raw = point.params.get(name)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    return None


def _known(objectives: Mapping[str, str], points: Sequence[DesignPoint]) -> list[str]:
    names: dict[str, None] = dict.fromkeys(objectives)
    for t in points:
        names.update(dict.fromkeys(t.metrics))
        names.update(dict.fromkeys(k for k, v in t.params.items() if isinstance(v, (int, float))))
    return list(names)


def picked(points: Sequence[DesignPoint], pick: Pick | str, objectives: Mapping[str, str],
           study: str = "the study") -> list[DesignPoint]:
    """The eligible ``points`` that meet ``pick``'s conditions, best first by its goal (ties:
    lower trial, then chip): the pick's answer and its runners-up.

    Raises:
        ConfigError: as :func:`pick_point`.
    """
    text, pick = _text_and_pick(pick)
    names = _known(objectives, points)
    for name in [pick.name, *(c.name for c in pick.conditions)]:
        _refuse_unknown(name, names, "--pick", text, study)
    candidates = _eligible(points, text, study)
    left, counts = _narrowed(candidates, pick.conditions, objectives, text, study)
    scored = [(v, t) for t in left if (v := _value(objectives, t, pick.name)) is not None]
    if not scored:
        raise ConfigError(
            None, "--pick", "an expression some finished feasible trial meets", got=text,
            hint=f"of {len(candidates)} feasible trials: " + "; ".join(counts or [f"none has {pick.name}"]),
        )
    goal = _direction(objectives, pick.name, text, study) if pick.goal == "best" else pick.goal
    return _best_first(scored, goal)


def _text_and_pick(pick: Pick | str) -> tuple[str, Pick]:
    """A pick expression as its text (for messages) and parsed."""
    if isinstance(pick, str):
        return pick, parse_pick(pick)
    return str(pick), pick


def _eligible(points: Sequence[DesignPoint], text: str, study: str) -> list[DesignPoint]:
    """The eligible ``points`` (feasible, above the floor, not degenerate).

    Raises:
        ConfigError: there is none (key ``--pick``).
    """
    candidates = [p for p in points if p.eligible]
    if not candidates:
        raise ConfigError(None, "--pick", f"a finished feasible design above the accuracy floor in study '{study}'",
                          got=text, hint="the study has none yet")
    return candidates


def _narrowed(candidates: list[DesignPoint], conditions: Sequence[Condition | Rank], objectives: Mapping[str, str],
              text: str, study: str) -> tuple[list[DesignPoint], list[str]]:
    """The ``candidates`` meeting every condition in turn (a rank condition ranks among all
    candidates), and how many were left after each condition (for the message when none is)."""
    left, counts = candidates, []
    for cond in conditions:
        left = _meeting(left, cond, candidates, objectives, text, study)
        counts.append(f"{cond}: {len(left)} left")
    return left, counts


def _best_first(scored: list[tuple[float, DesignPoint]], goal: str) -> list[DesignPoint]:
    """The points of ``(value, point)`` pairs, best value first by ``goal`` (``min``/``max``;
    ties: lower trial, then chip)."""
    sign = 1.0 if goal == "min" else -1.0
    return [p for _, p in sorted(scored, key=lambda vp: (sign * vp[0], vp[1].trial, vp[1].member or 0))]


def _direction(objectives: Mapping[str, str], name: str, text: str, study: str) -> str:
    """``min`` or ``max``: the direction of objective ``name``, which rank-based picks need."""
    if name not in objectives:
        raise ConfigError(None, "--pick", "an objective after 'best' or before 'in top' ("
                          + ", ".join(objectives) + ")", got=text,
                          hint=f"'{name}' has no direction in study '{study}'; use min/max or a threshold")
    return objectives[name]


def _ranked(objectives: Mapping[str, str], points: list[DesignPoint], name: str, text: str,
            study: str) -> list[tuple[int, int | None]]:
    """Keys of ``points`` best first by objective ``name`` (ties: lower trial, then chip)."""
    goal = _direction(objectives, name, text, study)
    scored = [(v, p) for p in points if (v := _value(objectives, p, name)) is not None]
    return [p.key for p in _best_first(scored, goal)]
