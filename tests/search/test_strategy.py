"""Strategies and multi-fidelity scheduling: promotion, pausing, and the driver running MO-ASHA."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _toy import TOY_SPEC
from optuna.trial import TrialState

from codesign.search import (
    RUNGS_ATTR,
    HardwareFirst,
    Joint,
    MultiFidelity,
    Nested,
    NetworkThenChip,
    Sequential,
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


def test_network_then_chip_sweeps_the_k_most_accurate_networks_after_the_whole_search() -> None:
    """sequential's schedule: the network search first, then one job per network among the k
    best by what the sampler was told (here accuracy alone: chip objectives told as 0)."""
    sched = NetworkThenChip(networks=4, k=2)
    starts = [sched.next_job(may_start_new=True) for _ in range(4)]
    assert all(j is not None and j.trial is None and j.params is None and j.stage == 0 for j in starts)
    assert sched.next_job(may_start_new=True) is None  # the chips wait for every network
    accuracy = {0: 0.4, 1: 0.9, 2: 0.7}
    for trial, acc in accuracy.items():
        record = TrialRecord(params={"snn.width": 16 * (trial + 1)})
        assert sched.on_result(trial, 0, record, np.array([-acc, 0.0, 0.0])) == "complete"
    assert sched.next_job(may_start_new=True) is None  # trial 3 is not told yet
    sched.on_result(3, 0, TrialRecord(params={"snn.width": 64}, error="diverged"), None)  # never chosen
    sweeps = [sched.next_job(may_start_new=True) for _ in range(2)]
    assert [j.params for j in sweeps] == [{"snn.width": 32}, {"snn.width": 48}]
    assert all(j.stage == 1 and j.trial is None for j in sweeps)
    assert sched.next_job(may_start_new=True) is None
    assert sched.next_job(may_start_new=False) is None


def test_sequential_tells_the_sampler_the_task_metric_and_its_proxy_without_a_chip(toy) -> None:
    from codesign.search import SYNAPTIC_OPS

    network = TrialRecord(strategy="sequential", objectives={"wer": 0.3}, metrics={"wer": 0.3, SYNAPTIC_OPS: 5e4})
    spec = parse_study({**toy.TOY_SPEC, **_HW_SPACE, "strategy": "sequential"})
    sequential = strategy_of(spec)
    assert isinstance(sequential, Sequential) and not sequential.holds_designs(network)
    assert sequential.told(network, spec) == ([0.3, 0.0], {})  # chip objective unknown: 0; no constraint
    proxy = parse_study({**toy.TOY_SPEC, **_HW_SPACE, "strategy": "sequential", "sequential": {"proxy": "synops"}})
    assert sequential.told(network, proxy) == ([0.3, 5e4], {})
    # a swept network is a design: told as any other, and a missing constraint fails it
    chip = network.model_copy(update={"chip_config": spec.chip, "objectives": {"wer": 0.3, "energy_uj": 2.0},
                                      "constraints": {"area_mm2 <= 0.8": -0.1}})
    assert sequential.holds_designs(chip)
    assert sequential.told(chip, spec) == ([0.3, 2.0], {"area_mm2 <= 0.8": -0.1})
    with pytest.raises(ValueError, match="area_mm2"):
        sequential.told(chip.model_copy(update={"constraints": {}}), spec)


#: A hardware space for the toy study (sequential sweeps it).
_HW_SPACE = {"space": [*TOY_SPEC["space"], {"parameters": {"hw.cores": {"type": "categorical", "choices": [1, 2]}}}]}


@pytest.mark.parametrize(("changes", "message"), [
    ({"budget": {"trials": 3}, "sequential": {"k": 3}}, "budget.trials above sequential.k"),
    ({"fidelity": {"epochs": 9}, "multi_fidelity": {"rungs": [1, 3]}}, "no multi_fidelity for strategy 'sequential'"),
    ({"space": TOY_SPEC["space"]}, "hw.* parameters in the space for strategy 'sequential'"),
])
def test_a_sequential_study_it_cannot_run_is_refused(toy, changes, message) -> None:
    from codesign.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_study({**toy.TOY_SPEC, **_HW_SPACE, "strategy": "sequential", **changes})


def test_hardware_first_fixes_the_chip_and_samples_networks(toy) -> None:
    spec = parse_study({**toy.TOY_SPEC, **_HW_SPACE, "strategy": "hardware_first"})
    strategy = strategy_of(spec)
    assert isinstance(strategy, HardwareFirst)
    assert strategy.ask_space(spec.search_space()).names("hw") == []
    assert "hw.cores" in Joint().ask_space(spec.search_space()).names("hw")
