"""Trial tables from real storage, and the same storage opened by optuna-dashboard."""

from __future__ import annotations

import io
import json
import math
import wsgiref.util
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from report_studies import FRONT, OBJECTIVES, PLANNED

from codesign.cli import main
from codesign.report import load_study, trials_dataframe, write_table


def test_dataframe_flattens_every_trial(stored_study: tuple[str, str, Path]) -> None:
    url, name, _ = stored_study
    frame = trials_dataframe(load_study(name, url))
    assert list(frame["number"]) == list(range(len(PLANNED)))
    for col in ("state", "feasible", "on_front", "reference", "error", "wall_time_s",
                "objectives.wer", "objectives.energy_uj", "objectives.area_mm2",
                "constraints.area_mm2", "constraints.fits_on_chip", "metrics.accuracy",
                "metrics.cycles", "energy_pj_by_category.synaptic_compute", "params.snn.width", "params.hw.sram_kb"):
        assert col in frame.columns, col
    assert sorted(frame.loc[frame["on_front"], "number"]) == list(FRONT)
    row4 = frame.set_index("number").loc[4]
    assert not row4["feasible"] and row4["constraints.area_mm2"] == pytest.approx(2.0)
    row3 = frame.set_index("number").loc[3]
    assert row3["state"] == "FAIL" and row3["error"] == "training diverged: loss is nan"
    assert math.isnan(row3["objectives.wer"])
    assert frame.set_index("number").loc[9, "reference"] == "ANN twin"
    assert frame["objectives.wer"].dtype == float


def test_front_only(sqlite_study: tuple[str, str, Path]) -> None:
    url, name, _ = sqlite_study
    frame = trials_dataframe(load_study(name, url), front_only=True)
    assert list(frame["number"]) == list(FRONT) and frame["on_front"].all()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_cli_table_round_trips(sqlite_study: tuple[str, str, Path], tmp_path: Path, fmt: str) -> None:
    url, name, _ = sqlite_study
    out = tmp_path / f"t.{fmt}"
    assert main(["report", "table", name, "--storage", url, "--format", fmt, "--front-only", "--out", str(out)]) == 0
    back = {"csv": pd.read_csv, "parquet": pd.read_parquet, "json": pd.read_json}[fmt](out)
    assert sorted(back["number"]) == list(FRONT)
    by_number = back.set_index("number")
    for n in FRONT:
        values = PLANNED[n].values
        assert values is not None
        for obj, v in zip(OBJECTIVES, values, strict=True):
            assert by_number.loc[n, f"objectives.{obj}"] == pytest.approx(v)


def test_cli_table_to_stdout_and_bad_format(sqlite_study: tuple[str, str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url, name, _ = sqlite_study
    assert main(["report", "table", name, "--storage", url, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(PLANNED)
    assert main(["report", "table", name, "--storage", url, "--format", "xlsx"]) == 2
    assert "csv, parquet, json" in capsys.readouterr().err
    assert main(["report", "table", name, "--storage", url, "--format", "parquet"]) == 2


def test_write_table_is_atomic_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    out.write_text("old\n")
    bad = pd.DataFrame({"x": [object()]})
    with pytest.raises(Exception):  # noqa: B017 - any pyarrow error; the point is what is left
        write_table(bad, "parquet", out)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def _wsgi_get(app: Any, path: str) -> tuple[str, bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    wsgiref.util.setup_testing_defaults(environ)
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        status.append(s)

    body = b"".join(app(environ, start_response))
    return status[0], body


def test_optuna_dashboard_loads_the_same_storage(stored_study: tuple[str, str, Path]) -> None:
    import optuna_dashboard

    from codesign.search import open_storage

    url, name, _ = stored_study
    app = optuna_dashboard.wsgi(open_storage(url, create=False))
    status, body = _wsgi_get(app, "/api/studies")
    assert status.startswith("200"), status
    studies = json.loads(body)["study_summaries"]
    assert [s["study_name"] for s in studies] == [name]
    study_id = studies[0]["study_id"]
    status, body = _wsgi_get(app, f"/api/studies/{study_id}")
    assert status.startswith("200"), status
    detail = json.loads(body)
    assert len(detail["trials"]) == len(PLANNED)
    # The dashboard shows the records too: they are plain JSON user attributes.
    attrs = {a["key"] for a in detail["trials"][0]["user_attrs"]}
    assert "codesign.record" in attrs


def test_study_table_command(sqlite_study: tuple[str, str, Path], tmp_path: Path) -> None:
    """``codesign study table NAME --format json --front-only`` writes the front's rows."""
    from codesign.cli import main

    url, name, _ = sqlite_study
    out = tmp_path / "t.json"
    assert main(["study", "table", name, "--storage", url, "--format", "json", "--front-only", "--out", str(out)]) == 0
    assert sorted(row["number"] for row in json.loads(out.read_text())) == list(FRONT)
