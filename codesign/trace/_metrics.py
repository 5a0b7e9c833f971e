"""NeuroBench metrics, codesign's own operation counts, and the theoretical energy of a trace.

Two sets of figures, each under its own names (pure functions of a ``WorkloadTrace``):

**NeuroBench** (Yik et al., "The NeuroBench framework for benchmarking neuromorphic computing
algorithms and systems", Nature Communications 2025; definitions as implemented in
``neurobench`` 2.3.0, which ``tests/trace/test_neurobench_oracle.py`` runs as the oracle):

- ``footprint_bytes``: every parameter and buffer of the inference model at its element size;
- ``connection_sparsity``: zero weights over the weights of the connection layers
  (``nn.Linear``/``nn.Conv*`` weights without biases; recurrent layers' weights and biases);
- ``activation_sparsity``: zero outputs over all outputs of the neurons and activation units
  (spiking neurons, ReLU-like units); scan states, gates and quantisers are not neurons;
- ``synaptic_macs_effective`` / ``synaptic_acs_effective`` / ``synaptic_ops_dense``: weight
  layers only (no activation-activation products), one operation per nonzero input and
  nonzero weight; a call whose inputs are all -1, 0 or 1 is ACs, any other call MACs, so a
  graded (level > 1) spike is one MAC; dense counts every input and weight (padding is not an
  input);
- ``membrane_updates``: membranes whose value changed, summed over steps (NeuroBench
  ``MembraneUpdates``: its hooks compare each snnTorch neuron's ``mem`` before and after every
  call, and count the whole membrane on a neuron's first call of a sample). codesign's neurons
  run their steps in one call, so each reports per step which membranes changed
  (``LayerTrace.membrane_updates``); neurons without a membrane (IMLS, ReLU) count 0. None for
  traces recorded before it was (version < 3);
- ``theoretical_energy_neurobench_pj``: ``4.6 pJ x MACs + 0.9 pJ x ACs`` on those counts.

**codesign's conventions** (what the chip model and the IML-Spikeformer comparison use):

- ``level_sum_acs``: ACs of spike inputs with a level-k spike expanded into k binary spikes
  (IML-Spikeformer's expansion; level sum x fan-out), over weight layers *and* the spiking
  attention products Q·Kᵀ and A·V (``spike_matmul``);
- ``graded_event_acs``: the same with one AC per graded event;
- ``real_input_macs``: operations on real-valued inputs (first layer, ANN layers, the ANN
  twin's attention products);
- ``attention_ops``: the activation-activation products alone (inside the two above);
- ``scan_ops``: Mamba's scan (decay, input and read-out MACs; not in either energy);
- ``neuron_evaluations``: every neuron with a membrane at every step, changed or not (the
  count the chip model prices: a chip evaluates each neuron each step);
- ``state_updates``: every state update (neurons, scan states, recurrent cells);
- ``unit_activation_sparsity``: zero outputs over every unit with outputs, scan states and the
  SRNN's input quantiser included;
- ``weight_footprint_bytes``: the synaptic weights (and biases) of the trace's layers at the
  bits they were held in when recorded (``LayerTrace.weight_bits``: the chip's ``weight_bits``
  for a quantised network, 32 for float): the weight memory a chip of that precision needs;
- ``theoretical_energy_pj``: ``4.6 pJ x real_input_macs + 0.9 pJ x level_sum_acs``;
  ``theoretical_energy_graded_pj`` the same with ``graded_event_acs``.

**Ponghiran & Roy (AAAI 2022)**: ``multiplications_per_inference`` of an ``srnn`` trace, as
that paper counts them against its GRU/LSTM references.

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

_WEIGHT_LAYERS = ("synaptic_dense", "synaptic_conv")
_SYNAPTIC = (*_WEIGHT_LAYERS, "spike_matmul")
_UNITS = ("state_update", "elementwise")
#: Layer-name endings of neuron entries in traces recorded before ``neuron_output`` existed.
_NEURON_OPS = (".neuron", ".activation")


@dataclass(frozen=True)
class TraceMetrics:
    """Per-inference figures of one trace: NeuroBench's first, then codesign's own."""

    # NeuroBench names and definitions
    activation_sparsity: float
    synaptic_macs_effective: float
    synaptic_acs_effective: float
    synaptic_ops_dense: float
    membrane_updates: float | None
    footprint_bytes: float
    weight_footprint_bytes: float
    connection_sparsity: float
    theoretical_energy_neurobench_pj: float
    # codesign's conventions
    level_sum_acs: float
    graded_event_acs: float
    real_input_macs: float
    attention_ops: float
    scan_ops: float
    neuron_evaluations: float
    state_updates: float
    unit_activation_sparsity: float
    theoretical_energy_pj: float
    theoretical_energy_graded_pj: float

    def to_dict(self) -> dict[str, float]:
        """Every recorded figure as a float (a figure the trace did not record is left out)."""
        return {k: float(v) for k, v in asdict(self).items() if v is not None}


def _is_neuron(layer: LayerTrace, trace: WorkloadTrace) -> bool:
    if any(lt.neuron_output for lt in trace.layers):
        return layer.neuron_output
    return layer.kind in _UNITS and layer.name.endswith(_NEURON_OPS)  # an older trace


def synaptic_operations(trace: WorkloadTrace) -> dict[str, float]:
    """NeuroBench's synaptic operations per inference: ``macs``, ``acs``, ``dense`` (weight layers)."""
    macs = acs = dense = 0.0
    for layer in trace.layers:
        if layer.kind not in _WEIGHT_LAYERS:
            continue
        dense += layer.dense_macs
        acs += layer.binary_input_ops
        macs += layer.effective_ops - layer.binary_input_ops
    return {"macs": macs, "acs": acs, "dense": dense}


