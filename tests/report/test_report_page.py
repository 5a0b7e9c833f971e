"""The report page: written by the CLI from real storage, self-contained, drawn by a real browser."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
from report_chromium import check_page, find_chromium, png_colours
from report_studies import FRONT, nested_study, quickstart_like_study, random_plans, write_study

from codesign.cli import main
from codesign.report import load_study, render_report, report_data, write_report
from codesign.search import recommendation_of, store_recommendation


def test_report_data_counts_every_plot(sqlite_study: tuple[str, str, Path]) -> None:
    url, name, _ = sqlite_study
    data = report_data(load_study(name, url))
    # 3 pairs + 3-D + hypervolume + network and chip parallel panels + importances + one
    # breakdown per front member.
    assert [p.group for p in data.parallel] == ["snn", "hw"]
    assert data.n_figures == 3 + 1 + 1 + 2 + 1 + len(FRONT)
    assert [(b.number, b.chip) for b in data.breakdowns] == list(data.pareto.front)


def test_page_is_self_contained(sqlite_study: tuple[str, str, Path], tmp_path: Path) -> None:
    url, name, artifacts = sqlite_study
    out = tmp_path / "r.html"
    data = write_report(load_study(name, url), out)
    text = out.read_text(encoding="utf-8")
    assert text.count('class="plotly-graph-div"') == data.n_figures
    # plotly.js inline, and nothing fetched from elsewhere.
    assert "Plotly.newPlot" in text and len(text) > 3_000_000
    assert not re.search(r"<script[^>]+src=", text)
    assert "training diverged: loss is nan" in text  # failed trials listed with their reason
    assert str(artifacts) not in text and "from trial_0000/cost_report.json" in text  # relative paths only
    assert "ANN twin" in text
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_cli_report_and_clear_errors(sqlite_study: tuple[str, str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    url, name, _ = sqlite_study
    out = tmp_path / "page.html"
    assert main(["report", name, "--storage", url, "--out", str(out)]) == 0
    assert out.is_file()
    assert "4 on the front" in capsys.readouterr().err
    assert main(["report", "nosuch", "--storage", url, "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and "studies there: hand" in err
    assert not (tmp_path / "x.html").exists()
    assert main(["report", name, "--storage", url]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.browser
def test_page_draws_in_headless_chromium(tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("headless Chromium not found (install Debian's 'chromium' package: make browser)")
    storage = optuna.storages.InMemoryStorage()  # the page, not the storage, is under test
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    # Enough trials that importances are computed, so every figure kind has real content.
    study = write_study(storage, "rand", artifacts, random_plans(12))
    out = tmp_path / "report.html"
    data = write_report(study, out)
    assert all(i.reason is None for i in data.importances)
    result, shot = check_page(out, tmp_path)
    assert result["errors"] == []
    assert result["has_plotly"] is True
    assert result["plots"] == data.n_figures
    assert result["drawn"] == data.n_figures
    assert isinstance(result["main_svg"], int) and result["main_svg"] >= data.n_figures
    assert png_colours(shot) >= 16, "screenshot is (nearly) blank"


@pytest.mark.browser
def test_page_reads_well_in_headless_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quickstart's 27 parameters: no two labels overlap, no legend is clipped, and the
    scatters show pruned, failed, infeasible and confirmed points as classes of their own.

    The same check on a panel crammed with every axis finds overlaps, so it can fail.
    """
    if find_chromium() is None:
        pytest.skip("headless Chromium not found (install Debian's 'chromium' package: make browser)")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    study = quickstart_like_study(optuna.storages.InMemoryStorage(), "qs", artifacts, n=30)
    rec = store_recommendation(study)  # what `study run` and `study confirm` end with
    assert rec is not None and recommendation_of(study) == rec
    out = tmp_path / "report.html"
    data = write_report(study, out)
    assert f"<h3 id='recommendation'>Recommended design: {rec.point_id}</h3>" in out.read_text(encoding="utf-8")
    assert [p.group for p in data.parallel] == ["snn", "hw"]
    assert "/tmp" not in out.read_text(encoding="utf-8") and str(tmp_path) not in out.read_text(encoding="utf-8")
    result, _ = check_page(out, tmp_path, screenshot=False)
    assert result["errors"] == [] and result["drawn"] == data.n_figures
    figures = result["figures"]
    assert isinstance(figures, list)
    for fig in figures:
        assert fig["overlaps"] == [], (fig["title"], fig["overlaps"])
        assert fig["legend_clipped"] == [], (fig["title"], fig["legend_clipped"])
    panels = [f for f in figures if f["axis_titles"]]
    assert [f["title"].split(" (")[0] for f in panels] == ["Network parameters", "Chip parameters"]
    assert panels[0]["axis_titles"] == 9 + 3 and panels[1]["axis_titles"] == 9 + 3  # paged; all 9 hw.* (tap_scales too)
    scatter = figures[0]
    assert scatter["title"].startswith("Pareto front: validation accuracy (fraction correct) vs energy per inference (µJ)")
    legend = " | ".join(scatter["legend"])
    # one entry per chip precision (colour); front, dominated and infeasible are told by the marker
    precisions = [e for e in scatter["legend"] if " on the front" in e]
    assert len(precisions) >= 2 and all(e.startswith("w") for e in precisions), scatter["legend"]
    for kind in ("pruned before training (infeasible chip) (6)", "failed (1)", "confirmed: mean ± std",
                 "stopped early by successive halving (lower budget) (2)"):
        assert kind in legend, kind
    # the recommended design is marked on every scatter, the accuracy floor drawn where accuracy is an axis
    scatters = [f for f in figures if f["title"].startswith("Pareto front")]
    assert len(scatters) == len(data.pareto.pairs) + 1
    for fig in scatters:
        assert f"recommended: design {rec.point_id}" in fig["legend"], (fig["title"], fig["legend"])
        if rec.runner_up is not None:
            assert f"runner-up: design {rec.runner_up}" in fig["legend"]
    floors = [f for f in scatters if "floor: accuracy ≥ 0.0909" in " ".join(f["annotations"])]
    assert len(floors) == 2, [f["annotations"] for f in scatters]  # accuracy vs energy, accuracy vs latency
    importance = next(f for f in figures if f["title"].startswith("Parameter importance"))
    assert len(importance["legend"]) == 3
    # what the scores were measured on, as drawn: engines and voices of both splits, and the
    # held-out-engine accuracy beside the validation accuracy in the decision's table
    texts = result["texts"]
    assert isinstance(texts, dict)
    assert "espeak, flite" in texts["measured_on"] and "festival:kal_diphone" in texts["measured_on"]
    assert "held-out-engine accuracy" in texts["decision"] and "validation accuracy" in texts["decision"]

    # the check finds overlaps: every parameter axis in one panel, as the report used to draw them
    import codesign.report._render as render

    monkeypatch.setattr(render, "MAX_PARAM_AXES", 100)
    crammed = tmp_path / "crammed"
    crammed.mkdir()
    write_report(study, crammed / "report.html")
    result, _ = check_page(crammed / "report.html", crammed, screenshot=False)
    network = next(f for f in result["figures"] if f["title"].startswith("Network parameters"))  # type: ignore[union-attr]
    assert network["axis_titles"] > 12 and network["overlaps"]


