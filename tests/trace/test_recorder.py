"""The recorder: counts match a hand count, plug-in ops are recorded, traces round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from codesign.snn import LIF, PROBE_ATTR, Probed, SpikeformerConfig, build_model, probe_matmul
from codesign.trace import TraceRecorder, load_trace, record_trace, save_trace, trace_metrics


class _Toy(nn.Module):
    """Two synaptic layers around one LIF neuron (T = 1), keeping the forward contract."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 3, bias=False)
        self.sn = LIF(threshold=1.0, decay=0.5)
        self.fc2 = nn.Linear(3, 2, bias=False)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 2, 0, 0], [1, 1, 1, 1]]))
            self.fc2.weight.copy_(torch.tensor([[1.0, 1, 0], [0, 1, 1]]))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spikes = self.sn(self.fc1(x).unsqueeze(0))[0]
        return self.fc2(spikes).mean(dim=1), lengths


def _toy_trace():  # type: ignore[no-untyped-def]
    features = torch.zeros(2, 2, 4)
    features[0, 0, 0] = 0.5  # h = [0.5, 0, 0.5]: no spike
    features[0, 1, 1] = 1.5  # h = [0, 3, 1.5]: spikes [0, 1, 1]
    features[1, 0, 3] = 2.0  # h = [0, 0, 2]: spike [0, 0, 1]; utterance 2 has one frame
    cfg = SpikeformerConfig(neuron="lif", timesteps=1)
    return record_trace(_Toy(), features, torch.tensor([2, 1]), cfg)


def test_membrane_updates_count_changed_membranes() -> None:
    """NeuroBench's membrane updates: membranes whose integrated value changed in a step, every
    membrane on the neuron's first step of an utterance; evaluations count every step."""
    lif = LIF(threshold=1.0, decay=0.5)
    first = torch.tensor([[0.2, 0.0], [0.0, 0.0], [0.0, 0.4]]).reshape(3, 1, 1, 2)  # [T, batch, frames, C]
    with TraceRecorder(lif) as recorder:
        lif(first)  # channel 0: 0.2, 0.1, 0.05 (3); channel 1: 0 (first step), 0 (same), 0.4: 2
        lif(torch.zeros(2, 1, 1, 2))  # a later call from the zero membrane: nothing changes
        recorder.end_utterance()
        lif(torch.zeros(2, 1, 1, 2))  # a new utterance: its first step counts every membrane
        recorder.end_utterance()
    (neuron,) = recorder.layers()
    assert neuron.membrane_updates == pytest.approx((5 + 0 + 2) / 2)
    assert neuron.neuron_evaluations == pytest.approx((6 + 4 + 4) / 2)


def test_counts_match_hand_count() -> None:
    trace = _toy_trace()
    assert [layer.name for layer in trace.layers] == ["fc1", "sn.neuron", "fc2"]
    fc1, sn, fc2 = trace.layers
    # fc1, real inputs. Utterance 1: 8 inputs, 2 nonzero; input 0 reaches outputs 0 and 2,
    # input 1 outputs 1 and 2: 4 ops; 2 frames x 12 = 24 dense. Utterance 2: 4 inputs, 1
    # nonzero reaching output 2 only: 1 op; 12 dense. Averaged per utterance:
    assert fc1.kind == "synaptic_dense" and not fc1.input_is_spike and fc1.levels == 0
    assert (fc1.input_size, fc1.input_events, fc1.dense_macs) == (6.0, 1.5, 18.0)
    assert fc1.effective_ops == pytest.approx(2.5)
    assert (fc1.weight_count, fc1.weight_nonzero) == (12, 6)
    # Neuron: 6 + 3 updates, 2 + 1 spikes.
    assert (sn.kind, sn.neuron_evaluations, sn.output_spikes, sn.output_level_sum) == ("state_update", 4.5, 1.5, 1.5)
    # fc2, spike inputs: [0,1,1] -> input 1 reaches 2 outputs, input 2 one: 3 ops; [0,0,1] -> 1 op.
    assert fc2.input_is_spike and fc2.levels == 1
    assert (fc2.input_events, fc2.input_level_sum, fc2.dense_macs) == (1.5, 1.5, 9.0)
    assert fc2.effective_ops == pytest.approx(2.0) and fc2.binary_ops == pytest.approx(2.0)
    assert trace.meta.frames == 1.5 and trace.meta.batch_size == 2
    # Spike sample: fc2's inputs for the first utterance, one row per frame.
    assert trace.spike_samples["fc2"].tolist() == [[0, 0, 0], [0, 1, 1]]
    assert "fc1" not in trace.spike_samples

    # NeuroBench's: fc2's binary inputs are ACs, fc1's real ones MACs.
    assert (fc1.binary_input_ops, fc2.binary_input_ops) == (0.0, pytest.approx(2.0))
    assert sn.neuron_output and not fc1.neuron_output
    metrics = trace_metrics(trace)
    assert metrics.synaptic_macs_effective == pytest.approx(2.5)
    assert metrics.synaptic_acs_effective == pytest.approx(2.0)
    assert metrics.theoretical_energy_neurobench_pj == pytest.approx(4.6 * 2.5 + 0.9 * 2.0)
    assert metrics.activation_sparsity == pytest.approx(1 - 1.5 / 4.5)
    # NeuroBench counts every membrane on a neuron's first step of an utterance; T = 1 here
    assert metrics.membrane_updates == pytest.approx(4.5) and metrics.neuron_evaluations == pytest.approx(4.5)
    assert metrics.connection_sparsity == pytest.approx(1 - 10 / 18)
    # every parameter and buffer of the model: 18 weights plus the LIF's buffers
    model = _Toy()
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    assert metrics.footprint_bytes == 18 * 4 + buffers
    assert metrics.synaptic_ops_dense == 27.0
    # codesign's: the same here (binary spikes, no attention)
    assert metrics.level_sum_acs == pytest.approx(2.0) and metrics.real_input_macs == pytest.approx(2.5)
    assert metrics.theoretical_energy_pj == pytest.approx(4.6 * 2.5 + 0.9 * 2.0)


