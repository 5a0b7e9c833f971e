"""Spiking neurons, blocks and model builders, and their ANN twins.

Owns the network side; never knows about chips or Optuna. The forward contract every model
keeps, and the probe API for tracing, are in docs/models.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codesign._lazy import lazy_exports

# Names are imported on first use (PEP 562), so that reading a config (ModelConfig, TrainConfig)
# does not import torch: `codesign --help` and `codesign study status` start in well under 1.5 s.
if TYPE_CHECKING:
    from codesign.snn._attention import RepProjection, RepSSA, decay_mask, layer_gammas, log_decay_mask
    from codesign.snn._build import (
        BUILDERS,
        SPIKE_LEVELS,
        Builder,
        Head,
        build_model,
        fuse_model,
        spike_levels_of,
    )
    from codesign.snn._config import VARIANTS, ModelConfig
    from codesign.snn._mamba import MambaBlock, MambaModel, build_mamba, stack_frames
    from codesign.snn._neurons import (
        IMLS,
        LIF,
        SURROGATE_GRADS,
        FATReLU,
        SpikingNeuron,
        firing_rates,
        make_neuron,
        neuron_spike_levels,
        spike,
        staircase,
    )
    from codesign.snn._precision import (
        FLOAT_BITS,
        HoldsState,
        Precision,
        StateFormat,
        WeightFakeQuant,
        integer_weights,
        quantise_network,
        quantise_weight,
        reset_state_counters,
        state_overflow_rate,
        weight_levels,
    )
    from codesign.snn._probe import (
        PROBE_ATTR,
        Probed,
        ProbeSink,
        attach_probe,
        is_probed,
        probe_matmul,
        probe_op,
    )
    from codesign.snn._quant import MultiBitQuantiser, quantise_with_error_feedback
    from codesign.snn._scan import selective_scan, selective_scan_chunked, selective_scan_sequential
    from codesign.snn._spikeformer import Spikeformer, SpikeformerBlock, build_spikeformer
    from codesign.snn._srnn import (
        ImprovedRecurrenceLayer,
        ReferenceRNNLayer,
        SRNNModel,
        build_srnn,
        srnn_spike_levels,
    )

_EXPORTS: dict[str, str] = {
    "RepProjection": "_attention",
    "RepSSA": "_attention",
    "decay_mask": "_attention",
    "layer_gammas": "_attention",
    "log_decay_mask": "_attention",
    "BUILDERS": "_build",
    "SPIKE_LEVELS": "_build",
    "Builder": "_build",
    "Head": "_build",
    "build_model": "_build",
    "fuse_model": "_build",
    "spike_levels_of": "_build",
    "VARIANTS": "_config",
    "ModelConfig": "_config",
    "MambaBlock": "_mamba",
    "MambaModel": "_mamba",
    "build_mamba": "_mamba",
    "stack_frames": "_mamba",
    "IMLS": "_neurons",
    "LIF": "_neurons",
    "SURROGATE_GRADS": "_neurons",
    "FATReLU": "_neurons",
    "SpikingNeuron": "_neurons",
    "firing_rates": "_neurons",
    "make_neuron": "_neurons",
    "neuron_spike_levels": "_neurons",
    "spike": "_neurons",
    "staircase": "_neurons",
    "FLOAT_BITS": "_precision",
    "HoldsState": "_precision",
    "Precision": "_precision",
    "StateFormat": "_precision",
    "WeightFakeQuant": "_precision",
    "integer_weights": "_precision",
    "quantise_network": "_precision",
    "quantise_weight": "_precision",
    "reset_state_counters": "_precision",
    "state_overflow_rate": "_precision",
    "weight_levels": "_precision",
    "PROBE_ATTR": "_probe",
    "Probed": "_probe",
    "ProbeSink": "_probe",
    "attach_probe": "_probe",
    "is_probed": "_probe",
    "probe_matmul": "_probe",
    "probe_op": "_probe",
    "MultiBitQuantiser": "_quant",
    "quantise_with_error_feedback": "_quant",
    "selective_scan": "_scan",
    "selective_scan_chunked": "_scan",
    "selective_scan_sequential": "_scan",
    "Spikeformer": "_spikeformer",
    "SpikeformerBlock": "_spikeformer",
    "build_spikeformer": "_spikeformer",
    "ImprovedRecurrenceLayer": "_srnn",
    "ReferenceRNNLayer": "_srnn",
    "SRNNModel": "_srnn",
    "build_srnn": "_srnn",
    "srnn_spike_levels": "_srnn",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "BUILDERS",
    "FLOAT_BITS",
    "IMLS",
    "LIF",
    "PROBE_ATTR",
    "SPIKE_LEVELS",
    "SURROGATE_GRADS",
    "VARIANTS",
    "Builder",
    "FATReLU",
    "Head",
    "HoldsState",
    "ImprovedRecurrenceLayer",
    "MambaBlock",
    "MambaModel",
    "ModelConfig",
    "MultiBitQuantiser",
    "Precision",
    "ProbeSink",
    "Probed",
    "ReferenceRNNLayer",
    "RepProjection",
    "RepSSA",
    "SRNNModel",
    "Spikeformer",
    "SpikeformerBlock",
    "SpikingNeuron",
    "StateFormat",
    "WeightFakeQuant",
    "attach_probe",
    "build_mamba",
    "build_model",
    "build_spikeformer",
    "build_srnn",
    "decay_mask",
    "firing_rates",
    "fuse_model",
    "integer_weights",
    "is_probed",
    "layer_gammas",
    "log_decay_mask",
    "make_neuron",
    "neuron_spike_levels",
    "probe_matmul",
    "probe_op",
    "quantise_network",
    "quantise_weight",
    "quantise_with_error_feedback",
    "reset_state_counters",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_sequential",
    "spike",
    "spike_levels_of",
    "srnn_spike_levels",
    "stack_frames",
    "staircase",
    "state_overflow_rate",
    "weight_levels",
]