@pytest.mark.browser
def test_nested_study_page_has_full_breakdowns_log_axes_and_a_design_panel(tmp_path: Path) -> None:
    """A nested study, as the default strategy stores it: every front member's breakdown panel
    draws bars (computed from the network's trace at that chip's precision), the energy axis of
    the front scatter is logarithmic, and a click on a point opens that design's parameters."""
    if find_chromium() is None:
        pytest.skip("headless Chromium not found (install Debian's 'chromium' package: make browser)")
    study = nested_study(tmp_path)
    out = tmp_path / "report.html"
    data = write_report(study, out)
    result, _ = check_page(out, tmp_path, screenshot=False)
    assert result["errors"] == [] and result["drawn"] == data.n_figures
    figures = result["figures"]
    assert isinstance(figures, list)
    panels = [f for f in figures if f["title"].startswith("Design ")]
    assert len(panels) == len(data.breakdowns) >= 2
    for panel in panels:  # never an empty breakdown panel
        assert panel["bar_values"] > 0 and "no energy figures" not in panel["subtitle"], panel
        assert "total 0 µJ" not in panel["subtitle"] and "µJ per inference" in panel["subtitle"]
    confirmed = next(f for f in panels if f["title"].startswith("Design 0.1 "))
    assert "confirmation runs: seed 0" in confirmed["subtitle"]
    scatter = figures[0]
    assert scatter["title"].startswith("Pareto front: validation word error rate")
    assert scatter["axis_types"] == {"x": "linear", "y": "log"}
    assert [e for e in scatter["legend"] if "on the front" in e] and all(
        e.startswith(("w4s12", "w8s12")) for e in scatter["legend"] if "on the front" in e)
    assert "codesignShowDesign('0.1')" in out.read_text(encoding="utf-8")  # the front table's ids open it too
    click = result["click"]
    assert isinstance(click, dict) and click["shown"] and f"design {click['id']}" in click["text"]
    assert "network (snn.*)" in click["text"] and "chip (hw.*)" in click["text"] and "cores" in click["text"]


