"""A new objective is one metric registered from outside the package (issue #28's goal): a toy
energy-delay product, declared in this test with ``register_metric`` and never in
``codesign/``, runs as an objective of real 2-trial studies (tiny corpus, one epoch) under the
joint and the nested strategy, and is stored, on the front and labelled."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path

import optuna
import pytest
from _tiny import tiny_spec_data
from optuna.trial import TrialState

from codesign.config import ConfigError, parse_spec
from codesign.hardware import estimate_cost, load_chip, synthetic_trace
from codesign.search import (
    METRICS,
    Metric,
    StudySpec,
    load_stored_study,
    metric_named,
    pareto_front,
    parse_constraint,
    record_of,
    register_metric,
    run_study,
    study_view,
    unregister_metric,
)
from codesign.search._metrics import chip_figures, with_derived

EDP = "energy_delay_uj_ms"
EDP_LABEL = "energy-delay product (µJ·ms)"


@pytest.fixture
def edp() -> Iterator[Metric]:
    """The toy objective, registered for one test. Its function is defined here, inside the
    fixture, so Ray sends it to the workers whole (by value)."""

    def energy_delay(metrics: Mapping[str, float]) -> float:
        return metrics["energy_uj"] * metrics["latency_ms"]

    metric = register_metric(Metric(EDP, "min", "µJ·ms", "derived", EDP_LABEL, "EDP<br>(µJ·ms)",
                                    compute=energy_delay))
    yield metric
    unregister_metric(EDP)


def test_a_registered_metric_is_an_objective_constraint_and_label_until_unregistered(edp: Metric) -> None:
    assert METRICS[EDP] == "min" and metric_named(EDP) is edp
    assert parse_constraint(f"{EDP} <= 2").metric == EDP
    from codesign.report import metric_label

    assert metric_label(EDP) == EDP_LABEL
    spec = parse_spec(StudySpec, tiny_spec_data("joint", 2, objectives={"accuracy": "max", EDP: "min"}))
    assert spec.objectives == {"accuracy": "max", EDP: "min"}
    # derived from what was measured; absent (so a study selecting on it fails saying so) when not
    assert with_derived({"energy_uj": 2.0, "latency_ms": 3.0})[EDP] == 6.0
    assert EDP not in with_derived({"energy_uj": 2.0})
    with pytest.raises(ValueError, match="registered already"):
        register_metric(edp)
    with pytest.raises(ValueError, match="codesign's own"):
        unregister_metric("energy_uj")
    unregister_metric(EDP)
    assert EDP not in METRICS
    with pytest.raises(ConfigError, match="a measured metric"):
        parse_spec(StudySpec, tiny_spec_data("joint", 2, objectives={"accuracy": "max", EDP: "min"}))
    register_metric(edp)  # for the fixture's teardown


def test_an_installed_plugins_metric_is_known_in_any_process_on_first_use(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A package declaring a metric under the ``codesign.metrics`` entry point: loaded on the
    first name the registry does not know (a stored study read by the command line), and never
    sent with a task (each worker loads its own plugins)."""
    import importlib.metadata
    import sys

    from codesign.search import _metrics

    (tmp_path / "toy_metric_plugin.py").write_text(
        "from codesign.search import Metric\n"
        "METRICS = [Metric('toy_plugin_edp', 'min', 'µJ·ms', 'derived', 'plugin energy-delay (µJ·ms)',\n"
        "                  compute=lambda m: m['energy_uj'] * m['latency_ms'])]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    point = importlib.metadata.EntryPoint("toy", "toy_metric_plugin:METRICS", _metrics.ENTRY_POINT_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [point] if group == _metrics.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(_metrics, "_plugins_loaded", False)
    try:
        assert "toy_plugin_edp" not in _metrics._REGISTRY  # nothing scanned before a name is missing
        spec = parse_spec(StudySpec, tiny_spec_data("joint", 2, objectives={"accuracy": "max", "toy_plugin_edp": "min"}))
        assert spec.objectives["toy_plugin_edp"] == "min"
        assert with_derived({"energy_uj": 2.0, "latency_ms": 0.5})["toy_plugin_edp"] == 1.0
        assert "toy_plugin_edp" not in [m.name for m in _metrics.extra_metrics()]
    finally:
        unregister_metric("toy_plugin_edp")
        sys.modules.pop("toy_metric_plugin", None)


def test_a_metric_must_say_how_it_is_measured() -> None:
    with pytest.raises(ValueError, match="a compute function exactly when its source is 'derived'"):
        Metric("toy_without_compute", "min", "", "derived", "toy")
    with pytest.raises(ValueError, match="a figure exactly when its source is 'chip'"):
        Metric("toy_chip", "min", "", "chip", "toy")
    with pytest.raises(ValueError, match="direction 'min' or 'max'"):
        Metric("toy_up", "up", "", "network", "toy")  # type: ignore[arg-type]  # the point of the test


def test_every_chip_metric_reads_alike_from_one_chip_and_from_a_sweep() -> None:
    """The registry reads a chip metric by one attribute from ``CostReport`` (joint) and
    ``BatchCostReport`` (nested), so no strategy has a list of its own to miss."""
    from codesign.hardware import estimate_cost_batch

    chip = load_chip("edge_kws")
    trace = synthetic_trace(seed=3)
    one = chip_figures(estimate_cost(trace, chip))
    batch = chip_figures(estimate_cost_batch(trace, [chip, chip]))
    assert one.keys() == batch.keys() >= {"energy_uj", "latency_ms", "area_mm2", "cycles", "fits_on_chip"}
    for name, value in one.items():
        assert batch[name].shape == (2,) and batch[name][0] == pytest.approx(float(value), rel=1e-12), name


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["joint", "nested"])
def test_a_toy_objective_registered_in_a_test_runs_a_real_study(edp: Metric, strategy: str, ray_cluster: str,
                                                                 tmp_path: Path) -> None:
    extra: dict[str, object] = {"objectives": {"accuracy": "max", EDP: "min"}, "constraints": []}
    if strategy == "nested":
        extra["nested"] = {"hw_points": 16}
    spec = parse_spec(StudySpec, tiny_spec_data(strategy, trials=2, **extra))
    outcome = run_study(spec, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2, [
        record_of(t.user_attrs).error for t in study.trials]
    for trial in study.trials:
        record = record_of(trial.user_attrs)
        # stored: in the record's objectives (what Optuna was told) and in each design point's metrics
        assert list(trial.values) == [record.objectives["accuracy"], record.objectives[EDP]]
        designs = record.hw_front if strategy == "nested" else [record]
        assert designs
        for design in designs:
            m = design.metrics
            assert m[EDP] == pytest.approx(m["energy_uj"] * m["latency_ms"], rel=1e-12) and math.isfinite(m[EDP])
        assert record.objectives[EDP] in [d.metrics[EDP] for d in designs]

    # on the front, as an objective of every point
    view = study_view(study)
    front = pareto_front(view.points, view.objectives)
    assert front and all(p.objectives[EDP] == pytest.approx(p.metrics[EDP]) for p in front)
    # labelled: the terminal's front table and the report page say what it measures
    from codesign.cli._study import front_text

    table = front_text(view, spec)
    assert table.splitlines()[0].split()[3:5] == [EDP, "(min)"]
    assert f"{EDP} = {EDP_LABEL}" in table
    from codesign.report import write_report

    write_report(optuna.load_study(study_name=spec.name, storage=outcome.storage_url), tmp_path / "report.html")
    assert EDP_LABEL in (tmp_path / "report.html").read_text()
