"""Parallel-coordinates data over the searched parameters, coloured by an objective."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.report._study import StudyView


@dataclass(frozen=True)
class Axis:
    """One vertical axis.

    Attributes:
        name: parameter or objective name.
        values: one number per line (categorical choices encoded as their index).
        tick_labels: the choice labels for a categorical axis (index i is ``tick_labels[i]``),
            else None.
        log: the parameter was searched on a log scale and is drawn as log10.
    """

    name: str
    values: tuple[float, ...]
    tick_labels: tuple[str, ...] | None
    log: bool


@dataclass(frozen=True)
class ParallelCoordinatesInfo:
    """Lines are design points of finished candidates; axes are parameters, then objectives.

    Attributes:
        keys: (trial, chip) of each line.
        axes: parameter axes then objective axes.
        colour_by: objective name -> its value per line (the renderer offers each).
        feasible: per line.
        reason: why there is nothing to draw, else None.
    """

    keys: tuple[tuple[int, int | None], ...]
    axes: tuple[Axis, ...]
    colour_by: dict[str, tuple[float, ...]]
    feasible: tuple[bool, ...]
    reason: str | None


def parallel_coordinates_info(view: StudyView) -> ParallelCoordinatesInfo:
    """Axes for every parameter that all design points share, plus the objectives."""
    lines = list(view.points)
    if not lines:
        return ParallelCoordinatesInfo((), (), {}, (), "no finished trial with objective values yet")
    shared = [p for p in lines[0].params if all(p in t.params for t in lines)]
    axes: list[Axis] = []
    for name in shared:
        raw = [t.params[name] for t in lines]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            arr = np.asarray(raw, dtype=np.float64)
            log = name in view.log_params and bool(np.all(arr > 0))
            shown = np.log10(arr) if log else arr
            axes.append(Axis(name, tuple(float(x) for x in shown), None, log))
        else:
            labels = tuple(sorted({str(v) for v in raw}))
            index = {label: i for i, label in enumerate(labels)}
            axes.append(Axis(name, tuple(float(index[str(v)]) for v in raw), labels, False))
    colour_by: dict[str, tuple[float, ...]] = {}
    for i, name in enumerate(view.objective_names):
        column = tuple(float(t.values[i]) for t in lines)
        axes.append(Axis(name, column, None, False))
        colour_by[name] = column
    return ParallelCoordinatesInfo(
        keys=tuple(t.key for t in lines),
        axes=tuple(axes),
        colour_by=colour_by,
        feasible=tuple(t.feasible for t in lines),
        reason=None,
    )
