"""Chip precision on the network: weight grid, state fixed point, overflow counting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codesign.config import ConfigError, parse_spec
from codesign.snn import (
    Precision,
    SpikeformerConfig,
    SRNNConfig,
    StateFormat,
    build_model,
    integer_weights,
    quantise_network,
    quantise_weight,
    state_overflow_rate,
)


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_quantised_weights_take_at_most_2_to_the_b_values_per_output_channel(bits: int) -> None:
    weight = torch.randn(12, 7, 3)
    q = quantise_weight(weight, bits)
    for row in q:
        assert len(torch.unique(row)) <= 2**bits
    if bits == 2:  # the grid really is coarse: 2-bit weights are ternary
        assert all(len(torch.unique(row)) <= 3 for row in q)
    else:  # symmetric per-channel scale: each channel's largest magnitude is kept exactly
        assert torch.allclose(q.abs().amax(dim=(1, 2)), weight.abs().amax(dim=(1, 2)))


def _ternary_at(weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``weight`` on levels -1, 0, 1 times a per-row ``scale``."""
    return torch.clamp(torch.round(weight / scale[:, None]), -1, 1) * scale[:, None]


def test_a_ternary_channel_is_held_with_less_error_than_its_peak_scale_gives() -> None:
    torch.manual_seed(0)
    weight = torch.randn(16, 64)
    q = quantise_weight(weight, 2)
    peak = weight.abs().amax(dim=1)
    error = ((q - weight) ** 2).sum(dim=1)
    peak_error = ((_ternary_at(weight, peak) - weight) ** 2).sum(dim=1)
    assert bool((error < peak_error).all())
    # no candidate scale (fractions of the peak) does better than the one chosen
    for fraction in torch.linspace(0.05, 1.0, 40):
        assert bool((error <= ((_ternary_at(weight, fraction * peak) - weight) ** 2).sum(dim=1) + 1e-5).all())
    # a Gaussian row keeps about half its weights (the peak's scale keeps those above peak / 2)
    assert 0.3 < float((q != 0).float().mean()) < 0.8
    assert float((_ternary_at(weight, peak) != 0).float().mean()) < 0.25


def test_a_fused_projection_row_keeps_its_dominant_depthwise_taps_at_2_bits() -> None:
    # a fused RepSSA row: three depthwise taps about 10x the spread of its 64 pointwise weights;
    # the least-squares scale keeps them near their size (a threshold on the mean magnitude, as
    # ternary weight networks set it, would clip them to the pointwise weights' size)
    torch.manual_seed(1)
    weight = torch.zeros(64, 64, 3)
    weight[:, :, 1] = torch.randn(64, 64)
    diag = torch.arange(64)
    weight[diag, diag, :] = 10.0
    q = quantise_weight(weight, 2)
    assert bool((q[diag, diag, :] >= 7.0).all())
    mean_threshold_scale = 0.7 * weight.abs().reshape(64, -1).mean(dim=1)
    assert bool((mean_threshold_scale < 1.0).all())


def test_integer_weights_at_2_bits_are_ternary_levels_times_the_quantised_scale() -> None:
    torch.manual_seed(2)
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1), 40, 5, "classify").eval()
    fused, _ = quantise_network(net, Precision(weight_bits=2))
    for name, (levels, scale, bits) in integer_weights(fused, Precision(weight_bits=2)).items():
        assert bits == 2
        module_path, _, param = name.rpartition(".")
        weight = getattr(fused.get_submodule(module_path), param)
        assert int(levels.abs().max()) <= 1
        shape = (-1,) + (1,) * (levels.ndim - 1)
        assert torch.allclose(levels.float() * scale.reshape(shape), weight, atol=1e-6)


def test_straight_through_gradient_reaches_the_float_weight() -> None:
    weight = torch.randn(4, 5, requires_grad=True)
    quantise_weight(weight, 3).sum().backward()
    assert weight.grad is not None and torch.equal(weight.grad, torch.ones_like(weight))


def test_integer_weights_times_scale_is_the_quantised_weight() -> None:
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1), 40, 5, "classify").eval()
    fused, _ = quantise_network(net, Precision(weight_bits=4))
    ints = integer_weights(fused, Precision(weight_bits=4))
    assert ints, "no synaptic weights found"
    for name, (levels, scale, _) in ints.items():
        module_path, _, param = name.rpartition(".")
        weight = getattr(fused.get_submodule(module_path), param)
        assert levels.dtype == torch.int8 and int(levels.abs().max()) <= 7
        shape = (-1,) + (1,) * (levels.ndim - 1)
        assert torch.allclose(levels.float() * scale.reshape(shape), weight, atol=1e-6)