class _Product(Probed, nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        probe_matmul(self, "ab", a, b)
        return a @ b


def test_plug_in_matmul_counts_pairs_and_levels() -> None:
    from codesign.trace import TraceRecorder

    module = _Product()
    a = torch.tensor([[1.0, 0], [2, 1]])
    b = torch.tensor([[1.0, 0, 1], [0, 0, 1]])
    with TraceRecorder(module, spike_levels=2) as recorder:
        module(a, b)
        recorder.end_utterance()
    (layer,) = recorder.layers()
    assert PROBE_ATTR not in module.__dict__  # detached after the pass
    assert layer.name == "ab" and layer.kind == "spike_matmul"
    assert (layer.input_events, layer.input_level_sum, layer.levels) == (3.0, 4.0, 2)
    # a[0,0] and a[1,0] pair with b's row 0 (2 nonzeros), a[1,1] with row 1 (1 nonzero).
    assert layer.effective_ops == pytest.approx(5.0)
    assert layer.dense_macs == 12.0


def test_spikeformer_trace_round_trip_and_model_untouched(tmp_path: Path) -> None:
    cfg = SpikeformerConfig(width=16, heads=2, depth=1, levels=3)
    model = build_model(cfg, 8, 5, "ctc")
    model.train()
    x, lengths = torch.randn(3, 24, 8), torch.tensor([24, 18, 11])
    model(x, lengths)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trace = record_trace(model, x, lengths, cfg)
    assert model.state_dict().keys() == before.keys()  # the fused copy was traced, not the model
    assert not any(PROBE_ATTR in m.__dict__ for m in model.modules())
    kinds = {layer.kind for layer in trace.layers}
    assert kinds == {"synaptic_conv", "synaptic_dense", "spike_matmul", "state_update", "elementwise"}
    spiking = [layer for layer in trace.layers if layer.input_is_spike]
    assert spiking and all(layer.levels == 3 for layer in spiking)
    assert all(layer.input_level_sum <= 3 * layer.input_events + 1e-9 for layer in spiking)
    assert not trace.layer("conv1").input_is_spike  # real-valued features
    assert trace.layer("blocks.0.attn.q_sn.neuron").aux_ops > 0  # adaptive threshold reduction
    for name, sample in trace.spike_samples.items():
        assert sample.dtype == "uint8" and sample.max() <= 3, name
    back = load_trace(save_trace(trace, tmp_path / "trace.npz"))
    assert back == trace
    assert trace_metrics(back) == trace_metrics(trace)


def test_ann_twin_costs_macs_only() -> None:
    cfg = SpikeformerConfig(variant="ann", width=16, heads=2, depth=1)
    model = build_model(cfg, 8, 5, "classify").eval()
    trace = record_trace(model, torch.randn(2, 20, 8), torch.tensor([20, 13]), cfg)
    metrics = trace_metrics(trace)
    assert metrics.synaptic_acs_effective == 0.0 and metrics.synaptic_macs_effective > 0
    assert trace.spike_samples == {}


def test_bad_batch_is_refused() -> None:
    cfg = SpikeformerConfig(width=16, heads=2, depth=1)
    with pytest.raises(ValueError):
        record_trace(build_model(cfg, 8, 5, "ctc"), torch.randn(2, 20, 8), torch.tensor([20]), cfg)


def test_trace_records_the_bits_used_and_footprint_follows_the_quantised_tensors() -> None:
    from codesign.snn import Precision, quantise_network
    from codesign.trace import weight_footprint_bytes

    torch.manual_seed(0)
    cfg = SpikeformerConfig(width=16, heads=2, depth=1, neuron="lif", timesteps=2, threshold=0.3)
    net = build_model(cfg, 20, 5, "classify").eval()
    x, lengths = torch.randn(3, 24, 20), torch.tensor([24, 20, 16])
    quiet = 0.05 * x
    q, _ = quantise_network(net, Precision(weight_bits=4, state_bits=6), calibrate=lambda m: m(quiet, lengths))
    trace = record_trace(q, x, lengths, cfg)
    synaptic = [layer for layer in trace.layers if layer.kind.startswith("synaptic")]
    assert synaptic and all(layer.weight_bits == 4 for layer in synaptic)
    # footprint recomputed from the quantised tensors themselves: values per channel and bits
    modules = [m for m in q.modules() if isinstance(m, nn.Linear | nn.Conv1d)]
    expected = 0.0
    for m in modules:
        assert all(len(torch.unique(row)) <= 16 for row in m.weight.detach().reshape(m.weight.shape[0], -1))
        expected += (m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)) * 4 / 8
    assert weight_footprint_bytes(trace) == pytest.approx(expected)
    assert trace_metrics(trace).weight_footprint_bytes == pytest.approx(expected)
    # state held in 6 bits, calibrated on a quiet input: louder inputs saturate, and the trace counts it
    neurons = [layer for layer in trace.layers if layer.kind == "state_update"]
    assert neurons and all(layer.state_bits == 6 for layer in neurons)
    assert sum(layer.state_overflows for layer in neurons) > 0
    float_trace = record_trace(net, x, lengths, cfg)
    assert all(layer.weight_bits == 32 and layer.state_overflows == 0 for layer in float_trace.layers)


