"""Golden values: a two-layer network on generic_45nm, worked out by hand from the constants."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codesign.hardware import CATEGORIES, ChipConfig, estimate_cost
from codesign.trace import WorkloadTrace

EXACT = 1e-12


def test_two_layer_network_on_generic_45nm(golden_trace: WorkloadTrace, generic: ChipConfig) -> None:
    # 4 x 4 mesh, fewest cores, one layer at a time (the parallel execution is the next test)
    chip = generic.model_copy(update={"mesh_cols": 4, "mapping_policy": "pack", "execution": "layer_sequential"})
    report = estimate_cost(golden_trace, chip)

    # --- constants (hw_models/technology.yaml, Horowitz ISSCC 2014, 45 nm, nominal 0.9 V) ---
    add16 = 0.03 + (0.1 - 0.03) * (16 - 8) / 24            # linear through the 8/32-bit adds
    mult8x8 = 0.2                                           # 8-bit multiply
    mult8x2 = 0.2 * 8 * 2 / 64                              # quadratic rule: 2-bit payload x 8-bit weight
    mult16x16 = 0.2 * 16 * 16 / 64
    # SRAM: least squares of ln(E) on ln(KB) through (8, 10), (32, 20), (1024, 100).
    x = [math.log(8), math.log(32), math.log(1024)]
    y = [math.log(10), math.log(20), math.log(100)]
    mx, my = sum(x) / 3, sum(y) / 3
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y, strict=True)) / sum((xi - mx) ** 2 for xi in x)
    a = math.exp(my - b * mx)
    weight_bit = a * 64**b / 64                             # per bit of the 64 KB weight SRAM
    state_bit = a * 16**b / 64                              # per bit of the 16 KB state SRAM
    router_bit = 0.1                                        # noc_router_pj_per_bit

    # --- layer fc1: 20 real-valued inputs x fan-out 8 = 160 MACs (8-bit weight, 16-bit accumulate)
    mac = mult8x8 + add16
    update = mult16x16 + 2 * add16                          # leak multiply + add + threshold compare
    fc1 = {
        "synaptic_compute": 160 * mac,
        "weight_memory": 160 * 8 * weight_bit,
        "state_memory": 80 * 2 * 16 * state_bit,            # read + write 16-bit state per update
        "neuron_update": 80 * update,
        # both layers sit on core 0 and the host injects at core 0: no hops, one local delivery
        # per event; a real value travels as 16 header + 8 payload bits.
        "noc": 20 * (16 + 8) * router_bit,
        "offchip": 0.0,
    }
    # --- layer fc2: 12 graded spikes (levels <= 3 fit the chip's 4 payload bits: one event each)
    fc2 = {
        "synaptic_compute": 12 * 2 * (mult8x2 + add16),
        "weight_memory": 12 * 2 * 8 * weight_bit,
        "state_memory": 20 * 2 * 16 * state_bit,
        "neuron_update": 20 * update,
        "noc": 12 * (16 + 2) * router_bit,
        "offchip": 0.0,
    }

    # --- cycles: per step, max(PE, SRAM port, ingress, egress) + max(neuron units, state port)
    # fc1: 16 ops/step / 8 PEs = 2; 16 x 8 bits / 64-bit port = 2; 2 events x 1 flit = 2
    #      8 updates / 4 units = 2; 8 x 2 x 16 bits / 64 = 4   -> 2 + 4 = 6 per step
    # fc2: 2.4 ops / 8 = 0.3; 2.4 x 8 / 64 = 0.3; 1.2 events x 1 flit = 1.2
    #      2 updates / 4 = 0.5; 2 x 2 x 16 / 64 = 1             -> 1.2 + 1 = 2.2 per step
    # barrier: 2 cycles per hop x (4 columns + 4 rows) = 16 per step
    cycles = 10 * 6 + 10 * 2.2 + 10 * 16
    assert report.cycles == pytest.approx(cycles, rel=EXACT)
    assert list(report.cycles_by_layer) == pytest.approx([60.0, 22.0], rel=EXACT)
    latency_ms = cycles / (200.0 * 1e3)
    assert report.latency_ms == pytest.approx(latency_ms, rel=EXACT)

    # --- area: 16 cores x (SRAM + PEs + neuron units + router + control), 45 nm
    sram_mm2 = (64 + 16) * 8192 * 0.346 / 0.5 * 1e-6        # bit cell / array efficiency
    pe_um2 = 2.0 * ((36 + (137 - 36) * (16 - 8) / 24) + 282)  # adder(16) + multiplier(8x8), x2 overhead
    mult_area_exponent = math.log(3495 / 282) / math.log(16)   # through the 8x8 and 32x32 areas
    nu_um2 = 2.0 * (282 * (16 * 16 / 64) ** mult_area_exponent + 2 * (36 + (137 - 36) * (16 - 8) / 24))
    core_mm2 = sram_mm2 + (8 * pe_um2 + 4 * nu_um2) * 1e-6 + 0.0005 * 32 + 0.01
    area = 16 * core_mm2
    assert report.area_mm2 == pytest.approx(area, rel=EXACT)

    # --- static: 0.1 mW/mm^2 (45 nm LP leakage) over the latency (mW x ms = 1e6 pJ), split 60 : 22 by layer cycles
    static = area * 0.1 * latency_ms * 1e6
    fc1["static"] = static * 60 / 82
    fc2["static"] = static * 22 / 82

    expected = np.array([[fc1[c] for c in CATEGORIES], [fc2[c] for c in CATEGORIES]])
    assert report.energy_by_layer_category_pj == pytest.approx(expected, rel=EXACT)
    assert report.total_energy_pj == pytest.approx(expected.sum(), rel=EXACT)
    assert report.sram_used_kb == pytest.approx((32 * 8 + 16 * 8 + 8 * 16 + 2 * 16) / 8192, rel=EXACT)
    assert report.feasible and report.reasons == ()


def test_two_layer_network_timestep_parallel(golden_trace: WorkloadTrace, generic: ChipConfig) -> None:
    """The same network when every core runs every layer each step (generic_45nm's execution)."""
    chip = generic.model_copy(update={"mesh_cols": 4, "mapping_policy": "pack"})
    assert chip.execution == "timestep_parallel"
    sequential = estimate_cost(golden_trace, chip.model_copy(update={"execution": "layer_sequential"}))
    report = estimate_cost(golden_trace, chip)
    # Both layers on core 0, a packet is one 32-bit flit: 1 cycle to send, 1 to take in.
    # send pipeline of core 0 over the inference:
    #   fc1: max(80 updates / 4 units, 80 x 2 x 16 bits / 64-bit port) = 40, then its 12 spikes
    #        sent on to fc2 = 12; fc2: max(20 / 4, 20 x 32 / 64) = 10; the host's 20 packets = 20
    send = 40 + 12 + 10 + 20
    # receive pipeline: fc1 20 packets + max(160 ops / 8 PEs, 160 x 8 / 64) = 40;
    #                   fc2 12 packets + max(24 / 8, 24 x 8 / 64) = 15
    receive = 40 + 15
    assert send > receive
    # 10 steps of input, then 2 steps for the last input to reach fc2's neurons; no hop (one
    # core); barrier 2 cycles per hop x (4 + 4) per step.
    cycles = (10 + 2) * (send / 10 + 0 + 16)
    assert report.cycles == pytest.approx(cycles, rel=EXACT)
    assert report.barrier_cycles == pytest.approx(12 * 16, rel=EXACT)
    # per layer: the busiest core's longer pipeline on it (the static energy's split)
    assert list(report.cycles_by_layer) == pytest.approx([52.0, 15.0], rel=EXACT)
    # the energy of the actions does not depend on the schedule, only leakage does
    dynamic = [c for c in CATEGORIES if c != "static"]
    assert [report.energy_by_category_pj[c] for c in dynamic] == pytest.approx(
        [sequential.energy_by_category_pj[c] for c in dynamic], rel=EXACT)
    static = sequential.energy_by_category_pj["static"] * report.latency_ms / sequential.latency_ms
    assert report.energy_by_category_pj["static"] == pytest.approx(static, rel=EXACT)
