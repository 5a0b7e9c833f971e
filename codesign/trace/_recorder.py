"""Recording a WorkloadTrace: one no-grad pass of a trained network over a fixed batch.

Owns :func:`record_trace` and :class:`TraceRecorder`. ``nn.Linear`` and ``nn.Conv1d`` layers
are recorded by forward hooks; neurons, attention products, scans and elementwise work are
reported by the modules through ``codesign.snn.probe_op``/``probe_matmul`` while a recorder
is attached. The recorder is a context object for one pass: it attaches hooks and probes on
entry and removes them on exit, so no state outlives the pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codesign.snn import (
    FATReLU,
    HoldsState,
    ModelConfig,
    Probed,
    SpikingNeuron,
    attach_probe,
    fuse_model,
    hooked_synapses,
    spike_levels_of,
    wide_weight_modules,
)
from codesign.snn._config import LayerKind
from codesign.trace._schema import LayerTrace, ModelStats, TraceMeta, WorkloadTrace

if TYPE_CHECKING:
    from codesign.data import CorpusSplit

#: Rows kept per layer in the spike sample (one utterance), to bound trace files.
MAX_SAMPLE_STEPS = 4096


@dataclass
class _Entry:
    """Sums for one trace entry over every call and utterance of the pass."""

    kind: LayerKind
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    steps: float = 0.0
    weight_count: int = 0
    weight_nonzero: int = 0
    input_size: float = 0.0
    input_events: float = 0.0
    input_level_sum: float = 0.0
    inputs_integer: bool = True
    seen_inputs: bool = False
    max_level: float = 0.0
    declared_levels: int | None = None
    output_spikes: float = 0.0
    output_level_sum: float = 0.0
    neuron_evaluations: float = 0.0
    membrane_updates: float = 0.0
    effective_ops: float = 0.0
    binary_input_ops: float = 0.0
    dense_macs: float = 0.0
    aux_ops: float = 0.0
    state_size: int = 0
    weight_bits: int = 32
    wide_weights: bool = False
    taps: int = 1
    tap_scales: bool = False
    state_bits: int = 32
    state_overflows: float = 0.0
    neuron_output: bool = False
    sample: list[np.ndarray] = field(default_factory=list)


def _is_binary(x: torch.Tensor) -> bool:
    """Whether every value is -1, 0 or 1: NeuroBench's test of a spiking input (per call)."""
    return not bool(((x != 0) & (x != 1) & (x != -1)).any())


def _channel_rows(x: torch.Tensor) -> torch.Tensor:
    """``[..., C]`` as rows of channels (timestep-major, then frame)."""
    return x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(1, -1)


