"""A fourth model family added in this test, without editing the package: its config class is
its whole registration. It builds, trains, is quantised and traced like the shipped families,
and a family built from a layer codesign cannot quantise or trace is refused when built."""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest
import torch
from test_same_numbers import N_FEATURES, tiny_corpus
from torch import nn

from codesign.snn import (
    LIF,
    NeuronModelBase,
    Precision,
    UnsupportedLayer,
    build_model,
    make_neuron,
    spike_levels_of,
)
from codesign.trace import record_trace
from codesign.train import TrainConfig, score_at_precision, train


class ToyConfig(NeuronModelBase):
    """A LIF MLP over frames: the family's config, naming its builder below."""

    builder: ClassVar[str] = f"{__name__}:build_toy"
    family: Literal["toy"] = "toy"  # a family outside the package's union
    variant: Literal["spiking"] = "spiking"
    neuron: Literal["lif", "imls"] = "lif"
    hidden: int = 12


class ToyNet(nn.Module):
    def __init__(self, cfg: ToyConfig, n_features: int, n_outputs: int) -> None:
        super().__init__()
        self.timesteps = cfg.timesteps
        self.front = nn.Linear(n_features, cfg.hidden)
        self.act = make_neuron(cfg, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, n_outputs)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.front(features).unsqueeze(0).expand(self.timesteps, -1, -1, -1)
        logits = self.out(self.act(h)).mean(dim=0)
        mask = (torch.arange(logits.shape[1])[None] < lengths[:, None]).to(logits.dtype)[..., None]
        return (logits * mask).sum(1) / mask.sum(1), lengths


def build_toy(cfg: ToyConfig, n_features: int, n_outputs: int, head: str) -> nn.Module:
    return ToyNet(cfg, n_features, n_outputs)


class Conv2dToyConfig(ToyConfig):
    builder: ClassVar[str] = f"{__name__}:build_conv2d_toy"


def build_conv2d_toy(cfg: ToyConfig, n_features: int, n_outputs: int, head: str) -> nn.Module:
    net = ToyNet(cfg, n_features, n_outputs)
    net.front2d = nn.Conv2d(1, 1, 3)  # a layer codesign neither quantises nor traces
    return net


def test_a_toy_family_builds_trains_and_is_quantised_and_traced() -> None:
    cfg = ToyConfig(timesteps=2, threshold=0.5)
    assert spike_levels_of(cfg) == 1  # type: ignore[arg-type]  # not a member of the shipped union
    corpus = tiny_corpus("classification")
    net = build_model(cfg, N_FEATURES, 4, "classify")  # type: ignore[arg-type]  # not a member of the shipped union
    assert isinstance(net, ToyNet) and isinstance(net.act, LIF)
    result = train(cfg, corpus, TrainConfig(epochs=1, batch_size=6), seed=0)  # type: ignore[arg-type]
    assert len(result.loss_curve) == 2 and 0.0 <= result.metrics["validation_accuracy"] <= 1.0
    metrics, on_chip = score_at_precision(result.model, corpus, "classify", Precision(weight_bits=4, state_bits=8),
                                          calibration_utterances=8)
    assert metrics["weight_bits"] == 4.0
    assert isinstance(on_chip, ToyNet)
    for layer in (on_chip.front, on_chip.out):  # both synapses on a 4-bit grid: at most 15 levels per channel
        assert all(len(torch.unique(row)) <= 15 for row in layer.weight.detach())
    trace = record_trace(on_chip, corpus.test.features[:2], corpus.test.feature_lengths[:2], cfg)  # type: ignore[arg-type]
    layers = {layer.name: layer for layer in trace.meta.layers}
    assert trace.meta.family == "toy"
    assert layers["front"].kind == "synaptic_dense" and layers["front"].weight_bits == 4
    assert layers["out"].input_is_spike and layers["out"].weight_bits == 4
    assert layers["act.neuron"].kind == "state_update" and layers["act.neuron"].state_bits == 8
    assert layers["act.neuron"].neuron_evaluations > 0 and (layers["act.neuron"].membrane_updates or 0) > 0


def test_a_toy_family_with_an_unknown_layer_is_refused_when_built() -> None:
    with pytest.raises(UnsupportedLayer, match=r"'front2d' \(Conv2d\)"):
        build_model(Conv2dToyConfig(), N_FEATURES, 4, "classify")  # type: ignore[arg-type]


def test_the_shipped_families_are_one_table() -> None:
    from typing import get_args

    from codesign.snn import BUILDERS, FAMILY_CONFIGS, SPIKE_LEVELS
    from codesign.snn._config import Family

    assert set(get_args(Family)) == set(FAMILY_CONFIGS) == set(BUILDERS) == set(SPIKE_LEVELS)
    for family, cls in FAMILY_CONFIGS.items():
        assert cls().family == family and BUILDERS[family].__name__ == cls.builder.split(":")[1]
