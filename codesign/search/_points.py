"""Design-point rows: one flat row per network x chip of a study, every figure a column.

The one table of design points (``codesign study points``, ``codesign study front``, the
report's design table and its data): :func:`design_rows` turns a :class:`StudyView` into
plain dicts, no pandas, so ``study front`` starts without loading the report package.

Columns, in this order: ``id`` (``"12.3"``), ``trial``, ``chip``, ``on_front``,
``recommended``, ``eligible``, ``feasible``, ``degenerate``, ``below_floor``, ``precision``
(``w4s8``: the chip's weight and state bits), the objectives under their names, then
``<objective>.mean`` / ``<objective>.std`` and ``confirmed.seeds`` (confirmation over seeds,
None where not confirmed), ``constraints.<name>``, the parameters under their own dotted
names (``snn.width``, ``train.learning_rate``, ``hw.cores``), ``metrics.<name>``, then
``measured_on.<split>.engines`` and ``measured_on.<split>.voices`` (``validation``, and
``test`` where the trial scored it; comma-separated, from the trial record's ``measured_on``):
what the point's task metrics were measured on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from codesign.search._front import DesignPoint, pareto_front

if TYPE_CHECKING:
    from codesign.search._confirmed import ConfirmedPoint
    from codesign.search._reader import StudyView, TrialView
    from codesign.search._record import TrialRecord


def precision_of(point: DesignPoint, chip: Mapping[str, Any] | None = None) -> str:
    """``w<weight bits>s<state bits>`` of the point's chip (``w2x4s12`` with its wide layers in 4
    bits, ``w4s12-tap`` with tap scales: ``Precision.label``): its measured bits, else its ``hw.*`` parameters, else ``chip``
    (the trial's or the study's chip fields), else the ChipConfig defaults."""
    from codesign.hardware import ChipConfig  # configs only
    from codesign.snn import Precision

    bits: dict[str, int | bool | None] = {}
    for name in ("weight_bits", "state_bits", "wide_weight_bits", "tap_scales"):
        value = point.metrics.get(name, point.params.get(f"hw.{name}"))
        if value is None:
            value = (chip or {}).get(name, ChipConfig.model_fields[name].default)
        bits[name] = None if value is None else bool(value) if name == "tap_scales" else int(float(value))
    try:
        return Precision.model_validate(bits).label
    except ValueError:  # bits no network is held in (a 1-bit chip): named as they are
        return f"w{bits['weight_bits']}s{bits['state_bits']}"


def design_rows(view: StudyView, recommended: str | None = None) -> list[dict[str, Any]]:
    """One row per design point of ``view`` (see the module docstring for the columns), in
    trial then chip order. ``recommended`` is the recommended design's id (None: none)."""
    front = {p.key for p in pareto_front(view.points, view.objectives)}
    params = _param_names(view.points)
    base = view.spec.chip.to_dict() if view.spec is not None else {}
    chips = _trial_chips(view.trials)
    measured = {t.number: _measured_on_columns(t.record) for t in view.trials if t.record is not None}
    return [{**_row(p, view.objectives, p.key in front, p.point_id == recommended, params, chips.get(p.trial, base)),
             **measured.get(p.trial, {})} for p in view.points]


def _param_names(points: Sequence[DesignPoint]) -> list[str]:
    """Every parameter the points set, in first-seen order (not the trace's)."""
    params: list[str] = []
    for p in points:
        params.extend(k for k in p.params if k not in params and k != "trace")
    return params


def _trial_chips(trials: Sequence[TrialView]) -> dict[int, dict[str, Any]]:
    """The chip fields each trial's record holds, by trial number (trials without one left out)."""
    return {t.number: t.record.chip_config.to_dict() for t in trials
            if t.record is not None and t.record.chip_config is not None}


def _measured_on_columns(record: TrialRecord) -> dict[str, str]:
    """``measured_on.<split>.engines`` / ``.voices``: what each split's metrics were measured on."""
    return {f"measured_on.{split}.{what}": ",".join(getattr(m, what))
            for split, m in record.measured_on.items() for what in ("engines", "voices")}


def _row(p: DesignPoint, objectives: Mapping[str, str], on_front: bool, recommended: bool,
         params: Sequence[str], chip: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": p.point_id, "trial": p.trial, "chip": p.member, "on_front": on_front, "recommended": recommended,
        "eligible": p.eligible, "feasible": p.feasible, "degenerate": p.degenerate, "below_floor": p.below_floor,
        "precision": precision_of(p, chip),
    }
    row.update({n: p.objectives.get(n) for n in objectives})
    row.update(_confirmed_columns(p.confirmed, objectives))
    row.update({f"constraints.{k}": v for k, v in p.constraints.items()})
    row.update({k: p.params.get(k) for k in params})
    row.update({f"metrics.{k}": v for k, v in p.metrics.items()})
    return row


def _confirmed_columns(c: ConfirmedPoint | None, objectives: Mapping[str, str]) -> dict[str, Any]:
    """``<objective>.mean`` / ``.std`` over the confirmation seeds, then ``confirmed.seeds``
    (None throughout for a point not confirmed)."""
    row: dict[str, Any] = {}
    for n in objectives:
        spread = c.spread(n) if c is not None else None
        row[f"{n}.mean"] = spread[0] if spread else None
        row[f"{n}.std"] = spread[1] if spread else None
    row["confirmed.seeds"] = len(c.seeds) if c is not None else None
    return row


__all__ = ["design_rows", "precision_of"]
