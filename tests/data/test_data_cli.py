"""``codesign data prepare`` / ``info`` through codesign.cli.main: output, cache hit, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.cli import main


def test_prepare_then_hit_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "data",
        "prepare",
        "--task",
        "digits",
        "--size",
        "40",
        "--seed",
        "3",
        "--cache-dir",
        str(tmp_path),
        "--no-progress",
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "miss: generated" in first and "train" in first and "speakers" in first
    assert "engines espeak" in first  # each split names the engines it was spoken by
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "(hit)" in second
    assert main(["data", "info", "--cache-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "1 cached corpora" in listing and "digits" in listing and "engines: " in listing
    assert main(["data", "info", "--cache-dir", str(tmp_path), "--task", "commands"]) == 0
    assert "no cached corpora" in capsys.readouterr().out
    assert main(["data", "info", "--cache-dir", str(tmp_path), "--json"]) == 0
    manifests = json.loads(capsys.readouterr().out)
    assert manifests[0]["seed"] == 3 and manifests[0]["sizes"]["train"] == 32


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["data", "prepare", "--task", "phonemes"], "'commands' or 'digits'"),
        (
            ["data", "prepare", "--task", "commands", "--size", "3"],
            "key '--size': expected greater than or equal to 30",
        ),
        (["data", "prepare", "--task", "commands", "--difficulty", "brutal"], "'easy', 'default' or 'hard'"),
        (["data", "prepare", "--task", "commands", "--workers", "0"], "--workers"),
        (["data", "info", "--task", "phonemes"], "--task"),
        (["data", "prepare", "--task", "commands", "--heldout-engines", "espeak"], "not both"),
        (["data", "prepare", "--task", "commands", "--train-engines", "sapi"], "key '--train-engines'"),
    ],
)
def test_bad_input_exits_2_with_one_message(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("codesign: error:") and fragment in err
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_info_on_a_missing_cache_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "--cache-dir", str(tmp_path / "nowhere")]) == 2
    assert "--cache-dir" in capsys.readouterr().err