class TraceRecorder:
    """Collects per-layer counts while attached to a model (a ``codesign.snn.ProbeSink``).

    Use as a context manager around forward passes of batch size 1, calling
    :meth:`end_utterance` after each, then :meth:`layers`.

    Args:
        model: the network (usually its fused inference form).
        spike_levels: the largest level a spike may take in this model (D for IMLS, 1 for LIF);
            integer inputs above it are recorded with their observed maximum.
        sample_spikes: keep the spike inputs of the first utterance per layer.
    """

    def __init__(self, model: nn.Module, spike_levels: int = 1, sample_spikes: bool = True) -> None:
        self.model = model
        self.spike_levels = spike_levels
        self.sample_spikes = sample_spikes
        self._names = {id(m): name for name, m in model.named_modules()}
        # the layers a mixed-precision chip holds wide: a mark of the network's structure, so a
        # float network's trace (never quantised) carries it as its quantised copy's does
        self._wide = wide_weight_modules(model)
        self._entries: dict[str, _Entry] = {}
        self._handles: list[Any] = []
        self._probed: list[nn.Module] = []
        self._overflows_at_entry: dict[int, int] = {}
        self._membranes_seen: set[str] = set()  # entries whose membranes stepped this utterance
        self.utterances = 0

    # -- lifetime ----------------------------------------------------------------------
    def __enter__(self) -> TraceRecorder:
        for module in hooked_synapses(self.model):
            self._handles.append(module.register_forward_hook(self._layer_hook))
        for module in self.model.modules():
            if isinstance(module, Probed):
                attach_probe(module, self)
                self._probed.append(module)
            if isinstance(module, HoldsState):
                self._overflows_at_entry[id(module)] = sum(f.overflows for f in module.state_formats().values())
        return self

    def _collect_state_overflows(self) -> None:
        """Each state holder's saturations during the pass, on its trace entry."""
        for module in self.model.modules():
            if not isinstance(module, HoldsState) or id(module) not in self._overflows_at_entry:
                continue
            formats = module.state_formats()
            path = self._names.get(id(module), "")
            entry = self._entries.get(f"{path}.{module.state_op}" if path else module.state_op)
            if entry is None or not formats:
                continue
            entry.state_bits = min(f.bits for f in formats.values())
            entry.state_overflows += sum(f.overflows for f in formats.values()) - self._overflows_at_entry[id(module)]
        self._overflows_at_entry.clear()

    def __exit__(self, *exc: object) -> None:
        self._collect_state_overflows()
        for handle in self._handles:
            handle.remove()
        for module in self._probed:
            attach_probe(module, None)
        self._handles.clear()
        self._probed.clear()

    def end_utterance(self) -> None:
        """Mark the end of one utterance's forward pass (counts are averaged per utterance)."""
        self.utterances += 1
        self._membranes_seen.clear()

    # -- receiving ---------------------------------------------------------------------
    def _entry(self, name: str, kind: LayerKind, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            entry = _Entry(kind=kind, in_shape=in_shape, out_shape=out_shape)
            self._entries[name] = entry
        return entry

    def _add_inputs(self, entry: _Entry, rows: torch.Tensor | None, levels: int | None) -> None:
        if rows is None:
            return
        x = rows.detach()
        nonzero = x != 0
        entry.input_size += x.numel()
        entry.input_events += float(nonzero.sum())
        if levels is not None:
            entry.declared_levels = levels
        # Integer inputs of a spiking model are spikes. A signed level -k (the SRNN's quantised
        # input features) is k events like +k, so level sums, maxima and samples use |x|.
        is_int = bool(torch.equal(x, torch.round(x)))
        entry.inputs_integer = entry.inputs_integer and is_int and levels != 0
        entry.seen_inputs = True
        if entry.inputs_integer:
            self._add_spike_levels(entry, x.abs())
        else:
            entry.sample.clear()

    def _add_spike_levels(self, entry: _Entry, magnitude: torch.Tensor) -> None:
        """Integer inputs' levels: their sum, their largest, and (first utterance) the spike sample."""
        entry.input_level_sum += float(magnitude.sum())
        if magnitude.numel():
            entry.max_level = max(entry.max_level, float(magnitude.max()))
        kept = sum(s.shape[0] for s in entry.sample)
        if self.sample_spikes and self.utterances == 0 and kept < MAX_SAMPLE_STEPS:
            chunk = _channel_rows(magnitude)[: MAX_SAMPLE_STEPS - kept]
            entry.sample.append(chunk.clamp(0, 255).to(torch.uint8).cpu().numpy())

    def _layer_hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        assert isinstance(module, nn.Linear | nn.Conv1d)  # the only modules __enter__ hooks
        x = inputs[0].detach()
        name = self._names.get(id(module), type(module).__name__)
        weight = module.weight.detach()
        bias = getattr(module, "bias", None)
        params = weight.numel() + (bias.numel() if bias is not None else 0)
        nonzero_params = int((weight != 0).sum()) + (int((bias != 0).sum()) if bias is not None else 0)
        x_nz = (x != 0).to(weight.dtype)
        w_nz = (weight != 0).to(weight.dtype)
        if isinstance(module, nn.Conv1d):
            c_in, c_out = module.in_channels, module.out_channels
            entry = self._entry(name, "synaptic_conv", (c_in,), (c_out,))
            stride, padding, dilation, groups = module.stride, module.padding, module.dilation, module.groups
            effective = F.conv1d(x_nz, w_nz, None, stride, padding, dilation, groups)
            steps = output.shape[0] * output.shape[-1]
            # every input and weight processed; zero padding is no input, so it costs nothing
            ones_in, ones_w = torch.ones_like(x_nz), torch.ones_like(w_nz)
            dense = float(F.conv1d(ones_in, ones_w, None, stride, padding, dilation, groups).sum())
            rows = x.transpose(-1, -2)
        else:
            c_in, c_out = module.in_features, module.out_features
            entry = self._entry(name, "synaptic_dense", (c_in,), (c_out,))
            effective = F.linear(x_nz, w_nz)
            steps = x.numel() // c_in
            dense = float(steps) * c_in * c_out
            rows = x
        entry.weight_count = params
        entry.weight_nonzero = nonzero_params
        entry.weight_bits = int(getattr(module, "weight_bits", 32))
        entry.wide_weights = id(module) in self._wide
        # a wide layer's kernel taps, each scaled on its own on a chip with tap_scales
        entry.taps = int(weight.shape[-1]) if entry.wide_weights and weight.ndim == 3 else 1
        entry.tap_scales = bool(getattr(module, "tap_scales", False))  # quantise_network's mark
        entry.steps += steps
        entry.effective_ops += float(effective.sum())
        if _is_binary(x):
            entry.binary_input_ops += float(effective.sum())
        entry.dense_macs += dense
        self._add_inputs(entry, rows, None)

    def record_op(self, module: nn.Module, op: str, **counts: Any) -> None:
        """Receive one operation reported through ``codesign.snn.probe_op``."""
        path = self._names.get(id(module), type(module).__name__)
        name = f"{path}.{op}" if path else op
        entry = self._entry(name, counts["kind"], counts["in_shape"], counts["out_shape"])
        entry.steps += counts["steps"]
        entry.effective_ops += counts["effective_ops"]
        inputs = counts.get("inputs")
        if counts["kind"] in ("synaptic_dense", "synaptic_conv") and inputs is not None and _is_binary(inputs):
            entry.binary_input_ops += counts["effective_ops"]
        # Neuron outputs are what NeuroBench hooks as activations: spiking neurons and ReLU-like
        # units (FATReLU), and neurons that live inside a layer (the SRNN's, op "neuron"); not
        # scan states, gates or quantisers.
        entry.neuron_output = entry.neuron_output or isinstance(module, SpikingNeuron | FATReLU) or op == "neuron"
        entry.dense_macs += counts["dense_macs"]
        entry.neuron_evaluations += counts["neuron_evaluations"]
        changed = counts.get("membrane_changed")
        if changed is not None and changed.shape[0] > 0:
            entry.membrane_updates += self._membrane_updates(name, changed)
        entry.aux_ops += counts["aux_ops"]
        entry.state_size = max(entry.state_size, counts["state_size"])
        entry.weight_count = max(entry.weight_count, counts["weight_count"])
        entry.weight_nonzero = max(entry.weight_nonzero, counts["weight_nonzero"])
        self._add_inputs(entry, None if inputs is None else _channel_rows(inputs), counts.get("levels"))
        outputs = counts.get("outputs")
        if outputs is not None:
            entry.output_spikes += float((outputs != 0).sum())
            entry.output_level_sum += float(outputs.sum()) if bool(torch.equal(outputs, outputs.round())) else 0.0

    def _membrane_updates(self, name: str, changed: torch.Tensor) -> float:
        """NeuroBench's membrane updates of one call (``MembraneUpdates`` in neurobench 2.3.0):
        the membranes whose value changed, except that on the first step a neuron takes in an
        utterance every membrane counts (NeuroBench counts its first call's whole membrane)."""
        if name in self._membranes_seen:
            return float(changed.sum())
        self._membranes_seen.add(name)
        return float(changed[0].numel()) + float(changed[1:].sum())

    # -- results -----------------------------------------------------------------------
    def layers(self) -> tuple[LayerTrace, ...]:
        """One LayerTrace per entry, in the order first seen, counts per utterance."""
        if self.utterances == 0:
            raise RuntimeError("no utterance recorded; call end_utterance() after each forward pass")
        per = 1.0 / self.utterances
        out = []
        for name, e in self._entries.items():
            is_spike = e.seen_inputs and e.inputs_integer
            levels = 0
            if is_spike:
                declared = e.declared_levels if e.declared_levels else self.spike_levels
                levels = max(1, int(max(declared, e.max_level)))
            events = e.input_events * per
            out.append(
                LayerTrace(
                    name=name,
                    kind=e.kind,
                    in_shape=e.in_shape,
                    out_shape=e.out_shape,
                    steps=max(1, round(e.steps * per)),
                    weight_count=e.weight_count,
                    weight_nonzero=e.weight_nonzero,
                    weight_bits=e.weight_bits,
                    wide_weights=e.wide_weights,
                    taps=e.taps,
                    tap_scales=e.tap_scales,
                    fan_out=(e.effective_ops * per / events) if events > 0 else 0.0,
                    binary_input_ops=e.binary_input_ops * per,
                    neuron_output=e.neuron_output,
                    input_size=e.input_size * per,
                    input_events=events,
                    input_level_sum=e.input_level_sum * per if is_spike else 0.0,
                    input_is_spike=is_spike,
                    levels=levels,
                    output_spikes=e.output_spikes * per,
                    output_level_sum=e.output_level_sum * per,
                    neuron_evaluations=e.neuron_evaluations * per,
                    membrane_updates=e.membrane_updates * per,
                    dense_macs=e.dense_macs * per,
                    aux_ops=e.aux_ops * per,
                    state_size=e.state_size,
                    state_bits=e.state_bits,
                    state_overflows=e.state_overflows * per,
                )
            )
        return tuple(out)

    def spike_samples(self) -> dict[str, np.ndarray]:
        """Spike inputs of the first utterance, ``uint8 [steps, inputs]`` per spiking-input layer."""
        samples = {}
        for name, e in self._entries.items():
            if e.seen_inputs and e.inputs_integer and e.sample:
                widths = {s.shape[1] for s in e.sample}
                if len(widths) == 1:
                    samples[name] = np.concatenate(e.sample, axis=0)
        return samples


def _synapse_tensors(module: nn.Module) -> list[torch.Tensor]:
    """A module's own connection tensors, as NeuroBench's ``ConnectionSparsity`` counts them."""
    if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
        return [module.weight]
    if isinstance(module, nn.RNNBase):
        return [p for name, p in module.named_parameters(recurse=False) if name.startswith(("weight", "bias"))]
    return []


def model_stats(model: nn.Module) -> ModelStats:
    """Storage and connection counts of an inference model, as NeuroBench's static metrics take them.

    ``parameter_bytes`` is every parameter and buffer at its element size (NeuroBench
    ``Footprint``: batch norms, thresholds, quantiser ranges and norms included);
    ``synapses`` / ``synapses_nonzero`` count the weights (not biases) of ``nn.Linear`` and
    ``nn.Conv*`` layers and every weight and bias of ``nn.RNNBase`` layers (NeuroBench
    ``ConnectionSparsity``).
    """
    parameter_bytes = sum(t.numel() * t.element_size() for t in model.parameters())
    parameter_bytes += sum(t.numel() * t.element_size() for t in model.buffers())
    tensors = [t for module in model.modules() for t in _synapse_tensors(module)]
    synapses = sum(t.numel() for t in tensors)
    nonzero = sum(int((t != 0).sum()) for t in tensors)
    return ModelStats(parameter_bytes=int(parameter_bytes), synapses=synapses, synapses_nonzero=nonzero)


#: Utterances of the fixed evaluation batch a trace is recorded on.
EVALUATION_BATCH_SIZE = 16


def evaluation_batch(split: CorpusSplit, size: int = EVALUATION_BATCH_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed evaluation batch of a corpus split: its first ``size`` utterances, trimmed.

    Args:
        split: a ``codesign.data.CorpusSplit`` (``features``, ``feature_lengths``).
        size: utterances to take (fewer if the split is smaller).

    Returns:
        ``(features [n, frames, F], lengths [n])`` with frames cut to the longest utterance.
    """
    n = min(size, int(split.features.shape[0]))
    if n < 1:
        raise ValueError("an evaluation batch needs a non-empty split")
    lengths = split.feature_lengths[:n]
    return split.features[:n, : int(lengths.max())], lengths


@torch.no_grad()
def record_trace(
    model: nn.Module,
    features: torch.Tensor,
    lengths: torch.Tensor,
    cfg: ModelConfig,
    sample_spikes: bool = True,
) -> WorkloadTrace:
    """Record the workload of one inference, averaged over a fixed evaluation batch.

    The model is fused into its inference form (on a copy; the argument is untouched) and run
    one utterance at a time, trimmed to its length, so padding is never counted.

    Args:
        model: a trained network keeping the docs/models.md forward contract.
        features: ``[N, frames, F]`` evaluation features.
        lengths: ``[N]`` valid frames.
        cfg: the model's config (family, variant, spike levels, hash).
        sample_spikes: keep real spike inputs of the first utterance for the simulator.

    Returns:
        The trace; its counts are per utterance.

    Raises:
        ValueError: empty batch or mismatched shapes.
    """
    if features.ndim != 3 or lengths.ndim != 1 or features.shape[0] != lengths.shape[0]:
        raise ValueError(
            f"features [N, frames, F] and lengths [N], got {tuple(features.shape)} and {tuple(lengths.shape)}"
        )
    if features.shape[0] == 0:
        raise ValueError("an evaluation batch of at least one utterance")
    inference = fuse_model(model)
    levels = max(1, spike_levels_of(cfg))
    recorder = TraceRecorder(inference, spike_levels=levels, sample_spikes=sample_spikes)
    with recorder:
        for i in range(features.shape[0]):
            length = int(lengths[i])
            inference(features[i : i + 1, :length], lengths[i : i + 1])
            recorder.end_utterance()
    meta = TraceMeta(
        family=cfg.family,
        variant=cfg.variant,
        model_hash=cfg.config_hash(),
        batch_size=int(features.shape[0]),
        frames=float(lengths.to(torch.float64).mean()),
        layers=recorder.layers(),
        model=model_stats(inference),
    )
    return WorkloadTrace(meta=meta, spike_samples=recorder.spike_samples() if sample_spikes else {})


def trace_split(model: nn.Module, split: CorpusSplit, cfg: ModelConfig, size: int = EVALUATION_BATCH_SIZE) -> WorkloadTrace:
    """The trace of ``model`` on a split's fixed evaluation batch (:func:`evaluation_batch`): what
    ``codesign train`` records on the test split, a study on the validation split at each
    precision, and ``codesign evaluate`` re-records from a bundle."""
    features, lengths = evaluation_batch(split, size)
    return record_trace(model, features, lengths, cfg)
