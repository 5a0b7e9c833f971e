"""Strategies and multi-fidelity scheduling: promotion, pausing, and the driver running MO-ASHA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from optuna.trial import TrialState

from codesign.search import (
    RUNGS_ATTR,
    Joint,
    MultiFidelity,
    Nested,
    SuccessiveHalving,
    TrialRecord,
    load_stored_study,
    nondominated_ranks,
    parse_study,
    promotion_order,
    record_of,
    run_study,
    strategy_of,
    study_points,
)


def test_nondominated_ranks_and_promotion_order() -> None:
    values = np.array([[1.0, 5.0], [2.0, 2.0], [5.0, 1.0], [3.0, 3.0], [6.0, 6.0]])
    assert nondominated_ranks(values).tolist() == [0, 0, 0, 1, 2]
    order = promotion_order(values, np.ones(5, dtype=bool))
    assert set(order[:3].tolist()) == {0, 1, 2} and order[3:].tolist() == [3, 4]
    # an infeasible point goes after every feasible one, however good
    infeasible = promotion_order(values, np.array([False, True, True, True, True]))
    assert infeasible[-1] == 0


def test_promotion_picks_the_non_dominated_trials() -> None:
    sh = SuccessiveHalving(rungs=(1, 3), reduction_factor=2)
    record = TrialRecord()
    results = {10: [1.0, 5.0], 11: [4.0, 4.0], 12: [5.0, 1.0], 13: [6.0, 6.0]}
    first = sh.next_job(may_start_new=True)
    assert first is not None and first.trial is None and first.until_epoch == 1  # nothing to promote yet
    for trial, values in results.items():
        assert sh.on_result(trial, 0, record, np.array(values)) == "paused"
    # 4 results at rung 0, eta 2: the two non-dominated ones are promoted, best first
    promoted = [sh.next_job(may_start_new=False), sh.next_job(may_start_new=False)]
    assert {j.trial for j in promoted} == {10, 12} and all(j.rung == 1 and j.until_epoch is None for j in promoted)
    assert sh.next_job(may_start_new=False) is None
    assert sh.on_result(10, 1, record, np.array([0.5, 4.0])) == "complete"
    assert sorted(sh.paused()) == [11, 13]


def test_promotion_is_asynchronous() -> None:
    """ASHA promotes as soon as a rung has eta results, without waiting for the rest."""
    sh = SuccessiveHalving(rungs=(1, 3), reduction_factor=2)
    sh.on_result(1, 0, TrialRecord(), np.array([3.0, 3.0]))
    assert sh.next_job(may_start_new=True).trial is None  # one result: quota 0, start a new trial
    sh.on_result(2, 0, TrialRecord(), np.array([1.0, 1.0]))
    job = sh.next_job(may_start_new=True)
    assert (job.trial, job.rung) == (2, 1)


def test_strategy_of_a_spec(toy) -> None:
    joint = parse_study({**toy.TOY_SPEC})
    assert isinstance(strategy_of(joint), Joint)
    mf = parse_study({**toy.TOY_SPEC, "fidelity": {"epochs": 9}, "multi_fidelity": {"rungs": [1, 3]}})
    strategy = strategy_of(mf)
    assert isinstance(strategy, MultiFidelity) and strategy.rungs == (1, 3, 9) and strategy.name == "joint"
    assert isinstance(Nested().ask_space(mf.search_space()), type(mf.search_space()))


@pytest.mark.parametrize("bad", [{"rungs": [3, 1]}, {"rungs": [9]}, {"rungs": [1], "reduction_factor": 1}])
def test_bad_rungs_are_refused(toy, bad) -> None:
    from codesign.config import ConfigError

    with pytest.raises(ConfigError, match="multi_fidelity"):
        parse_study({**toy.TOY_SPEC, "fidelity": {"epochs": 9}, "multi_fidelity": bad})


def test_driver_runs_successive_halving_and_stopped_trials_never_reach_the_front(toy, tmp_path: Path) -> None:
    spec = parse_study({**toy.TOY_SPEC, "budget": {"trials": 9}, "fidelity": {"epochs": 9},
                        "multi_fidelity": {"rungs": [1, 3], "reduction_factor": 3}})
    outcome = run_study(spec, evaluate=toy.fidelity, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    states = [t.state for t in study.trials]
    assert len(study.trials) == 9 and states.count(TrialState.RUNNING) == 0
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    # 9 at rung 0 -> 3 promoted to rung 1 -> 1 promoted to the full budget
    assert len(complete) == 1 and len(pruned) == 8
    assert outcome.counts["stopped"] == 8  # every pruned trial here was stopped at a rung
    # one file per call, returned by the worker and written by the driver into the artifact store
    calls = [tuple(map(int, f.name.split("-"))) for f in (tmp_path / "toy" / "calls").iterdir()]
    assert sorted(e for _, e in calls).count(1) == 9 and [e for _, e in calls].count(3) == 3
    assert [e for _, e in calls].count(9) == 1
    for t in pruned:
        record = record_of(t.user_attrs)
        assert record.pruned and "successive halving" in record.pruned
        assert [r["epoch"] for r in t.user_attrs[RUNGS_ATTR]] in ([1], [1, 3])
    winner = complete[0]
    assert [r["epoch"] for r in winner.user_attrs[RUNGS_ATTR]] == [1, 3, 9]
    # only the full-fidelity trial is a design point
    assert {p.trial for p in study_points(study.trials)} == {winner.number}
    assert {p.trial for p in outcome.front} == {winner.number}
