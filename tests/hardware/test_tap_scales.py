"""Tap scales (``ChipConfig.tap_scales``): a scale per (output channel, kernel tap) of the wide
layers, priced as its rescale multiplies and its stored scales."""

from __future__ import annotations

from typing import Any

import pytest

from codesign.config import ConfigError
from codesign.hardware import ChipArray, ChipConfig, estimate_cost, load_chip
from codesign.hardware._chip import TAP_SCALE_BITS
from codesign.hardware._model import chip_derived
from codesign.hardware._simulator import simulate
from codesign.hardware._technology import add_energy_pj, load_technology, mult_energy_pj

#: A conv-fused projection (16 -> 16 channels, 3 taps: 16·16·3 weights + 16 biases), marked wide
#: with its taps as the recorder marks it, and an ordinary spiking layer.
WIDE = dict(name="proj", kind="synaptic_conv", in_shape=(16,), out_shape=(16,), steps=10, weight_count=784,
            weight_nonzero=784, fan_out=48.0, input_size=160.0, input_events=120.0, input_is_spike=False,
            levels=0, dense_macs=7680.0, wide_weights=True, taps=3)
PLAIN = dict(name="fc", in_shape=(16,), out_shape=(16,), steps=10, weight_count=256, weight_nonzero=256,
             fan_out=16.0, input_size=160.0, input_events=40.0, input_level_sum=40.0, input_is_spike=True,
             levels=1, output_spikes=20.0, neuron_evaluations=160.0, dense_macs=2560.0, state_size=16)


def _chip(**fields: Any) -> ChipConfig:
    return ChipConfig(**{"cores": 2, "weight_bits": 4, "state_bits": 12, **fields})


def test_tap_scales_cost_slightly_more_than_the_same_chip_without(trace_factory: Any) -> None:
    trace = trace_factory(WIDE, PLAIN)
    plain, tapped = estimate_cost(trace, _chip()), estimate_cost(trace, _chip(tap_scales=True))
    # 16 output channels x 2 extra taps x a 16-bit scale, beside the layer's weights
    assert tapped.weight_kb - plain.weight_kb == pytest.approx(16 * 2 * TAP_SCALE_BITS / 8 / 1024)
    compute = tapped.energy_by_category_pj["synaptic_compute"] - plain.energy_by_category_pj["synaptic_compute"]
    reads = tapped.energy_by_category_pj["weight_memory"] - plain.energy_by_category_pj["weight_memory"]
    # per output neuron and step, 2 rescales (a 12-bit multiply and add): 16 x 10 x 2 of them
    chip = _chip(tap_scales=True)
    tech = load_technology()
    scale = float(chip_derived(ChipArray.from_configs([chip]).block(), tech).energy_scale[0, 0])
    rescale_pj = float(mult_energy_pj(tech, 12, 12) + add_energy_pj(tech, 12)) * scale
    assert compute == pytest.approx(16 * 10 * 2 * rescale_pj)
    assert reads > 0
    assert plain.total_energy_pj < tapped.total_energy_pj < 1.2 * plain.total_energy_pj
    assert tapped.area_mm2 == plain.area_mm2  # the neuron units' multipliers rescale


def test_tap_scales_touch_only_the_wide_layers(trace_factory: Any) -> None:
    # a 3-tap conv that is not one of the wide layers keeps one scale per channel
    trace = trace_factory(PLAIN, {**WIDE, "wide_weights": False})
    assert estimate_cost(trace, _chip(tap_scales=True)).to_dict() == estimate_cost(trace, _chip()).to_dict()
    # float weights have no grid to scale per tap: the chip as it was
    wide = trace_factory(WIDE, PLAIN)
    assert estimate_cost(wide, _chip(tap_scales=True, weight_bits=32)).to_dict() == \
        estimate_cost(wide, _chip(weight_bits=32)).to_dict()


