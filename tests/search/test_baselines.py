"""The two baseline strategies on tiny real 2-trial studies (Ray workers, training, chip model),
read back by ``study front``/``study points`` and exported like any other study's designs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from _tiny import tiny_spec_data
from optuna.trial import TrialState

from codesign.cli import main
from codesign.config import parse_spec
from codesign.export import load_bundle_config
from codesign.search import (
    SYNAPTIC_OPS,
    StudySpec,
    StudyView,
    load_stored_study,
    record_of,
    run_study,
    study_view,
)


def _run(strategy: str, tmp_path: Path, **extra: object) -> tuple[StudySpec, list, StudyView]:
    spec = parse_spec(StudySpec, tiny_spec_data(strategy, 2, nested={"hw_points": 16}, **extra))
    outcome = run_study(spec, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2, [record_of(t.user_attrs).error for t in trials]
    return spec, trials, study_view(study)


def _point_ids(capsys: pytest.CaptureFixture[str], runs: Path, name: str) -> list[str]:
    capsys.readouterr()
    assert main(["study", "points", name, "--runs-dir", str(runs)]) == 0
    return [row["id"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))]


def _exports(capsys: pytest.CaptureFixture[str], runs: Path, name: str, point: str) -> int:
    out = runs / f"bundle-{point}"
    assert main(["export", name, "--runs-dir", str(runs), "--point", point, "--out", str(out)]) == 0, \
        capsys.readouterr().err
    return load_bundle_config(out).study.trial


@pytest.mark.slow
def test_sequential_searches_a_network_without_a_chip_then_sweeps_the_best(
        toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, (network, swept), view = _run("sequential", tmp_path, sequential={"k": 1})
    first, second = record_of(network.user_attrs), record_of(swept.user_attrs)
    # stage 0: the network alone, in float: no chip, the task metric, its synaptic operations
    assert first.chip_config is None and not first.hw_front and set(first.objectives) == {"accuracy"}
    assert first.metrics[SYNAPTIC_OPS] > 0 and first.metrics["weight_bits"] == 32
    assert list(network.values) == [first.objectives["accuracy"], 0.0, 0.0]  # chip objectives unknown
    assert view.trials[0].values is None  # what its sampler was told is no design's figures
    # stage 1: the same network, on the hardware sweep, at each chip's precision
    assert swept.params == network.params and second.hw_front and second.chip_config is not None
    assert all(p.metrics["weight_bits"] == p.params["hw.weight_bits"] for p in second.hw_front)
    # only the swept network holds designs, with the study-wide ids; the first is no point
    ids = _point_ids(capsys, tmp_path, spec.name)
    assert ids and all(i.startswith(f"{swept.number}.") for i in ids)
    assert main(["study", "front", spec.name, "--runs-dir", str(tmp_path)]) == 0
    assert f"{swept.number}." in capsys.readouterr().out
    assert _exports(capsys, tmp_path, spec.name, ids[0]) == swept.number


@pytest.mark.slow
def test_hardware_first_searches_networks_for_the_studys_chip(
        toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, trials, view = _run("hardware_first", tmp_path)
    for trial in trials:
        record = record_of(trial.user_attrs)
        assert not any(k.startswith("hw.") for k in trial.params)  # the sampler draws networks only
        assert record.chip_config == spec.chip  # the study's chip, as given
        assert list(trial.values) == [record.objectives[k] for k in spec.objectives]
    assert all(t.values is not None for t in view.trials)
    ids = _point_ids(capsys, tmp_path, spec.name)
    assert sorted(ids) == sorted(str(t.number) for t in trials)  # one design per trial, plain ids
    assert main(["study", "front", spec.name, "--runs-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert _exports(capsys, tmp_path, spec.name, ids[0]) == int(ids[0])
