"""The event-driven simulator: its counts follow the spike samples, and the analytic model agrees."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.hardware import (
    ChipArray,
    ChipConfig,
    estimate_cost,
    load_chip,
    random_chip_columns,
    simulate,
    synthetic_trace,
)
from codesign.hardware._simulator import _EAST, _EJECT, _Congestion, _fifo_finish


def test_fifo_queue_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    arrivals = np.sort(rng.uniform(0, 50, 40))
    service = rng.uniform(0.1, 3.0, 40)
    finish, last = [], 0.0
    for a, s in zip(arrivals, service, strict=True):
        last = max(a, last) + s
        finish.append(last)
    assert _fifo_finish(arrivals, service) == pytest.approx(finish)


def test_counts_follow_the_samples() -> None:
    trace = synthetic_trace(3, seed=11, levels=[1, 3, 3], widths=[16, 32, 24, 8])
    samples = trace.spike_samples
    graded = simulate(trace, ChipConfig(graded_spike_bits=2, mapping_policy="pack"))
    binary = simulate(trace, ChipConfig(graded_spike_bits=0, mapping_policy="pack"))
    events = sum(int(np.count_nonzero(s)) for s in samples.values())
    levels = sum(int(s.sum()) for name, s in samples.items() if name != "layer0")
    assert graded.counts["events_from_samples"] == events
    assert graded.counts["packets"] == events
    assert binary.counts["packets"] == np.count_nonzero(samples["layer0"]) + levels
    fan = {name: trace.layer(name).fan_out for name in samples}
    expected_ops = sum(np.count_nonzero(s) * fan[n] for n, s in samples.items())
    assert graded.counts["synaptic_ops"] == pytest.approx(expected_ops)
    assert graded.counts["events_synthesised"] == 0 and graded.scaled_layers == ()


def test_layers_without_samples_are_scaled_from_the_sampled_ones() -> None:
    trace = synthetic_trace(4, seed=12, rates=0.2, unsampled_layers=(3,))
    report = simulate(trace, load_chip("generic_45nm"))
    assert report.scaled_layers == ("layer3",)
    expected = trace.layer("layer3").input_events
    assert report.counts["events_synthesised"] == pytest.approx(expected, rel=0.3)


def test_busy_and_stall_cycles_fit_in_the_latency() -> None:
    trace = synthetic_trace(4, seed=13, rates=0.3)
    chip = ChipConfig(cores=8, pes_per_core=2)
    report = simulate(trace, chip)
    assert report.core_busy_cycles.shape == (8,)
    assert np.all(report.core_stall_cycles >= -1e-9)
    assert np.all(report.core_busy_cycles + report.core_stall_cycles <= report.cycles + 1e-6)
    assert report.core_busy_cycles.max() > 0


def test_narrow_links_make_packets_wait() -> None:
    trace = synthetic_trace(3, seed=14, rates=0.5, widths=[64, 64, 64, 8])
    wide = simulate(trace, ChipConfig(cores=16, pes_per_core=64, noc_link_bits=64))
    narrow = simulate(trace, ChipConfig(cores=16, pes_per_core=64, noc_link_bits=4))
    assert narrow.cycles > 2 * wide.cycles


@pytest.mark.parametrize("pair", range(6))
def test_analytic_model_agrees_with_the_simulator(pair: int) -> None:
    rng = np.random.default_rng(100 + pair)
    chip = ChipArray.from_columns(random_chip_columns(6, seed=99)).config(pair)
    n_layers = int(rng.integers(2, 6))
    trace = synthetic_trace(n_layers, seed=pair, steps=int(rng.integers(5, 20)), burstiness=1.0,
                            levels=[int(v) for v in rng.choice([1, 3, 7], n_layers)],
                            rates=float(rng.uniform(0.05, 0.4)))
    analytic = estimate_cost(trace, chip)
    simulated = simulate(trace, chip)
    assert analytic.cycles == pytest.approx(simulated.cycles, rel=0.15)
    assert analytic.total_energy_pj == pytest.approx(simulated.total_energy_pj, rel=0.05)


@pytest.mark.parametrize(("family", "variant"), [("spikeformer", "spiking"), ("mamba", "spiking")])
def test_recorded_trace_of_a_real_network_agrees(family: str, variant: str) -> None:
    """The recorder's trace (graded spikes, convs, attention matmuls, scans, unsampled layers)."""
    import torch

    from codesign.snn import build_model, parse_model_config
    from codesign.trace import record_trace

    torch.set_num_threads(1)
    torch.manual_seed(0)
    heads = {"heads": 2} if family == "spikeformer" else {}  # a Spikeformer field only
    cfg = parse_model_config({"family": family, "variant": variant, "width": 32, "depth": 1, **heads})
    model = build_model(cfg, 20, 10, "classify")
    features = torch.randn(2, 24, 20)
    trace = record_trace(model, features, torch.tensor([24, 20]), cfg)
    assert trace.spike_samples  # real spike tensors to replay
    chip = load_chip("generic_45nm")
    analytic = estimate_cost(trace, chip)
    simulated = simulate(trace, chip)
    assert analytic.cycles == pytest.approx(simulated.cycles, rel=0.15)
    assert analytic.total_energy_pj == pytest.approx(simulated.total_energy_pj, rel=0.05)
    assert simulated.counts["events_from_samples"] > 0