def codesign_operations(trace: WorkloadTrace) -> dict[str, float]:
    """codesign's counts per inference: ``level_sum_acs``, ``graded_event_acs``, ``real_input_macs``,
    ``attention_ops``, ``scan_ops``, ``state_updates`` (see the module docstring)."""
    acs = acs_graded = macs = attention = scan = updates = 0.0
    for layer in trace.layers:
        if layer.kind in _SYNAPTIC:
            if layer.input_is_spike:
                acs += layer.binary_ops
                acs_graded += layer.effective_ops
            else:
                macs += layer.effective_ops
            if layer.kind == "spike_matmul":
                attention += layer.binary_ops if layer.input_is_spike else layer.effective_ops
        elif layer.kind == "state_update":
            updates += layer.neuron_evaluations
            if not _is_neuron(layer, trace):
                scan += layer.effective_ops
    return {
        "level_sum_acs": acs,
        "graded_event_acs": acs_graded,
        "real_input_macs": macs,
        "attention_ops": attention,
        "scan_ops": scan,
        "state_updates": updates,
    }


def activation_sparsity(trace: WorkloadTrace) -> float:
    """NeuroBench activation sparsity: zero outputs over all outputs of neurons and activation units.

    A model without any (the dense Mamba's SiLU is not one) gets 0.0, as NeuroBench gives it.
    """
    units = fired = 0.0
    for layer in trace.layers:
        if _is_neuron(layer, trace):
            units += layer.neuron_evaluations
            fired += layer.output_spikes
    return 1.0 - fired / units if units > 0 else 0.0


def unit_activation_sparsity(trace: WorkloadTrace) -> float:
    """Zero outputs over every unit with outputs (codesign's wider count: scan states and
    quantisers included).

    Raises:
        ValueError: the trace records no units.
    """
    units = sum(layer.neuron_evaluations for layer in trace.layers if layer.kind in _UNITS)
    fired = sum(layer.output_spikes for layer in trace.layers if layer.kind in _UNITS)
    if units <= 0:
        raise ValueError("the trace records no neuron or activation updates; activation sparsity is undefined")
    return 1.0 - fired / units


def membrane_updates(trace: WorkloadTrace) -> float | None:
    """NeuroBench's membrane updates per inference: membranes whose value changed (see the
    module docstring); None when the trace did not record them (version < 3)."""
    counts = [layer.membrane_updates for layer in trace.layers]
    if any(count is None for count in counts):
        return None
    return sum(count for count in counts if count is not None)


def neuron_evaluations(trace: WorkloadTrace) -> float:
    """Neuron evaluations per inference: every neuron with a membrane (``state_update`` neuron
    entries) at every step, whether or not its membrane changed; the chip model's basis."""
    return sum(
        layer.neuron_evaluations
        for layer in trace.layers
        if layer.kind == "state_update" and _is_neuron(layer, trace)
    )


def footprint_bytes(trace: WorkloadTrace) -> float:
    """NeuroBench footprint: bytes of every parameter and buffer of the inference model.

    Traces recorded before the model's counts were kept fall back to the layers' stored
    parameters (a lower bound: no batch norms, thresholds or norms).
    """
    if trace.meta.model is not None:
        return float(trace.meta.model.parameter_bytes)
    return sum(layer.weight_count * layer.weight_bits / 8.0 for layer in trace.layers)


