"""Parallel-coordinates data over the searched parameters, coloured by an objective.

A study searches two dozen parameters or more; one panel with every axis crams their labels
together. :func:`parallel_coordinates_infos` therefore gives one panel per parameter group,
the network (``snn.*``) and the chip (``hw.*``), each with only the parameters that differ
between designs, most important first, and the objectives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from codesign.report._labels import GROUPS, group_of
from codesign.search import DesignPoint, StudyView

if TYPE_CHECKING:
    from codesign.search import TrialRecord


@dataclass(frozen=True)
class Axis:
    """One vertical axis.

    Attributes:
        name: parameter or objective name.
        values: one number per line (categorical choices encoded as their index).
        tick_labels: the choice labels for a categorical axis (index i is ``tick_labels[i]``),
            else None.
        log: the parameter was searched on a log scale and is drawn as log10.
        objective: an objective axis (the last ones), not a parameter.
    """

    name: str
    values: tuple[float, ...]
    tick_labels: tuple[str, ...] | None
    log: bool
    objective: bool = False


@dataclass(frozen=True)
class ParallelCoordinatesInfo:
    """Lines are design points of finished candidates; axes are parameters, then objectives.

    Attributes:
        keys: (trial, chip) of each line.
        axes: parameter axes then objective axes.
        colour_by: objective name -> its value per line (the renderer offers each); also
            ``node`` (the index of the Ray node that ran each line) when several nodes did.
        feasible: per line.
        reason: why there is nothing to draw, else None.
        group: the parameter group drawn (``snn``, ``hw``), or ``""`` for every parameter.
        constant: parameters of the group equal on every design (not drawn) -> that value.
        by_importance: the parameter axes are ordered by importance (else by the space).
        conditional: parameters of the group some designs lack (e.g. ``levels`` of LIF
            neurons), not drawn.
    """

    keys: tuple[tuple[int, int | None], ...]
    axes: tuple[Axis, ...]
    colour_by: dict[str, tuple[float, ...]]
    feasible: tuple[bool, ...]
    reason: str | None
    group: str = ""
    constant: dict[str, str] = field(default_factory=dict)
    conditional: tuple[str, ...] = ()
    by_importance: bool = False


def _node_of(record: TrialRecord | None) -> str:
    """The Ray node that ran a trial (its address, else its id), "" when unknown."""
    if record is None:
        return ""
    return str(record.worker_node_ip or record.worker_node_id[:12] or record.worker_host)


def parallel_coordinates_info(view: StudyView, group: str | None = None,
                              importance: Mapping[str, float] | None = None) -> ParallelCoordinatesInfo:
    """Axes for the parameters all design points share, then the objectives.

    Args:
        view: the study.
        group: ``None`` for every parameter in the space's order; ``"snn"`` or ``"hw"`` for
            that group's parameters that differ between designs.
        importance: parameter -> importance; the group's axes are ordered by it, most
            important first (parameters it does not name keep their order, after those).
    """
    lines = list(view.points)
    if not lines:
        return ParallelCoordinatesInfo((), (), {}, (), "no finished trial with objective values yet", group or "")
    chosen = _choose_parameters(lines, group, importance)
    objectives = _objective_axes(view, lines)
    colour_by = {a.name: a.values for a in objectives}
    nodes = _node_colours(view, lines)
    if nodes is not None:  # a cluster run: which node ran each design
        colour_by["node"] = nodes
    return ParallelCoordinatesInfo(
        keys=tuple(t.key for t in lines),
        axes=(*(_parameter_axis(view, name, lines) for name in chosen.drawn), *objectives),
        colour_by=colour_by,
        feasible=tuple(t.feasible for t in lines),
        reason=_no_axis_reason(group, chosen.drawn),
        group=group or "",
        constant=chosen.constant,
        conditional=chosen.conditional,
        by_importance=chosen.by_importance,
    )


@dataclass(frozen=True)
class _Chosen:
    """The parameters of a panel: drawn (in axis order), constant, conditional."""

    drawn: list[str]
    constant: dict[str, str]
    conditional: tuple[str, ...]
    by_importance: bool


def _choose_parameters(lines: list[DesignPoint], group: str | None,
                       importance: Mapping[str, float] | None) -> _Chosen:
    """Every parameter all lines share in the space's order (``group`` None), or the group's
    that differ between lines, most important first."""
    names = _parameter_names(lines, group)
    shared = [n for n in names if all(n in t.params for t in lines)]
    conditional = tuple(n for n in names if n not in shared)
    if group is None:
        return _Chosen(shared, {}, conditional, False)
    constant = _constant(lines, shared)
    drawn, by_importance = _by_importance([n for n in shared if n not in constant], importance)
    return _Chosen(drawn, constant, conditional, by_importance)


def _no_axis_reason(group: str | None, drawn: list[str]) -> str | None:
    if group is not None and not drawn:
        return f"no {GROUPS.get(group, group)} parameter differs between the designs"
    return None


def _parameter_names(lines: list[DesignPoint], group: str | None) -> list[str]:
    """The parameters of ``lines`` (of ``group``, when given) in first-seen order."""
    names = list(dict.fromkeys(k for t in lines for k in t.params))
    return names if group is None else [n for n in names if group_of(n) == group]


def _constant(lines: list[DesignPoint], shared: list[str]) -> dict[str, str]:
    """The parameters of ``shared`` equal on every line -> that value."""
    return {n: str(lines[0].params[n]) for n in shared if len({repr(t.params[n]) for t in lines}) == 1}


def _by_importance(names: list[str], importance: Mapping[str, float] | None) -> tuple[list[str], bool]:
    """``names`` most important first (those ``importance`` does not name keep their order,
    after), and whether they were ordered so (``importance`` names one of them)."""
    if not importance or not any(n in importance for n in names):
        return names, False
    rank = {n: i for i, n in enumerate(sorted(importance, key=lambda k: -importance[k]))}
    return sorted(names, key=lambda n: rank.get(n, len(rank))), True


def _parameter_axis(view: StudyView, name: str, lines: list[DesignPoint]) -> Axis:
    """A numeric parameter's axis (log10 when searched on a log scale and positive), or a
    categorical one's (choices as their index in sorted order)."""
    raw = [t.params[name] for t in lines]
    if all(_is_number(v) for v in raw):
        arr = np.asarray(raw, dtype=np.float64)
        log = name in view.log_params and bool(np.all(arr > 0))
        shown = np.log10(arr) if log else arr
        return Axis(name, tuple(float(x) for x in shown), None, log)
    return _categorical_axis(name, raw)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _categorical_axis(name: str, raw: list[object]) -> Axis:
    labels = tuple(sorted({str(v) for v in raw}))
    index = {label: i for i, label in enumerate(labels)}
    return Axis(name, tuple(float(index[str(v)]) for v in raw), labels, False)


def _objective_axes(view: StudyView, lines: list[DesignPoint]) -> tuple[Axis, ...]:
    return tuple(Axis(name, tuple(float(t.values[i]) for t in lines), None, False, objective=True)
                 for i, name in enumerate(view.objective_names))


def _node_colours(view: StudyView, lines: list[DesignPoint]) -> tuple[float, ...] | None:
    """Each line's Ray node as an index into the sorted node names, or None when one node (or
    none known) ran every line."""
    node_by_trial = {t.number: _node_of(t.record) for t in view.trials}
    nodes = [node_by_trial.get(t.trial, "") for t in lines]
    if len(set(nodes)) <= 1:
        return None
    node_names = sorted(set(nodes))
    return tuple(float(node_names.index(n)) for n in nodes)


def parallel_coordinates_infos(view: StudyView,
                               importance: Mapping[str, float] | None = None) -> tuple[ParallelCoordinatesInfo, ...]:
    """One panel per parameter group the study searches: network (``snn.*``), then chip (``hw.*``)."""
    present = {group_of(k) for p in view.points for k in p.params}
    groups: list[str | None] = [g for g in GROUPS if g in present] or [None]
    return tuple(parallel_coordinates_info(view, g, importance) for g in groups)
