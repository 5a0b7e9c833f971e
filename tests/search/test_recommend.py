"""Design ids, the accuracy floor, degenerate networks and the study's recommendation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pytest
from _tiny import tiny_spec_data

from codesign.config import ConfigError, parse_spec
from codesign.search import (
    Condition,
    ConfirmedPoint,
    DesignPoint,
    StudySpec,
    accuracy_floor,
    is_degenerate,
    load_stored_study,
    mark_points,
    pareto_front,
    parse_point_id,
    parse_study,
    recommend,
    recommendation_candidates,
    recommendation_of,
    run_study,
    study_hypervolume,
    study_view,
)

OBJECTIVES = {"accuracy": "max", "energy_uj": "min"}


def _point(trial: int, acc: float, energy: float, chip: int | None = None, **metrics: float) -> DesignPoint:
    return DesignPoint(trial, {"hw.weight_bits": 4}, {"accuracy": acc, "energy_uj": energy}, {},
                       {"accuracy": acc, "energy_uj": energy, **metrics}, member=chip)


def test_design_ids_read_back_in_one_place() -> None:
    assert _point(12, 0.5, 1.0, chip=3).point_id == "12.3" and _point(12, 0.5, 1.0).point_id == "12"
    assert parse_point_id("12.3") == (12, 3) and parse_point_id(" 7 ") == (7, None)
    for bad in ("", "x", "1.", "1.2.3", "-1", "1.a"):
        with pytest.raises(ValueError, match=r"TRIAL or TRIAL\.CHIP"):
            parse_point_id(bad)


def test_floor_defaults_above_chance_and_is_configurable() -> None:
    floor = accuracy_floor("commands")
    assert floor is not None and floor.name == "accuracy" and floor.op == ">="
    assert floor.value == pytest.approx(2 / 22, abs=1e-6)
    assert accuracy_floor("digits") == Condition("wer", "<=", 0.9)
    assert accuracy_floor("commands", "none") is None
    assert accuracy_floor("commands", "accuracy >= 0.5") == Condition("accuracy", ">=", 0.5)
    with pytest.raises(ValueError, match="task metric"):
        accuracy_floor("commands", "energy_uj <= 3")
    base = {"name": "s", "space": [{"parameters": {"snn.width": {"type": "categorical", "choices": [32, 64]}}}], "objectives": OBJECTIVES}
    assert parse_study({**base, "floor": "accuracy >= 0.3"}).floor_condition() == Condition("accuracy", ">=", 0.3)
    for bad, words in (({"floor": "wer <= 0.5"}, "measures accuracy"), ({"floor": "loud"}, "floor"),
                       ({"recommend": {"policy": "smallest energy"}}, "pick expression")):
        with pytest.raises(ConfigError, match=words):
            parse_study({**base, **bad})


def test_degenerate_and_below_floor_points_stay_but_leave_the_front_and_hypervolume() -> None:
    assert is_degenerate({"accuracy": 0.3, "distinct_outputs": 1.0})
    assert not is_degenerate({"accuracy": 0.3, "distinct_outputs": 5.0})
    assert is_degenerate({"wer": 1.0}) and not is_degenerate({"wer": 0.95, "distinct_outputs": 40.0})
    good = [_point(0, 0.8, 5.0, distinct_outputs=20.0), _point(1, 0.6, 2.0, distinct_outputs=20.0)]
    cheap_chance = _point(2, 0.05, 0.01, distinct_outputs=20.0)  # below 2 x chance, nearly free
    constant = _point(3, 0.3, 0.02, distinct_outputs=1.0)  # one class everywhere, above the floor
    points = mark_points([*good, cheap_chance, constant], accuracy_floor("commands"))
    assert [p.marks for p in points] == [(), (), ("below floor",), ("degenerate",)]
    assert [p.trial for p in pareto_front(points, OBJECTIVES)] == [0, 1]
    # the hypervolume (and its data-derived reference point) is the eligible points' alone
    assert study_hypervolume(points, OBJECTIVES) == pytest.approx(study_hypervolume(points[:2], OBJECTIVES))
    assert study_hypervolume(points[:2], OBJECTIVES) != pytest.approx(
        study_hypervolume(mark_points([*good, cheap_chance, constant], None), OBJECTIVES))


def _view(points: list[DesignPoint], spec: dict[str, object]) -> object:
    """A view of ``points`` whose study spec sets ``spec``'s sections (recommend, confirm, floor) and
    leaves the others' defaults."""
    data = tiny_spec_data("joint", trials=1)
    del data["recommend"], data["confirm"], data["floor"]
    typed = parse_spec(StudySpec, {**data, **spec})
    view = study_view(optuna.create_study(directions=["maximize", "minimize"]))
    return dataclasses.replace(view, points=tuple(mark_points(points, accuracy_floor("commands"))),
                               objective_names=tuple(OBJECTIVES), directions=("maximize", "minimize"),
                               spec=typed)


def _confirmed(p: DesignPoint, acc: float, acc_std: float, energy: float) -> DesignPoint:
    c = ConfirmedPoint(p.trial, p.member, (0, 1, 2), {"accuracy": acc, "energy_uj": energy},
                       {"accuracy": acc_std, "energy_uj": 0.0}, {})
    return dataclasses.replace(p, confirmed=c)


