"""WorkloadTrace files round-trip exactly and refuse corrupt input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

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


def test_version_1_files_still_load(tmp_path: Path) -> None:
    """Version 1 named a layer's steps ``timesteps``; such files load as the same trace."""
    trace = _trace()
    meta = trace.meta.to_dict()
    meta["version"] = 1
    meta["layers"] = [{("timesteps" if k == "steps" else k): v for k, v in layer.items()} for layer in meta["layers"]]
    path = tmp_path / "v1.npz"
    with open(path, "wb") as fh:
        np.savez_compressed(fh, __trace__=np.array(json.dumps(meta)), **{"spikes/fc1": trace.spike_samples["fc1"]})
    back = load_trace(path)
    assert back == trace
    assert back.meta.version == TRACE_VERSION and back.layer("fc1").steps == 5


def test_unknown_version_is_refused(tmp_path: Path) -> None:
    meta = _trace().meta.to_dict()
    meta["version"] = 99
    path = tmp_path / "v99.npz"
    with open(path, "wb") as fh:
        np.savez_compressed(fh, __trace__=np.array(json.dumps(meta)))
    with pytest.raises(ConfigError, match="trace version 1 or 2"):
        load_trace(path)
