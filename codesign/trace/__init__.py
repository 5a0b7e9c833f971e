"""Workload traces: per-layer activity of a trained network, handed to the chip model.

Owns the ``WorkloadTrace`` schema and its files, the hooks that record it, and the
NeuroBench-style metrics derived from it. Never computes chip energy.
"""

from __future__ import annotations

from codesign.trace._schema import (
    TRACE_VERSION,
    LayerKind,
    LayerTrace,
    TraceMeta,
    WorkloadTrace,
    load_trace,
    save_trace,
    trace_to_json,
)

__all__ = [
    "TRACE_VERSION",
    "LayerKind",
    "LayerTrace",
    "TraceMeta",
    "WorkloadTrace",
    "load_trace",
    "save_trace",
    "trace_to_json",
]
