"""The analytic model: one implementation for one chip and for many, and the behaviour it promises."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from codesign.config import ConfigError
from codesign.hardware import (
    CATEGORIES,
    ChipArray,
    ChipConfig,
    CostReport,
    estimate_cost,
    estimate_cost_batch,
    load_chip,
    random_chip_columns,
    synthetic_trace,
)
from codesign.trace import WorkloadTrace

GRADED = dict(name="g", in_shape=(10,), out_shape=(5,), steps=10, weight_count=50, fan_out=5.0,
              input_size=100.0, input_events=30.0, input_level_sum=70.0, input_is_spike=True, levels=7,
              output_spikes=10.0, neuron_evaluations=50.0, state_size=5)


def _ops(trace: WorkloadTrace, **chip: object) -> float:
    """Synaptic operations the model charges: with 1 pJ per op, the compute energy counts them."""
    report = estimate_cost(trace, ChipConfig(synaptic_op_energy_pj=1.0, **chip))  # type: ignore[arg-type]
    return report.energy_by_category_pj["synaptic_compute"]


def test_batch_and_single_chip_agree_exactly() -> None:
    trace = synthetic_trace(5, seed=3, levels=[1, 3, 7, 1, 3], matmul_layers=(2,))
    chips = ChipArray.from_columns(random_chip_columns(40, seed=5))
    batch = estimate_cost_batch(trace, chips, by_layer=True)
    for i in range(len(chips)):
        single = estimate_cost(trace, chips.config(i))
        assert single.energy_by_layer_category_pj == pytest.approx(batch.energy_by_layer_category_pj[i], rel=1e-12)
        assert single.cycles == pytest.approx(batch.cycles[i], rel=1e-12)
        assert single.area_mm2 == pytest.approx(batch.area_mm2[i], rel=1e-12)
        assert single.feasible == bool(batch.feasible[i])
        assert single.reasons == batch.reasons(i)
    frame = pd.DataFrame({k: v for k, v in random_chip_columns(40, seed=5).items()})
    assert estimate_cost_batch(trace, frame).cycles == pytest.approx(batch.cycles, rel=1e-12)
    assert batch.total_energy_pj == pytest.approx(batch.energy_by_layer_category_pj.sum(axis=(1, 2)))


def test_graded_spikes_cost_one_event_only_where_the_payload_holds_the_levels(trace_factory: Any) -> None:
    trace = trace_factory(GRADED)
    assert _ops(trace, graded_spike_bits=3) == 30 * 5  # levels 1..7 need 3 bits: one event each
    assert _ops(trace, graded_spike_bits=2) == 70 * 5  # too narrow: a level-k spike is k events
    assert _ops(trace, graded_spike_bits=0) == 70 * 5
    # Zero skipping off: every input element, split into `levels` binary passes on a binary chip.
    assert _ops(trace, graded_spike_bits=3, zero_skipping=False) == 100 * 5
    assert _ops(trace, graded_spike_bits=0, zero_skipping=False) == 100 * 5 * 7


def test_graded_event_costs_a_small_multiply_and_binary_an_add(trace_factory: Any) -> None:
    trace = trace_factory(GRADED)
    graded = estimate_cost(trace, ChipConfig(graded_spike_bits=3)).energy_by_category_pj["synaptic_compute"]
    binary = estimate_cost(trace, ChipConfig(graded_spike_bits=0)).energy_by_category_pj["synaptic_compute"]
    add16 = 0.03 + 0.07 * 8 / 24
    assert binary == pytest.approx(70 * 5 * add16)
    assert graded == pytest.approx(30 * 5 * (0.2 * 8 * 3 / 64 + add16))


def test_loihi_like_costs_quoted_per_operation_energies(trace_factory: Any) -> None:
    trace = trace_factory(dict(GRADED, levels=1, input_level_sum=30.0))
    report = estimate_cost(trace, load_chip("loihi_like", {"mapping_policy": "pack"}))
    cat = report.energy_by_category_pj
    assert cat["synaptic_compute"] == pytest.approx(30 * 5 * 23.6)
    assert cat["weight_memory"] == 0.0  # included in the 23.6 pJ
    assert cat["neuron_update"] == pytest.approx((50 - 10) * 52.0 + 10 * 81.0)
    assert cat["state_memory"] == 0.0
    assert cat["noc"] == pytest.approx(30 * 1.7)  # host and layer on core 0: local spikes only


def test_spill_streams_weights_and_infeasible_says_why() -> None:
    trace = synthetic_trace(4, seed=1, widths=[64, 256, 256, 256, 32])
    small = dict(cores=2, weight_sram_kb_per_core=16.0, state_sram_kb_per_core=4.0)
    spill = estimate_cost(trace, ChipConfig(weight_overflow="spill", **small))
    assert spill.feasible and spill.offchip_bits > 0
    assert spill.energy_by_category_pj["offchip"] == pytest.approx(spill.offchip_bits * (1300 + 2600) / 2 / 64)
    roomy = estimate_cost(trace, ChipConfig(weight_overflow="spill", cores=2, weight_sram_kb_per_core=1024.0))
    assert roomy.offchip_bits == 0 and roomy.energy_by_category_pj["offchip"] == 0.0
    refused = estimate_cost(trace, ChipConfig(weight_overflow="infeasible", **small))
    assert not refused.feasible
    assert any(r.startswith("does not fit: weights need") for r in refused.reasons)
    assert np.isfinite(refused.total_energy_pj) and refused.cycles > 0
    assert (refused.weights_fit, refused.state_fits, refused.fits_on_chip) == (False, True, False)
    assert refused.metrics()["fits_on_chip"] == 0.0
    no_state = estimate_cost(trace, ChipConfig(cores=1, state_sram_kb_per_core=0.125, weight_overflow="spill"))
    assert not no_state.feasible and any("neuron state" in r for r in no_state.reasons)
    assert (no_state.weights_fit, no_state.state_fits) == (True, False)


def test_deadline_and_area_budget_are_typed_requirements() -> None:
    from codesign.hardware import ChipRequirements

    trace = synthetic_trace(3, seed=2)
    free = estimate_cost(trace, ChipConfig())
    assert (free.within_deadline, free.within_area) == (None, None)  # no requirement given
    late = estimate_cost(trace, ChipConfig(), requirements=ChipRequirements(free.latency_ms / 2, free.area_mm2 / 2))
    met = estimate_cost(trace, ChipConfig(), requirements=ChipRequirements(free.latency_ms * 2, free.area_mm2 * 2))
    assert free.feasible and not late.feasible and met.feasible
    assert (late.within_deadline, late.within_area) == (False, False)
    assert (met.within_deadline, met.within_area) == (True, True)
    assert [r.split(":")[0] for r in late.reasons] == ["misses deadline", "over area"]
    with pytest.raises(ValueError, match="finite"):
        ChipRequirements(max_area_mm2=float("inf"))


def test_split_spike_fraction_follows_the_graded_payload() -> None:
    trace = synthetic_trace(3, seed=2, levels=7)  # level-7 spikes need a 3-bit payload
    carried = estimate_cost(trace, ChipConfig(graded_spike_bits=3))
    split = estimate_cost(trace, ChipConfig(graded_spike_bits=2))
    assert carried.split_spike_fraction == 0.0
    assert split.split_spike_fraction == pytest.approx(1.0)
    assert split.metrics()["split_spike_fraction"] == pytest.approx(1.0)


def test_physical_trends() -> None:
    trace = synthetic_trace(4, seed=4, rates=0.3)
    base = ChipConfig(pes_per_core=1, mapping_policy="pack")
    faster = estimate_cost(trace, base.model_copy(update={"pes_per_core": 16}))
    slow = estimate_cost(trace, base)
    assert faster.cycles < slow.cycles and faster.area_mm2 > slow.area_mm2
    low_v = estimate_cost(trace, base.model_copy(update={"voltage_v": 0.45}))
    dynamic = [c for c in CATEGORIES if c not in ("static", "offchip")]
    ratio = sum(low_v.energy_by_category_pj[c] for c in dynamic) / sum(slow.energy_by_category_pj[c] for c in dynamic)
    assert ratio == pytest.approx((0.45 / 0.9) ** 2)
    assert estimate_cost(trace, base.model_copy(update={"node_nm": 7})).total_energy_pj < slow.total_energy_pj
    spread = estimate_cost(trace, base.model_copy(update={"mapping_policy": "spread"}))
    assert spread.utilisation["cores"] == 1.0 and spread.cycles < slow.cycles


def test_report_round_trips_through_json() -> None:
    report = estimate_cost(synthetic_trace(3, seed=6), load_chip("edge_kws"))
    back = CostReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.to_dict() == report.to_dict()
    assert back.energy_table().loc["total", "total"] == pytest.approx(report.total_energy_pj)
    assert report.energy_uj == pytest.approx(report.total_energy_pj * 1e-6)
    assert sum(report.energy_by_layer_pj.values()) == pytest.approx(sum(report.energy_by_category_pj.values()))


def test_empty_trace_and_bad_columns_are_config_errors(trace_factory: Any) -> None:
    trace = trace_factory(GRADED)
    with pytest.raises(ConfigError, match=r"cores\[1\]"):
        estimate_cost_batch(trace, {"cores": np.array([4, -1])})
    empty = WorkloadTrace(meta=trace.meta.model_copy(update={"layers": ()}))
    with pytest.raises(ConfigError, match="at least one layer"):
        estimate_cost(empty, ChipConfig())


def test_zero_weights_are_priced_once(trace_factory: Any) -> None:
    # As the recorder writes a pruned layer: 10 of 50 weights nonzero, so one event meets
    # 1 nonzero weight (fan_out) of the 5 it reaches (dense_macs / input_size).
    pruned = dict(GRADED, weight_count=50, weight_nonzero=10, levels=1, input_level_sum=30.0,
                  fan_out=1.0, dense_macs=500.0)
    trace = trace_factory(pruned)
    # Without sparse_weights every stored weight is processed, zeros included ...
    assert _ops(trace) == 30 * 5
    # ... with it only the nonzero ones, once (the trace's fan_out already excludes zeros).
    assert _ops(trace, sparse_weights=True) == pytest.approx(30 * 1)
    dense = estimate_cost(trace, ChipConfig(mapping_policy="pack"))
    sparse = estimate_cost(trace, ChipConfig(mapping_policy="pack", sparse_weights=True))
    index_bits = 3  # ceil(log2(5 stored targets))
    assert dense.sram_used_kb == pytest.approx((50 * 8 + 5 * 16) / 8192)
    assert sparse.sram_used_kb == pytest.approx((10 * (8 + index_bits) + 5 * 16) / 8192)
    # each touched weight is read with its index
    per_op = sparse.energy_by_category_pj["weight_memory"] / 30
    assert per_op == pytest.approx((8 + index_bits) / 8 * dense.energy_by_category_pj["weight_memory"] / (30 * 5))


def test_unicast_sync_and_the_spread_cap(trace_factory: Any) -> None:
    """Loihi-style unicast serialises a source's sending; the sync time adds per step; a layer
    never spreads over more cores than it has output neurons."""
    from codesign.hardware import simulate

    trace = trace_factory(GRADED)
    base = ChipConfig(cores=64, mesh_cols=8, noc_link_bits=64)
    multicast, unicast = estimate_cost(trace, base), estimate_cost(trace, base.model_copy(update={"noc_multicast": False}))
    assert unicast.cycles > multicast.cycles
    dynamic = [c for c in CATEGORIES if c != "static"]  # leakage grows with the latency
    assert [unicast.energy_by_category_pj[c] for c in dynamic] == pytest.approx(
        [multicast.energy_by_category_pj[c] for c in dynamic])
    simulated = simulate(trace, base.model_copy(update={"noc_multicast": False}), match_counts=False)
    assert simulated.cycles == pytest.approx(unicast.cycles, rel=0.15)
    synced = estimate_cost(trace, base.model_copy(update={"timestep_sync_ns": 1000.0}))
    steps = max(layer.steps for layer in trace.layers)
    assert synced.cycles - multicast.cycles == pytest.approx(steps * 1000.0 * base.clock_mhz / 1000.0)
    assert estimate_cost(trace, base).utilisation["cores"] <= 5 / 64 + 1e-9  # 5 output neurons


def test_sync_follows_the_tiles_in_use(trace_factory: Any) -> None:
    """SANA-FE's table: 0.6 us for one busy tile, 1.0 for 2-3, 1.4 for 4-28 (2 x 2-core tiles)."""
    trace = trace_factory(dict(GRADED, levels=1, input_level_sum=30.0))
    chip = load_chip("loihi_sanafe")
    clock_ghz = chip.clock_mhz / 1000.0
    token = chip.noc_hop_latency_cycles * (16 + 8)  # the barrier token crosses the 16 x 8 mesh
    steps = (10 + 1) * 1  # one layer: 10 steps of input, one step of pipeline fill
    one_core = estimate_cost(trace, chip.model_copy(update={"mapping_policy": "pack"}))
    assert one_core.barrier_cycles == pytest.approx(steps * (token + 600.0 * clock_ghz))
    # spread over its 5 output neurons: cores 0-4 of the first row, tiles 0, 1, 2 (two cores each)
    spread = estimate_cost(trace, chip)
    assert spread.barrier_cycles == pytest.approx(steps * (token + 1000.0 * clock_ghz))
    sequential = estimate_cost(trace, chip.model_copy(update={"mapping_policy": "pack",
                                                              "execution": "layer_sequential"}))
    assert sequential.barrier_cycles == pytest.approx(10 * (token + 600.0 * clock_ghz))


