"""``codesign study compare``: several stored studies side by side, on one hypervolume reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest
from report_studies import quickstart_like_study, write_study

from codesign.cli import main
from codesign.report import comparison_data, load_study
from codesign.search import hypervolume, hypervolume_reference, minimisation_signs, pareto_front, study_view


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    tmp = tmp_path_factory.mktemp("compare")
    url = f"sqlite:///{tmp / 'studies.db'}"
    for name, seed in (("qs_a", 0), ("qs_b", 1)):
        (tmp / name).mkdir()
        quickstart_like_study(url, name, tmp / name, n=16, seed=seed)
    return url, tmp


def test_compare_uses_one_reference_and_the_search_rules(two_studies: tuple[str, Path]) -> None:
    url, _ = two_studies
    views = [study_view(load_study(n, url)) for n in ("qs_a", "qs_b")]
    data = comparison_data(views)
    objectives = views[0].objectives
    signs = minimisation_signs(objectives)
    pooled = np.array([p.values for v in views for p in v.points if p.eligible]) * signs
    ref = hypervolume_reference(pooled, objectives)
    assert data.reference_point == pytest.approx(tuple(ref * signs))
    for view, summary in zip(views, data.studies, strict=True):
        front = pareto_front(view.points, objectives)
        assert [p.key for p in summary.front] == [p.key for p in front]
        feasible = np.array([p.values for p in view.points if p.eligible]) * signs
        assert summary.final_hypervolume == pytest.approx(hypervolume(feasible, ref))
        assert list(summary.hypervolume) == sorted(summary.hypervolume)  # a front only grows
        cpu = [t.record.cpu_time_s for t in view.trials if t.record is not None]
        assert summary.total_cpu_s == pytest.approx(sum(cpu)) and summary.total_cpu_s > 0
        assert len(summary.cpu_s) == len(summary.hypervolume) == summary.trials
        best = {b.objective: b for b in summary.best}
        top = max(front, key=lambda p: p.objectives["accuracy"])
        assert best["accuracy"].values == top.objectives
        assert best["energy_uj"].values["energy_uj"] == min(p.objectives["energy_uj"] for p in front)


def test_cli_compare_prints_and_writes_the_page(two_studies: tuple[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = two_studies
    out = tmp_path / "compare.html"
    assert main(["study", "compare", "qs_a", "qs_b", "--storage", url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "qs_a" in printed and "qs_b" in printed and "one reference for all" in printed
    assert "best validation accuracy: design" in printed and "best energy_uj: design" in printed
    page = out.read_text(encoding="utf-8")
    assert "Fronts overlaid" in page and "Hypervolume against CPU time" in page and page.count("plotly-graph-div") == 4
    # one study, or studies of other objectives, are refused with one message
    assert main(["study", "compare", "qs_a", "--storage", url]) == 2
    assert "two or more study names" in capsys.readouterr().err
    write_study(url, "hand", tmp_path)
    assert main(["study", "compare", "qs_a", "hand", "--storage", url]) == 2
    assert "same objectives" in capsys.readouterr().err
    optuna.delete_study(study_name="hand", storage=url)


@pytest.mark.browser
def test_compare_page_draws_in_headless_chromium(two_studies: tuple[str, Path], tmp_path: Path) -> None:
    from report_chromium import check_page, find_chromium

    from codesign.report import write_comparison

    if find_chromium() is None:
        pytest.skip("headless Chromium not found (install Debian's 'chromium' package: make browser)")
    url, _ = two_studies
    out = tmp_path / "compare.html"
    write_comparison([load_study(n, url) for n in ("qs_a", "qs_b")], out)
    result, _ = check_page(out, tmp_path, screenshot=False)
    assert result["errors"] == [] and result["plots"] == result["drawn"] == 4
    figures = result["figures"]
    assert isinstance(figures, list)
    assert figures[0]["axis_types"] == {"x": "linear", "y": "log"}  # accuracy vs energy
    assert all(f["legend_clipped"] == [] for f in figures)
