"""Mixed precision (``ChipConfig.wide_weight_bits``): the wide layers priced at their own bits."""

from __future__ import annotations

from typing import Any

import pytest

from codesign.config import ConfigError
from codesign.hardware import ChipConfig, check_weight_bits, estimate_cost

#: A real-valued layer (MACs) marked wide, as the conv-fused RepSSA projections are, and an
#: ordinary spiking one.
WIDE = dict(name="proj", in_shape=(16,), out_shape=(16,), steps=10, weight_count=768, weight_nonzero=768,
            fan_out=48.0, input_size=160.0, input_events=120.0, input_is_spike=False, levels=0,
            output_spikes=40.0, neuron_evaluations=160.0, dense_macs=7680.0, state_size=16, wide_weights=True)
PLAIN = dict(name="fc", in_shape=(16,), out_shape=(16,), steps=10, weight_count=256, weight_nonzero=256,
             fan_out=16.0, input_size=160.0, input_events=40.0, input_level_sum=40.0, input_is_spike=True,
             levels=1, output_spikes=20.0, neuron_evaluations=160.0, dense_macs=2560.0, state_size=16)


def _chip(**fields: Any) -> ChipConfig:
    return ChipConfig(cores=2, **fields)


def test_a_2_bit_chip_with_4_bit_wide_layers_costs_between_pure_2_and_pure_4_bits(trace_factory: Any) -> None:
    trace = trace_factory(WIDE, PLAIN)
    w2, w2x4, w4 = (estimate_cost(trace, _chip(**fields))
                    for fields in ({"weight_bits": 2}, {"weight_bits": 2, "wide_weight_bits": 4}, {"weight_bits": 4}))
    # weights stored: the wide layer's 768 weights at 4 bits, the other 256 at 2
    assert w2x4.weight_kb == pytest.approx((768 * 4 + 256 * 2) / 8 / 1024)
    assert w2.weight_kb < w2x4.weight_kb < w4.weight_kb
    assert w2.total_energy_pj < w2x4.total_energy_pj < w4.total_energy_pj
    # the PEs multiply the widest word the chip holds: a 4-bit multiplier, as on the 4-bit chip
    assert w2.area_mm2 < w2x4.area_mm2 == pytest.approx(w4.area_mm2)


def test_the_wide_bits_touch_only_the_wide_layers(trace_factory: Any) -> None:
    plain = trace_factory(PLAIN)
    w2, w2x4 = (estimate_cost(plain, _chip(weight_bits=2, **extra)) for extra in ({}, {"wide_weight_bits": 4}))
    assert w2x4.weight_kb == w2.weight_kb
    assert w2x4.energy_by_category_pj["synaptic_compute"] == w2.energy_by_category_pj["synaptic_compute"]
    # not wider than weight_bits: every layer at weight_bits, the chip as it was
    wide = trace_factory(WIDE, PLAIN)
    assert estimate_cost(wide, _chip(weight_bits=8, wide_weight_bits=4)).to_dict() == \
        estimate_cost(wide, _chip(weight_bits=8)).to_dict()


def test_a_trace_quantised_with_4_bit_wide_layers_is_priced_only_on_such_a_chip(trace_factory: Any) -> None:
    trace = trace_factory({**WIDE, "weight_bits": 4}, {**PLAIN, "weight_bits": 2})
    estimate_cost(trace, _chip(weight_bits=2, wide_weight_bits=4))
    with pytest.raises(ConfigError, match="wide_weight_bits"):
        check_weight_bits(trace, 2, chip_wide_weight_bits=8)
    with pytest.raises(ConfigError, match=r"layers\[0\].weight_bits"):
        estimate_cost(trace, _chip(weight_bits=2))
    with pytest.raises(ConfigError, match=r"layers\[1\].weight_bits"):
        estimate_cost(trace, _chip(weight_bits=4))
