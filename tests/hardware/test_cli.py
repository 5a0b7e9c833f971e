"""``codesign hw``: evaluate, simulate and sweep from the command line; bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.hardware import estimate_cost, load_chip, synthetic_trace
from codesign.trace import save_trace


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    return save_trace(synthetic_trace(3, seed=21, levels=3), tmp_path / "trace.npz")


def test_evaluate_prints_the_breakdown_and_json(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "evaluate", "--trace", str(trace_file), "--chip", "generic_45nm", "--set", "cores=8"]) == 0
    out = capsys.readouterr().out
    assert "synaptic_compute" in out and "layer2" in out and "feasible" in out
    assert main(["hw", "evaluate", "--trace", str(trace_file), "--chip", "hw_models/edge_kws.yaml", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    from codesign.trace import load_trace

    expected = estimate_cost(load_trace(trace_file), load_chip("edge_kws"))
    assert data["cycles"] == pytest.approx(expected.cycles)
    assert data["layer_names"] == ["layer0", "layer1", "layer2"]


def test_simulate_prints_both_columns(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "simulate", "--trace", str(trace_file), "--chip", "loihi_like"]) == 0
    out = capsys.readouterr().out
    assert "analytic" in out and "simulated" in out and "cycles" in out and "packets" in out


def test_sweep_over_a_grid_prints_the_pareto_front(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["hw", "sweep", "--trace", str(trace_file), "--grid", "cores=1,4,16", "pes_per_core=1,8",
            "node_nm=45,7", "--json"]
    assert main(argv) == 0
    front = json.loads(capsys.readouterr().out)
    assert 0 < len(front) <= 12  # a 12-chip grid has a nonempty front
    points = [(r["energy_uj"], r["latency_ms"], r["area_mm2"]) for r in front]
    for p in points:  # no row dominates another
        assert not any(all(q[k] <= p[k] for k in range(3)) and q != p for q in points)
    assert all(r["feasible"] for r in front)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--chip", "no_such_chip"], "known presets"),
        (["--set", "cores=0"], "cores"),
        (["--set", "node_nm=10"], "node_nm"),
    ],
)
def test_bad_chip_input_exits_2_with_one_message(
    trace_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    assert main(["hw", "evaluate", "--trace", str(trace_file), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("codesign: error:") and fragment in err and err.count("\n") == 1


def test_missing_trace_and_bad_grid_exit_2(tmp_path: Path, trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "evaluate", "--trace", str(tmp_path / "none.npz")]) == 2
    assert main(["hw", "sweep", "--trace", str(trace_file), "--grid", "coers=1,2"]) == 2
    assert "did you mean 'cores'" in capsys.readouterr().err


def test_sweep_over_the_accelerator_search_space(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = Path(__file__).parents[2] / "search_spaces" / "accelerator.yaml"
    argv = ["hw", "sweep", "--trace", str(trace_file), "--space", str(space), "--points", "300", "--json"]
    assert main(argv) == 0
    front = json.loads(capsys.readouterr().out)
    assert front and all(r["feasible"] for r in front)
    assert {"cores", "pes_per_core", "energy_uj", "latency_ms", "area_mm2"} <= set(front[0])
    network_space = Path(__file__).parents[2] / "search_spaces" / "spikeformer.yaml"
    assert main(["hw", "sweep", "--trace", str(trace_file), "--space", str(network_space)]) == 2
    assert "at least one hw.* parameter" in capsys.readouterr().err
