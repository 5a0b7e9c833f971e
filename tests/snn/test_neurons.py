"""Neurons: levels, the IMLS/IF equivalence, resets, and surrogate gradients."""

from __future__ import annotations

import pytest
import torch

from codesign.snn import (
    IMLS,
    LIF,
    SURROGATE_GRADS,
    FATReLU,
    SpikeformerConfig,
    make_neuron,
    spike,
    staircase,
)


def _if_spike_count(x: torch.Tensor, theta: torch.Tensor, steps: int) -> torch.Tensor:
    """Reference: a D-step integrate-and-fire neuron with soft reset driven by constant x."""
    v = torch.zeros_like(x)
    count = torch.zeros_like(x)
    for _ in range(steps):
        v = v + x
        fired = (v >= theta).to(x.dtype)
        count += fired
        v = v - fired * theta
    return count


@pytest.mark.parametrize("levels", [1, 2, 4, 7])
@pytest.mark.parametrize("adaptive", [True, False])
def test_imls_level_equals_if_spike_count(levels: int, adaptive: bool) -> None:
    neuron = IMLS(levels=levels, threshold=1.3, adaptive=adaptive).double()
    x = torch.randn(1, 50, 16, dtype=torch.float64) * 2.0
    out = neuron(x)
    theta = neuron.theta(x).detach().expand_as(x)
    expected = _if_spike_count(x, theta, levels)
    assert torch.equal(out, expected)
    assert set(out.unique().tolist()) <= set(range(levels + 1))
    assert out.max() == levels  # large inputs saturate at D


def test_imls_threshold_follows_input_scale() -> None:
    neuron = IMLS(levels=4, adaptive=True)
    x = torch.randn(1, 10, 32)
    assert torch.equal(neuron(x), neuron(x * 100.0))
    fixed = IMLS(levels=4, adaptive=False)
    assert not torch.equal(fixed(x), fixed(x * 100.0))


def test_imls_reports_threshold_reduction_cost() -> None:
    from codesign.snn import attach_probe

    class Sink:
        def __init__(self) -> None:
            self.calls: list[dict] = []

        def record_op(self, module, op, **counts):  # type: ignore[no-untyped-def]
            self.calls.append(counts)

    sink = Sink()
    neuron = IMLS(levels=4, adaptive=True)
    attach_probe(neuron, sink)
    neuron(torch.randn(1, 5, 8))
    attach_probe(neuron, None)
    neuron(torch.randn(1, 5, 8))  # detached: no report
    assert len(sink.calls) == 1
    assert sink.calls[0]["aux_ops"] == 5 * (2 * 8 + 2)
    assert sink.calls[0]["neuron_evaluations"] == 40


def test_lif_soft_and_hard_reset_by_hand() -> None:
    x = torch.tensor([0.6, 0.6, 0.6, 0.6]).reshape(4, 1)
    soft = LIF(threshold=1.0, decay=0.5, reset="soft")(x).flatten().tolist()
    # v: 0.6, 0.9, 1.05 -> spike, v=0.05; 0.625
    assert soft == [0.0, 0.0, 1.0, 0.0]
    x = torch.tensor([1.5, 0.8, 0.0]).reshape(3, 1)
    assert LIF(threshold=1.0, decay=0.5, reset="soft")(x).flatten().tolist() == [1.0, 1.0, 0.0]
    assert LIF(threshold=1.0, decay=0.5, reset="hard")(x).flatten().tolist() == [1.0, 0.0, 0.0]


def test_fatrelu_per_layer_and_per_channel() -> None:
    x = torch.tensor([[0.05, 0.2, -1.0, 0.5]])
    assert torch.equal(FATReLU(0.1)(x), torch.tensor([[0.0, 0.2, 0.0, 0.5]]))
    per_channel = FATReLU(0.1, channels=4)
    per_channel.threshold.copy_(torch.tensor([0.0, 0.3, 0.0, 0.6]))
    assert torch.equal(per_channel(x), torch.tensor([[0.05, 0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("name", sorted(SURROGATE_GRADS))
def test_surrogates_pass_gradient_and_step_forward(name: str) -> None:
    x = torch.linspace(-2, 2, 41, requires_grad=True)
    y = spike(x, name, 2.0)
    assert torch.equal(y, (x >= 0).float())
    y.sum().backward()
    assert x.grad is not None and x.grad[20] > 0  # nonzero at the threshold
    u = torch.linspace(-1, 6, 71, requires_grad=True)
    staircase(u, 4, name, 2.0).sum().backward()
    assert u.grad is not None and (u.grad[10:50] > 0).any()


@pytest.mark.parametrize("neuron", ["lif", "imls"])
@pytest.mark.parametrize("surrogate", sorted(SURROGATE_GRADS))
def test_surrogate_gradient_reaches_every_parameter(neuron: str, surrogate: str) -> None:
    from codesign.snn import build_model

    cfg = SpikeformerConfig(neuron=neuron, timesteps=2 if neuron == "lif" else 1, surrogate=surrogate,
                      width=16, heads=2, depth=1)
    model = build_model(cfg, n_features=8, n_outputs=5, head="ctc")
    x = torch.randn(3, 20, 8)
    out, _ = model(x, torch.tensor([20, 15, 9]))
    out.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_make_neuron_follows_config() -> None:
    assert isinstance(make_neuron(SpikeformerConfig(neuron="lif"), 8), LIF)
    imls = make_neuron(SpikeformerConfig(neuron="imls", levels=3), 8)
    assert isinstance(imls, IMLS) and imls.levels == 3
    assert isinstance(make_neuron(SpikeformerConfig(variant="ann"), 8), FATReLU)
    assert "levels=3" in repr(imls)