def test_traces_recorded_before_the_neurobench_fields_still_give_figures() -> None:
    from codesign.trace import WorkloadTrace

    trace = _toy_trace()
    layers = tuple(layer.model_copy(update={"neuron_output": False, "binary_input_ops": 0.0}) for layer in trace.layers)
    old = WorkloadTrace(meta=trace.meta.model_copy(update={"model": None, "layers": layers}))
    metrics, new = trace_metrics(old), trace_metrics(trace)
    assert metrics.activation_sparsity == new.activation_sparsity  # neurons found by their op name
    assert metrics.footprint_bytes == 18 * 4  # the layers' weights only: a lower bound
    assert metrics.theoretical_energy_pj == new.theoretical_energy_pj


def test_a_float_networks_trace_marks_the_wide_layers_as_its_quantised_copys_does() -> None:
    """The mark came only from quantise_network, so an untrained or float network's trace (the
    joint strategy's fit check, `codesign train`'s trace.npz) priced a mixed-precision chip's
    wide layers at the narrow bits: it 'fit' chips its quantised network then overflowed."""
    from codesign.hardware import ChipConfig, estimate_cost
    from codesign.snn import Precision, quantise_network

    cfg = SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3)
    model = build_model(cfg, 8, 5, "classify").eval()
    x, lengths = torch.randn(2, 20, 8), torch.tensor([20, 13])
    float_trace = record_trace(model, x, lengths, cfg)
    quantised, _ = quantise_network(model, Precision(weight_bits=2, wide_weight_bits=8))
    quantised_trace = record_trace(quantised, x, lengths, cfg)
    wide = [layer.name for layer in float_trace.layers if layer.wide_weights]
    assert len(wide) == 3 and all(".fused" in name for name in wide)
    assert wide == [layer.name for layer in quantised_trace.layers if layer.wide_weights]
    chip = ChipConfig(cores=1, weight_bits=2, wide_weight_bits=8)
    assert estimate_cost(float_trace, chip).weight_kb == pytest.approx(
        estimate_cost(quantised_trace, chip).weight_kb)
    assert estimate_cost(float_trace, chip).weight_kb > estimate_cost(float_trace, ChipConfig(cores=1, weight_bits=2)).weight_kb
