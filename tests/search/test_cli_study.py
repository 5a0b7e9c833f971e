"""``codesign study ...``: bad input exits 2 with one message and writes nothing; the
inspection commands read a real stored study."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.cli import main
from codesign.search import parse_study, run_study

ROOT = Path(__file__).resolve().parents[2]


def test_bad_study_file_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "studies" / "quickstart.yaml").read_text().replace("accuracy: max", "acuracy: max")
    bad.write_text(text.replace("../", f"{ROOT}/"))
    assert main(["study", "run", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'accuracy'?" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # no runs/ folder, no storage


def test_unknown_study_exits_2_without_creating_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for action in ("status", "front", "resume"):
        assert main(["study", action, "nothere", "--runs-dir", str(tmp_path / "runs")]) == 2
        assert "expected an existing storage file" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["study", "run", "studies/quickstart.yaml", "--workers", "0"])
    assert info.value.code == 2 and "positive integer" in capsys.readouterr().err


def test_list_status_front_read_a_stored_study(toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = parse_study({**toy.TOY_SPEC, "budget": {"trials": 4}})
    outcome = run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)
    runs = ["--runs-dir", str(tmp_path)]

    assert main(["study", "list", *runs]) == 0
    assert "toy" in capsys.readouterr().out

    assert main(["study", "status", "toy", *runs]) == 0
    out = capsys.readouterr().out
    assert "complete 4" in out and "best wer (min):" in out

    assert main(["study", "front", "toy", "--storage", outcome.storage_url]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert lines[0].split()[:3] == ["id", "wer", "(min)"]
    rows = [ln for ln in lines[2:] if ln.split()[0].rstrip("*").isdigit()]
    assert len(rows) == len(outcome.front)
    assert "recommended: design " in out and "runner-up" in out  # status names the recommendation

    # the same name with a different search is refused, and nothing is changed
    other = parse_study({**toy.TOY_SPEC, "objectives": {"wer": "min"}})
    from codesign.config import ConfigError

    with pytest.raises(ConfigError, match="differs in objectives"):
        run_study(other, evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)