def test_load_dependent_scores_are_labelled(own_sqlite_study: tuple[str, str, Path], tmp_path: Path) -> None:
    """A trial trained for wall-clock seconds is flagged on the page; step budgets are not."""
    from codesign.search import RECORD_ATTR, TrialRecord

    url, name, _ = own_sqlite_study
    out = tmp_path / "plain.html"
    write_report(load_study(name, url), out)
    assert "Load-dependent scores" not in out.read_text(encoding="utf-8")
    study = optuna.load_study(study_name=name, storage=url)
    trial = next(t for t in study.trials if t.state.name == "COMPLETE")
    record = TrialRecord.model_validate(trial.user_attrs[RECORD_ATTR]).model_copy(update={"load_dependent": True})
    study.add_trial(optuna.trial.create_trial(  # a copy of it, trained for seconds (finished trials are immutable)
        params=trial.params, distributions=trial.distributions, values=trial.values,
        user_attrs={**trial.user_attrs, RECORD_ATTR: record.to_dict()}))
    write_report(load_study(name, url), out)
    assert "Load-dependent scores:</b> 1 trials" in out.read_text(encoding="utf-8")


def test_summary_explains_the_recommendation_or_why_there_is_none(tmp_path: Path) -> None:
    """The summary's decision comes from the stored recommendation (policy, figures beside the
    runner-up's, the stored rationale, escaped); with every design below the floor it says why
    there is none, in the words of ``codesign study status``."""
    from markupsafe import escape  # the templates' escaping (' is &#39;, not html.escape's &#x27;)

    from codesign.search import SPEC_ATTR, no_recommendation_reason, study_view

    study = quickstart_like_study(optuna.storages.InMemoryStorage(), "qs", tmp_path, n=12)
    rec = store_recommendation(study)
    assert rec is not None
    data = report_data(study)
    assert data.decision is not None and data.pareto.marked[0].key == rec.key
    assert f"Recommended design: {rec.point_id}" in data.decision and escape(rec.rationale) in data.decision
    assert "computed now" not in data.decision and "<td>runner-up: design" in data.decision
    assert f"{rec.point_id}</a></b><br><small>design {rec.point_id} " in render_report(data)
    assert "</small><br><b>recommended</b></td>" in render_report(data)  # its row of the front table
    assert "accuracy &gt;= 0.0909" in data.decision and "accuracy >= " not in data.decision  # escaped
    # a floor no design meets: no recommendation, and the page says why
    spec = dict(study.user_attrs[SPEC_ATTR], floor="accuracy >= 0.99")
    study.set_user_attr(SPEC_ATTR, spec)
    assert store_recommendation(study) is None and recommendation_of(study) is None  # the old one is cleared
    data = report_data(study)
    reason = no_recommendation_reason(study_view(study))
    assert data.pareto.marked == () and "No recommended design" in (data.decision or "")
    assert escape(reason[1:]) in (data.decision or "") and "accuracy floor" in reason
    assert {p.kind for p in data.pareto.points} >= {"below_floor"} and "front" not in {p.kind for p in data.pareto.points}


