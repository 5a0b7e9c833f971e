"""NeuroBench-style metrics and the theoretical energy of a WorkloadTrace (pure functions).

Definitions follow NeuroBench (Yik et al., "NeuroBench: a framework for benchmarking
neuromorphic computing algorithms and systems", 2024), so figures compare with published ones:

- static: ``footprint_bytes`` (stored parameters x bits / 8) and ``connection_sparsity``
  (fraction of zero weights over the synaptic layers);
- workload: ``activation_sparsity`` (fraction of zero outputs over every activation unit
  evaluation: spiking neurons and ReLU-like activations), synaptic operations split into
  effective MACs (real-valued inputs: first layer, ANN layers, non-spiking products),
  effective ACs (spike inputs) and dense operations, and ``membrane_updates``.

A level-k graded spike is one event on a chip that takes graded spikes and k accumulates on
one that does not: ``synaptic_acs_effective`` counts the latter (level sum x fan-out, the
conservative count used for energy), ``synaptic_acs_graded`` the former.

This is not the chip model (``codesign.hardware``): it is the usual accelerator-agnostic
estimate ``E = E_MAC x MACs + E_AC x ACs``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from codesign.trace._schema import LayerTrace, WorkloadTrace

#: Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: 32-bit float multiply 3.7 pJ
#: + add 0.9 pJ = 4.6 pJ per MAC; 32-bit float add 0.9 pJ per AC.
ENERGY_MAC_PJ = 4.6
ENERGY_AC_PJ = 0.9

_SYNAPTIC = ("synaptic_dense", "synaptic_conv", "spike_matmul")


@dataclass(frozen=True)
class TraceMetrics:
    """Per-inference figures derived from one trace (names carry their units)."""

    activation_sparsity: float
    synaptic_macs_effective: float
    synaptic_acs_effective: float
    synaptic_acs_graded: float
    synaptic_ops_dense: float
    membrane_updates: float
    footprint_bytes: float
    connection_sparsity: float
    theoretical_energy_pj: float
    theoretical_energy_graded_pj: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def _is_synaptic(layer: LayerTrace) -> bool:
    return layer.kind in _SYNAPTIC


def synaptic_operations(trace: WorkloadTrace) -> dict[str, float]:
    """Effective MACs, effective ACs (binary expansion and graded) and dense ops per inference."""
    macs = acs = acs_graded = dense = 0.0
    for layer in trace.layers:
        if not _is_synaptic(layer):
            continue
        dense += layer.dense_macs
        if layer.input_is_spike:
            acs += layer.binary_ops
            acs_graded += layer.effective_ops
        else:
            macs += layer.effective_ops
    return {"macs": macs, "acs": acs, "acs_graded": acs_graded, "dense": dense}


def activation_sparsity(trace: WorkloadTrace) -> float:
    """Fraction of activation-unit outputs that are zero (NeuroBench activation sparsity).

    Raises:
        ValueError: the trace records no activation units.
    """
    units = sum(layer.neuron_updates for layer in trace.layers if layer.kind in ("state_update", "elementwise"))
    fired = sum(layer.output_spikes for layer in trace.layers if layer.kind in ("state_update", "elementwise"))
    if units <= 0:
        raise ValueError("the trace records no neuron or activation updates; activation sparsity is undefined")
    return 1.0 - fired / units


def membrane_updates(trace: WorkloadTrace) -> float:
    """Spiking-neuron and state updates per inference (NeuroBench membrane updates)."""
    return sum(layer.neuron_updates for layer in trace.layers if layer.kind == "state_update")


def footprint_bytes(trace: WorkloadTrace) -> float:
    """Bytes of stored parameters at their recorded bit width."""
    return sum(layer.weight_count * layer.weight_bits / 8.0 for layer in trace.layers)


def connection_sparsity(trace: WorkloadTrace) -> float:
    """Fraction of zero weights over every layer that stores weights."""
    total = sum(layer.weight_count for layer in trace.layers)
    if total == 0:
        return 0.0
    return 1.0 - sum(layer.weight_nonzero for layer in trace.layers) / total


def theoretical_energy_pj(macs: float, acs: float) -> float:
    """``4.6 pJ x MACs + 0.9 pJ x ACs`` (45 nm, Horowitz 2014)."""
    return ENERGY_MAC_PJ * macs + ENERGY_AC_PJ * acs


def trace_metrics(trace: WorkloadTrace) -> TraceMetrics:
    """Every NeuroBench-style figure of one trace."""
    ops = synaptic_operations(trace)
    return TraceMetrics(
        activation_sparsity=activation_sparsity(trace),
        synaptic_macs_effective=ops["macs"],
        synaptic_acs_effective=ops["acs"],
        synaptic_acs_graded=ops["acs_graded"],
        synaptic_ops_dense=ops["dense"],
        membrane_updates=membrane_updates(trace),
        footprint_bytes=footprint_bytes(trace),
        connection_sparsity=connection_sparsity(trace),
        theoretical_energy_pj=theoretical_energy_pj(ops["macs"], ops["acs"]),
        theoretical_energy_graded_pj=theoretical_energy_pj(ops["macs"], ops["acs_graded"]),
    )
