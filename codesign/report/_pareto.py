"""Pareto-front and hypervolume data, computed without any plotting library.

Owns dominance (over eligible, finished candidates only: feasible, above the accuracy floor,
not degenerate), the front members, the points each scatter draws (eligible front / dominated /
below the floor or degenerate / infeasible / reference, the confirmed spread of confirmed
points, and the trials that have no objective values: pruned before training or failed, with
their reasons), where the floor lies on the scatters, and the hypervolume of the eligible
front as trials arrive, with its reference point (the one rule of ``codesign study status``:
:func:`codesign.search.hypervolume_reference` of the eligible points).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from codesign.report._labels import GROUPS, bare_name, group_of
from codesign.search import (
    REFERENCE_MARGIN,
    DesignPoint,
    StudyView,
    TrialRecord,
    TrialView,
    hypervolume,
    hypervolume_reference,
    minimisation_signs,
    pareto_front,
    pareto_mask,
    precision_of,
    split_named,
)

PointKind = Literal["front", "dominated", "below_floor", "infeasible", "reference"]
POINT_KINDS: tuple[PointKind, ...] = ("front", "dominated", "below_floor", "infeasible", "reference")
Key = tuple[int, "int | None"]
#: Lines a point's hover holds at most: its id, objectives, chip and network; a click on the
#: point opens the full design.
MAX_HOVER_LINES = 8
#: Objectives that span decades across a front, drawn on log axes by default.
LOG_OBJECTIVE_PREFIXES = ("energy", "latency", "cycles", "area", "edp", "power")
#: Why a trial has no design point: pruned before training, stopped early, or failed.
UnevaluatedKind = Literal["pruned", "stopped", "failed"]


def _front(view: StudyView) -> list[DesignPoint]:
    """The study's Pareto front, best first by the first objective: exactly
    :func:`codesign.search.pareto_front`, the rule of ``codesign study front``."""
    return pareto_front(view.points, view.objectives) if view.objective_names else []


def front_keys(view: StudyView) -> tuple[Key, ...]:
    """(trial, chip) keys of the Pareto front (feasible design points that none dominates;
    equal points kept once, the earliest), in trial order."""
    on_front = {p.key for p in _front(view)}
    return tuple(p.key for p in view.points if p.key in on_front)


def front_numbers(view: StudyView) -> tuple[int, ...]:
    """Trial numbers holding at least one front point, in trial order."""
    return tuple(sorted({k[0] for k in front_keys(view)}))


def point_kind(point: DesignPoint, front: frozenset[Key] | set[Key]) -> PointKind:
    if point.reference is not None:
        return "reference"
    if not point.feasible:
        return "infeasible"
    if not point.eligible:  # below the accuracy floor or degenerate: stored, never on the front
        return "below_floor"
    return "front" if point.key in front else "dominated"


@dataclass(frozen=True)
class ParetoPoints:
    """The points of one kind in a Pareto plot.

    Attributes:
        kind: front | dominated | below_floor (feasible, but below the accuracy floor or
            degenerate: off the front) | infeasible | reference.
        keys: (trial, chip) of each point (chip None for a joint trial).
        values: [n, m] objective values in the study's objective order.
        hover: one text per point (params and metrics, HTML line breaks).
    """

    kind: PointKind
    keys: tuple[Key, ...]
    values: np.ndarray
    hover: tuple[str, ...]
    ids: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ()

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(k[0] for k in self.keys)


@dataclass(frozen=True)
class MarkedPoint:
    """A design point drawn with a marker of its own on every scatter, over its ordinary mark
    (e.g. the recommended design, or the runner-up).

    Attributes:
        key: (trial, chip) of the design point; label: the legend entry; hover: its hover text.
        color, symbol, size: how the mark is drawn (Plotly marker colour, symbol, size in px).
    """

    key: Key
    label: str
    hover: str
    color: str = "#000000"
    symbol: str = "star-open"
    size: int = 22


@dataclass(frozen=True)
class FloorLine:
    """The accuracy floor on the scatters: a line at ``value`` on objective ``index``'s axis.

    Attributes:
        index: the objective the floor bounds (``accuracy`` or ``wer``); value: the bound.
        label: the floor in words, as the plots print it (``accuracy ≥ 0.0909``).
    """

    index: int
    value: float
    label: str


@dataclass(frozen=True)
class ConfirmedSpread:
    """Confirmed design points: mean and standard deviation over the confirmation seeds.

    Attributes:
        keys: (trial, chip) of each confirmed point.
        mean: [n, m] mean per objective (the single-seed value where an objective was not
            re-measured); std: [n, m] standard deviation (0 where not re-measured).
        seeds: how many seeds each point was confirmed with.
        hover: one text per point.
    """

    keys: tuple[Key, ...]
    mean: np.ndarray
    std: np.ndarray
    seeds: tuple[int, ...]
    hover: tuple[str, ...]


@dataclass(frozen=True)
class Unevaluated:
    """Trials that are no design point of the study, drawn so that they are seen.

    Attributes:
        kind: ``pruned`` (the chip failed a cheap check before training), ``stopped``
            (successive halving stopped it at a rung: it has objective values, at a lower
            training budget) or ``failed``.
        numbers: their trial numbers.
        known: [n, m] the objective values their records do hold (NaN where unknown: a
            pruned trial was never trained, so it has no accuracy).
        hover: one text per trial, with the reason.
    """

    kind: UnevaluatedKind
    numbers: tuple[int, ...]
    known: np.ndarray
    hover: tuple[str, ...]


@dataclass(frozen=True)
class ParetoFrontInfo:
    """Everything a Pareto scatter needs.

    Attributes:
        objective_names, directions: the study's objectives.
        pairs: pairs (i, j) of objective indices drawn as 2-D scatters.
        triple: the (i, j, k) drawn in 3-D when there are three objectives or more.
        points: one :class:`ParetoPoints` per kind that has any point.
        front: keys of the front points, best first by the first objective.
        confirmed: the confirmed points' spread, or None when no point was confirmed.
        unevaluated: pruned and failed trials (one :class:`Unevaluated` per kind present).
        log_axes: per objective, whether its axis is logarithmic by default: energies,
            latencies, cycles and areas (quantities that span decades), when all positive.
        marked: design points drawn with a marker of their own (:class:`MarkedPoint`), e.g.
            the recommended design; empty unless a caller adds them.
        floor: the accuracy floor, when it bounds one of the objectives (:class:`FloorLine`).
        designs: design id -> its full description, as sections of (name, value) rows: what a
            click on a point opens (:func:`design_table`).
    """

    objective_names: tuple[str, ...]
    directions: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]
    triple: tuple[int, int, int] | None
    points: tuple[ParetoPoints, ...]
    front: tuple[Key, ...]
    confirmed: ConfirmedSpread | None = None
    unevaluated: tuple[Unevaluated, ...] = ()
    log_axes: tuple[bool, ...] = ()
    marked: tuple[MarkedPoint, ...] = ()
    floor: FloorLine | None = None
    designs: dict[str, tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = field(default_factory=dict)

    def is_log(self, index: int) -> bool:
        """Objective ``index`` is drawn on a log axis by default (a toggle switches to linear)."""
        return bool(self.log_axes) and self.log_axes[index]


def pareto_front_info(view: StudyView) -> ParetoFrontInfo:
    """Pareto-plot data for ``view``: which design point is drawn where and as what."""
    m = len(view.objective_names)
    front = tuple(p.key for p in _front(view))
    front_set = frozenset(front)
    drawn = [*view.points, *view.references]
    varying = _varying(view.points)
    points = []
    for kind in POINT_KINDS:
        members = [p for p in drawn if point_kind(p, front_set) == kind]
        if members:
            points.append(_points_of_kind(view, kind, members, varying))
    return ParetoFrontInfo(
        objective_names=view.objective_names,
        directions=view.directions,
        pairs=tuple(itertools.combinations(range(m), 2)),
        triple=(0, 1, 2) if m >= 3 else None,
        points=tuple(points),
        front=front,
        confirmed=confirmed_spread(view),
        unevaluated=unevaluated_trials(view),
        log_axes=_log_axes(view, drawn),
        floor=floor_line(view),
        designs={design_id(p.key): design_table(view, p, point_kind(p, front_set)) for p in drawn},
    )


def _points_of_kind(view: StudyView, kind: PointKind, members: list[DesignPoint],
                    varying: list[str]) -> ParetoPoints:
    """The drawn points of one kind: keys, values, hovers, design ids, chip precisions."""
    return ParetoPoints(
        kind=kind,
        keys=tuple(p.key for p in members),
        values=np.array([p.values for p in members], dtype=np.float64).reshape(-1, len(view.objective_names)),
        hover=tuple(hover_text(view, p, kind, varying) for p in members),
        ids=tuple(design_id(p.key) for p in members),
        precisions=tuple(precision_label(view, p) for p in members),
    )


def _log_axes(view: StudyView, drawn: list[DesignPoint]) -> tuple[bool, ...]:
    """Per objective: drawn on a log axis (an energy or latency whose drawn values are all positive)."""
    values = np.array([p.values for p in drawn], dtype=np.float64).reshape(-1, len(view.objective_names))
    return tuple(
        n.startswith(LOG_OBJECTIVE_PREFIXES) and len(values) > 0 and bool((values[:, k] > 0).all())
        for k, n in enumerate(view.objective_names)
    )


def floor_line(view: StudyView) -> FloorLine | None:
    """Where the study's accuracy floor lies on the scatters, or None when it bounds no
    objective (no floor, or a floor on a metric that is not an objective)."""
    floor = view.floor
    if floor is None or floor.name not in view.objective_names:
        return None
    return FloorLine(view.objective_names.index(floor.name), float(floor.value), plot_text(str(floor)))


def plot_text(text: str) -> str:
    """``text`` (plain, from a study) for Plotly's labels and hovers: ``>=``, ``<=``, ``>``,
    ``<`` as ``≥``, ``≤``, ``＞``, ``＜``. Plotly reads its text as a few HTML tags and shows a
    bare ``>`` as ``&gt;``, so these characters never reach it: no text of a study can open a
    tag on the plot."""
    return text.replace(">=", "≥").replace("<=", "≤").replace(">", "＞").replace("<", "＜")


#: Two points closer than this fraction of a plot's width or height (a log axis: of a decade)
#: are drawn as one mark: the marks of two front designs lie on top of each other.
COINCIDENT_FRACTION = 0.01


def coincident_front(info: ParetoFrontInfo, i: int, j: int) -> list[tuple[int, ...]]:
    """Groups of front points (rows of the front's :class:`ParetoPoints`) that one 2-D scatter
    of objectives ``i`` and ``j`` draws on top of each other: within :data:`COINCIDENT_FRACTION`
    of the axis span on both axes (of a decade on a log axis). With three objectives a nested
    network's chips that differ only in latency (more cores, a faster clock) have the same
    accuracy and nearly the same energy, so they coincide in the accuracy-energy view although
    each is on the front; the scatter marks each group with its size."""
    front = next((p for p in info.points if p.kind == "front"), None)
    if front is None or len(front.keys) < 2:
        return []
    return _near_groups(np.stack([_scaled(info, front.values[:, k], k) for k in (i, j)], axis=1))


def _scaled(info: ParetoFrontInfo, column: np.ndarray, k: int) -> np.ndarray:
    """Objective ``k``'s values in plot units: decades on a log axis, else its span."""
    if info.is_log(k):
        logged: np.ndarray = np.log10(column)
        return logged
    span = float(column.max() - column.min()) or 1.0
    scaled: np.ndarray = column / span
    return scaled


def _near_groups(xy: np.ndarray) -> list[tuple[int, ...]]:
    """Rows of ``xy`` within :data:`COINCIDENT_FRACTION` of a first one on both axes, grouped
    (each row in one group at most; rows near no other in none)."""
    left = list(range(len(xy)))
    groups = []
    while left:
        first = left.pop(0)
        near = [r for r in left if (np.abs(xy[r] - xy[first]) <= COINCIDENT_FRACTION).all()]
        if near:
            groups.append((first, *near))
            left = [r for r in left if r not in near]
    return groups


def design_id(key: Key) -> str:
    """A design point's id on the page: ``12.3`` for trial 12's chip 3, ``12`` for a joint trial."""
    return f"{key[0]}" if key[1] is None else f"{key[0]}.{key[1]}"


def precision_label(view: StudyView, point: DesignPoint) -> str:
    """The chip precision a design point was scored at, ``w4s12`` (weight and state bits;
    ``w2x4s12``: its wide layers in 4 bits; ``w4s12-tap``: with tap scales; the search's
    :func:`codesign.search.precision_of` of the point and its trial's chip, else the study's),
    or ``""`` when neither its metrics, its parameters nor a chip say its bits."""
    record = _record(view, point.trial)
    if record is not None and record.chip_config is not None:
        chip: dict[str, Any] | None = record.chip_config.to_dict()
    else:
        chip = view.spec.chip.to_dict() if view.spec is not None else None
    known = all(point.metrics.get(name, point.params.get(f"hw.{name}")) is not None
                or (chip is not None and chip.get(name) is not None) for name in ("weight_bits", "state_bits"))
    return precision_of(point, chip) if known else ""


def _record(view: StudyView, number: int) -> TrialRecord | None:
    try:
        return view.trial(number).record
    except KeyError:
        return None


def design_table(view: StudyView, point: DesignPoint,
                 kind: str = "") -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The full description of a design point, as sections of (name, value) rows: objectives
    (with the confirmed spread), constraints, the network's and the chip's parameters, and
    every metric. What a click on a scatter point opens."""
    sections: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    head = [("design", design_id(point.key)), ("trial", str(point.trial))]
    if point.member is not None:
        head.append(("design of its trial", str(point.member)))
    if kind:
        head.append(("on the plot", kind.replace("_", " ")))
    off = _off_front(view, point)
    if off:
        head.append(("off the front", off.removeprefix("off the front: ")))
    precision = precision_label(view, point)
    if precision:
        head.append(("chip precision", precision))
    sections.append(("design point", tuple(head)))
    rows = []
    for n, v in zip(view.objective_names, point.values, strict=True):
        spread = point.confirmed.spread(n) if point.confirmed is not None else None
        rows.append((split_named(n), _fmt(v) + (f" (confirmed {_fmt(spread[0])} ± {_fmt(spread[1])} over "
                                   f"{len(point.confirmed.seeds)} seeds)" if spread and point.confirmed else "")))
    sections.append(("objectives", tuple(rows)))
    if point.constraints:
        sections.append(("constraints (feasible when <= 0)",
                         tuple((k, _fmt(v) + (" VIOLATED" if v > 0 else "")) for k, v in point.constraints.items())))
    for prefix, heading in (*GROUPS.items(), ("", "other parameters")):
        items = tuple((bare_name(k), _fmt(v)) for k, v in point.params.items() if group_of(k) == prefix)
        if items:
            sections.append((f"{heading} ({prefix}.*)" if prefix else heading, items))
    metrics = tuple((k, _fmt(v)) for k, v in point.metrics.items() if k not in view.objective_names)
    if metrics:
        sections.append(("metrics", metrics))
    return tuple(sections)


def confirmed_spread(view: StudyView) -> ConfirmedSpread | None:
    """Mean and std of every confirmed design point (``codesign.confirmed``), or None."""
    confirmed = [p for p in view.points if p.confirmed is not None]
    if not confirmed:
        return None
    names = view.objective_names
    mean, std = _mean_std([_spreads(p, names) for p in confirmed])
    hover = [_confirmed_hover(p, names, row_mean, row_std) for p, row_mean, row_std in zip(confirmed, mean, std, strict=True)]
    return ConfirmedSpread(tuple(p.key for p in confirmed), mean, std,
                           tuple(len(p.confirmed.seeds) for p in confirmed if p.confirmed is not None),
                           tuple(hover))


def _spreads(point: DesignPoint, names: tuple[str, ...]) -> list[tuple[float, float]]:
    """(mean, std) over the confirmation seeds per objective; the search's value and 0 for an
    objective the confirmation did not re-measure."""
    c = point.confirmed
    assert c is not None
    return [c.spread(n) or (v, 0.0) for n, v in zip(names, point.values, strict=True)]


def _mean_std(spreads: list[list[tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Points x objectives arrays of the means and of the stds."""
    mean = np.array([[a for a, _ in row] for row in spreads], dtype=np.float64)
    std = np.array([[s for _, s in row] for row in spreads], dtype=np.float64)
    return mean, std


def _confirmed_hover(point: DesignPoint, names: tuple[str, ...], row_mean: np.ndarray, row_std: np.ndarray) -> str:
    assert point.confirmed is not None
    seeds = point.confirmed.seeds
    lines = [f"<b>{point.label}</b>, confirmed over {len(seeds)} seeds ({', '.join(str(s) for s in seeds)})"]
    lines += [f"{n} = {_fmt(float(a))} ± {_fmt(float(s))}" for n, a, s in zip(names, row_mean, row_std, strict=True)]
    return "<br>".join(lines)


def unevaluated_trials(view: StudyView) -> tuple[Unevaluated, ...]:
    """Pruned (never trained) and failed trials with their reasons, per kind."""
    out = []
    kinds: tuple[tuple[UnevaluatedKind, str], ...] = (("pruned", "PRUNED"), ("stopped", "PRUNED"), ("failed", "FAIL"))
    for kind, state in kinds:
        members = _unevaluated_members(view, kind, state)
        if not members:
            continue
        known = np.array([[_known(t, n) for n in view.objective_names] for t in members],
                         dtype=np.float64).reshape(-1, len(view.objective_names))
        out.append(Unevaluated(kind, tuple(t.number for t in members), known,
                               tuple(_unevaluated_hover(view, t, kind) for t in members)))
    return tuple(out)


def _unevaluated_members(view: StudyView, kind: UnevaluatedKind, state: str) -> list[TrialView]:
    """The study's own trials (not references) in ``state``; a PRUNED one is ``stopped`` when
    it was scored at a rung, else ``pruned``."""
    return [t for t in view.trials if t.state == state and t.reference is None
            and (state != "PRUNED" or _stopped(t) == (kind == "stopped"))]


def _stopped(t: TrialView) -> bool:
    """A PRUNED trial that was trained and scored (at a rung) rather than refused untrained."""
    return t.record is not None and bool(t.record.objectives)


def _known(t: TrialView, name: str) -> float:
    value = t.record.objectives.get(name) if t.record is not None else None
    if value is None:
        value = t.metrics.get(name)
    return float(value) if isinstance(value, (int, float)) else float("nan")


def _unevaluated_hover(view: StudyView, t: TrialView, kind: str) -> str:
    lines = {"stopped": _stopped_lines, "pruned": _pruned_lines}.get(kind, _failed_lines)(t)
    return "<br>".join([*lines, *_grouped(t.params)])


def _stopped_lines(t: TrialView) -> list[str]:
    """A trial successive halving stopped: why, and its figures at the rung it reached."""
    record = t.record
    assert record is not None
    epochs = record.rung_epoch or (record.train_config.epochs if record.train_config is not None else None) or "?"
    return [f"<b>trial {t.number}</b>: {record.pruned or 'stopped early'}",
            *(f"{n} = {_fmt(v)} (at {epochs} epochs)" for n, v in record.objectives.items())]


def _pruned_lines(t: TrialView) -> list[str]:
    """A trial pruned before training: why, and the constraints its chip violated."""
    reason = (t.record.pruned if t.record is not None else None) or "pruned"
    lines = [f"<b>trial {t.number}</b>: pruned before training", reason]
    violated = [f"{k} = {_fmt(v)}" for k, v in t.constraints.items() if v > 0]
    if violated:
        lines.append("violates: " + ", ".join(violated))
    return lines


def _failed_lines(t: TrialView) -> list[str]:
    return [f"<b>trial {t.number}</b>: failed", t.error or "no reason recorded"]


def _varying(points: tuple[DesignPoint, ...] | list[DesignPoint]) -> list[str]:
    """Parameters whose value differs between design points, in first-seen order."""
    names = dict.fromkeys(k for p in points for k in p.params)
    return [k for k in names if len({repr(p.params.get(k)) for p in points}) > 1]


def hover_text(view: StudyView, point: DesignPoint, kind: str = "", varying: list[str] | None = None) -> str:
    """Hover text of at most :data:`MAX_HOVER_LINES` lines: the point's id and label, its
    objectives (± the confirmed spread), the constraints it violates, the chip (precision and
    the parameters that differ between designs) and the network in one line each, and that a
    click opens the full design (:func:`design_table`)."""
    varying = _varying(view.points) if varying is None else varying
    title = f"<b>design {design_id(point.key)}</b> · {point.label}" + (f" · {kind.replace('_', ' ')}" if kind else "")
    objectives = [_objective_line(point, n, v) for n, v in zip(view.objective_names, point.values, strict=True)]
    tail = _hover_tail(view, point, varying)
    room = MAX_HOVER_LINES - 1 - len(tail)
    if len(objectives) > room:  # many objectives: two a line
        objectives = _packed(objectives, width=40 * 2)
    return "<br>".join([title, *objectives[:max(room, 1)], *tail][:MAX_HOVER_LINES])


def _objective_line(point: DesignPoint, name: str, value: float) -> str:
    """``energy_uj = 1.2`` with the confirmed mean ± std where confirmed."""
    spread = point.confirmed.spread(name) if point.confirmed is not None else None
    return f"{split_named(name)} = {_fmt(value)}" + (f" (confirmed {_fmt(spread[0])} ± {_fmt(spread[1])})" if spread else "")


def _hover_tail(view: StudyView, point: DesignPoint, varying: list[str]) -> list[str]:
    """The hover's lines after the objectives: violated constraints, why off the front, the
    chip and the network (their varying parameters), and that a click opens the design."""
    tail = []
    if not point.feasible:
        tail.append(_cut("violates: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in point.constraints.items() if v > 0)))
    off = _off_front(view, point)
    if off:
        tail.append(_cut(off))
    precision = precision_label(view, point)
    for prefix, heading in GROUPS.items():
        items = _group_items(point, varying, prefix)
        if prefix == "hw" and precision:
            items.insert(0, precision)
        if items:
            tail.append(_cut(f"<i>{heading}</i>: " + " · ".join(items)))
    tail.append("<i>click the point for the full design</i>")
    return tail


def _group_items(point: DesignPoint, varying: list[str], prefix: str) -> list[str]:
    """``width=64`` for each varying parameter of the group (the chip's bits are its precision)."""
    return [f"{bare_name(k)}={_fmt(point.params[k])}" for k in varying
            if k in point.params and group_of(k) == prefix
            and k not in ("hw.weight_bits", "hw.state_bits", "hw.wide_weight_bits", "hw.tap_scales")]


def _off_front(view: StudyView, point: DesignPoint) -> str:
    """Why a stored, feasible design point is kept off the front: below the accuracy floor,
    degenerate (its network gives one answer everywhere); ``""`` for an eligible one."""
    why = []
    if point.below_floor:
        why.append(f"below the accuracy floor ({plot_text(str(view.floor))})" if view.floor is not None else "below the accuracy floor")
    if point.degenerate:
        why.append("degenerate (one answer for every input)")
    return ("off the front: " + "; ".join(why)) if why else ""


def _cut(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _grouped(params: dict[str, object]) -> list[str]:
    """Parameters as ``<i>network (snn.*)</i>`` and ``<i>chip (hw.*)</i>`` sections, packed."""
    lines: list[str] = []
    for prefix, heading in (*GROUPS.items(), ("", "other parameters")):
        items = [f"{bare_name(k)}={_fmt(v)}" for k, v in params.items() if group_of(k) == prefix]
        if items:
            lines.append(f"<i>{heading}" + (f" ({prefix}.*)" if prefix else "") + "</i>")
            lines += _packed(items)
    return lines


def _packed(items: list[str], width: int = 64) -> list[str]:
    """Items joined by `` · `` into lines of about ``width`` characters."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 3 + len(item) <= width:
            lines[-1] += " · " + item
        else:
            lines.append(item)
    return lines


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class HypervolumeInfo:
    """Hypervolume of the eligible front after each finished trial.

    Attributes:
        trial_numbers: trial numbers in order.
        values: hypervolume after that trial, in the product of the objectives' units.
        reference_point: the reference point in objective units (study direction kept).
        reference_source: where the reference point came from, in words.
        reason: why there is no curve (fewer than two objectives, no eligible point), else None.
    """

    trial_numbers: tuple[int, ...]
    values: tuple[float, ...]
    reference_point: tuple[float, ...]
    reference_source: str
    reason: str | None


def default_reference_point(view: StudyView) -> tuple[float, ...] | None:
    """Worst eligible value per objective pushed outward by :data:`REFERENCE_MARGIN` of its range
    (:func:`codesign.search.default_reference`), in objective units.

    Returns None when no eligible design point exists.
    """
    return _reference_point(view, {})


def _reference_point(view: StudyView, given: dict[str, float]) -> tuple[float, ...] | None:
    """:func:`codesign.search.hypervolume_reference` of the eligible points (feasible, above
    the floor, not degenerate: those of :func:`codesign.search.study_hypervolume`), in
    objective units (None without an eligible point)."""
    eligible = [p.values for p in view.points if p.eligible]
    if not eligible:
        return None
    signs = minimisation_signs(view.objectives)
    ref_loss = hypervolume_reference(np.array(eligible) * signs, view.objectives, given)
    return tuple(float(x) for x in ref_loss * signs)


def hypervolume_info(
    view: StudyView, reference_point: tuple[float, ...] | None = None
) -> HypervolumeInfo:
    """Hypervolume history of ``view``'s eligible design points (feasible, above the floor, not
    degenerate): after the last trial it equals :func:`codesign.search.study_hypervolume`, the
    figure of ``codesign study status``.

    Args:
        view: the study.
        reference_point: in objective units. Default: the study spec's ``reference`` for the
            objectives it names, :func:`default_reference_point` for the others (the
            reference :func:`codesign.search.study_hypervolume` uses).
    """
    m = len(view.objective_names)
    source = "given"
    if reference_point is None:
        reference_point = _reference_point(view, view.reference)
        source = _reference_source(view)
    if m < 2:
        return HypervolumeInfo((), (), reference_point or (), source, "hypervolume needs two objectives or more")
    if reference_point is None:
        return HypervolumeInfo((), (), (), source, "no eligible design point yet (feasible, above the floor)")
    if len(reference_point) != m:
        raise ValueError(f"reference point has {len(reference_point)} values for {m} objectives")
    numbers, values = _history(view, np.array(reference_point, dtype=np.float64))
    return HypervolumeInfo(numbers, values, tuple(reference_point), source, None)


def _reference_source(view: StudyView) -> str:
    """Where the default reference point comes from: the spec for the objectives it names,
    this study's worst eligible values for the others."""
    how = f"worst eligible value + {REFERENCE_MARGIN:g} x range, from this study"
    named = [n for n in view.objective_names if n in view.reference]
    source = (f"study spec for {', '.join(named)}; " if named else "") + (how if len(named) < len(view.objective_names) else "")
    return source.rstrip("; ")


def _history(view: StudyView, reference_point: np.ndarray) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(trial numbers, hypervolume of the eligible points up to each) in trial order."""
    m = len(view.objective_names)
    signs = minimisation_signs(view.objectives)
    ref_loss = reference_point * signs
    by_trial: dict[int, list[DesignPoint]] = {}
    for p in view.points:
        by_trial.setdefault(p.trial, []).append(p)
    numbers: list[int] = []
    values: list[float] = []
    kept = np.empty((0, m))
    for number in sorted(by_trial):
        eligible = [p.values for p in by_trial[number] if p.eligible]
        if eligible:
            # the front so far: the hypervolume of the points kept is that of all points seen
            kept = np.vstack([kept, np.array(eligible) * signs])
            kept = kept[pareto_mask(kept)]
        numbers.append(number)
        values.append(hypervolume(kept, ref_loss))
    return tuple(numbers), tuple(values)
