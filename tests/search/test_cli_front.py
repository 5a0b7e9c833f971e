"""``codesign study front|delete`` and ``study run --set`` on real stored studies (no Ray, no training)."""

from __future__ import annotations

import dataclasses
import re
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


def test_front_fits_120_columns_with_ids_objectives_precision_and_few_parameters(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stored_study(tmp_path, "joint", trials=10)
    lines = _front(capsys, tmp_path, "joint")
    header = lines[0].split()
    assert header[:8] == ["id", "accuracy", "(max)", "energy_uj", "(min)", "latency_ms", "(min)", "precision"]
    table = lines[: next(i for i, ln in enumerate(lines) if ln.startswith("* recommended"))]
    assert max(len(ln) for ln in lines[:len(table)]) <= 120
    assert len(header) - 8 <= 6  # at most 6 parameters by default
    rows = [ln.split() for ln in table[2:]]
    assert len({r[0].rstrip("*") for r in rows}) == len(rows)  # one row per design
    assert sum(r[0].endswith("*") for r in rows) == 1  # the recommended design, marked
    assert all(re.fullmatch(r"w\d+s\d+(-tap)?", r[4]) for r in rows)  # -tap: the searched hw.tap_scales
    # --wide gives every column; --columns picks them, a short parameter name included
    assert main(["study", "front", "joint", "--runs-dir", str(tmp_path), "--wide"]) == 0
    wide = capsys.readouterr().out.splitlines()[0]
    assert "hw.cores" in wide or "cores" in wide.split()
    assert len(wide) > 120
    assert main(["study", "front", "joint", "--runs-dir", str(tmp_path), "--columns", "id,energy_uj,cores"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["id", "energy_uj", "(min)", "cores"]


def test_front_sorts_and_writes_csv_json_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv
    import io
    import json

    write_stored_study(tmp_path, "joint", trials=10)
    base = ["study", "front", "joint", "--runs-dir", str(tmp_path)]
    assert main([*base, "--format", "csv", "--sort", "energy_uj"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    energies = [float(r["energy_uj"]) for r in rows]
    assert len(rows) >= 2 and energies == sorted(energies)
    assert sum(r["recommended"] == "True" for r in rows) == 1
    assert main([*base, "--format", "json", "--sort=-energy_uj"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["energy_uj"] for d in data] == sorted(energies, reverse=True)
    assert main([*base, "--format", "markdown"]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0].startswith("| id |") and md[1].startswith("|---|") and len(md) == len(rows) + 2
    assert main([*base, "--sort", "enrgy_uj"]) == 2
    assert "did you mean 'energy_uj'" in capsys.readouterr().err


def test_nested_front_shows_design_ids_and_confirmed_spread(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    confirmed = {n: {"seeds": [0, 1, 2], "points": [
        {"chip": c, "mean": {"accuracy": 0.123, "energy_uj": 4.5}, "std": {"accuracy": 0.011, "energy_uj": 0.2}}
        for c in range(3)]} for n in range(6)}
    write_stored_study(tmp_path, "nest", strategy="nested", trials=6, confirmed=confirmed)
    lines = _front(capsys, tmp_path, "nest")
    rows = [ln.split() for ln in lines[2:] if re.match(r"\s*\d+\.\d+", ln)]
    ids = [r[0].rstrip("*") for r in rows]
    assert len(ids) == len(set(ids)) >= 2 and all(re.fullmatch(r"\d+\.\d+", i) for i in ids)  # trial.chip
    assert all(r[1] == "0.123±0.011" for r in rows)
    assert any("±" in ln and "confirmation seeds" in ln for ln in lines)


def test_points_lists_every_design_with_filter_sort_and_formats(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import csv
    import io
    import json

    import pandas as pd

    write_stored_study(tmp_path, "nest", strategy="nested", trials=6)
    base = ["study", "points", "nest", "--runs-dir", str(tmp_path)]
    assert main(base) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 18  # 6 networks x 3 chips, on the front or not
    for column in ("id", "on_front", "recommended", "below_floor", "degenerate", "precision", "accuracy",
                   "accuracy.mean", "constraints.area_mm2 <= 4", "snn.width", "hw.cores", "metrics.area_mm2"):
        assert column in rows[0], column
    assert any(r["below_floor"] == "True" for r in rows)  # accuracies from 0.05: some below 2 x chance
    assert all(r["on_front"] == "False" for r in rows if r["below_floor"] == "True")
    assert main([*base, "--filter", "accuracy >= 0.2 and hw.weight_bits <= 4", "--sort=-accuracy",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and all(d["accuracy"] >= 0.2 and d["hw.weight_bits"] <= 4 for d in data)
    assert [d["accuracy"] for d in data] == sorted((d["accuracy"] for d in data), reverse=True)
    out = tmp_path / "points.parquet"
    assert main([*base, "--format", "parquet", "--out", str(out), "--columns", "id,accuracy,hw.weight_bits"]) == 0
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["id", "accuracy", "hw.weight_bits"] and len(frame) == 18
    assert main([*base, "--filter", "accuracy >== 2"]) == 2
    assert "--filter" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    write_stored_study(tmp_path, "nest", strategy="nested", trials=6)
    code = ("import sys; from codesign.cli import main; "
            f"sys.exit(main(['study', 'points', 'nest', '--runs-dir', {str(tmp_path)!r}, '--format', 'json']))")
    read, write = os.pipe()
    os.close(read)  # `| head` that has gone already: every write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-c", code], stdout=write, stderr=subprocess.PIPE, cwd=ROOT,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    finally:
        os.close(write)
    err = proc.stderr.decode()
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


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


def test_front_shows_training_parameters_when_they_differ(tmp_path: Path) -> None:
    """``train.*`` (the learning rate) is part of a design: the front table shows it."""
    import sys

    from codesign.cli._study import front_text
    from codesign.search import DesignPoint, parse_study, study_view

    sys.path.insert(0, str(Path(__file__).parent))
    from _toy import TOY_SPEC

    spec = parse_study(TOY_SPEC)
    front = tuple(DesignPoint(trial=i, params={"train.learning_rate": lr, "train.batch_size": 16, "snn.neuron": "lif"},
                              objectives={"wer": w, "energy_uj": e}, constraints={}, metrics={})
                  for i, (lr, w, e) in enumerate([(0.01, 0.2, 0.5), (0.05, 0.3, 0.4)]))
    study = optuna.create_study(directions=spec.directions())
    view = dataclasses.replace(study_view(study), points=front, objective_names=("wer", "energy_uj"),
                               spec=spec)
    table = front_text(view, spec)
    assert "learning_rate" in table.splitlines()[0] and "0.05" in table
    assert "batch_size" not in table.splitlines()[0]  # equal on every design