def test_the_simulator_prices_tap_scales_as_the_analytic_model(trace_factory: Any) -> None:
    trace = trace_factory(WIDE, PLAIN)
    added = [simulate(trace, _chip(**extra), seed=0).energy_by_layer_category_pj.sum(axis=0)
             for extra in ({}, {"tap_scales": True})]
    model = [estimate_cost(trace, _chip(**extra)) for extra in ({}, {"tap_scales": True})]
    categories = list(_chip().energy_categories)
    for name in ("synaptic_compute", "weight_memory"):
        i = categories.index(name)
        assert added[1][i] - added[0][i] == pytest.approx(
            model[1].energy_by_category_pj[name] - model[0].energy_by_category_pj[name], rel=1e-9)
    # a spilled layer streams its scales: priced in off-chip energy, not in time, by both
    spill = dict(cores=1, weight_sram_kb_per_core=0.2, weight_overflow="spill", offchip_bandwidth_gb_per_s=0.01)
    sims = [simulate(trace, _chip(**spill, **extra), seed=0) for extra in ({}, {"tap_scales": True})]
    costs = [estimate_cost(trace, _chip(**spill, **extra)) for extra in ({}, {"tap_scales": True})]
    assert costs[1].latency_ms == pytest.approx(costs[0].latency_ms, rel=1e-12)
    assert sims[1].latency_ms == pytest.approx(sims[0].latency_ms, rel=1e-12)
    i = categories.index("offchip")
    assert costs[1].energy_by_category_pj["offchip"] > costs[0].energy_by_category_pj["offchip"]
    assert sims[1].energy_by_layer_category_pj.sum(axis=0)[i] - sims[0].energy_by_layer_category_pj.sum(axis=0)[i] \
        == pytest.approx(costs[1].energy_by_category_pj["offchip"]
                         - costs[0].energy_by_category_pj["offchip"], rel=1e-9)


def test_an_unset_tap_scales_leaves_the_chip_dump_unchanged() -> None:
    chip = load_chip("edge_kws")
    assert "tap_scales" not in chip.to_dict()
    assert chip.model_copy(update={"tap_scales": True}).to_dict()["tap_scales"] is True


def test_a_trace_quantised_with_tap_scales_is_priced_only_on_such_a_chip(trace_factory: Any) -> None:
    tapped = trace_factory({**WIDE, "weight_bits": 4, "tap_scales": True}, {**PLAIN, "weight_bits": 4})
    estimate_cost(tapped, _chip(tap_scales=True))
    with pytest.raises(ConfigError, match=r"layers\[0\].tap_scales"):
        estimate_cost(tapped, _chip())
    estimate_cost(tapped, _chip(), requantise=True)  # priced on the chip's grid anyway, if asked
    plain = trace_factory({**WIDE, "weight_bits": 4}, {**PLAIN, "weight_bits": 4})
    with pytest.raises(ConfigError, match="tap_scales"):
        simulate(plain, _chip(tap_scales=True), seed=0)
    estimate_cost(trace_factory(WIDE, PLAIN), _chip(tap_scales=True))  # a float trace: any chip's grid


def test_the_recorder_marks_the_fused_projections_taps_and_grid() -> None:
    import torch

    from codesign.snn import Precision, SpikeformerConfig, build_model, quantise_network
    from codesign.trace import record_trace

    torch.manual_seed(0)
    cfg = SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3)
    net = build_model(cfg, 8, 5, "classify").eval()
    features, lengths = torch.randn(2, 12, 8), torch.tensor([12, 9])
    for tap in (False, True):
        on_chip, _ = quantise_network(net, Precision(weight_bits=4, tap_scales=tap))
        with torch.no_grad():
            trace = record_trace(on_chip, features, lengths, cfg, sample_spikes=False)
        wide = [layer for layer in trace.layers if layer.wide_weights]
        assert len(wide) == 3 and all(layer.taps == 3 and layer.tap_scales == tap for layer in wide)
        assert all(layer.taps == 1 and not layer.tap_scales for layer in trace.layers if not layer.wide_weights)
        estimate_cost(trace, _chip(tap_scales=tap))