def test_congestion_cycles_per_copy_by_tile_hops(golden_trace: WorkloadTrace, generic: ChipConfig) -> None:
    """SANA-FE's congestion rule in closed form, copies split by destination tile: one copy per
    ``receive x sum_t w_t sum_u w_u O_tu / (L_t (L_t + 1))`` cycles (``receive / (tile hops +
    2)`` when all go to one tile), from the middle core of the layer before (the host, core 0,
    for the first layer); worked by hand."""
    from codesign.hardware._chip import as_chip_array
    from codesign.hardware._model import LayerArrays, congestion_cycles, layer_work, map_layers

    chip = generic.model_copy(update={"mesh_cols": 4, "mapping_policy": "spread", "tile_cols": 2, "tile_rows": 2})
    columns = {k: v[:, None] for k, v in as_chip_array(chip).columns.items()}
    layers = LayerArrays.from_trace(golden_trace)
    placement = map_layers(layers, columns, layer_work(layers, columns))
    # fc1 on cores 0-7 (rows 0-1 of the 4-wide mesh), fc2 on cores 8-9 (row 2)
    assert placement.core_first.tolist() == [[0.0, 8.0]]
    assert placement.core_last.tolist() == [[8.0, 10.0]]
    per_copy = congestion_cycles(columns, placement, np.array([[4.0]]), np.array([[6.0, 6.0]]))
    # fc1: host core 0 (tile 0,0) -> cores 0,1,4,5 (tile 0,0: L = 1, w = 1/2) and 2,3,6,7
    # (tile 1,0: L = 2, w = 1/2); the two tiles' routes share the injection link only:
    # tile 0,0: 1/2 x (1/2 x 1 + 1/2 x 1) / (1 x 2) = 1/4; tile 1,0: 1/2 x (1/2 x 2 + 1/2 x 1) / (2 x 3) = 1/8
    # fc2: from fc1's middle core 3 (tile 1,0) to cores 8-9 (tile 0,1, all copies): 2 hops, 1 / 4
    assert per_copy[0].tolist() == pytest.approx([6.0 * 0.375, 6.0 * 0.25], rel=1e-12)


