"""NeuroBench itself as the oracle for the trace's NeuroBench-named figures.

Runs ``neurobench`` 2.3.0 (installed with ``--no-deps`` beside ``snntorch``: see the Makefile)
on the same fused inference model, one utterance per batch as ``record_trace`` runs it, and
asserts that ``trace_metrics`` reports NeuroBench's footprint, connection sparsity,
activation sparsity, synaptic operations (effective MACs, effective ACs, dense) and membrane
updates.

NeuroBench's ``MembraneUpdates`` reads the ``mem`` of snnTorch neurons before and after each
call, and codesign's neurons are not snnTorch's and run all their steps in one call. So the
membrane run gives each membrane-holding neuron (LIF, the SRNN's layer) an snnTorch
``SpikingNeuron`` tap that is called once per step with the membrane the neuron holds at that
step (through the neuron's ``hold("membrane", ...)``, starting from the zero membrane each
call); NeuroBench then does the counting itself. IMLS neurons have no membrane: no tap, 0.

The SRNN's activation sparsity is not compared: its neurons live inside its recurrent layer,
which NeuroBench cannot hook as an activation.

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
    SRNNConfig,
    build_model,
    fuse_model,
)
from codesign.snn._neurons import LIF
from codesign.snn._srnn import ImprovedRecurrenceLayer
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


def _membrane_taps(net: nn.Module) -> int:
    """Give every LIF and SRNN layer of ``net`` an snnTorch tap stepped with its membrane.

    Returns the number of taps (0: the model holds no membrane NeuroBench could see).
    """
    import snntorch

    class MembraneTap(snntorch.SpikingNeuron):  # type: ignore[misc]
        """Holds the membrane it is called with as ``mem``: one call per step, as snnTorch."""

        def forward(self, membrane: torch.Tensor) -> torch.Tensor:
            self.mem = membrane
            return membrane

    taps = 0
    for module in list(net.modules()):
        if not isinstance(module, LIF | ImprovedRecurrenceLayer):
            continue
        tap = MembraneTap()
        module.add_module("neurobench_tap", tap)
        held = module.hold

        def hold(site: str, x: torch.Tensor, held: Any = held, tap: Any = tap, owner: nn.Module = module) -> torch.Tensor:
            value = held(site, x)
            if site == "membrane":
                if owner.__dict__.get("chain_start", True):
                    tap.mem = torch.zeros_like(value)  # the membrane each call starts from
                    owner.__dict__["chain_start"] = False
                tap(value)
            return value

        def start(owner: nn.Module, args: Any) -> None:
            owner.__dict__["chain_start"] = True

        module.__dict__["hold"] = hold
        module.register_forward_pre_hook(start)
        taps += 1
    return taps


def _neurobench_membrane_updates(model: nn.Module, features: torch.Tensor, lengths: torch.Tensor) -> float:
    """NeuroBench's ``MembraneUpdates`` per utterance (0 when the model has no membrane)."""
    import snntorch
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import MembraneUpdates
    from neurobench.models import TorchModel

    net = fuse_model(model)
    if _membrane_taps(net) == 0:
        return 0.0
    wrapped = TorchModel(_OneUtterance(net))
    wrapped.add_activation_module(snntorch.SpikingNeuron)  # the taps (SNNTorchModel adds it itself)
    data = [(features[i, : int(lengths[i])], torch.tensor(0)) for i in range(features.shape[0])]
    loader = torch.utils.data.DataLoader(data, batch_size=1)
    bench = Benchmark(wrapped, loader, [], [], [[], [MembraneUpdates]])
    return float(bench.run(quiet=True)["MembraneUpdates"])


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
    "mamba_lif": MambaConfig(family="mamba", variant="spiking", neuron="lif", timesteps=2, width=16, depth=1,
                             state_size=4, threshold=0.5),
    "srnn": SRNNConfig(family="srnn", variant="spiking", width=16, depth=2),
}

#: Models whose membranes NeuroBench's MembraneUpdates is compared on (IMLS: none, so 0).
MEMBRANE_CASES = CASES


def _trained(cfg: Any, lengths: list[int]) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small pruned model in eval mode after one training-mode pass, and its batch."""
    torch.manual_seed(0)
    model = build_model(cfg, 8, 5, "ctc")
    model.train()
    features = torch.randn(len(lengths), max(lengths), 8)
    length_tensor = torch.tensor(lengths)
    model(features, length_tensor)  # batch norms and adaptive ranges see data once
    model.eval()
    _prune(model)
    return model, features, length_tensor


@pytest.mark.parametrize("case", sorted(MEMBRANE_CASES))
def test_membrane_updates_equal_neurobench(case: str) -> None:
    cfg = MEMBRANE_CASES[case]
    model, features, lengths = _trained(cfg, [20, 15, 9])
    trace = record_trace(model, features, lengths, cfg, sample_spikes=False)
    ours = trace_metrics(trace)
    theirs = _neurobench_membrane_updates(model, features, lengths)

    assert ours.membrane_updates == pytest.approx(theirs, rel=1e-12, abs=1e-12)
    if case == "spikeformer_imls":
        assert ours.membrane_updates == 0.0 and ours.neuron_evaluations > 0  # IMLS neurons have no membrane
    elif case == "mamba_event":
        assert ours.membrane_updates == 0.0 == ours.neuron_evaluations  # ReLU units: no neurons at all
    elif case == "spikeformer_lif":
        assert 0 < ours.membrane_updates <= ours.neuron_evaluations  # real-valued inputs move nearly all
    else:
        # some membranes stay put (zero input on a zero membrane: the Mamba's gated output, the
        # SRNN's zero-threshold levels), so fewer than every evaluation
        assert 0 < ours.membrane_updates < ours.neuron_evaluations


@pytest.mark.parametrize("equal_lengths", [True, False], ids=["equal", "ragged"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trace_metrics_equal_neurobench(case: str, equal_lengths: bool) -> None:
    cfg = CASES[case]
    model, features, lengths = _trained(cfg, [20, 20, 20] if equal_lengths else [20, 15, 9])
    trace = record_trace(model, features, lengths, cfg, sample_spikes=False)
    ours = trace_metrics(trace)
    theirs = _neurobench_figures(model, features, lengths)

    assert ours.footprint_bytes == theirs["Footprint"]
    assert ours.connection_sparsity == pytest.approx(theirs["ConnectionSparsity"], abs=5e-4)  # NB rounds to 3 places
    # The SRNN's neurons live inside its recurrent layer, whose output NeuroBench cannot hook
    # as an activation (a tuple), so NeuroBench sees no activations there.
    if equal_lengths and case != "srnn":
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
