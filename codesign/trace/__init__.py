"""Workload traces: per-layer activity of a trained network, handed to the chip model.

Owns the ``WorkloadTrace`` schema and its files, the recorder that fills it
(:func:`record_trace`), and the NeuroBench-style metrics and theoretical energy derived from
it. Never computes chip energy.
"""

from __future__ import annotations

from codesign.snn._config import LayerKind
from codesign.trace._metrics import (
    ENERGY_AC_PJ,
    ENERGY_MAC_PJ,
    TraceMetrics,
    activation_sparsity,
    codesign_operations,
    connection_sparsity,
    footprint_bytes,
    membrane_updates,
    multiplications_per_inference,
    neuron_evaluations,
    synaptic_operations,
    theoretical_energy_pj,
    trace_metrics,
    unit_activation_sparsity,
    weight_footprint_bytes,
)
from codesign.trace._recorder import (
    EVALUATION_BATCH_SIZE,
    MAX_SAMPLE_STEPS,
    TraceRecorder,
    evaluation_batch,
    model_stats,
    record_trace,
    trace_split,
)
from codesign.trace._schema import (
    TRACE_VERSION,
    LayerTrace,
    ModelStats,
    TraceMeta,
    WorkloadTrace,
    load_trace,
    save_trace,
    trace_to_json,
)

__all__ = [
    "ENERGY_AC_PJ",
    "ENERGY_MAC_PJ",
    "EVALUATION_BATCH_SIZE",
    "MAX_SAMPLE_STEPS",
    "TRACE_VERSION",
    "LayerKind",
    "LayerTrace",
    "ModelStats",
    "TraceMeta",
    "TraceMetrics",
    "TraceRecorder",
    "WorkloadTrace",
    "activation_sparsity",
    "codesign_operations",
    "connection_sparsity",
    "evaluation_batch",
    "footprint_bytes",
    "load_trace",
    "membrane_updates",
    "model_stats",
    "multiplications_per_inference",
    "neuron_evaluations",
    "record_trace",
    "save_trace",
    "synaptic_operations",
    "theoretical_energy_pj",
    "trace_metrics",
    "trace_split",
    "trace_to_json",
    "unit_activation_sparsity",
    "weight_footprint_bytes",
]
