"""A study kept in a real PostgreSQL server, through every command a user runs on it.

The server is Debian's ``postgresql``, started on 127.0.0.1 by the ``postgres_url`` fixture
(tests/search/conftest.py); the test skips, saying why, only where it cannot be started.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _tiny import tiny_spec_data
from optuna.trial import TrialState

from codesign.cli import main
from codesign.search import load_stored_study, record_of

pytestmark = pytest.mark.slow


def test_run_resume_status_report_and_export_on_postgresql(
    toy, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_spec_data("joint", trials=2)
    data.update(name="on_postgres", constraints=[])
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    runs = str(tmp_path / "runs")
    where = ["--storage", postgres_url, "--runs-dir", runs]

    assert main(["study", "run", str(tmp_path / "study.yaml"), *where, "--no-progress"]) == 0
    assert main(["study", "resume", "on_postgres", *where, "--trials", "3", "--no-progress"]) == 0
    study = load_stored_study("on_postgres", postgres_url)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 3, [
        record_of(t.user_attrs).error for t in study.trials]
    assert not (tmp_path / "runs" / "on_postgres" / "study.db").exists()  # nothing fell back to SQLite
    capsys.readouterr()

    assert main(["study", "status", "on_postgres", *where]) == 0
    status = capsys.readouterr().out
    assert "study on_postgres" in status and "complete 3" in status and postgres_url in status

    page = tmp_path / "page.html"
    assert main(["report", "on_postgres", "--storage", postgres_url, "--out", str(page)]) == 0
    assert page.stat().st_size > 10_000

    bundle = tmp_path / "bundle"
    assert main(["export", "on_postgres", *where, "--trial", "2", "--out", str(bundle)]) == 0
    assert (bundle / "weights.safetensors").is_file()
    assert main(["evaluate", str(bundle), "--no-progress"]) == 0
