"""The one decision of what a synaptic layer is: every reader agrees, and other layers are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codesign.snn import (
    Precision,
    SpikeformerConfig,
    SRNNConfig,
    UnsupportedLayer,
    build_model,
    check_layers,
    hooked_synapses,
    quantise_network,
    synaptic_weights,
)
from codesign.train._train import prunable_weights


def test_quantisation_pruning_and_tracing_read_the_same_layers() -> None:
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1), 8, 4, "classify")
    weights = [(path, name) for path, _, name in synaptic_weights(net)]
    assert list(prunable_weights(net)) == [f"{p}.{n}" for p, n in weights]
    assert [m for _, m, _ in synaptic_weights(net)] == list(hooked_synapses(net))
    on_chip, summary = quantise_network(net, Precision(weight_bits=4))
    assert summary.weight_tensors == len(list(synaptic_weights(on_chip)))
    for _, module, name in synaptic_weights(on_chip):  # each output channel on a 4-bit grid: <= 15 values
        assert all(len(torch.unique(row)) <= 15 for row in getattr(module, name).detach().flatten(1))


def test_the_gru_reference_is_quantised_but_not_pruned_nor_hooked() -> None:
    net = build_model(SRNNConfig(width=16, depth=1, variant="gru"), 8, 4, "classify")
    names = [f"{p}.{n}" for p, _, n in synaptic_weights(net)]
    assert "layers.0.rnn.weight_ih_l0" in names and "layers.0.rnn.weight_hh_l0" in names
    assert not any("rnn" in key for key in prunable_weights(net))
    assert all(isinstance(m, nn.Linear) for m in hooked_synapses(net))


class _Conv2dNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(2, 2)


class _OwnThreshold(nn.Module):
    non_synaptic_parameters = ("theta",)

    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.ones(()))
        self.raw = nn.Parameter(torch.ones(3, 3))  # a weight matrix used with F.linear: not declared


def test_a_layer_of_no_known_type_is_refused_loudly() -> None:
    with pytest.raises(UnsupportedLayer, match=r"'conv' \(Conv2d\).*\['bias', 'weight'\]"):
        check_layers(_Conv2dNet())
    with pytest.raises(UnsupportedLayer, match=r"\['raw'\]"):
        check_layers(_OwnThreshold())
    with pytest.raises(UnsupportedLayer):
        quantise_network(_Conv2dNet(), Precision(weight_bits=8))
    declared = _OwnThreshold()
    del declared.raw
    check_layers(declared)  # a declared threshold is fine