def weight_footprint_bytes(trace: WorkloadTrace) -> float:
    """Bytes of the layers' stored weights at the bits they were recorded in (the chip's
    ``weight_bits`` for a quantised network; NeuroBench's ``footprint_bytes`` counts element
    sizes instead, which fake quantisation leaves at 4 bytes)."""
    return sum(layer.weight_count * layer.weight_bits / 8.0 for layer in trace.layers)


def connection_sparsity(trace: WorkloadTrace) -> float:
    """NeuroBench connection sparsity: zero weights over the connection layers' weights.

    NeuroBench rounds it to 3 decimals; this is the unrounded fraction. Older traces fall back
    to every layer's stored parameters (biases included).
    """
    model = trace.meta.model
    if model is not None:
        return 1.0 - model.synapses_nonzero / model.synapses if model.synapses else 0.0
    total = sum(layer.weight_count for layer in trace.layers)
    if total == 0:
        return 0.0
    return 1.0 - sum(layer.weight_nonzero for layer in trace.layers) / total


def theoretical_energy_pj(macs: float, acs: float) -> float:
    """``4.6 pJ x MACs + 0.9 pJ x ACs`` (45 nm, Horowitz 2014)."""
    return ENERGY_MAC_PJ * macs + ENERGY_AC_PJ * acs


def trace_metrics(trace: WorkloadTrace) -> TraceMetrics:
    """Every figure of one trace, NeuroBench's and codesign's."""
    nb = synaptic_operations(trace)
    own = codesign_operations(trace)
    units = any(layer.kind in _UNITS and layer.neuron_evaluations > 0 for layer in trace.layers)
    return TraceMetrics(
        activation_sparsity=activation_sparsity(trace),
        synaptic_macs_effective=nb["macs"],
        synaptic_acs_effective=nb["acs"],
        synaptic_ops_dense=nb["dense"],
        membrane_updates=membrane_updates(trace),
        footprint_bytes=footprint_bytes(trace),
        weight_footprint_bytes=weight_footprint_bytes(trace),
        connection_sparsity=connection_sparsity(trace),
        theoretical_energy_neurobench_pj=theoretical_energy_pj(nb["macs"], nb["acs"]),
        level_sum_acs=own["level_sum_acs"],
        graded_event_acs=own["graded_event_acs"],
        real_input_macs=own["real_input_macs"],
        attention_ops=own["attention_ops"],
        scan_ops=own["scan_ops"],
        neuron_evaluations=neuron_evaluations(trace),
        state_updates=own["state_updates"],
        unit_activation_sparsity=unit_activation_sparsity(trace) if units else 0.0,
        theoretical_energy_pj=theoretical_energy_pj(own["real_input_macs"], own["level_sum_acs"]),
        theoretical_energy_graded_pj=theoretical_energy_pj(own["real_input_macs"], own["graded_event_acs"]),
    )


def multiplications_per_inference(trace: WorkloadTrace) -> dict[str, float]:
    """Multiplications per inference as Ponghiran & Roy (2022) count them, from a trace.

    SNN (variant ``spiking``): every nonzero multi-bit input or output level multiplies one weight
    per synapse it drives (``input_events × fan_out`` over the synaptic layers: W, U and the
    head). GRU/LSTM: the dense input and recurrent products (``dense_macs``). Both add the
    cells' elementwise multiplications, recorded as ``aux_ops`` of their ``state_update``
    entries (the SRNN neuron's ``F ⊙ I`` and ``(1 − F) ⊙ C``; the GRU/LSTM gate products).
    Batch norm is folded into the weights at inference and costs none.

    Args:
        trace: the trace of an ``srnn`` model.

    Returns:
        ``{"synaptic": ..., "elementwise": ..., "total": ...}`` per inference.

    Raises:
        ValueError: the trace is not of an ``srnn`` model.
    """
    if trace.meta.family != "srnn":
        raise ValueError(f"multiplications are defined for srnn traces, got family {trace.meta.family!r}")
    spiking = trace.meta.variant == "spiking"
    synaptic = elementwise = 0.0
    for layer in trace.layers:
        if layer.kind in ("synaptic_dense", "synaptic_conv"):
            synaptic += layer.input_events * layer.fan_out if spiking else layer.dense_macs
        elif layer.kind == "state_update":
            elementwise += layer.aux_ops
    return {"synaptic": synaptic, "elementwise": elementwise, "total": synaptic + elementwise}
