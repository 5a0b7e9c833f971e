"""Shared fixtures of the chip-model tests: small hand-made traces and the presets."""

from __future__ import annotations

from typing import Any

import pytest

from codesign.hardware import ChipConfig, load_chip
from codesign.trace import LayerTrace, TraceMeta, WorkloadTrace


def make_trace(*layers: dict[str, Any], samples: dict[str, Any] | None = None) -> WorkloadTrace:
    """A WorkloadTrace from LayerTrace keyword dicts (defaults: a dense layer, 10 steps)."""
    built = []
    for i, fields in enumerate(layers):
        data: dict[str, Any] = {"name": f"l{i}", "kind": "synaptic_dense", "in_shape": (4,), "out_shape": (4,),
                                "steps": 10}
        data.update(fields)
        built.append(LayerTrace(**data))
    meta = TraceMeta(family="test", variant="spiking", model_hash="test", batch_size=1, frames=10.0,
                     layers=tuple(built))
    return WorkloadTrace(meta=meta, spike_samples=dict(samples or {}))


def two_layer_trace() -> WorkloadTrace:
    """The golden two-layer network: a real-valued input layer and a graded-spike layer."""
    return make_trace(
        dict(name="fc1", in_shape=(4,), out_shape=(8,), steps=10, weight_count=32, weight_nonzero=32,
             weight_bits=8, fan_out=8.0, input_size=40.0, input_events=20.0, input_level_sum=0.0,
             input_is_spike=False, levels=0, output_spikes=12.0, output_level_sum=20.0,
             neuron_evaluations=80.0, dense_macs=320.0, state_size=8),
        dict(name="fc2", in_shape=(8,), out_shape=(2,), steps=10, weight_count=16, weight_nonzero=16,
             weight_bits=8, fan_out=2.0, input_size=80.0, input_events=12.0, input_level_sum=20.0,
             input_is_spike=True, levels=3, output_spikes=3.0, output_level_sum=3.0,
             neuron_evaluations=20.0, dense_macs=160.0, state_size=2),
    )


@pytest.fixture
def golden_trace() -> WorkloadTrace:
    return two_layer_trace()


@pytest.fixture
def generic() -> ChipConfig:
    return load_chip("generic_45nm")


@pytest.fixture
def trace_factory() -> Any:
    """:func:`make_trace`, for tests that build their own layers."""
    return make_trace
