"""``codesign train``: writes result, trace and weights; bad --set keys exit 2 with a suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.trace import load_trace
from codesign.train import load_trained_model


def test_train_command_writes_everything(tmp_path: Path, corpus_cache: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    status = main(["train", "--model", "spikeformer", "--task", "commands", "--size", "60", "--seed", "7",
                   "--epochs", "1", "--set", "width=16", "--set", "heads=2", "--set", "batch_size=16",
                   "--out", str(out), "--cache-dir", str(corpus_cache), "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "test_accuracy" in printed and "theoretical_energy_pj" in printed
    summary = json.loads((out / "result.json").read_text())
    assert summary["model_config"]["width"] == 16 and summary["train_config"]["batch_size"] == 16
    assert summary["trace_metrics"]["theoretical_energy_pj"] > 0
    trace = load_trace(out / "trace.npz")
    assert trace.meta.family == "spikeformer" and trace.spike_samples
    model, _ = load_trained_model(out)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_bad_set_key_exits_2_with_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", "--model", "spikeformer", "--task", "digits", "--set", "levle=3",
                   "--out", str(tmp_path / "x")])
    assert status == 2
    assert "did you mean 'levels'?" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["train", "--model", "spikeformer", "--task", "digits", "--set", "levels=99"]) == 2
    assert main(["train", "--model", "spikeformer", "--task", "digits", "--variant", "gru"]) == 2