def test_decision_shows_heldout_engine_accuracy_beside_validation_and_what_each_was_measured_on(
        tmp_path: Path) -> None:
    """Confirmed designs: the decision's table has the held-out-engine accuracy (confirmed mean
    ± std) and unknown recall beside the validation accuracy, and the page names the engines
    and voices of each split, from the records; a study whose records predate it says so."""

    from report_studies import MEASURED_ON

    from codesign.search import CONFIRMED_ATTR, RECORD_ATTR, recommendation_candidates, record_of, study_view

    study = quickstart_like_study(optuna.storages.InMemoryStorage(), "qs", tmp_path, n=12)
    for point in recommendation_candidates(study_view(study)):  # confirmed as `study confirm` stores it
        figures = {k: v for k, v in point.metrics.items() if k in (*point.objectives, "heldout_engine_accuracy")}
        study.set_user_attr(f"{CONFIRMED_ATTR}.{point.trial}", {"seeds": [0, 1, 2], "points": [
            {"chip": None, "mean": {k: 0.97 * v for k, v in figures.items()}, "std": dict.fromkeys(figures, 0.04)}]})
    rec = store_recommendation(study)
    assert rec is not None and rec.confirmed
    data = report_data(study)
    decision = data.decision or ""
    heads = re.findall(r"<th>([^<]*)</th>", decision.split("</tr>")[0])
    validation = heads.index("validation accuracy (fraction correct)")
    heldout = heads.index("held-out-engine accuracy (fraction correct)")
    assert heldout == validation + 1 and "held-out-engine unknown recall" in heads[heldout + 1]
    mean = study.user_attrs[f"codesign.confirmed.{rec.key[0]}"]["points"][0]["mean"]["heldout_engine_accuracy"]
    assert f"<td>{mean:.4g} ± 0.04</td>" in decision.split("</tr>")[1]  # the recommended row: confirmed
    assert "validation figures: unseen speakers of espeak, flite; held-out-engine figures: speakers of festival, " \
           "never heard in training" in decision
    assert "(one seed)" in decision.split("</tr>")[1]  # its unknown recall was not re-measured over seeds
    page = render_report(data)
    measured = page.split("<p id='measured-on'>")[1].split("</p>")[0]
    for split in MEASURED_ON.values():
        assert all(v in measured for v in split["voices"]) and all(e in measured for e in split["engines"])
    assert "held-out-engine (test) split, engines never heard in training: festival" in measured
    # the front members' table too: the held-out-engine accuracy column, its confirmed spread small
    assert "<th>held-out-engine accuracy (fraction correct)</th>" in page

    # records from before codesign kept it: nothing claimed, and the decision says it is not known
    old = optuna.create_study(study_name="old", storage=optuna.storages.InMemoryStorage(),
                              directions=study.directions)
    old.set_metric_names(study.metric_names)
    for key, value in study.user_attrs.items():
        old.set_user_attr(key, value)
    for trial in study.trials:
        record = record_of(trial.user_attrs)
        attrs = {**trial.user_attrs, RECORD_ATTR: record.model_copy(update={"measured_on": {}}).to_dict()}
        old.add_trial(optuna.trial.create_trial(state=trial.state, params=trial.params, distributions=trial.distributions,
                                                values=trial.values, user_attrs=attrs,
                                                system_attrs=trial.system_attrs))
    data = report_data(old)
    assert "id='measured-on'" not in render_report(data)
    assert "do not say which engines and voices" in (data.decision or "")


