"""The SANA-FE cross-check: an optional extra the core never imports, its command, its agreement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.hardware import synthetic_trace
from codesign.trace import save_trace


def _trace(tmp_path: Path) -> Path:
    return save_trace(synthetic_trace(3, seed=1, steps=12, levels=[1, 3, 1], rates=0.1), tmp_path / "t.npz")


def test_the_core_never_imports_sanafe() -> None:
    code = (
        "import sys, codesign, codesign.hardware, codesign.trace, codesign.search, codesign.cli, codesign.export;"
        "import codesign.cli._hw; assert 'sanafe' not in sys.modules and 'sanafecpp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_sanafe_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "sanafe", None)  # import sanafe raises ImportError
    assert main(["hw", "crosscheck", "--trace", str(_trace(tmp_path)), "--chip", "loihi_like"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'codesign[sanafe]'" in err and err.count("\n") == 1


def test_bad_input_is_one_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "crosscheck", "--trace", str(tmp_path / "missing.npz")]) == 2
    assert main(["hw", "crosscheck", "--trace", str(_trace(tmp_path)), "--chip", "loihi_like", "--set", "cores=129"]) == 2
    err = capsys.readouterr().err
    assert err.count("codesign: error:") == 2 and "missing.npz" in err and "128" in err


def test_replay_agrees_with_sanafe_on_a_synthetic_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sanafe", reason="SANA-FE is not installed (pip install 'codesign[sanafe]')")
    import json

    assert main(["hw", "crosscheck", "--trace", str(_trace(tmp_path)), "--chip", "loihi_sanafe", "--json"]) == 0
    out = capsys.readouterr().out
    assert "Executed" not in out  # SANA-FE's progress lines are silenced
    report = json.loads(out)[0]
    assert report["layers"] == ["layer1", "layer2"]
    assert report["skipped"] == {"layer0": "real-valued inputs"}
    blocks = report["energy_by_block_pj"]
    # Same synaptic operations at SANA-FE's 35.5 pJ: the synapse block agrees exactly.
    assert report["counts"]["analytic"]["synaptic_ops"] == report["counts"]["sanafe"]["synaptic_ops"]
    assert blocks["analytic"]["synapse"] == pytest.approx(blocks["sanafe"]["synapse"], rel=1e-9)
    assert abs(report["energy_rel_error"]["analytic"]) < 0.15


def test_two_cores_two_layers_timestep_latency_within_25_percent() -> None:
    """Both layers' cores run every step: the model's step time against SANA-FE's Loihi."""
    pytest.importorskip("sanafe", reason="SANA-FE is not installed (pip install 'codesign[sanafe]')")
    from codesign.hardware import ChipConfig, lif_mlp_trace, load_chip
    from codesign.hardware.sanafe_crosscheck import crosscheck

    trace = lif_mlp_trace((32, 64, 16), steps=12, rate=0.3, seed=3)
    chip = ChipConfig.model_validate({**load_chip("loihi_sanafe").model_dump(), "cores": 2, "mesh_cols": 2})
    report = crosscheck(trace, chip)
    assert report.layers == ("fc0", "fc1") and report.steps == 12
    # Both cores hold neurons: the mapping the model priced is the one replayed.
    assert report.tiles == 1
    per_step = {source: report.latency_us[source] / report.steps for source in ("analytic", "sanafe")}
    assert per_step["analytic"] == pytest.approx(per_step["sanafe"], rel=0.25)
    # A layer-at-a-time chip sums the layers instead: slower than SANA-FE's parallel cores.
    sequential = crosscheck(trace, chip.model_copy(update={"execution": "layer_sequential"}))
    assert sequential.latency_us["analytic"] > report.latency_us["analytic"]


def test_loihi_tiles_are_numbered_column_major_as_sanafe_does() -> None:
    """codesign's row-major core on a 16-wide mesh -> SANA-FE's (tile x * 4 + tile y, core in tile):
    a tile is 2 x 2 cores and SANA-FE's message trace numbers its 8 x 4 tiles down the columns."""
    from codesign.hardware.sanafe_crosscheck import loihi_core

    assert loihi_core(0, 16) == (0, 0)
    assert loihi_core(1, 16) == (0, 1)  # same tile, next core along x
    assert loihi_core(16, 16) == (0, 2)  # the row below, same tile
    assert loihi_core(2, 16) == (4, 0)  # next tile along x: 4 tiles further on
    assert loihi_core(32, 16) == (1, 0)  # next tile along y: the next tile number
    assert loihi_core(127, 16) == (31, 3)
    with pytest.raises(ValueError, match="outside"):
        loihi_core(16, 17)  # column 16 is beyond the 8 tiles of 2 columns