def test_blocked_send_holds_a_source_to_its_slowest_destination(golden_trace: WorkloadTrace,
                                                                 generic: ChipConfig) -> None:
    """SANA-FE's blocking in closed form: a source keeps at most ``buffer / route`` copies of a
    layer in flight (``(tile hops + 2) x buffer`` on one route), so its send work on them lasts
    at least the layer's slowest destination core's receive work less that many mean receive
    times per step; nothing for unbounded buffers or a layer without copies. Worked by hand on
    the congestion test's 2 x 2-tile geometry."""
    from codesign.hardware._chip import as_chip_array
    from codesign.hardware._model import LayerArrays, blocked_send, layer_work, map_layers, route_sharing

    chip = generic.model_copy(update={"mesh_cols": 4, "mapping_policy": "spread", "tile_cols": 2, "tile_rows": 2})
    columns = {k: v[:, None] for k, v in as_chip_array(chip).columns.items()}
    layers = LayerArrays.from_trace(golden_trace)
    placement = map_layers(layers, columns, layer_work(layers, columns))
    route = route_sharing(columns, placement, np.array([[4.0]])).route
    assert route[0].tolist() == pytest.approx([0.375, 0.25], rel=1e-12)  # as in the congestion test
    # fc1 on 8 cores (largest share 1/8), fc2 on 2 (1/2); every core of a layer takes in each
    # of its packets (100 and 300 cycles over the inference) plus its share of the synaptic
    # work (800 each); 10 steps; a mean receive time of 6 cycles; buffers of 2 messages.
    each, share = np.array([[100.0, 300.0]]), np.array([[800.0, 800.0]])
    copies, mean_receive = np.array([[160.0, 24.0]]), np.array([[6.0]])
    held = blocked_send(placement, each, share, copies, route, mean_receive, np.array([[2.0]]), 10.0)
    # fc1: slowest core 100 + 800 / 8 = 200; in flight at most 2 / 0.375 copies x 6 cycles x 10
    #      steps = 320 > 200: never held.
    # fc2: slowest core 300 + 800 / 2 = 700; 2 / 0.25 x 6 x 10 = 480: held 220.
    assert held[0].tolist() == pytest.approx([0.0, 220.0], rel=1e-12)
    unbounded = blocked_send(placement, each, share, copies, route, mean_receive, np.array([[np.nan]]), 10.0)
    assert unbounded[0].tolist() == [0.0, 0.0]
    no_copies = blocked_send(placement, each, share, np.array([[160.0, 0.0]]), route, mean_receive,
                             np.array([[2.0]]), 10.0)
    assert no_copies[0].tolist() == [0.0, 0.0]


def test_blocking_slows_only_parallel_chips_with_bounded_buffers() -> None:
    """The blocking term holds senders back on a timestep-parallel chip whose link buffers are
    small; unbounded buffers (and buffers too large to fill) leave the latency bit-identical,
    and a layer-sequential chip never changes."""
    from codesign.hardware import lif_mlp_trace

    trace = lif_mlp_trace((40, 128, 128, 22), steps=10, rate=0.3, prune=0.5, seed=0)
    chip = load_chip("loihi_sanafe").model_copy(update={"cores": 4, "mesh_cols": 2})

    def latency(**update: object) -> float:
        return float(estimate_cost(trace, chip.model_copy(update=update)).latency_ms)

    unbounded = latency(noc_buffer_messages=None)
    assert latency(noc_buffer_messages=10**6) == unbounded
    assert latency(noc_buffer_messages=1) > 1.05 * unbounded
    sequential = latency(execution="layer_sequential", noc_buffer_messages=None)
    assert latency(execution="layer_sequential", noc_buffer_messages=1) == sequential