#: User-provided text that would run as script if a page placed it unescaped.
HOSTILE = "<script>alert('codesign')</script>"
HOSTILE_ESCAPED = "&lt;script&gt;alert(&#39;codesign&#39;)&lt;/script&gt;"


def test_user_text_is_escaped_by_the_templates(tmp_path: Path) -> None:
    """A study name, a parameter value, an engine name, a reference label and a failure reason
    that are HTML reach the page escaped (the templates autoescape), never as markup; the same
    for the comparison page's study names."""
    from optuna.distributions import CategoricalDistribution

    from codesign.report import REFERENCE_ATTR, write_comparison
    from codesign.search import RECORD_ATTR, MeasuredOn, TrialRecord

    study = write_study(optuna.storages.InMemoryStorage(), HOSTILE, tmp_path)
    best = next(t for t in study.trials if t.number == 0)
    record = TrialRecord.model_validate(best.user_attrs[RECORD_ATTR])
    engines = {"validation": MeasuredOn(source="synthetic:x", split="validation", engines=[HOSTILE],
                                        voices=[f"{HOSTILE}:v1"])}
    params = {**best.params, "snn.family": HOSTILE}
    dists = {**best.distributions, "snn.family": CategoricalDistribution([HOSTILE])}
    values = [0.01, 50.0, 3.0]  # the lowest WER: on the front, its parameters in the front table
    hostile = record.model_copy(update={"params": params, "measured_on": engines,
                                        "objectives": dict(zip(study.metric_names or (), values, strict=True))})
    study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, values=values,
                                              user_attrs={RECORD_ATTR: hostile.to_dict()}))
    study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, values=[0.02, 40.0, 2.0],
                                              user_attrs={RECORD_ATTR: hostile.to_dict(), REFERENCE_ATTR: HOSTILE}))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params=params, distributions=dists,
                                              user_attrs={RECORD_ATTR: TrialRecord(params=params, error=HOSTILE).to_dict()}))
    data = report_data(study)
    page = render_report(data)
    assert HOSTILE not in page
    summary = page.split("<h2>Pareto front</h2>")[0]
    assert f"<title>codesign study {HOSTILE_ESCAPED}</title>" in summary
    assert f"<h1>codesign study {HOSTILE_ESCAPED}</h1>" in summary
    assert f"family={HOSTILE_ESCAPED}</td>" in summary  # the parameter value, in the front members' table
    measured = summary.split("<p id='measured-on'>")[1].split("</p>")[0]
    assert f"unseen speakers of the training engines: {HOSTILE_ESCAPED}" in measured  # an engine name
    assert f"(trial {len(study.trials) - 2}) ({HOSTILE_ESCAPED})." in summary  # a reference point's label
    assert f"<li>trial {len(study.trials) - 1}: {HOSTILE_ESCAPED}</li>" in summary  # a failure reason
    assert f"unseen speakers of {HOSTILE_ESCAPED}" in (data.decision or "")  # the decision's note
    # the click panel's data is JSON that cannot end its <script> element
    designs = page.split("id='design-data'>")[1].split("</script>")[0]
    assert "<" not in designs and "\\u003cscript\\u003e" in designs

    compared = tmp_path / "compare.html"
    other = write_study(optuna.storages.InMemoryStorage(), "plain", tmp_path)
    write_comparison([study, other], compared)
    text = compared.read_text(encoding="utf-8")
    assert HOSTILE not in text and f"<h1>codesign: {HOSTILE_ESCAPED}, plain compared</h1>" in text
