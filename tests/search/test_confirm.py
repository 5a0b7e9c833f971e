"""Confirmed fronts: front members re-evaluated over seeds, mean and spread stored on the study."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.cli import main
from codesign.search import (
    CONFIRMED_AT_ATTR,
    confirm_study,
    confirmed_figures,
    load_stored_study,
    pareto_front,
    parse_study,
    recommendation_candidates,
    run_study,
    stored_spec,
    study_points,
    study_view,
)


def test_confirm_records_mean_and_std_for_every_front_member(toy, tmp_path: Path) -> None:
    spec = parse_study({**toy.TOY_SPEC, "seed": 4, "budget": {"trials": 5}})
    outcome = run_study(spec, evaluate=toy.seeded, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url, writable=True)
    front = pareto_front(study_points(study.trials), spec.objectives)
    assert front
    confirmed = confirm_study(study, 3, "front", evaluate=toy.seeded)
    assert {(c.trial, c.member) for c in confirmed} == {(p.trial, None) for p in front}
    study = load_stored_study(spec.name, outcome.storage_url)
    for point in front:
        figures = confirmed_figures(study.user_attrs, point.trial)
        assert figures is not None and figures.seeds == (4, 5, 6)
        wer = figures.values["wer"]
        # the toy's wer moves 0.01 per seed: the spread is measured, not assumed
        assert wer == pytest.approx([point.objectives["wer"] + 0.01 * s for s in (0, 1, 2)])
        assert figures.mean["wer"] == pytest.approx(sum(wer) / 3)
        assert figures.std["wer"] == pytest.approx(0.01)
        assert figures.std["energy_uj"] == pytest.approx(0.0)
    assert study.user_attrs[CONFIRMED_AT_ATTR]["points"]
    # confirmation never overwrote a trial's own artifacts or records
    assert all(t.state.name == "COMPLETE" for t in study.trials)


def test_confirm_recommended_and_cli_refusals(toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = parse_study({**toy.TOY_SPEC, "budget": {"trials": 3}})
    outcome = run_study(spec, evaluate=toy.seeded, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url, writable=True)
    candidates = recommendation_candidates(study_view(study))
    front = pareto_front(study_points(study.trials), spec.objectives)
    # the knee policy confirms the k front designs nearest the knee: all of a front smaller than k
    assert len(candidates) == min(stored_spec(study).confirm.k, len(front)) >= 1
    assert len({p.key for p in candidates}) == len(candidates)
    assert {p.key for p in candidates} <= {p.key for p in front}
    confirmed = confirm_study(study, 2, "recommended", evaluate=toy.seeded)
    assert sorted((c.trial, c.member) for c in confirmed) == sorted(p.key for p in candidates)
    assert main(["study", "confirm", "toy", "--runs-dir", str(tmp_path), "--seeds", "1"]) == 2
    assert "2 seeds" in capsys.readouterr().err


def test_a_confirmation_whose_workers_die_retries_them_and_holds_a_lease(toy, tmp_path: Path) -> None:
    from codesign.search import StudyInUse, live_drivers
    from codesign.search._lease import DriverLease

    spec = parse_study({**toy.TOY_SPEC, "seed": 11, "budget": {"trials": 3},
                        "execution": {**toy.TOY_SPEC["execution"], "retries": 1}})
    outcome = run_study(spec, evaluate=toy.seeded, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url, writable=True)
    lines: list[str] = []
    # every evaluation's worker dies once (as when its node is lost) and runs again elsewhere
    candidates = recommendation_candidates(study_view(study))  # the k designs nearest the knee
    confirmed = confirm_study(study, 2, "recommended", evaluate=toy.seeded_dies_once, progress=lines.append)
    assert len(confirmed) == len(candidates) >= 1
    assert all(c.std["wer"] == pytest.approx(0.01 / 2**0.5) for c in confirmed)
    assert sum("worker died" in line for line in lines) == 2 * len(candidates), lines
    assert not live_drivers(study)  # its lease is released at the end

    holder = DriverLease.acquire(study, "refuse")  # a driver holds the study: the confirmation waits its turn
    try:
        with pytest.raises(StudyInUse):
            confirm_study(study, 2, "recommended", evaluate=toy.seeded)
    finally:
        holder.release()