def test_state_saturates_and_counts_overflows() -> None:
    fmt = StateFormat(4)  # levels -7..7
    fmt(torch.tensor([0.5, -1.0]))  # calibration: peak 1.0
    fmt.freeze()
    out = fmt(torch.tensor([0.6, 3.0, -3.0, 0.0]))  # 0.6 is 4.2 steps of 1/7
    assert out.tolist() == pytest.approx([4 / 7, 1.0, -1.0, 0.0])
    assert (fmt.updates, fmt.overflows) == (4, 2)


@pytest.mark.parametrize("bad", [{"weight_bits": 1}, {"state_bits": 1}, {"weight_bits": 28}])
def test_unrepresentable_precision_is_a_clear_error(bad: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="cannot be represented"):
        parse_spec(Precision, bad, key_prefix="hw")


def test_state_bits_change_a_lif_network_and_overflows_are_counted() -> None:
    torch.manual_seed(0)
    cfg = SpikeformerConfig(width=16, heads=2, depth=1, neuron="lif", timesteps=3, threshold=0.3)
    net = build_model(cfg, 40, 5, "classify").eval()
    x, lengths = torch.randn(6, 30, 40), torch.full((6,), 30)
    reference = net(x, lengths)[0]
    # calibrated on a quiet input, scored on a loud one: the range is exceeded and counted
    q, summary = quantise_network(net, Precision(state_bits=3), calibrate=lambda m: m(0.1 * x, lengths))
    assert summary.state_sites > 0
    out = q(x, lengths)[0]
    assert not torch.allclose(out, reference)
    assert state_overflow_rate(q) > 0.0
    # float precision is the network itself
    same, _ = quantise_network(net, Precision())
    assert torch.allclose(same(x, lengths)[0], reference, atol=1e-5)


def test_gru_reference_refuses_state_quantisation() -> None:
    net = build_model(SRNNConfig(family="srnn", variant="gru", width=16, depth=1), 40, 5, "classify")
    assert any(isinstance(m, nn.GRU) for m in net.modules())
    with pytest.raises(ValueError, match="gru/lstm"):
        quantise_network(net, Precision(state_bits=8), calibrate=lambda m: None)


def test_a_2_bit_score_is_cached_under_its_grid_version() -> None:
    """The ternary grid changed (least-squares scale): a score cached at the old grid, under the
    plain label, is never read as the new grid's; wider grids keep their cached scores."""
    from codesign.snn import Precision

    assert Precision(weight_bits=2, state_bits=8).cache_label == "w2s8-t2"
    assert Precision(weight_bits=4, state_bits=8).cache_label == Precision(weight_bits=4, state_bits=8).label


def test_a_mixed_precision_chip_holds_exactly_the_fused_projections_wider() -> None:
    """``wide_weight_bits``: the conv-fused RepSSA projections at 4 bits, every other synaptic
    weight on the ternary grid; each module marked with the bits it is held in."""
    torch.manual_seed(3)
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3), 40, 5, "classify").eval()
    fused, _ = quantise_network(net, Precision(weight_bits=2, wide_weight_bits=4))
    attn = fused.blocks[0].attn
    wide = {id(m) for m in (attn.q_proj.fused, attn.k_proj.fused, attn.v_proj.fused)}
    ints = integer_weights(fused, Precision(weight_bits=2, wide_weight_bits=4))
    seen_wide = 0
    for name, (levels, _, bits) in ints.items():
        module = fused.get_submodule(name.rpartition(".")[0])
        held_wide = id(module) in wide
        seen_wide += held_wide
        assert (bits, module.weight_bits, module.wide_weights) == ((4, 4, True) if held_wide else (2, 2, False))
        assert int(levels.abs().max()) <= (7 if held_wide else 1)
        if held_wide:  # really on the 4-bit grid, not a ternary one
            assert int(levels.abs().max()) > 1
    assert seen_wide == 3 and len(ints) > 3
    pure, _ = quantise_network(net, Precision(weight_bits=2))
    assert not torch.equal(pure.blocks[0].attn.q_proj.fused.weight, attn.q_proj.fused.weight)
    assert torch.equal(pure.classifier.weight, fused.classifier.weight)


