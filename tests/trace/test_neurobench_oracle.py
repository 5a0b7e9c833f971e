"""NeuroBench itself as the oracle for the trace's NeuroBench-named figures.

Runs ``neurobench`` 2.3.0 (installed with ``--no-deps`` beside ``snntorch``: see the Makefile)
on the same fused inference model, one utterance per batch as ``record_trace`` runs it, and
asserts that ``trace_metrics`` reports NeuroBench's footprint, connection sparsity,
activation sparsity and synaptic operations (effective MACs, effective ACs, dense).
NeuroBench's membrane updates see only snnTorch neurons' ``mem`` and are not compared.

NeuroBench's activation sparsity is the zero fraction over all outputs by its definition, but
its ``Benchmark`` averages the per-batch fractions; with one utterance per batch the two agree
when the utterances are equally long, so the utterances here are (the trace pools them).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from codesign.snn import (
    FATReLU,
    MambaConfig,
    SpikeformerConfig,
    SpikingNeuron,
    build_model,
    fuse_model,
)
from codesign.trace import record_trace, trace_metrics

neurobench = pytest.importorskip(
    "neurobench", reason="NeuroBench is not installed (make setup installs neurobench==2.3.0 with --no-deps)"
)


class _OneUtterance(nn.Module):
    """NeuroBench calls ``net(batch)``: give the model the whole (trimmed) utterance as its length."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, torch.tensor([x.shape[1]]))[0]


def _neurobench_figures(model: nn.Module, features: torch.Tensor, lengths: torch.Tensor) -> dict[str, Any]:
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel

    wrapped = TorchModel(_OneUtterance(fuse_model(model)))
    wrapped.add_activation_module(SpikingNeuron)
    wrapped.add_activation_module(FATReLU)
    data = [(features[i, : int(lengths[i])], torch.tensor(0)) for i in range(features.shape[0])]
    loader = torch.utils.data.DataLoader(data, batch_size=1)
    bench = Benchmark(wrapped, loader, [], [], [[Footprint, ConnectionSparsity], [ActivationSparsity, SynapticOperations]])
    return bench.run(quiet=True)


def _prune(model: nn.Module, fraction: float = 0.3) -> None:
    """Zero the smallest weights so that connection sparsity is not trivially 0."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear | nn.Conv1d):
                w = module.weight
                w[w.abs() < w.abs().flatten().quantile(fraction)] = 0.0


CASES = {
    "spikeformer_lif": SpikeformerConfig(neuron="lif", timesteps=2, width=16, heads=2, depth=1, threshold=0.5),
    "spikeformer_imls": SpikeformerConfig(neuron="imls", levels=4, width=16, heads=2, depth=1),
    "mamba_event": MambaConfig(family="mamba", variant="event", width=16, depth=1, state_size=4),
}


@pytest.mark.parametrize("equal_lengths", [True, False], ids=["equal", "ragged"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trace_metrics_equal_neurobench(case: str, equal_lengths: bool) -> None:
    torch.manual_seed(0)
    cfg = CASES[case]
    model = build_model(cfg, 8, 5, "ctc")
    model.train()
    features = torch.randn(3, 20, 8)
    lengths = torch.tensor([20, 20, 20] if equal_lengths else [20, 15, 9])
    model(features, lengths)  # batch norms and adaptive ranges see data once
    model.eval()
    _prune(model)
    trace = record_trace(model, features, lengths, cfg, sample_spikes=False)
    ours = trace_metrics(trace)
    theirs = _neurobench_figures(model, features, lengths)

    assert ours.footprint_bytes == theirs["Footprint"]
    assert ours.connection_sparsity == pytest.approx(theirs["ConnectionSparsity"], abs=5e-4)  # NB rounds to 3 places
    if equal_lengths:
        assert ours.activation_sparsity == pytest.approx(theirs["ActivationSparsity"], rel=1e-9)
    ops = theirs["SynapticOperations"]
    assert ours.synaptic_macs_effective == pytest.approx(ops["Effective_MACs"], rel=1e-9)
    assert ours.synaptic_acs_effective == pytest.approx(ops["Effective_ACs"], rel=1e-9)
    assert ours.synaptic_ops_dense == pytest.approx(ops["Dense"], rel=1e-9)
    assert ours.synaptic_macs_effective > 0 and 0 < ours.activation_sparsity < 1
    if case == "spikeformer_lif":
        assert ours.synaptic_acs_effective > 0  # binary spikes are ACs
    if case == "spikeformer_imls":
        # graded spikes are MACs for NeuroBench, k ACs each for codesign's level-sum count
        assert ours.level_sum_acs > ours.graded_event_acs > 0
