"""The study's recommendation: which design to build, by a stated policy, on confirmed figures.

A study's ``recommend:`` block names the policy (:class:`~codesign.search.RecommendSpec`):

- ``knee`` (the default): the design nearest the utopia point of the front after scaling each
  objective to the front's range (0 = the front's best value, 1 = its worst), among the
  eligible designs (feasible, above the accuracy floor, not degenerate);
- or a pick expression (``"min energy_uj where accuracy in top 3"``), read by the one pick
  grammar (:mod:`codesign.search._pick`).

The policy first names ``confirm.k`` *candidates* (:func:`recommendation_candidates`: the k
front designs nearest the knee, or the pick's k best), which ``study run`` / ``codesign study
confirm`` re-train over seeds. The recommendation (:func:`recommend`) is then chosen among the
confirmed candidates on their confirmed means (the floor applied to the means), and says what
it traded against the runner-up, the policy's second choice. Before any confirmation it is
chosen on the search's single-seed figures, and says so.

Storage: the study user attribute :data:`RECOMMENDATION_ATTR` (JSON of
:class:`Recommendation`), written by :func:`store_recommendation` at the end of a run and of a
confirmation, read by :func:`recommendation_of`. This module owns the policy: nothing else
chooses a recommended design.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.config import ConfigError
from codesign.search._front import DesignPoint, as_minimisation, mark_points, pareto_front, parse_point_id
from codesign.search._objectives import Condition
from codesign.search._pick import picked
from codesign.search._reader import StudyView, study_view
from codesign.search._spec import ConfirmSpec

if TYPE_CHECKING:
    import optuna

#: Study user attribute holding the recommendation (JSON, see :class:`Recommendation`).
RECOMMENDATION_ATTR = "codesign.recommendation"
#: Study user attribute: the recommendation in one line for people (optuna-dashboard).
RECOMMENDED_LINE_ATTR = "codesign.recommended"
#: The default policy.
KNEE = "knee"


@dataclass(frozen=True)
class Recommendation:
    """The design a study recommends, and why.

    Attributes:
        point_id: its design id (``"12.3"``).
        policy: ``"knee"`` or the pick expression that chose it.
        rationale: a paragraph for people: the policy, the figures, the trade against the
            runner-up.
        runner_up: the policy's second choice among the candidates, or None.
        confirmed: chosen on confirmed means over seeds (False: on the search's figures).
        seeds: the confirmation seeds (empty when not confirmed).
        mean, std: the recommended design's figures the choice used (confirmed means and
            standard deviations, or the search's values with no std).
        runner_up_mean, runner_up_std: the same for the runner-up.
        candidates: the designs the choice was made among (the confirmed candidates).
        floor: the accuracy floor applied (``"accuracy >= 0.0909"``), or None.
    """

    point_id: str
    policy: str
    rationale: str
    runner_up: str | None = None
    confirmed: bool = False
    seeds: tuple[int, ...] = ()
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    runner_up_mean: dict[str, float] = field(default_factory=dict)
    runner_up_std: dict[str, float] = field(default_factory=dict)
    candidates: tuple[str, ...] = ()
    floor: str | None = None

    @property
    def key(self) -> tuple[int, int | None]:
        """``(trial, chip)`` of the recommended design."""
        return parse_point_id(self.point_id)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seeds"] = list(self.seeds)
        data["candidates"] = list(self.candidates)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recommendation:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["seeds"] = tuple(int(s) for s in known.get("seeds", ()))
        known["candidates"] = tuple(str(c) for c in known.get("candidates", ()))
        return cls(**known)

    def short(self) -> str:
        """One line: ``design 12.3 (knee, confirmed over seeds 0-2)``."""
        how = f"confirmed over {len(self.seeds)} seeds" if self.confirmed else "not confirmed: one seed"
        return f"design {self.point_id} ({self.policy}; {how})"


def scaled_losses(points: Sequence[DesignPoint], front: Sequence[DesignPoint],
                  objectives: Mapping[str, str]) -> np.ndarray:
    """``points``' losses scaled to ``front``'s range per objective (0 = the front's best,
    1 = its worst; an objective constant on the front is not scaled)."""
    ref = as_minimisation(list(front), objectives)
    low, high = ref.min(axis=0), ref.max(axis=0)
    scaled: np.ndarray = (as_minimisation(list(points), objectives) - low) / np.where(high > low, high - low, 1.0)
    return scaled


def knee_order(points: Sequence[DesignPoint], front: Sequence[DesignPoint],
               objectives: Mapping[str, str]) -> list[DesignPoint]:
    """``points`` nearest the utopia point first, each objective scaled to ``front``'s range
    (ties: lower trial, then chip)."""
    if not points:
        return []
    distance = np.linalg.norm(scaled_losses(points, front, objectives), axis=1)
    order = sorted(range(len(points)), key=lambda i: (float(distance[i]), points[i].trial, points[i].member or 0))
    return [points[i] for i in order]


def _policy_order(points: Sequence[DesignPoint], front: Sequence[DesignPoint], objectives: Mapping[str, str],
                  policy: str, study: str) -> list[DesignPoint]:
    """``points`` best first by ``policy`` (eligible ones only)."""
    eligible = [p for p in points if p.eligible]
    if policy == KNEE:
        return knee_order(eligible, front, objectives)
    try:
        return picked(eligible, policy, objectives, study)
    except ConfigError:  # nothing meets the expression among these points
        return []


def _policy_of(view: StudyView) -> tuple[str, int]:
    if view.spec is None:  # no spec this version reads: the defaults
        return KNEE, ConfirmSpec().k
    return view.spec.recommend.policy, view.spec.confirm.k


def recommendation_candidates(view: StudyView) -> list[DesignPoint]:
    """The designs to confirm before recommending: the ``confirm.k`` front designs nearest the
    knee (``knee``), or the pick's ``k`` best eligible designs (a pick policy)."""
    policy, k = _policy_of(view)
    front = pareto_front(view.points, view.objectives)
    if not front:
        return []
    pool = front if policy == KNEE else list(view.points)
    return _policy_order(pool, front, view.objectives, policy, view.name)[:k]


def _as_confirmed(point: DesignPoint, objectives: Mapping[str, str], floor: Condition | None) -> DesignPoint | None:
    """``point`` with its confirmed means in place of its search figures (re-marked against
    the floor), or None when it has no confirmed mean of every objective."""
    c = point.confirmed
    if c is None or not all(n in c.mean for n in objectives):
        return None
    means = {n: float(c.mean[n]) for n in objectives}
    moved = replace(point, objectives=means, metrics={**point.metrics, **{k: float(v) for k, v in c.mean.items()}})
    return mark_points([moved], floor)[0]


def recommend(view: StudyView) -> Recommendation | None:
    """The study's recommendation by its ``recommend:`` policy (see the module docstring), or
    None when no eligible design exists (or a pick policy matches none)."""
    policy, _ = _policy_of(view)
    objectives = view.objectives
    front = pareto_front(view.points, objectives)
    if not front:
        return None
    candidates = recommendation_candidates(view)
    confirmed = [q for p in candidates if (q := _as_confirmed(p, objectives, view.floor)) is not None]
    pool = confirmed if confirmed else candidates
    order = _policy_order(pool, front, objectives, policy, view.name)
    if not order:
        return None
    rec = _recommendation(order, pool, bool(confirmed), policy, objectives, view.floor)
    return replace(rec, rationale=rationale(rec, objectives, len(front)))


def _recommendation(order: Sequence[DesignPoint], pool: Sequence[DesignPoint], confirmed: bool, policy: str,
                    objectives: Mapping[str, str], floor: Condition | None) -> Recommendation:
    """The recommendation of ``order``'s first design (the second, if any, its runner-up),
    chosen among ``pool`` on confirmed means or not; its rationale is still to be written."""
    best = order[0]
    rec = Recommendation(
        point_id=best.point_id, policy=policy, rationale="", confirmed=confirmed,
        seeds=tuple(best.confirmed.seeds if confirmed and best.confirmed is not None else ()),
        mean=dict(best.objectives), std=_stds(best, objectives) if confirmed else {},
        candidates=tuple(p.point_id for p in pool), floor=str(floor) if floor is not None else None,
    )
    if len(order) < 2:
        return rec
    runner = order[1]
    return replace(rec, runner_up=runner.point_id, runner_up_mean=dict(runner.objectives),
                   runner_up_std=_stds(runner, objectives) if confirmed else {})


def no_recommendation_reason(view: StudyView) -> str:
    """Why :func:`recommend` names no design, in one sentence."""
    floor = f"the accuracy floor ({view.floor})" if view.floor is not None else "no floor"
    if not pareto_front(view.points, view.objectives):
        feasible = sum(1 for p in view.points if p.feasible)
        return (f"no design is feasible, above {floor} and not degenerate ({len(view.points)} design points, "
                f"{feasible} feasible)")
    policy, _ = _policy_of(view)
    if policy != KNEE:
        return f"no design on the front meets the pick expression '{policy}'"
    return f"no candidate holds {floor} on its confirmed means over seeds"


def _stds(point: DesignPoint, objectives: Mapping[str, str]) -> dict[str, float]:
    c = point.confirmed
    return {n: float(c.std.get(n, 0.0)) for n in objectives} if c is not None else {}


def _figure(mean: float, std: float | None) -> str:
    return f"{mean:.4g} ± {std:.2g}" if std is not None else f"{mean:.4g}"


def trade_text(rec: Recommendation, objectives: Mapping[str, str]) -> str:
    """What the recommendation traded against its runner-up, objective by objective."""
    if rec.runner_up is None:
        return "It has no runner-up among the candidates."
    parts = []
    for name, direction in objectives.items():
        a, b = rec.mean.get(name), rec.runner_up_mean.get(name)
        if a is None or b is None:
            continue
        parts.append(_trade(name, direction, a, b, rec.std.get(name), rec.runner_up_std.get(name)))
    return f"Against the runner-up, design {rec.runner_up}: " + "; ".join(parts) + "."


def _trade(name: str, direction: str, a: float, b: float, sa: float | None, sb: float | None) -> str:
    """One objective's trade: the design's figure ``a`` (std ``sa``) against the runner-up's
    ``b`` (``sb``): the same, a ratio (a positive figure minimised), or a difference."""
    better = a < b if direction == "min" else a > b
    text = f"{name} {_figure(a, sa)} against {_figure(b, sb)}"
    if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
        return text + " (the same)"
    if direction == "min" and a > 0 and b > 0:
        ratio = max(a, b) / min(a, b)
        return text + f" ({ratio:.2g}× {'less' if better else 'more'})"
    return text + _difference(a, b, sa, sb, better)


def _difference(a: float, b: float, sa: float | None, sb: float | None, better: bool) -> str:
    """`` (better by 0.01, within one std)``: a difference, and how it compares with the larger std."""
    text = f" ({'better' if better else 'worse'} by {abs(a - b):.3g}"
    spread = max(sa or 0.0, sb or 0.0)
    if spread > 0:
        text += ", within one std" if abs(a - b) <= spread else ", beyond one std"
    return text + ")"


def rationale(rec: Recommendation, objectives: Mapping[str, str], front_size: int) -> str:
    """The recommendation's paragraph: policy, floor, what the choice was made on, the trade."""
    if rec.policy == KNEE:
        how = (f"the design nearest the utopia point of the front ({front_size} designs), each objective "
               f"({', '.join(objectives)}) scaled to the front's range")
    else:
        how = f"the best design by the study's pick expression '{rec.policy}'"
    floor = f" above the accuracy floor ({rec.floor})" if rec.floor else ""
    if rec.confirmed:
        basis = (f"chosen among {len(rec.candidates)} candidates{floor} on their means over seeds "
                 f"{list(rec.seeds)} at full fidelity")
    else:
        basis = (f"chosen among {len(rec.candidates)} candidates{floor} on the search's single-seed figures "
                 "(not confirmed yet: codesign study confirm)")
    return f"Design {rec.point_id} is {how}; {basis}. {trade_text(rec, objectives)}"


def store_recommendation(study: optuna.Study, view: StudyView | None = None) -> Recommendation | None:
    """Compute the study's recommendation (:func:`recommend`) and store it on the (writable)
    study as :data:`RECOMMENDATION_ATTR` with a one-line ``codesign.recommended`` beside it
    (optuna-dashboard shows study user attributes); an old one is removed when there is none."""
    rec = recommend(view if view is not None else study_view(study))
    if rec is None:
        if RECOMMENDATION_ATTR in study.user_attrs:
            study.set_user_attr(RECOMMENDATION_ATTR, None)
            study.set_user_attr(RECOMMENDED_LINE_ATTR, "")
        return None
    study.set_user_attr(RECOMMENDATION_ATTR, rec.to_dict())
    study.set_user_attr(RECOMMENDED_LINE_ATTR, (rec.short() + ": " + rec.rationale)[:1000])
    return rec


def recommendation_of(source: StudyView | optuna.Study | Mapping[str, Any]) -> Recommendation | None:
    """The stored recommendation of a study view, a study or its user attributes, or None
    (none stored yet, or a study from before recommendations)."""
    if isinstance(source, StudyView):
        attrs: Mapping[str, Any] = source.user_attrs
    elif isinstance(source, Mapping):
        attrs = source
    else:
        attrs = source.user_attrs
    raw = attrs.get(RECOMMENDATION_ATTR)
    if isinstance(raw, str):
        raw = json.loads(raw)
    if not isinstance(raw, dict) or "point_id" not in raw:
        return None
    return Recommendation.from_dict(raw)


__all__ = [
    "KNEE",
    "RECOMMENDATION_ATTR",
    "RECOMMENDED_LINE_ATTR",
    "Recommendation",
    "knee_order",
    "no_recommendation_reason",
    "recommend",
    "recommendation_candidates",
    "recommendation_of",
    "scaled_losses",
    "store_recommendation",
    "trade_text",
]
