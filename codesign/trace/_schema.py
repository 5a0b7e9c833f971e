"""WorkloadTrace: the versioned record of what a trained network does on one inference.

This is the contract between the model side (``codesign.snn``/``codesign.train``) and the
chip model (``codesign.hardware``). All counts are per inference (one utterance), averaged
over the evaluation batch, and count every timestep and every frame.

A graded (multi-level) spike of level k is one nonzero input whose level contributes k to
``input_level_sum``: a chip that accepts graded spikes pays ``input_events`` events, a chip
that only takes binary spikes pays ``input_level_sum`` events.

A layer's ``steps`` counts every step it runs in one inference (frames x T, or the positions a
layer is applied at); it is not ``ModelConfig.timesteps``, the T of one frame. Version 1 files
named it ``timesteps``; :func:`load_trace` reads them.

Two neuron counts, under two names: ``neuron_evaluations`` is every neuron (or state element)
evaluated at every step, what a chip that updates each neuron each step pays (the chip model's
cost basis); ``membrane_updates`` is NeuroBench's count, the membranes whose value changed
(every membrane on an utterance's first step). Version 1 and 2 files named the first
``neuron_updates`` and did not record the second (``None`` when read).
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from codesign._io import write_atomic
from codesign.config import MEASURED, ConfigError, OmitAtDefault, Spec, load_json_text, parse_spec
from codesign.snn._config import LayerKind

#: Version written by :func:`save_trace`. 2: a layer's ``timesteps`` became ``steps``. 3: its
#: ``neuron_updates`` became ``neuron_evaluations``, and ``membrane_updates`` was added. 4: the
#: wide layers (``wide_weights``) carry their kernel ``taps`` and grid (``tap_scales``).
TRACE_VERSION = 4
#: Versions :func:`load_trace` reads (older ones are upgraded as they are read).
READABLE_TRACE_VERSIONS = (1, 2, 3, 4)



class LayerTrace(OmitAtDefault):
    """Activity of one layer over one inference.

    Attributes:
        name: unique layer name (module path).
        kind: ``synaptic_dense`` | ``synaptic_conv`` (weights times inputs), ``spike_matmul``
            (activation-activation product, e.g. spiking attention), ``state_update``
            (recurrent/neuron/scan state), ``elementwise`` (norms, gates, residual adds).
        in_shape, out_shape: per-step shapes without the batch dimension.
        steps: how many steps the layer runs per inference (frames x T; not the model's T).
        weight_count, weight_nonzero, weight_bits: the layer's stored parameters, and the bits
            each weight was held in when the trace was recorded (32: float).
        wide_weights: the layer is one of the wide layers (``codesign.snn.wide_weight_modules``:
            a conv-fused RepSSA projection) that a chip with ``wide_weight_bits`` holds in those
            bits (left out of the dumped form while False, so older traces read the same).
        taps: kernel taps of a wide layer's weights (``[out, in, taps]``), which a chip with
            ``tap_scales`` scales one by one; 1 for every other layer (left out while 1).
        tap_scales: the wide layer's weights were held with a scale per (output channel, tap)
            when the trace was recorded (``Precision.tap_scales``; left out while False).
        fan_out: synaptic operations caused by one nonzero input (e.g. out_features for a
            dense layer; out_channels x kernel / stride for a conv; the other operand's
            length for a spike_matmul).
        input_size: input elements per inference (dense processing touches all of them).
        input_events: nonzero inputs per inference.
        input_level_sum: sum of the nonzero inputs' integer levels (== input_events for binary
            spikes; 0 when the input is real-valued).
        input_is_spike: inputs are integer spike levels; else real values (costed as MACs).
        levels: largest level an input can take (1 = binary spikes; 0 = real-valued).
        output_spikes: nonzero outputs per inference.
        output_level_sum: sum of output levels (spikes of level k count k).
        neuron_evaluations: neuron/state evaluations per inference: every neuron (state
            element) at every step it runs, changed or not (the chip model's cost basis).
        membrane_updates: NeuroBench's membrane updates per inference: membranes whose value
            changed in a step, every membrane counting on the first step of an utterance; 0
            for entries without a membrane (IMLS, ReLU, scans, gates). None: not recorded (a
            trace written before version 3).
        dense_macs: multiply-accumulates if every input were processed densely.
        aux_ops: extra elementwise operations per inference that inference pays
            (e.g. the IMLS input-aware threshold's mean-absolute-value reduction).
        state_size: state elements kept between steps (membranes, scan states).
        state_bits: the fixed-point word the state was held in (32: float).
        state_overflows: state values that saturated at that word's range, per inference
            (counted, never hidden: a chip that saturates often computes another network).
        binary_input_ops: the part of the effective operations made in calls whose inputs
            were all -1, 0 or 1 (NeuroBench's per-call test of a spiking input: these are its
            ACs, the rest of a weight layer's operations its MACs).
        neuron_output: the entry's outputs are a neuron's or activation unit's (spiking
            neurons, FATReLU/ReLU, the SRNN's neurons); scan states, gates, quantisers and
            accumulators are not. NeuroBench's activation sparsity counts only these.
    """

    model_config = MEASURED
    _omit_at_default = ("wide_weights", "taps", "tap_scales")

    name: str
    kind: LayerKind
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    steps: int = Field(ge=1)
    weight_count: int = Field(0, ge=0)
    weight_nonzero: int = Field(0, ge=0)
    weight_bits: int = Field(32, ge=1, le=32)
    wide_weights: bool = False
    taps: int = Field(1, ge=1)
    tap_scales: bool = False
    fan_out: float = Field(0.0, ge=0.0)
    input_size: float = Field(0.0, ge=0.0)
    input_events: float = Field(0.0, ge=0.0)
    input_level_sum: float = Field(0.0, ge=0.0)
    input_is_spike: bool = False
    levels: int = Field(0, ge=0)
    output_spikes: float = Field(0.0, ge=0.0)
    output_level_sum: float = Field(0.0, ge=0.0)
    neuron_evaluations: float = Field(0.0, ge=0.0)
    membrane_updates: float | None = Field(None, ge=0.0)
    dense_macs: float = Field(0.0, ge=0.0)
    aux_ops: float = Field(0.0, ge=0.0)
    state_size: int = Field(0, ge=0)
    state_bits: int = Field(32, ge=1, le=32)
    state_overflows: float = Field(0.0, ge=0.0)
    binary_input_ops: float = Field(0.0, ge=0.0)
    neuron_output: bool = False

    @property
    def effective_ops(self) -> float:
        """Synaptic operations actually caused by the nonzero inputs (graded spikes count once)."""
        return self.input_events * self.fan_out

    @property
    def binary_ops(self) -> float:
        """Synaptic operations on a chip that splits a level-k spike into k binary events."""
        events = self.input_level_sum if self.input_is_spike else self.input_events
        return events * self.fan_out


class ModelStats(Spec):
    """Static counts of the inference model a trace was recorded on (NeuroBench static metrics).

    Attributes:
        parameter_bytes: every parameter and buffer at its element size (NeuroBench footprint).
        synapses: weights of the connection layers (``nn.Linear``/``nn.Conv*`` weights, not
            biases; every weight and bias of recurrent ``nn.RNNBase`` layers).
        synapses_nonzero: of those, the nonzero ones.
    """

    parameter_bytes: int = Field(ge=0)
    synapses: int = Field(ge=0)
    synapses_nonzero: int = Field(ge=0)


class TraceMeta(Spec):
    """What produced a trace (``model`` is None in traces recorded before it was added)."""

    model_config = MEASURED

    version: int = TRACE_VERSION
    family: str
    variant: str
    model_hash: str
    batch_size: int = Field(ge=1)
    frames: float = Field(ge=0.0, description="average input frames per utterance")
    layers: tuple[LayerTrace, ...]
    model: ModelStats | None = None


@dataclass(frozen=True, eq=False)
class WorkloadTrace:
    """A trace: its layers plus a small sample of real spike tensors for the simulator.

    ``spike_samples[name]`` is an integer array ``[steps, inputs]`` of input levels of layer
    ``name`` for one utterance (uint8), replayed event by event by the simulator.
    """

    meta: TraceMeta
    spike_samples: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def layers(self) -> tuple[LayerTrace, ...]:
        return self.meta.layers

    def layer(self, name: str) -> LayerTrace:
        for layer in self.meta.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkloadTrace):
            return NotImplemented
        if self.meta != other.meta or self.spike_samples.keys() != other.spike_samples.keys():
            return False
        return all(
            self.spike_samples[k].dtype == other.spike_samples[k].dtype
            and np.array_equal(self.spike_samples[k], other.spike_samples[k])
            for k in self.spike_samples
        )

    __hash__ = None  # type: ignore[assignment]  # unhashable (array fields); typeshed wants a method


def save_trace(trace: WorkloadTrace, path: str | Path) -> Path:
    """Write a trace as one ``.npz`` file: the JSON metadata plus the spike samples."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"__trace__": np.array(json.dumps(trace.meta.to_dict()))}
    for name, sample in trace.spike_samples.items():
        arrays[f"spikes/{name}"] = np.ascontiguousarray(sample)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy: a str key could be allow_pickle

    return write_atomic(path, write)


def load_trace(path: str | Path) -> WorkloadTrace:
    """Read a trace written by :func:`save_trace`.

    Raises:
        ConfigError: missing, truncated or corrupt file, or an unknown trace version.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "", "an existing trace file (.npz)", hint="file not found")
    _check_unpacked_size(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a bare .npy array
            raise ConfigError(path, "", "a trace file written by codesign (.npz)",
                              hint="this is a single numpy array (.npy), not a trace")
        with loaded as npz:
            raw = str(npz["__trace__"])
            samples = {k[len("spikes/") :]: npz[k] for k in npz.files if k.startswith("spikes/")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise ConfigError(path, "", "a trace file written by codesign", hint=f"unreadable: {err}") from None
    data = load_json_text(raw, path, "__trace__", "trace metadata as JSON")
    fields = data if isinstance(data, dict) else {}
    version = fields.get("version")
    if version not in READABLE_TRACE_VERSIONS:
        readable = " or ".join(str(v) for v in READABLE_TRACE_VERSIONS)
        raise ConfigError(path, "version", f"trace version {readable}", got=version)
    meta = parse_spec(TraceMeta, _upgrade(fields), file=path)
    return WorkloadTrace(meta=meta, spike_samples=samples)


#: The most a trace may unpack to (its arrays' sizes as their headers declare them, and each
#: member's stated size): a real trace is a few MB; a "zip bomb" would allocate gigabytes.
MAX_TRACE_UNPACKED_BYTES = 512 * 1024 * 1024


def _check_unpacked_size(path: Path) -> None:
    """Refuse a trace whose arrays would unpack to more than ``MAX_TRACE_UNPACKED_BYTES``,
    reading only the zip directory and each array's header (numpy allocates an array whole,
    from its header's shape, before it reads the data)."""
    if not zipfile.is_zipfile(path):
        return  # np.load's own checks name it (a .npy array, or not numpy at all)
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                declared = 0
                if info.filename.endswith(".npy"):
                    with zf.open(info) as fh:
                        major, _minor = np.lib.format.read_magic(fh)
                        read_header = (np.lib.format.read_array_header_1_0 if major == 1
                                       else np.lib.format.read_array_header_2_0)
                        shape, _fortran, dtype = read_header(fh)
                        declared = math.prod(shape) * dtype.itemsize
                total += max(declared, info.file_size)
                if total > MAX_TRACE_UNPACKED_BYTES:
                    raise ConfigError(path, info.filename.removesuffix(".npy"),
                                      f"a trace that unpacks to at most {MAX_TRACE_UNPACKED_BYTES} bytes",
                                      hint=f"its arrays unpack to over {total} bytes")
    except ConfigError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ConfigError(path, "", "a trace file written by codesign", hint=f"unreadable: {err}") from None


#: Layer keys renamed since each older version (old name: current name).
_RENAMED_SINCE: dict[int, dict[str, str]] = {
    1: {"timesteps": "steps", "neuron_updates": "neuron_evaluations"},
    2: {"neuron_updates": "neuron_evaluations"},
}


#: A wide layer's name in traces before version 4: the conv-fused RepSSA q/k/v projections
#: (``codesign.snn``'s ``RepProjection``, the only module that holds wide weights).
_WIDE_LAYER = re.compile(r"(^|\.)[qkv]_proj\.fused$")


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Trace metadata of a readable version in the current layout (version 1: each layer's
    ``timesteps`` is its ``steps``; versions 1 and 2: its ``neuron_updates`` is its
    ``neuron_evaluations``, and its ``membrane_updates`` was not recorded; versions 1-3: a
    fused projection is marked as the wide layer it is, with its kernel taps, held on one
    scale per channel as every trace then was, so a chip with ``wide_weight_bits`` or
    ``tap_scales`` prices it as it prices a trace recorded now)."""
    version = data.get("version", TRACE_VERSION)
    if version == TRACE_VERSION or not isinstance(version, int):
        return data
    renamed: dict[str, str] = _RENAMED_SINCE.get(version, {})
    data = {**data, "version": TRACE_VERSION}
    if isinstance(data.get("layers"), list):
        data["layers"] = [
            _wide_marked({str(renamed.get(key, key)): value for key, value in layer.items()})
            if isinstance(layer, dict) else layer
            for layer in data["layers"]
        ]
    return data


def _wide_marked(layer: dict[str, Any]) -> dict[str, Any]:
    """A layer of a trace before version 4 with its wide mark and taps (see :func:`_upgrade`)."""
    name, kind = layer.get("name"), layer.get("kind")
    if "wide_weights" in layer or kind != "synaptic_conv" or not isinstance(name, str) or not _WIDE_LAYER.search(name):
        return layer
    ins, outs, count = layer.get("in_shape"), layer.get("out_shape"), layer.get("weight_count")
    if not (isinstance(ins, list | tuple) and isinstance(outs, list | tuple) and ins and outs
            and isinstance(count, int) and isinstance(ins[0], int) and isinstance(outs[0], int)):
        return layer
    taps = max(1, count // max(1, ins[0] * outs[0]))  # [out, in, taps] weights (and out biases)
    return {**layer, "wide_weights": True, **({"taps": taps} if taps > 1 else {})}


def trace_to_json(trace: WorkloadTrace) -> str:
    """The trace's metadata as indented JSON (no spike samples), for people and diffs."""
    buf = io.StringIO()
    json.dump(trace.meta.to_dict(), buf, indent=2)
    return buf.getvalue()
