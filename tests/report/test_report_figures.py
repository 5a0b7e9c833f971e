"""Figure data computed from real stored studies, checked without any browser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from report_studies import (
    CATEGORIES,
    FRONT,
    LAYERS,
    OBJECTIVES,
    PLANNED,
    nested_study,
    random_plans,
    write_study,
)

from codesign.config import ConfigError
from codesign.report import (
    MIN_TRIALS_FOR_IMPORTANCE,
    REFERENCE_MARGIN,
    StudyView,
    TrialView,
    breakdown_infos,
    default_reference_point,
    front_keys,
    front_numbers,
    hypervolume_info,
    importance_infos,
    load_study,
    parallel_coordinates_info,
    pareto_front_info,
    study_view,
)
from codesign.search import DesignPoint


def test_study_view_reads_records_states_and_feasibility(stored_study: tuple[str, str, Path]) -> None:
    url, name, artifacts = stored_study
    view = study_view(load_study(name, url))
    assert view.objective_names == OBJECTIVES
    assert view.directions == ("minimize",) * 3
    assert view.artifact_dir == artifacts
    states = [t.state for t in view.trials]
    assert states == ["COMPLETE"] * 3 + ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE", "COMPLETE",
                                         "PRUNED", "COMPLETE", "RUNNING"]
    assert view.trial(3).error == "training diverged: loss is nan"
    assert view.trial(3).values is None
    assert [t.number for t in view.trials if not t.feasible] == [4, 8]
    assert view.trial(9).reference == "ANN twin"
    assert not view.trial(9).is_candidate
    assert view.trial(0).params["snn.neuron"] == "imls"
    assert view.trial(0).metrics["accuracy"] == pytest.approx(0.9)


def test_unknown_study_names_the_ones_there(sqlite_study: tuple[str, str, Path]) -> None:
    url, _, _ = sqlite_study
    with pytest.raises(ConfigError, match="studies there: hand"):
        load_study("nope", url)


def test_missing_storage_file_is_refused_not_created(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="existing storage file"):
        load_study("x", f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(ConfigError, match="existing storage file"):
        load_study("x", f"journal:///{tmp_path / 'missing.log'}")
    assert list(tmp_path.iterdir()) == []


def test_front_is_feasible_non_dominated_candidates(stored_study: tuple[str, str, Path]) -> None:
    url, name, _ = stored_study
    view = study_view(load_study(name, url))
    assert front_numbers(view) == FRONT
    assert front_keys(view) == tuple((n, None) for n in FRONT)
    info = pareto_front_info(view)
    kinds = {p.kind: set(p.numbers) for p in info.points}
    assert kinds == {
        "front": set(FRONT),
        "dominated": {2, 6},
        "infeasible": {4},
        "reference": {9},
    }
    # Best first by the first objective (wer, minimised).
    assert info.front == ((0, None), (1, None), (5, None), (7, None))
    assert info.pairs == ((0, 1), (0, 2), (1, 2))
    assert info.triple == (0, 1, 2)
    front_pts = next(p for p in info.points if p.kind == "front")
    row = front_pts.numbers.index(5)
    np.testing.assert_allclose(front_pts.values[row], PLANNED[5].values)
    hover = front_pts.hover[row]
    # a short hover (at most 8 lines): id, objectives, network and chip in a line each
    assert hover.count("<br>") + 1 <= 8 and "design 5" in hover and "trial 5" in hover and "wer = 0.25" in hover
    network, chip = hover.index("<i>network</i>"), hover.index("<i>chip</i>")
    assert network < hover.index("width=16") < chip < hover.index("sram_kb=64") and "cores=2" in hover
    assert front_pts.ids[row] == "5"
    # a click opens the full design: every parameter, grouped, and every metric
    sections = dict(info.designs["5"])
    assert dict(sections["network (snn.*)"]) == {"width": "16", "levels": "2", "neuron": "lif"}
    assert dict(sections["chip (hw.*)"])["sram_kb"] == "64" and dict(sections["metrics"])["accuracy"] == "0.75"
    assert set(info.designs) == {str(n) for n in range(10) if n not in (3, 8)}  # every drawn point
    assert info.log_axes == (False, True, True)  # energy and area span decades: log by default
    infeasible = next(p for p in info.points if p.kind == "infeasible")
    assert "violates: area_mm2 = 2" in infeasible.hover[0]
    # trials without objective values are their own classes, with the reason
    uneval = {u.kind: u for u in info.unevaluated}
    assert uneval["failed"].numbers == (3,) and "training diverged: loss is nan" in uneval["failed"].hover[0]
    assert uneval["pruned"].numbers == (8,) and "pruned before training" in uneval["pruned"].hover[0]
    assert "violates: area_mm2 = -1" not in uneval["pruned"].hover[0]  # only violated constraints listed
    assert np.isnan(uneval["pruned"].known).all()  # never trained: nothing to place it by
    assert info.confirmed is None


def _view(values: list[tuple[float, ...]], directions: tuple[str, ...], feasible: list[bool] | None = None) -> StudyView:
    feasible = feasible or [True] * len(values)
    trials = tuple(
        TrialView(i, "COMPLETE", v, {}, None, {} if f else {"c": 1.0}, f, None, None)
        for i, (v, f) in enumerate(zip(values, feasible, strict=True))
    )
    names = tuple(f"o{i}" for i in range(len(directions)))
    points = tuple(DesignPoint(t.number, {}, dict(zip(names, v, strict=True)), t.constraints) for t, v in zip(trials, values, strict=True))
    return StudyView("t", names, directions, trials, None, None, points=points)


def test_hypervolume_2d_by_hand_with_a_maximised_objective() -> None:
    # o0 minimised, o1 maximised (accuracy-like). Reference (1.0, 0.0).
    view = _view([(0.5, 0.5), (0.25, 0.25), (0.75, 0.75), (0.9, 0.1)], ("minimize", "maximize"),
                 feasible=[True, True, True, False])
    info = hypervolume_info(view, reference_point=(1.0, 0.0))
    assert info.reason is None and info.reference_point == (1.0, 0.0)
    # As losses (o0, -o1) against (1, 0): trial 0 alone is 0.5 x 0.5 = 0.25; trial 1 adds the
    # strip [0.25, 0.5) x 0.25 = 0.0625; with trial 2 the staircase over o0 is heights 0.25 on
    # [0.25, 0.5), 0.5 on [0.5, 0.75), 0.75 on [0.75, 1): 0.0625 + 0.125 + 0.1875 = 0.375;
    # trial 3 is infeasible and adds nothing.
    expected = [0.25, 0.3125, 0.375, 0.375]
    np.testing.assert_allclose(info.values, expected)
    assert info.trial_numbers == (0, 1, 2, 3)


def test_hypervolume_3d_single_point_and_default_reference() -> None:
    view = _view([(1.0, 2.0, 3.0), (2.0, 4.0, 5.0)], ("minimize",) * 3)
    ref = default_reference_point(view)
    assert ref == pytest.approx((2.0 + REFERENCE_MARGIN * 1.0, 4.0 + REFERENCE_MARGIN * 2.0, 5.0 + REFERENCE_MARGIN * 2.0))
    info = hypervolume_info(view)
    assert info.reference_source == "worst eligible value + 0.1 x range, from this study"
    # Only trial 0 counts at the end (trial 1 is dominated): box (ref - p0).
    assert info.values[-1] == pytest.approx((2.1 - 1.0) * (4.2 - 2.0) * (5.2 - 3.0))


def test_hypervolume_is_monotone_on_stored_study(stored_study: tuple[str, str, Path]) -> None:
    url, name, _ = stored_study
    view = study_view(load_study(name, url))
    info = hypervolume_info(view)
    assert info.trial_numbers == (0, 1, 2, 4, 5, 6, 7)  # candidates only: no failed, reference, running
    assert all(b >= a for a, b in zip(info.values, info.values[1:], strict=False))
    assert info.values[3] == info.values[2]  # trial 4 is infeasible: adds nothing
    assert info.values[-1] > info.values[0] > 0


def test_hypervolume_needs_two_objectives() -> None:
    info = hypervolume_info(_view([(1.0,)], ("minimize",)))
    assert info.reason is not None and "two objectives" in info.reason


def test_parallel_coordinates_axes(stored_study: tuple[str, str, Path]) -> None:
    url, name, _ = stored_study
    info = parallel_coordinates_info(study_view(load_study(name, url)))
    assert [k[0] for k in info.keys] == [0, 1, 2, 4, 5, 6, 7]
    names = [a.name for a in info.axes]
    assert names == ["snn.width", "snn.levels", "snn.neuron", "hw.sram_kb", "hw.cores", *OBJECTIVES]
    neuron = info.axes[2]
    assert neuron.tick_labels == ("imls", "lif")
    assert neuron.values[:3] == (0.0, 0.0, 1.0)
    sram = info.axes[3]
    assert sram.log and sram.values[0] == pytest.approx(np.log10(256.0))
    assert info.colour_by["wer"][0] == pytest.approx(0.10)
    assert info.feasible == (True, True, True, False, True, True, True)


def test_importance_too_few_trials_is_a_stated_reason(stored_study: tuple[str, str, Path]) -> None:
    url, name, _ = stored_study
    study = load_study(name, url)
    infos = importance_infos(study, study_view(study))
    assert [i.objective for i in infos] == list(OBJECTIVES)
    for info in infos:
        assert info.importances == {}
        assert info.reason == f"too few finished trials for importances: 7 < {MIN_TRIALS_FOR_IMPORTANCE}"


def test_importance_finds_the_parameter_that_drives_each_objective(tmp_path: Path) -> None:
    storage = optuna.storages.InMemoryStorage()  # the storage is not under test here; speed is
    artifacts = tmp_path / "a"
    artifacts.mkdir()
    study = write_study(storage, "rand", artifacts, random_plans(24))
    infos = importance_infos(study, study_view(study))
    wer, energy, _area = infos
    assert wer.reason is None and wer.n_trials == 24
    assert sum(wer.importances.values()) == pytest.approx(1.0)
    assert next(iter(wer.importances)) == "snn.width"
    assert next(iter(energy.importances)) in ("snn.levels", "hw.cores")


def test_breakdown_from_cost_report_artifacts(stored_study: tuple[str, str, Path]) -> None:
    url, name, artifacts = stored_study
    view = study_view(load_study(name, url))
    infos = breakdown_infos(view, tuple((n, None) for n in FRONT))
    for info in infos:
        planned = PLANNED[info.number].values
        assert planned is not None
        assert info.layers == LAYERS and info.categories == CATEGORIES
        assert info.energy_by_layer_category_pj is not None and info.energy_by_layer_category_pj.shape == (4, 7)
        assert info.total_energy_pj == pytest.approx(planned[1] * 1e6)
        assert sum(info.energy_by_layer_pj.values()) == pytest.approx(planned[1] * 1e6)
        assert info.area_mm2 == planned[2]
        assert info.cycles == 1000.0 * (info.number + 1)
        assert info.source == artifacts / f"trial_{info.number:04d}" / "cost_report.json"
        assert info.note is None


def test_breakdown_says_when_the_cost_report_is_missing(own_sqlite_study: tuple[str, str, Path]) -> None:
    url, name, artifacts = own_sqlite_study
    (artifacts / "trial_0005" / "cost_report.json").unlink()
    (artifacts / "trial_0007" / "cost_report.json").write_text(json.dumps({"cycles": 3}))
    view = study_view(load_study(name, url))
    missing, broken = breakdown_infos(view, ((5, None), (7, None)))
    assert missing.energy_by_layer_category_pj is None and missing.note is not None and "not found" in missing.note
    # Still shows what the record holds: categories and chip figures.
    assert set(missing.energy_by_category_pj) == set(CATEGORIES)
    assert missing.area_mm2 == 1.5 and missing.cycles == 6000.0
    assert broken.energy_by_layer_category_pj is None and broken.note is not None and "unreadable" in broken.note


def test_artifact_dir_override(sqlite_study: tuple[str, str, Path], tmp_path: Path) -> None:
    url, name, _ = sqlite_study
    view = study_view(load_study(name, url), artifact_dir=tmp_path / "elsewhere")
    info = breakdown_infos(view, ((0, None),))[0]
    assert info.energy_by_layer_category_pj is None and info.note is not None and "elsewhere" in info.note


def test_empty_study_has_reasons_not_errors(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'e.db'}"
    study = optuna.create_study(study_name="empty", storage=storage, directions=["minimize", "minimize"])
    view = study_view(load_study("empty", storage))
    assert front_numbers(view) == ()
    assert hypervolume_info(view).reason == "no eligible design point yet (feasible, above the floor)"
    assert parallel_coordinates_info(view).reason is not None
    assert all(i.reason is not None for i in importance_infos(study, view))


def test_nested_trials_contribute_one_point_per_chip(tmp_path: Path) -> None:
    """A ``nested`` trial's hardware set: each chip is a design point; the front is over points;
    each front point's breakdown is the chip model on its trace at its chip's precision."""
    from codesign.hardware import estimate_cost
    from codesign.trace import load_trace

    study = nested_study(tmp_path)
    view = study_view(study)
    assert [p.key for p in view.points] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert view.point((0, 1)).params["hw.cores"] == 2
    info = pareto_front_info(view)
    assert {p.kind: p.keys for p in info.points}["infeasible"] == ((0, 2),)
    assert all(not view.point(k).params["hw.cores"] == 4 for k in info.front)
    breakdowns = breakdown_infos(view, info.front)
    assert breakdowns
    for b in breakdowns:
        point = view.point((b.number, b.chip))
        assert b.chip is not None and b.note is None and b.check is None, b.note
        assert b.energy_by_layer_category_pj is not None and b.layers and b.total_energy_pj > 0
        # the same figure the search stored for this chip (vectorised model), from this chip's trace
        assert b.total_energy_pj / 1e6 == pytest.approx(point.metrics["energy_uj"], rel=1e-9)
        bits = point.params["hw.weight_bits"]
        record = view.trial(b.number).record
        trace = load_trace(tmp_path / "nested" / record.artifacts[f"trace@w{bits}s12"])
        chip = record.chip_config.model_copy(update={"cores": point.params["hw.cores"], "weight_bits": bits})
        assert b.total_energy_pj == pytest.approx(estimate_cost(trace, chip).total_energy_pj, rel=1e-12)
        assert f"w{bits}s12" in b.method and b.area_mm2 is not None and b.latency_ms is not None
    # the confirmed design also shows the cost reports its confirmation runs wrote, per seed
    confirmed = next(b for b in breakdowns if (b.number, b.chip) == (0, 1))
    assert [s.seed for s in confirmed.seeds] == [0, 1, 2]
    s0, s1, s2 = confirmed.seeds
    assert s1.total_energy_pj == pytest.approx(1.1 * s0.total_energy_pj) and s0.total_energy_pj > 0
    assert s0.latency_ms is not None and s0.note is None
    assert not s2.energy_by_category_pj and s2.note == (
        "not found at trials/00000-confirm-chip1-seed2/cost_report.json in the study's artifacts folder 'nested'")
    assert all(not b.seeds for b in breakdowns if (b.number, b.chip) != (0, 1))
    hv = hypervolume_info(view, reference_point=(1.0, 100.0))
    assert hv.reason is None and hv.values[-1] >= hv.values[0] > 0


def test_nested_breakdown_says_why_when_it_cannot_be_computed(tmp_path: Path) -> None:
    """A nested design whose trace is gone: the panel names the missing file, never empty-handed."""
    from codesign.report import render_report, report_data

    study = nested_study(tmp_path, trace_for_second=False)
    view = study_view(study)
    infos = {(b.number, b.chip): b for b in breakdown_infos(view, pareto_front_info(view).front)}
    missing = [b for k, b in infos.items() if k[0] == 1]
    assert missing and all(b.empty and b.note is not None and "trace not found at ../_train_cache/net1/" in b.note
                           for b in missing)
    assert all(not b.empty for k, b in infos.items() if k[0] == 0)
    page = render_report(report_data(study))
    assert "no per-chip cost report" not in page and "trace not found at ..\\u002f_train_cache\\u002fnet1" in page


def test_grouped_parallel_panels_confirmed_spread_and_labels(tmp_path: Path) -> None:
    from report_studies import CONFIRM_ACCURACY, STOPPED, quickstart_like_study

    from codesign.report import combined_importance, metric_label, parallel_coordinates_infos, param_label
    from codesign.search import CONFIRMED_ATTR

    study = quickstart_like_study(optuna.storages.InMemoryStorage(), "qs", tmp_path, n=30)
    view = study_view(study)
    importance = combined_importance(importance_infos(study, view))
    network, chip = parallel_coordinates_infos(view, importance)
    assert (network.group, chip.group) == ("snn", "hw")
    params = [a.name for a in network.axes if not a.objective]
    assert params and all(n.startswith(("snn.", "train.")) for n in params)  # training shown with the network
    ranked = [n for n in importance if n in params]
    assert params == ranked + [n for n in params if n not in ranked]  # most important first
    assert network.by_importance and not parallel_coordinates_infos(view)[0].by_importance
    shared = [k for k in view.points[0].params if k.startswith(("snn.", "train.")) and all(k in p.params for p in view.points)]
    same = {k for k in shared if len({repr(p.params[k]) for p in view.points}) == 1}
    assert set(network.constant) == same and not same & set(params)  # equal on every design: listed, not drawn
    assert "snn.levels" in network.conditional  # LIF designs have no levels
    assert {a.name for a in chip.axes if not a.objective} == {
        "hw.cores", "hw.pes_per_core", "hw.weight_sram_kb_per_core", "hw.weight_bits", "hw.graded_spike_bits",
        "hw.zero_skipping", "hw.clock_mhz", "hw.node_nm", "hw.tap_scales"}
    assert [a.name for a in chip.axes if a.objective] == ["accuracy", "energy_uj", "latency_ms"]

    info = pareto_front_info(view)
    stopped = next(u for u in info.unevaluated if u.kind == "stopped")
    assert stopped.numbers == STOPPED and np.isfinite(stopped.known).all()  # drawn at their rung's figures
    assert "stopped by successive halving at 2 epochs" in stopped.hover[0] and "(at 2 epochs)" in stopped.hover[0]
    assert {u.kind: u.numbers for u in info.unevaluated}["pruned"] == (4, 9, 14, 19, 24, 29)
    confirmed = {int(k.rsplit(".", 1)[1]) for k in study.user_attrs if k.startswith(CONFIRMED_ATTR + ".")}
    assert confirmed and info.confirmed is not None
    assert {k[0] for k in info.confirmed.keys} == confirmed
    row = 0
    point = view.point(info.confirmed.keys[row])
    assert point.values[0] >= CONFIRM_ACCURACY
    assert info.confirmed.mean[row, 0] == pytest.approx(point.values[0] * 0.97)
    assert info.confirmed.std[row].tolist() == pytest.approx([0.02, 0.1 * point.values[1], 0.5])
    assert "confirmed over 3 seeds" in info.confirmed.hover[row]

    assert metric_label("energy_uj") == "energy per inference (µJ)"
    assert param_label("hw.weight_sram_kb_per_core") == "weight SRAM<br>per core (KB)"
    assert param_label("train.learning_rate", log=True) == "learning<br>rate (log10)"
    assert param_label("snn.width") == "width"


def test_front_points_drawn_on_top_of_each_other_are_grouped() -> None:
    """Two front designs equal in the two objectives a scatter shows (they differ only in the
    third) would hide one another: the scatter's data names them as one group."""
    from codesign.report._pareto import coincident_front

    view = _view([(0.5, 1.0, 3.0), (0.5, 1.001, 2.0), (0.2, 5.0, 1.0), (0.9, 0.5, 9.0)],
                 ("minimize", "minimize", "minimize"))
    info = pareto_front_info(view)
    front = next(p for p in info.points if p.kind == "front")
    assert len(front.keys) == 4
    groups = coincident_front(info, 0, 1)
    assert [tuple(front.keys[r][0] for r in g) for g in groups] == [(0, 1)]
    assert coincident_front(info, 0, 2) == [] and coincident_front(info, 1, 2) == []


