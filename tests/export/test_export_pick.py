"""The pick language: parsing with clear errors, and choosing a design point of a stored study."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.cli import main
from codesign.config import ConfigError
from codesign.export import Condition, Pick, Rank, parse_pick, pick_point, select_point
from codesign.report import load_study, study_view


def test_parse_full_expression() -> None:
    pick = parse_pick("min energy_uj where wer <= 0.05 and area_mm2 < 2.5e0")
    assert pick == Pick("min", "energy_uj", (Condition("wer", "<=", 0.05), Condition("area_mm2", "<", 2.5)))
    assert str(pick) == "min energy_uj where wer <= 0.05 and area_mm2 < 2.5"
    assert parse_pick("max accuracy") == Pick("max", "accuracy", ())
    assert parse_pick("min energy_uj where snn.levels==4").conditions == (Condition("snn.levels", "==", 4.0),)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "a goal and a name"),
        ("lowest energy_uj", "starts with 'min', 'max' or 'best'"),
        ("min energy_uj if wer < 1", "expected 'where'"),
        ("min energy_uj where wer", "a condition is 'NAME OP NUMBER'"),
        ("min energy_uj where wer ~ 1", "'~' is not an operator"),
        ("min energy_uj where wer <= low", "'low' is not a number"),
        ("min energy_uj where wer <= nan", "not a finite number"),
        ("min energy_uj where wer <= 1 or area_mm2 < 2", "joined by 'and'"),
        ("min where", "keyword 'where'"),
    ],
)
def test_parse_errors_say_where(text: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_pick(text)
    assert err.value.key == "--pick"
    assert hint in str(err.value)
    assert "min|max|best NAME" in str(err.value)


def test_pick_on_stored_study(sqlite_study: tuple[str, str, Path]) -> None:
    url, name, _ = sqlite_study
    view = study_view(load_study(name, url))
    # Feasible points: 0 (0.10, 5.0, 2.0), 1 (0.20, 3.0, 2.0), 2 (0.30, 4.0, 2.5), 5 (0.25, 2.0, 1.5),
    # 6 (0.12, 6.0, 2.2), 7 (0.40, 1.5, 3.0); 4 is infeasible, 9 the reference.
    assert pick_point(view, "min energy_uj").trial == 7
    assert pick_point(view, "min energy_uj where wer <= 0.2").trial == 1
    assert pick_point(view, "min wer").trial == 0  # not 4 (infeasible) nor 9 (reference)
    assert pick_point(view, "max accuracy where area_mm2 < 2").trial == 5
    assert pick_point(view, "min cycles").trial == 0
    assert pick_point(view, "min energy_uj where snn.width >= 64").trial == 0


def test_pick_matching_nothing_or_unknown_name(sqlite_study: tuple[str, str, Path]) -> None:
    url, name, _ = sqlite_study
    view = study_view(load_study(name, url))
    with pytest.raises(ConfigError, match=r"wer <= 0.01: 0 left"):
        pick_point(view, "min energy_uj where wer <= 0.01")
    with pytest.raises(ConfigError, match="did you mean 'energy_uj'"):
        pick_point(view, "min energy_j")


def test_select_trial_errors(sqlite_study: tuple[str, str, Path]) -> None:
    url, name, _ = sqlite_study
    view = study_view(load_study(name, url))
    assert select_point(view, trial=5).trial == 5
    with pytest.raises(ConfigError, match="trial 3 failed: training diverged"):
        select_point(view, trial=3)
    with pytest.raises(ConfigError, match="trial 8 is pruned"):
        select_point(view, trial=8)
    with pytest.raises(ConfigError, match="trial 10 is running"):
        select_point(view, trial=10)
    with pytest.raises(ConfigError, match="trial number"):
        select_point(view, trial=99)
    with pytest.raises(ConfigError, match="exactly one"):
        select_point(view)


def test_cli_export_errors_exit_2(sqlite_study: tuple[str, str, Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    url, name, _ = sqlite_study
    out = tmp_path / "bundle"
    assert main(["export", name, "--storage", url, "--pick", "min energy_uj where wer <= 0.01", "--out", str(out)]) == 2
    assert "0 left" in capsys.readouterr().err
    assert main(["export", name, "--storage", url, "--trial", "3", "--out", str(out)]) == 2
    assert "trial 3 failed: training diverged: loss is nan" in capsys.readouterr().err
    assert main(["export", name, "--storage", url, "--pick", "cheapest energy_uj", "--out", str(out)]) == 2
    assert "starts with 'min', 'max' or 'best'" in capsys.readouterr().err
    assert not out.exists()


def test_float32_metrics_meet_their_decimal_bound() -> None:
    import numpy as np

    stored = float(np.float32(0.04))  # 0.03999999910593033, as training reports it
    assert Condition("accuracy", ">=", 0.04).holds(stored)
    assert Condition("accuracy", "==", 0.04).holds(stored)
    assert not Condition("accuracy", ">", 0.04).holds(stored)
    assert not Condition("accuracy", ">=", 0.04).holds(0.0399)


def test_rank_based_picks(sqlite_study: tuple[str, str, Path]) -> None:
    url, name, _ = sqlite_study
    view = study_view(load_study(name, url))
    assert parse_pick("best wer").goal == "best"
    assert str(parse_pick("min energy_uj where wer in top 2")) == "min energy_uj where wer in top 2"
    assert parse_pick("min energy_uj where wer in top 50%").conditions == (Rank("wer", 50.0, True),)
    assert pick_point(view, "best wer").trial == 0  # wer is minimised: same as "min wer"
    # feasible front-or-not candidates by wer: 0 (0.10), 6 (0.12), 1 (0.20), ...; cheapest of the top 2 is 0
    assert pick_point(view, "min energy_uj where wer in top 2").trial == 0
    assert pick_point(view, "min energy_uj where wer in top 3").trial == 1
    assert pick_point(view, "best energy_uj where wer in top 100%").trial == 7
    for bad in ("best accuracy", "min energy_uj where accuracy in top 2"):  # accuracy is no objective here
        with pytest.raises(ConfigError, match="no direction"):
            pick_point(view, bad)
    for bad in ("min energy_uj where wer in top 0", "min energy_uj where wer in top 120%",
                "min energy_uj where wer in first 2"):
        with pytest.raises(ConfigError):
            parse_pick(bad)