def test_knee_candidates_and_a_recommendation_chosen_on_confirmed_means() -> None:
    # a front from accurate-and-costly to cheap: the knee is the balanced design 1.1
    front = [_point(0, 0.875, 0.88, chip=6), _point(1, 0.845, 0.175, chip=1), _point(2, 0.70, 0.15, chip=0),
             _point(3, 0.30, 0.10, chip=2), _point(4, 0.05, 0.001, chip=0)]  # 4.0: below the floor
    view = _view(front, {"confirm": {"k": 3}})
    assert [p.point_id for p in recommendation_candidates(view)] == ["1.1", "2.0", "0.6"]  # type: ignore[arg-type]
    rec = recommend(view)  # type: ignore[arg-type]
    assert rec is not None and rec.point_id == "1.1" and not rec.confirmed and rec.runner_up == "2.0"
    assert "not confirmed" in rec.rationale and "knee" == rec.policy
    # confirmed over seeds, 1.1 regresses and 0.6 holds: the choice follows the means
    confirmed = [_confirmed(front[0], 0.87, 0.01, 0.88), _confirmed(front[1], 0.60, 0.05, 0.175),
                 _confirmed(front[2], 0.69, 0.02, 0.15), *front[3:]]
    rec = recommend(_view(confirmed, {"confirm": {"k": 3}}))  # type: ignore[arg-type]
    assert rec is not None and rec.confirmed and rec.seeds == (0, 1, 2)
    assert rec.point_id == "2.0" and rec.mean["accuracy"] == pytest.approx(0.69)
    assert rec.std["accuracy"] == pytest.approx(0.02) and set(rec.candidates) == {"0.6", "1.1", "2.0"}
    assert rec.runner_up is not None and f"design {rec.runner_up}" in rec.rationale
    assert "energy_uj" in rec.rationale and "×" in rec.rationale  # what it traded, as a ratio
    assert "over seeds [0, 1, 2]" in rec.rationale


def test_a_pick_policy_chooses_by_the_pick_grammar() -> None:
    front = [_point(0, 0.875, 0.88), _point(1, 0.845, 0.175), _point(2, 0.70, 0.15)]
    view = _view(front, {"recommend": {"policy": "min energy_uj where accuracy >= 0.8"}, "confirm": {"k": 2}})
    assert [p.point_id for p in recommendation_candidates(view)] == ["1", "0"]  # type: ignore[arg-type]
    rec = recommend(view)  # type: ignore[arg-type]
    assert rec is not None and rec.point_id == "1" and rec.runner_up == "0"
    assert "pick expression 'min energy_uj where accuracy >= 0.8'" in rec.rationale


def test_run_and_confirm_store_the_recommendation_and_export_finds_it(toy, tmp_path: Path) -> None:
    from codesign.export import select_point
    from codesign.search import confirm_study

    spec = parse_study({**toy.TOY_SPEC, "budget": {"trials": 5}, "confirm": {"k": 2}})
    outcome = run_study(spec, evaluate=toy.seeded, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url, writable=True)
    stored = recommendation_of(study)
    assert outcome.recommendation is not None and stored == outcome.recommendation and not stored.confirmed
    # the dashboard sees each design point as a trial attribute
    assert any(k.startswith("codesign.point.") for t in study.trials for k in t.user_attrs)
    confirmed = confirm_study(study, 2, "recommended", evaluate=toy.seeded)
    assert len(confirmed) == min(2, len(outcome.front))
    view = study_view(load_stored_study(spec.name, outcome.storage_url))
    rec = recommendation_of(view)
    assert rec is not None and rec.confirmed and set(rec.candidates) == {f"{c.trial}" for c in confirmed}
    assert select_point(view, recommended=True).point_id == rec.point_id
    assert select_point(view, point=rec.point_id).key == rec.key
    with pytest.raises(ConfigError, match="design id"):
        select_point(view, point="99")
    with pytest.raises(ConfigError, match="exactly one"):
        select_point(view, point="1", recommended=True)
    # any designs by id (`study confirm --points 3,1`)
    other = next(p for p in view.points if p.point_id not in rec.candidates)
    writable = load_stored_study(spec.name, outcome.storage_url, writable=True)
    by_id = confirm_study(writable, 2, ids=[other.point_id], evaluate=toy.seeded)
    assert [(c.trial, c.member) for c in by_id] == [other.key]


def test_no_recommendation_when_no_candidate_holds_the_floor_confirmed() -> None:
    from codesign.search import no_recommendation_reason

    front = [_point(0, 0.20, 0.5), _point(1, 0.12, 0.1)]
    confirmed = [_confirmed(front[0], 0.06, 0.01, 0.5), _confirmed(front[1], 0.05, 0.01, 0.1)]
    view = _view(confirmed, {})
    assert recommend(view) is None  # type: ignore[arg-type]
    assert "confirmed means" in no_recommendation_reason(view)  # type: ignore[arg-type]
    empty = _view([_point(0, 0.01, 0.5)], {})
    assert recommend(empty) is None  # type: ignore[arg-type]
    assert "above the accuracy floor" in no_recommendation_reason(empty)  # type: ignore[arg-type]