def test_marked_points_and_the_decision_slot_reach_the_page(sqlite_study: tuple[str, str, Path]) -> None:
    """A caller's marks (e.g. a recommended design) are drawn on every scatter at the design's
    values, and its decision paragraph sits in the summary."""
    import dataclasses

    from codesign.report import MarkedPoint, render_report, report_data
    from codesign.report._render import pareto_figures

    url, name, _ = sqlite_study
    data = report_data(load_study(name, url))
    key = data.pareto.front[0]
    pareto = dataclasses.replace(data.pareto, marked=(MarkedPoint(key, "recommended", "why"),))
    figures = pareto_figures(pareto)
    point = data.view.point(key)
    for fig, (i, j) in zip(figures, pareto.pairs, strict=False):
        mark = next(t for t in fig.data if t.name == "recommended")
        assert (mark.x[0], mark.y[0]) == (point.values[i], point.values[j]) and mark.customdata[0] == str(key[0])
    page = render_report(dataclasses.replace(data, pareto=pareto, decision="<p id='why'>because</p>"))
    assert "<p id='why'>because</p>" in page and page.index("id='why'") < page.index("Pareto front</h2>")


def test_page_hypervolume_is_study_status_hypervolume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The page's hypervolume (last point of its curve) is the figure ``codesign study status``
    prints, on a stored nested study where feasible design points fall below the accuracy
    floor: both count eligible points only, against the one reference point."""
    import re
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "search"))
    try:
        from _stored import write_stored_study
    finally:
        sys.path.pop(0)
    from codesign.cli import main
    from codesign.search import default_storage_url, hypervolume, hypervolume_reference, minimisation_signs

    write_stored_study(tmp_path, "hv", strategy="nested", trials=8, seed=3)
    assert main(["study", "status", "hv", "--runs-dir", str(tmp_path)]) == 0
    printed = re.search(r"hypervolume (\S+)", capsys.readouterr().out)
    assert printed is not None
    view = study_view(load_study("hv", default_storage_url("hv", tmp_path)))
    below = [p for p in view.points if p.feasible and not p.eligible]
    assert below, "the study must hold feasible points below the floor for this check to mean anything"
    info = hypervolume_info(view)
    assert info.reason is None and info.values[-1] == pytest.approx(float(printed.group(1)), rel=1e-5)
    # counting the feasible points instead (the page's old rule) gives another figure
    signs = minimisation_signs(view.objectives)
    feasible = np.array([p.values for p in view.points if p.feasible]) * signs
    assert hypervolume(feasible, hypervolume_reference(feasible, view.objectives)) != pytest.approx(info.values[-1])
    # the points below the floor are drawn as their own faded class, named so in their hover
    kinds = {p.kind: p for p in pareto_front_info(view).points}
    below_pts = kinds["below_floor"]
    assert set(below_pts.keys) == {p.key for p in below}
    assert all("below the accuracy floor (accuracy ≥ 0.0909" in h for h in below_pts.hover)
