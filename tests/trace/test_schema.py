"""WorkloadTrace files round-trip exactly and refuse corrupt input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.config import ConfigError
from codesign.trace import TRACE_VERSION, LayerTrace, TraceMeta, WorkloadTrace, load_trace, save_trace


def _trace() -> WorkloadTrace:
    layer = LayerTrace(
        name="fc1", kind="synaptic_dense", in_shape=(4,), out_shape=(3,), steps=5,
        weight_count=12, weight_nonzero=10, weight_bits=8, fan_out=3.0, input_size=20.0,
        input_events=7.0, input_level_sum=11.0, input_is_spike=True, levels=4,
        output_spikes=6.0, output_level_sum=9.0, neuron_evaluations=15.0, dense_macs=60.0,
    )
    meta = TraceMeta(family="spikeformer", variant="spiking", model_hash="abc", batch_size=2,
                     frames=5.0, layers=(layer,))
    rng = np.random.default_rng(0)
    return WorkloadTrace(meta=meta, spike_samples={"fc1": rng.integers(0, 5, (5, 4)).astype(np.uint8)})


def test_round_trip_is_identical(tmp_path: Path) -> None:
    trace = _trace()
    back = load_trace(save_trace(trace, tmp_path / "t.npz"))
    assert back == trace
    assert back.layer("fc1").effective_ops == 21.0
    assert back.layer("fc1").binary_ops == 33.0


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    path = save_trace(_trace(), tmp_path / "t.npz")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ConfigError, match="a trace file written by codesign"):
        load_trace(path)


def _write_old(trace: WorkloadTrace, version: int, path: Path) -> Path:
    """``trace`` in the layout of an older version: version 1 named a layer's steps
    ``timesteps``; versions 1 and 2 named ``neuron_evaluations`` ``neuron_updates`` and had no
    ``membrane_updates``."""
    meta = trace.meta.to_dict()
    meta["version"] = version
    renamed = {"neuron_evaluations": "neuron_updates", **({"steps": "timesteps"} if version == 1 else {})}
    meta["layers"] = [
        {renamed.get(k, k): v for k, v in layer.items() if k != "membrane_updates"} for layer in meta["layers"]
    ]
    with open(path, "wb") as fh:
        np.savez_compressed(fh, __trace__=np.array(json.dumps(meta)), **{"spikes/fc1": trace.spike_samples["fc1"]})
    return path


@pytest.mark.parametrize("version", [1, 2])
def test_older_versions_still_load(tmp_path: Path, version: int) -> None:
    """Version 1 and 2 files load as the same trace, their ``neuron_updates`` as
    ``neuron_evaluations`` and NeuroBench's membrane updates as not recorded."""
    trace = _trace()
    assert trace.layer("fc1").membrane_updates is None
    back = load_trace(_write_old(trace, version, tmp_path / f"v{version}.npz"))
    assert back == trace
    assert back.meta.version == TRACE_VERSION and back.layer("fc1").steps == 5
    assert back.layer("fc1").neuron_evaluations == 15.0 and back.layer("fc1").membrane_updates is None


def test_membrane_updates_round_trip(tmp_path: Path) -> None:
    layer = _trace().layer("fc1").model_copy(update={"membrane_updates": 12.5})
    trace = WorkloadTrace(meta=_trace().meta.model_copy(update={"layers": (layer,)}), spike_samples={})
    assert load_trace(save_trace(trace, tmp_path / "t.npz")).layer("fc1").membrane_updates == 12.5


def test_unknown_version_is_refused(tmp_path: Path) -> None:
    meta = _trace().meta.to_dict()
    meta["version"] = 99
    path = tmp_path / "v99.npz"
    with open(path, "wb") as fh:
        np.savez_compressed(fh, __trace__=np.array(json.dumps(meta)))
    with pytest.raises(ConfigError, match="trace version 1 or 2 or 3 or 4"):
        load_trace(path)


def test_a_version_3_trace_of_a_repssa_network_loads_with_its_wide_layers_and_taps(tmp_path: Path) -> None:
    """Before version 4 no layer was marked wide: an old trace priced a chip's wide bits and
    tap scales as if the network had no fused projections (and was never refused)."""
    from codesign.hardware import ChipConfig, estimate_cost
    from codesign.snn import SpikeformerConfig, build_model
    from codesign.trace import record_trace

    cfg = SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3)
    model = build_model(cfg, 8, 5, "classify").eval()
    trace = record_trace(model, torch.randn(2, 20, 8), torch.tensor([20, 13]), cfg, sample_spikes=False)
    meta = trace.meta.to_dict()
    meta["version"] = 3
    meta["layers"] = [{k: v for k, v in layer.items() if k not in ("wide_weights", "taps", "tap_scales")}
                      for layer in meta["layers"]]
    path = tmp_path / "v3.npz"
    with open(path, "wb") as fh:
        np.savez_compressed(fh, __trace__=np.array(json.dumps(meta)))
    back = load_trace(path)
    assert back.meta.version == TRACE_VERSION
    assert [(la.name, la.taps) for la in back.layers if la.wide_weights] == \
        [(la.name, la.taps) for la in trace.layers if la.wide_weights] == \
        [(f"blocks.0.attn.{p}_proj.fused", 3) for p in "qkv"]
    for chip in (ChipConfig(cores=1, weight_bits=4, tap_scales=True), ChipConfig(cores=1, weight_bits=2, wide_weight_bits=8)):
        assert estimate_cost(back, chip).to_dict() == estimate_cost(trace, chip).to_dict()
