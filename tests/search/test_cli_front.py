"""``codesign study front|delete`` and ``study run --set`` on real stored studies (no Ray, no training)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from _stored import ROOT, write_stored_study

from codesign.cli import main
from codesign.config import ConfigError
from codesign.search import (
    CONFIRMED_ATTR,
    SUMMARY_MAX_CHARS,
    TrialRecord,
    load_study,
    record_summary,
)
from codesign.search._progress import Progress, trial_line


def _front(capsys: pytest.CaptureFixture[str], runs: Path, name: str) -> list[str]:
    assert main(["study", "front", name, "--runs-dir", str(runs)]) == 0
    return capsys.readouterr().out.rstrip("\n").splitlines()


def test_front_groups_network_and_chip_one_row_per_design(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stored_study(tmp_path, "joint", trials=10)
    lines = _front(capsys, tmp_path, "joint")
    groups, header = lines[0], lines[1]
    assert "objectives" in groups and "network (snn.*)" in groups and "chip (hw.*)" in groups
    assert groups.index("network (snn.*)") < groups.index("chip (hw.*)")
    assert header.split()[:3] == ["trial", "accuracy", "(max)"]
    # every hw.* parameter is visible: as a column, or in the line of values every design shares
    hw = ("cores", "pes_per_core", "weight_sram_kb_per_core", "weight_bits", "graded_spike_bits",
          "zero_skipping", "clock_mhz", "node_nm")
    shared = lines[-1] if lines[-1].startswith("same on every design") else ""
    for name in hw:
        assert name in header.split() or f"hw.{name}=" in shared, name
    rows = [ln for ln in lines[3:] if ln and not ln.startswith("same on")]
    assert len({r.split()[0] for r in rows}) == len(rows)  # one row per design


def test_nested_front_shows_chip_index_and_confirmed_spread(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    confirmed = {n: {"seeds": [0, 1, 2], "points": [
        {"chip": c, "mean": {"accuracy": 0.123, "energy_uj": 4.5}, "std": {"accuracy": 0.011, "energy_uj": 0.2}}
        for c in range(3)]} for n in range(6)}
    write_stored_study(tmp_path, "nest", strategy="nested", trials=6, confirmed=confirmed)
    lines = _front(capsys, tmp_path, "nest")
    header = lines[1].split()
    assert header[:2] == ["trial", "chip"]
    rows = [ln.split() for ln in lines[3:]]
    rows = [r for r in rows if r and r[0].isdigit()]
    keys = [(r[0], r[1]) for r in rows]
    assert len(keys) == len(set(keys)) >= 2  # the same trial on different chips: told apart
    assert all(r[2] == "0.123±0.011" for r in rows)
    assert any("±" in ln and "confirmation seeds" in ln for ln in lines)
    assert "chip (hw.*)" in lines[0]


def test_delete_asks_first_and_yes_skips_the_question(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_stored_study(tmp_path, "gone", trials=2)
    runs = ["--runs-dir", str(tmp_path)]
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["study", "delete", "gone", *runs]) == 1
    assert "nothing deleted" in capsys.readouterr().out
    assert (tmp_path / "gone" / "study.db").is_file()
    assert main(["study", "delete", "gone", "--yes", *runs]) == 0
    assert "deleted study 'gone' (2 trials)" in capsys.readouterr().out
    assert not (tmp_path / "gone").exists()
    assert main(["study", "delete", "gone", "--yes", *runs]) == 2  # nothing there any more


def test_delete_keeps_a_folder_another_study_shares(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stored_study(tmp_path, "a", trials=1)
    url = f"sqlite:///{tmp_path / 'a' / 'study.db'}"
    optuna.create_study(study_name="b", storage=url)
    assert main(["study", "delete", "a", "--yes", "--storage", url]) == 0
    assert (tmp_path / "a" / "study.db").is_file()
    assert optuna.get_all_study_names(url) == ["b"]


def test_set_overrides_any_spec_field_and_is_validated() -> None:
    spec = load_study(ROOT / "studies" / "quickstart.yaml",
                      {"corpus.size": 300, "fidelity.epochs": 16, "budget.trials": 4, "chip.cores": 8})
    assert spec.corpus.size == 300 and spec.fidelity.epochs == 16 and spec.budget.trials == 4
    assert spec.chip.cores == 8 and spec.chip.name  # the preset's other fields kept
    assert spec.to_dict()["corpus"]["size"] == 300  # what the driver stores as codesign.spec
    for bad, key in (({"corpus.siz": 3}, "--set corpus.siz"), ({"fidelity.epochs": "x"}, "--set fidelity.epochs"),
                     ({"fidelty.epochs": 1}, "--set fidelty.epochs")):
        with pytest.raises(ConfigError) as info:
            load_study(ROOT / "studies" / "quickstart.yaml", bad)
        assert info.value.key == key


def test_documented_set_examples_validate() -> None:
    spec = load_study(ROOT / "studies" / "quickstart.yaml",
                      {"name": "qs_small", "corpus.size": 1000, "budget.trials": 12, "confirm.seeds": 0})
    assert (spec.name, spec.corpus.size, spec.budget.trials, spec.confirm.seeds) == ("qs_small", 1000, 12, 0)


def test_run_with_bad_set_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["study", "run", str(ROOT / "studies" / "quickstart.yaml"), "--set", "corpus.size=ten"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--set corpus.size" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_summary_attribute_fits_the_dashboard() -> None:
    params = {f"snn.p{i}": 0.123456 * i for i in range(200)} | {"hw.cores": 4}
    rec = TrialRecord(params=params, objectives={"accuracy": 0.3, "energy_uj": 2.0},
                      constraints={"area_mm2 <= 4": 0.5})
    text = record_summary(rec)
    assert len(text) <= SUMMARY_MAX_CHARS < 1024
    assert text.startswith("accuracy=0.3, energy_uj=2; infeasible: area_mm2 <= 4 | snn: p0=0")
    assert record_summary(TrialRecord(params={"hw.cores": 1}, pruned="weights do not fit")).startswith(
        "pruned before training: weights do not fit | hw: cores=1")
    stopped = TrialRecord(objectives={"accuracy": 0.2}, pruned="stopped by successive halving at 2 epochs (rung 0)")
    assert record_summary(stopped) == "stopped by successive halving at 2 epochs (rung 0): accuracy=0.2"


def test_no_progress_prints_one_line_per_trial(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(4, 0, enabled=False, name="s")
    rec = TrialRecord(objectives={"accuracy": 0.25}, constraints={"latency_ms <= 100": -3.0}, wall_time_s=12.34)
    bar.write(trial_line(3, rec, 2, 4))
    bar.close()
    out = capsys.readouterr()
    assert out.out == "trial 3 complete: accuracy=0.25; feasible; 12.3 s [2/4 done]\n"
    assert CONFIRMED_ATTR not in out.err and out.err == ""


def test_front_shows_training_parameters_in_their_own_group() -> None:
    """``train.*`` (the learning rate) is part of a design: the front table shows it."""
    import sys

    from codesign.cli._study import format_front
    from codesign.search import DesignPoint, parse_study

    sys.path.insert(0, str(Path(__file__).parent))
    from _toy import TOY_SPEC

    spec = parse_study(TOY_SPEC)
    front = [DesignPoint(trial=i, params={"train.learning_rate": lr, "train.batch_size": 16, "snn.neuron": "lif"},
                         objectives={"wer": w, "energy_uj": e}, constraints={}, metrics={})
             for i, (lr, w, e) in enumerate([(0.01, 0.2, 0.5), (0.05, 0.3, 0.4)])]
    table = format_front(front, spec)
    assert "training (train.*)" in table and "learning_rate" in table and "0.05" in table
    assert "train.batch_size=16" in table  # equal on every design: listed once below
