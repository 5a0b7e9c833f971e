"""A strategy added from outside the package: one class and one ``register_strategy`` call.

The toy below is defined here, without editing ``codesign``, and runs a real 2-trial study
(tiny corpus, one epoch, the real chip model) through ``run_study``; the readers (the study's
points and front, the report's breakdowns, ``study points``) and a confirmation then work
from what it built, never asking which strategy it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _tiny import tiny_spec_data
from optuna.trial import TrialState

from codesign.cli import main
from codesign.config import ConfigError, parse_spec
from codesign.report import breakdown_infos
from codesign.search import (
    DesignPoint,
    SearchSpace,
    Strategy,
    StudySpec,
    TrialRecord,
    TrialRun,
    confirm_study,
    load_stored_study,
    pareto_front,
    record_of,
    register_strategy,
    run_study,
    study_view,
)


def _marked(record: TrialRecord, metric: str) -> TrialRecord:
    return record.model_copy(update={"metrics": {**record.metrics, metric: 1.0}})


class ToyOnStudyChip(Strategy):
    """Networks searched for the study's own chip (no ``hw.*`` drawn); each trial's one design
    is numbered 0 (id ``N.0``), and its record marked, so that the test sees this class, not a
    built-in one, evaluated and confirmed it in the worker and built the points readers read."""

    def ask_space(self, space: SearchSpace) -> SearchSpace:
        return space.subspace("snn", "train")

    def evaluate(self, run: TrialRun) -> TrialRecord:
        return _marked(run.on_chip(), "toy_evaluated")

    def confirm(self, run: TrialRun) -> TrialRecord:
        return _marked(run.on_chip(), "toy_confirmed")

    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        return [DesignPoint(trial_number, dict(record.params), dict(record.objectives), dict(record.constraints),
                            dict(record.metrics), member=0, trace=record.artifacts.get("trace"),
                            cost_report=record.artifacts.get("cost_report"))]


TOY = register_strategy("toy_on_study_chip", ToyOnStudyChip)


@pytest.fixture
def toy_strategy(ray_cluster: str) -> Strategy:
    """The toy, shipped to Ray workers by value (they never import this test module)."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return TOY


def test_registration_is_one_name_per_class() -> None:
    assert register_strategy("toy_on_study_chip", ToyOnStudyChip) is TOY  # again: the same one
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("joint", ToyOnStudyChip)
    with pytest.raises(ConfigError, match=r"registered strategy.*toy_on_study_chip") as info:
        parse_spec(StudySpec, tiny_spec_data("toy_on_stuyd_chip", trials=2))
    assert info.value.key == "strategy" and "did you mean 'toy_on_study_chip'" in str(info.value)


@pytest.mark.slow
def test_a_strategy_defined_outside_the_package_runs_a_real_study(
        toy_strategy: Strategy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = parse_spec(StudySpec, tiny_spec_data("toy_on_study_chip", trials=2, constraints=[]))
    outcome = run_study(spec, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url, writable=True)
    records = {t.number: record_of(t.user_attrs) for t in study.trials}
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2, [r.error for r in records.values() if r]
    for trial in study.trials:
        record = records[trial.number]
        assert record is not None and record.strategy == "toy_on_study_chip"
        assert record.metrics["toy_evaluated"] == 1.0  # the toy's evaluate ran in the worker
        assert not any(k.startswith("hw.") for k in trial.params)  # its ask_space: no chip drawn
        assert record.chip_config == spec.chip and record.metrics["energy_uj"] > 0

    view = study_view(study)
    assert [p.point_id for p in view.points] == ["0.0", "1.0"]  # the toy's points, read back
    assert outcome.front and {p.key for p in outcome.front} == {p.key for p in pareto_front(view.points,
                                                                                          view.objectives)}
    infos = breakdown_infos(view, tuple(p.key for p in view.points))
    for info, point in zip(infos, view.points, strict=True):  # the design's own stored cost report
        assert info.note is None and info.method == "stored cost report", info.note
        assert info.energy_by_category_pj and 1e-6 * sum(info.energy_by_category_pj.values()) == pytest.approx(
            point.metrics["energy_uj"], rel=1e-9)
    capsys.readouterr()  # (what the run printed)
    assert main(["study", "points", spec.name, "--runs-dir", str(tmp_path), "--columns", "id,trial,chip"]) == 0
    assert capsys.readouterr().out.split() == ["id,trial,chip", "0.0,0,0", "1.0,1,0"]

    # a confirmation runs the study's strategy (the toy's confirm), not a built-in one
    confirmed = confirm_study(study, 2, ids=["1.0"])
    assert [(c.trial, c.member) for c in confirmed] == [(1, 0)]
    assert confirmed[0].mean["toy_confirmed"] == 1.0 and "toy_evaluated" not in confirmed[0].mean
    assert study_view(load_stored_study(spec.name, outcome.storage_url)).point_by_id("1.0").confirmed == confirmed[0]


def test_an_installed_package_names_its_strategy_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that never imported the package (a ``codesign`` command, a Ray worker) finds
    its strategy through the ``codesign.strategies`` entry points."""
    import importlib.metadata

    from codesign.search import _strategy

    point = importlib.metadata.EntryPoint("plugin_kind", "codesign.search._strategy:HardwareFirst",
                                          _strategy.ENTRY_POINT_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [point] if group == _strategy.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(_strategy, "_REGISTRY", dict(_strategy._REGISTRY))  # (the session's registry untouched)
    spec = parse_spec(StudySpec, tiny_spec_data("plugin_kind", trials=2))
    assert spec.strategy == "plugin_kind" and _strategy.strategy_named("plugin_kind").name == "plugin_kind"
    with pytest.raises(ValueError, match=r"strategy one of .*plugin_kind, got 'no_such_kind'"):
        _strategy.strategy_named("no_such_kind")
