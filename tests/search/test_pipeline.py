"""The real evaluation pipeline in Ray workers: tiny corpus, tiny networks, real chip model."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tiny import tiny_spec_data
from optuna.trial import TrialState

from codesign.config import parse_spec
from codesign.search import StudySpec, load_stored_study, record_of, run_study


def _tiny(strategy: str, trials: int, **extra: object) -> StudySpec:
    return parse_spec(StudySpec, tiny_spec_data(strategy, trials, **extra))


@pytest.mark.slow
def test_joint_study_trains_traces_and_costs_each_trial(toy, tmp_path: Path) -> None:
    spec = _tiny("joint", trials=4)
    outcome = run_study(spec, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 0, [record_of(t.user_attrs).error for t in study.trials]
    for trial in study.trials:
        record = record_of(trial.user_attrs)
        if trial.state == TrialState.PRUNED:  # the cheap check: recorded, not trained
            assert not record.trained and record.pruned and any(v > 0 for v in record.constraints.values())
            continue
        assert 0.0 <= record.metrics["accuracy"] <= 1.0 and record.metrics["energy_uj"] > 0
        assert (tmp_path / spec.name / record.artifacts["cost_report"]).is_file()
        assert (tmp_path / spec.name / record.artifacts["trace"]).is_file()
        assert list(trial.values) == [record.objectives[k] for k in spec.objectives]


@pytest.mark.slow
def test_nested_study_records_each_networks_hardware_front(toy, tmp_path: Path) -> None:
    spec = _tiny("nested", trials=2, nested={"hw_points": 64})
    outcome = run_study(spec, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    assert all(t.state == TrialState.COMPLETE for t in study.trials), [
        record_of(t.user_attrs).error for t in study.trials]
    for trial in study.trials:
        record = record_of(trial.user_attrs)
        assert not any(k.startswith("hw.") for k in trial.params)  # Optuna samples snn.* only
        assert record.hw_front and all(p.feasible for p in record.hw_front)
        # the sampler is told one design the network really achieves, not a utopia point
        assert record.objectives in [p.objectives for p in record.hw_front]
        assert list(trial.values) == [record.objectives[k] for k in spec.objectives]
        # each hardware point carries the accuracy and trace of its own chip's precision
        for point in record.hw_front:
            assert point.metrics["weight_bits"] == point.params["hw.weight_bits"]
            assert (tmp_path / spec.name / point.trace).is_file()
    assert outcome.front and {p.trial for p in outcome.front} <= {t.number for t in study.trials}


@pytest.mark.slow
def test_multi_fidelity_nested_study_continues_promoted_networks_from_checkpoints(toy, tmp_path: Path) -> None:
    spec = _tiny("nested", trials=3, nested={"hw_points": 16})
    data = spec.to_dict()
    data["fidelity"] = {**data["fidelity"], "epochs": 2}
    data["multi_fidelity"] = {"rungs": [1], "reduction_factor": 3}
    spec = parse_spec(StudySpec, data)
    outcome = run_study(spec, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "PRUNED", "PRUNED"], [record_of(t.user_attrs).error for t in study.trials]
    winner = next(t for t in study.trials if t.state == TrialState.COMPLETE)
    assert [r["epoch"] for r in winner.user_attrs["codesign.rungs"]] == [1, 2]
    record = record_of(winner.user_attrs)
    assert record.rung_epoch is None and record.metrics["epochs_completed"] == 2
    # the full run continued the rung's checkpoint: its loss curve starts with the rung's
    import json

    full_path = (tmp_path / spec.name / record.artifacts["train_result"]).resolve()
    assert full_path.parent.name == "full"
    full = json.loads(full_path.read_text())
    rung = json.loads((full_path.parents[1] / "rungs" / "001" / "result.json").read_text())
    assert full["loss_curve"][: len(rung["loss_curve"])] == rung["loss_curve"]
    # the pruned networks never reach the front; the winner does unless each of its chips makes
    # it answer one class everywhere (a 2-epoch toy can, e.g. on a ternary chip): degenerate
    from codesign.search import is_degenerate

    said_something = any(not is_degenerate(p.metrics) for p in record.hw_front)
    assert {p.trial for p in outcome.front} == ({winner.number} if said_something else set())


def test_nested_scores_the_network_at_each_swept_precision(tmp_path: Path, learnable_commands_config) -> None:
    """One trained network, scored per (weight_bits, state_bits) among the swept chips: 2-bit
    chips get the 2-bit network's accuracy, not the float one's."""
    import json

    from codesign.search import ArtifactStore, TrialTask
    from codesign.search._evaluate import evaluate_trial

    spec = _tiny("nested", trials=1, nested={"hw_points": 16})
    data = spec.to_dict()
    data["corpus"] = learnable_commands_config.to_dict()
    data["fidelity"] = {"epochs": 10, "batch_size": 16, "learning_rate": 0.01, "threads": 1}
    data["space"][1]["parameters"]["hw.weight_bits"] = {"type": "categorical", "choices": [2, 8]}
    spec = parse_spec(StudySpec, data)
    params = {"snn.width": 32, "snn.depth": 1, "snn.heads": 2, "snn.neuron": "imls", "snn.levels": 4,
              "snn.timesteps": 1, "snn.family": "spikeformer", "snn.variant": "spiking"}
    store = ArtifactStore(tmp_path)
    result = evaluate_trial(TrialTask(params=params, spec=spec, trial_number=0, store=store))
    result.save(store)  # what the driver does with a worker's result
    record, artifact_dir = result.record, tmp_path / spec.name
    artifact_dir.mkdir(exist_ok=True)  # as the driver does: records name ../_train_cache/... through it
    traces = {k: v for k, v in record.artifacts.items() if k.startswith("trace@")}
    # the quickstart's space also sweeps hw.tap_scales: a precision of its own (label -tap)
    assert {"trace@w2s12", "trace@w8s12"} <= set(traces) <= {
        "trace@w2s12", "trace@w8s12", "trace@w2s12-tap", "trace@w8s12-tap"}
    assert any(k.endswith("-tap") for k in traces)
    accuracy = {
        k: json.loads((artifact_dir / v).with_name("metrics.json").read_text())["accuracy"] for k, v in traces.items()
    }
    assert accuracy["trace@w2s12"] < accuracy["trace@w8s12"]
    for point in record.hw_front:
        label = f"trace@w{point.params['hw.weight_bits']}s12" + ("-tap" if point.params.get("hw.tap_scales") else "")
        assert point.metrics["accuracy"] == accuracy[label]


def test_a_chip_that_cannot_hold_the_network_is_an_error_and_what_it_cannot_carry_is_constrainable() -> None:
    from codesign.config import ConfigError
    from codesign.hardware import ChipConfig
    from codesign.search import parse_constraint
    from codesign.search._evaluate import chip_precision

    with pytest.raises(ConfigError, match=r"hw\.weight_bits.*cannot be represented"):
        chip_precision(ChipConfig(weight_bits=1))
    assert chip_precision(ChipConfig(weight_bits=4, state_bits=12)).label == "w4s12"
    # state saturation and split spikes are measured metrics a study can constrain
    assert parse_constraint("state_overflow_rate <= 0.01").value({"state_overflow_rate": 0.05}) > 0
    assert parse_constraint("split_spike_fraction <= 0").value({"split_spike_fraction": 0.0}) <= 0


@pytest.mark.parametrize("strategy", ["joint", "nested"])
def test_a_drawn_chip_that_is_invalid_is_pruned_with_its_reason(strategy: str, tmp_path: Path,
                                                                commands_corpus) -> None:
    """A pair of hw.* values can make no chip (the load-time check sees one value at a time):
    such a trial is PRUNED as infeasible, saying why, never a FAIL blamed on the command line."""
    from codesign.search import ArtifactStore, TrialTask
    from codesign.search._evaluate import evaluate_trial

    data = _tiny(strategy, trials=1, nested={"hw_points": 4}).to_dict()
    data["chip"] = {**data["chip"], "cores": 4}
    data["space"][1]["parameters"] = {"hw.cores": {"type": "categorical", "choices": [1, 2]},
                                      "hw.mesh_cols": {"type": "categorical", "choices": [3, 4]}}
    spec = parse_spec(StudySpec, data)  # (parse_study would refuse mesh_cols 3 and 4 with cores 1)
    params = {"snn.family": "spikeformer", "snn.variant": "spiking", "snn.width": 32, "snn.depth": 1}
    if strategy == "joint":
        params.update({"hw.cores": 2, "hw.mesh_cols": 3})
    result = evaluate_trial(TrialTask(params=params, spec=spec, trial_number=0, store=ArtifactStore(tmp_path),
                                      corpus=commands_corpus))
    record = result.record
    assert record.error is None and record.pruned is not None and not record.trained
    assert record.pruned.startswith("invalid chip: ") and "mesh_cols <= cores" in record.pruned
    assert "<command line>" not in record.pruned