def test_a_mixed_precision_is_its_own_cache_label_and_one_form() -> None:
    mixed = Precision(weight_bits=2, state_bits=12, wide_weight_bits=4)
    assert mixed.label == "w2x4s12" and mixed.cache_label != Precision(weight_bits=2, state_bits=12).cache_label
    # wide bits no wider than the weights hold nothing wider: the plain precision, one label
    assert Precision(weight_bits=4, state_bits=12, wide_weight_bits=4) == Precision(weight_bits=4, state_bits=12)
    assert Precision(wide_weight_bits=8).label == "fp32"
    # as numpy numbers or text too: a swept chip's fields are not always Python ints
    import numpy as np

    assert Precision.model_validate({"weight_bits": np.int64(8), "state_bits": 16,
                                     "wide_weight_bits": np.int64(4)}) == Precision(weight_bits=8, state_bits=16)
    assert Precision.model_validate({"weight_bits": "8", "state_bits": 16, "wide_weight_bits": 4}).label == "w8s16"


def test_precisions_sort_by_their_bits_not_their_labels() -> None:
    """Sorted by label, w16 came before w4 and s12 before s8: the order of a sweep's precision
    groups (and so of its design ids) moved with the label's text."""
    grid = [Precision(weight_bits=w, state_bits=s) for w in (16, 4) for s in (12, 8)]
    assert [p.label for p in sorted(grid, key=lambda p: p.order)] == ["w4s8", "w4s12", "w16s8", "w16s12"]
    mixed = Precision(weight_bits=2, state_bits=12, wide_weight_bits=4)
    assert sorted([mixed, Precision(weight_bits=2, state_bits=12)], key=lambda p: p.order)[1] == mixed


def test_tap_scales_quantise_exactly_the_fused_projections_per_tap() -> None:
    """``tap_scales``: the conv-fused projections' weights ``[out, in, taps]`` on a grid per
    (output channel, tap), every other synaptic weight per output channel as before."""
    torch.manual_seed(3)
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3), 40, 5, "classify").eval()
    for bits in (2, 4):
        tapped = Precision(weight_bits=bits, state_bits=32, tap_scales=True)
        on_chip, _ = quantise_network(net, tapped)
        plain, _ = quantise_network(net, Precision(weight_bits=bits, state_bits=32))
        float_net, _ = quantise_network(net, Precision())
        attn, plain_attn, float_attn = on_chip.blocks[0].attn, plain.blocks[0].attn, float_net.blocks[0].attn
        for proj in ("q_proj", "k_proj", "v_proj"):
            weight = getattr(float_attn, proj).fused.weight
            got = getattr(attn, proj).fused.weight
            for tap in range(weight.shape[2]):  # each tap quantised on its own per output channel
                assert torch.equal(got[:, :, tap], quantise_weight(weight[:, :, tap].contiguous(), bits))
            assert not torch.equal(got, getattr(plain_attn, proj).fused.weight)
            # closer to the float weights than one scale per channel
            assert (got - weight).norm() < (getattr(plain_attn, proj).fused.weight - weight).norm()
        assert torch.equal(on_chip.classifier.weight, plain.classifier.weight)
        ints = integer_weights(on_chip, tapped)
        for name, (levels, scale, held) in ints.items():
            assert held == bits
            assert scale.shape == ((16, 3) if name.endswith("_proj.fused.weight") else (levels.shape[0],))
            param = on_chip.get_parameter(name)
            from codesign.snn import scale_like

            assert torch.equal(levels.float() * scale_like(scale, levels), param)  # round-trips exactly
            assert int(levels.abs().max()) <= (1 << (bits - 1)) - 1


def test_tap_scales_are_their_own_label_and_cache_label_and_one_form() -> None:
    tapped = Precision(weight_bits=4, state_bits=12, tap_scales=True)
    plain = Precision(weight_bits=4, state_bits=12)
    assert tapped.label == "w4s12-tap" and tapped.cache_label != plain.cache_label and tapped != plain
    assert Precision(weight_bits=2, state_bits=12, tap_scales=True).cache_label == "w2s12-tap-t2"
    assert Precision(weight_bits=2, state_bits=12, wide_weight_bits=4, tap_scales=True).label == "w2x4s12-tap"
    # float weights quantise nothing: no tap scales, one form
    assert Precision(state_bits=12, tap_scales=True) == Precision(state_bits=12)
    assert Precision(tap_scales=True).label == "fp32"