def test_congestion_follows_sanafe_detailed_scheduler() -> None:
    """SANA-FE's schedule_handle_message: delay = density along the route x mean receive time
    of the in-flight messages / (tile hops + 1); each in-flight message adds 1 / (hops + 2) to
    each of its route's hops + 1 links (worked by hand on a 4-column mesh of 2 x 2-core tiles)."""
    noc = _Congestion(cols=4, tile_cols=2, tile_rows=2)
    # core 0 (tile 0,0, port 0) -> core 2 (tile 1,0): its injection port, then tile 1 entered eastwards
    assert noc.route(0, 2) == [(0, 0, _EJECT), (1, 0, _EAST)]
    # core 5 (tile 0,0 at offset 1 * 2 + 1) -> core 4 (same tile): the injection port only
    assert noc.route(5, 4) == [(0, 0, _EJECT + 3)]
    assert noc.delay(0, 2) == 0.0  # an empty NoC adds nothing
    noc.enter(0, 2, received=100.0, service=6.0)
    # one message on the same route: density 2 x 1/3, mean receive 6, over h + 1 = 2 links
    assert noc.delay(0, 2) == pytest.approx(2.0 / 3.0 * 6.0 / 2.0)
    # core 1 -> core 3 (tile 0,0 port 1 -> tile 1,0): shares only the east link into tile 1
    assert noc.delay(1, 3) == pytest.approx(1.0 / 3.0 * 6.0 / 2.0)
    noc.enter(5, 4, received=50.0, service=2.0)
    # a second message in flight elsewhere lowers the mean receive time to 4
    assert noc.delay(0, 2) == pytest.approx(2.0 / 3.0 * 4.0 / 2.0)
    noc.settle(60.0)  # the core-5 message was taken in at 50: out of the NoC
    assert noc.delay(0, 2) == pytest.approx(2.0 / 3.0 * 6.0 / 2.0)
    noc.settle(100.0)
    assert noc.delay(0, 2) == 0.0


def test_full_link_buffers_hold_the_sender_back() -> None:
    """SANA-FE's blocking: a route holding more than (hops + 1) x noc_buffer_messages messages in
    flight holds its sender back; unbounded buffers never do."""
    from codesign.hardware import lif_mlp_trace, load_chip

    trace = lif_mlp_trace((32, 64, 16), steps=8, rate=0.5, seed=2)
    chip = load_chip("loihi_sanafe").model_copy(update={"cores": 4, "mesh_cols": 2})
    unbounded = simulate(trace, chip.model_copy(update={"noc_buffer_messages": None}), seed=0)
    huge = simulate(trace, chip.model_copy(update={"noc_buffer_messages": 10**6}), seed=0)
    tight = simulate(trace, chip.model_copy(update={"noc_buffer_messages": 1}), seed=0)
    assert huge.latency_ms == unbounded.latency_ms
    assert tight.latency_ms > 1.05 * unbounded.latency_ms
    # The analytic model's blocking term (test_model.py) is nothing with unbounded buffers.
    assert estimate_cost(trace, chip.model_copy(update={"noc_buffer_messages": 10**6})).latency_ms == estimate_cost(
        trace, chip.model_copy(update={"noc_buffer_messages": None})).latency_ms
