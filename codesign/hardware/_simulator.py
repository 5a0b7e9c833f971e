"""Event-driven simulator: replays a trace's real spike samples through the mapped chip.

The reference the analytic model is checked against. It uses the same mapping
(:func:`map_layers`), the same per-event work (:func:`layer_work`) and the same per-action
energies (:func:`action_energies`) as the analytic model, but counts every event and every
cycle instead of using averages. Per timestep, layer after layer (a timestep barrier after
the last one):

1. the layer's input events are read from its spike sample: its rows are spread evenly over
   the layer's runs (repeated when the sample has fewer rows than runs). The sample is one
   utterance while the trace is a batch average, so by default (``match_counts``) each run's
   events are thinned or repeated at random (seeded) to the trace's average count, keeping
   the sample's inputs, levels and step-to-step pattern. A level-k spike is k binary packets
   on a chip whose payload cannot hold the layer's levels. A layer without a sample gets
   synthesised events: per step the trace's mean count (times, without ``match_counts``,
   the ratio of sample events to trace events of the sampled layers) at random inputs, with
   levels matching the trace's mean level;
2. each event leaves the core holding its source neuron (the host at core 0 for the first
   layer) as one packet; a source core injects one flit per cycle (injection serialisation);
3. the packet is multicast along its XY tree (along the source row, then up and down each
   destination column), replicated at routers to every core holding the layer; every
   directed link and every core's ejection port carries one flit per cycle (link contention,
   first come first served in injection order), each hop adds ``noc_hop_latency_cycles``;
4. each core serves its arrived events in arrival order (a FIFO event queue): an event costs
   ``max(ops / pes, sram_words / ports)`` cycles (PE and SRAM-port contention); weights of a
   spilled layer first pass one chip-wide off-chip FIFO at the off-chip bandwidth;
5. when its queue is empty and all its packets have arrived, a core runs the neuron-update
   phase: ``max(updates / neuron_units, state_words / ports)`` cycles;
6. the layer ends when its slowest core ends; the next layer starts then.

Cycles are counted fractionally inside a phase (a PE array processing ``pes`` operations per
cycle shares a partial cycle between consecutive events).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codesign.hardware._chip import ChipArray, ChipConfig
from codesign.hardware._model import (
    LayerArrays,
    action_energies,
    barrier_cycles,
    chip_derived,
    core_shares,
    layer_work,
    map_layers,
    offchip_bits_per_cycle,
)
from codesign.hardware._report import EnergyTable
from codesign.hardware._technology import Technology, load_technology
from codesign.trace import WorkloadTrace

_EAST, _WEST, _NORTH, _SOUTH, _EJECT = 0, 1, 2, 3, 4


@dataclass(frozen=True, eq=False)
class SimulationReport(EnergyTable):
    """What the simulator counted for one inference.

    Attributes:
        energy_pj: ``[layers, categories]`` from the counted actions and the simulated latency.
        cycles, cycles_by_layer (time from a layer's start to its slowest core's end, summed
            over steps), barrier_cycles (all barriers), latency_ms.
        counts: totals of every action (``synaptic_ops``, ``packets``, ``packet_copies``,
            ``hops_x``, ``hops_y``, ``neuron_updates``, ``offchip_bits``, ``weight_sram_words``,
            ``state_sram_words``, ``events_from_samples``, ``events_synthesised``).
        core_busy_cycles, core_stall_cycles: per core; a stall is time a core holding the
            running layer spends neither serving an event nor updating neurons.
        scaled_layers: layers replayed from synthesised events (no sample in the trace).
    """

    chip_name: str
    layer_names: tuple[str, ...]
    energy_pj: np.ndarray
    cycles: float
    cycles_by_layer: np.ndarray
    barrier_cycles: float
    latency_ms: float
    counts: dict[str, float]
    core_busy_cycles: np.ndarray
    core_stall_cycles: np.ndarray
    scaled_layers: tuple[str, ...] = field(default_factory=tuple)



def _fifo_finish(arrivals: np.ndarray, service: np.ndarray) -> np.ndarray:
    """Finish times of a single FIFO server: ``f_n = max(a_n, f_{n-1}) + s_n``, vectorised.

    ``f_n = S_n + max_{k<=n}(a_k - S_{k-1})`` with ``S`` the running sum of service times.
    """
    total = np.cumsum(service)
    return total + np.maximum.accumulate(arrivals - (total - service))


class _Mesh:
    """Link and ejection-port reservations of the mesh (next free cycle of each)."""

    def __init__(self, cores: int, cols: int, hop_latency: float) -> None:
        self.cols = cols
        self.hop_latency = hop_latency
        self.free = np.zeros(cores * 5 + 5)

    def _hop(self, node: int, link: int, t: float, flits: float) -> float:
        slot = node * 5 + link
        t = max(t, self.free[slot])
        self.free[slot] = t + flits
        return t + self.hop_latency

    def multicast(self, src: int, columns: dict[int, list[tuple[int, int]]], start: float,
                  flits: float) -> tuple[dict[int, float], int, int]:
        """Send one packet along its XY multicast tree to every destination core.

        Args:
            src: source core.
            columns: destination column -> [(row, core), ...] sorted by row.
            start: cycle the packet leaves the source.
            flits: flits per packet (link cycles it occupies).

        Returns:
            (arrival cycle per destination core, x links used, y links used).
        """
        cols = self.cols
        xs, ys = src % cols, src // cols
        at_col = {xs: start}
        t, node = start, src
        for x in range(xs + 1, max(columns) + 1):
            t = self._hop(node, _EAST, t, flits)
            node += 1
            at_col[x] = t
        t, node = start, src
        for x in range(xs - 1, min(columns) - 1, -1):
            t = self._hop(node, _WEST, t, flits)
            node -= 1
            at_col[x] = t
        x_links = max(max(columns) - xs, 0) + max(xs - min(columns), 0)
        y_links = 0
        arrival: dict[int, float] = {}
        for d, cores_here in columns.items():
            at_row = {ys: at_col[d]}
            lo, hi = cores_here[0][0], cores_here[-1][0]
            t, node = at_col[d], ys * cols + d
            for y in range(ys + 1, hi + 1):
                t = self._hop(node, _SOUTH, t, flits)
                node += cols
                at_row[y] = t
            t, node = at_col[d], ys * cols + d
            for y in range(ys - 1, lo - 1, -1):
                t = self._hop(node, _NORTH, t, flits)
                node -= cols
                at_row[y] = t
            y_links += max(hi, ys) - min(lo, ys)
            for row, core in cores_here:
                slot = core * 5 + _EJECT
                t = max(at_row[row], self.free[slot])
                self.free[slot] = t + flits
                arrival[core] = t + flits
        return arrival, x_links, y_links


def simulate(
    trace: WorkloadTrace,
    chip: ChipConfig,
    *,
    tech: Technology | None = None,
    seed: int = 0,
    match_counts: bool = True,
) -> SimulationReport:
    """Replay ``trace`` on ``chip`` event by event (see the module docstring for the model).

    Args:
        trace: the workload; its ``spike_samples`` are replayed, layers without one are scaled.
        chip: the chip (mapped exactly as the analytic model maps it).
        tech: technology constants (hw_models/technology.yaml if None).
        seed: seed of the events synthesised for layers without samples (and of thinning).
        match_counts: replay each sample's pattern with its event count matched to the trace's
            average inference (the sample is one utterance, the trace a batch average), so the
            simulator counts the inference the analytic model costs; False replays the sample as is.
    """
    tech = tech if tech is not None else load_technology()
    rng = np.random.default_rng(seed)
    layers = LayerArrays.from_trace(trace)
    array = ChipArray.from_configs([chip])
    c = {k: v[:, None] for k, v in array.columns.items()}
    derived = chip_derived(c, tech)
    work = layer_work(layers, c)
    mapping = map_layers(layers, c, work)
    energies = action_energies(layers, c, work, derived, tech)

    def at(arr: np.ndarray, layer: int) -> float:
        return float(np.broadcast_to(arr, mapping.need.shape)[0, layer])

    n_layers = len(layers.names)
    cores = int(chip.cores)
    cols = int(derived.mesh_cols[0, 0])
    hop_latency = float(chip.noc_hop_latency_cycles)
    steps_l = layers.timesteps.astype(int)
    n_steps = int(steps_l.max())
    word = float(chip.sram_word_bits * chip.sram_ports_per_core)
    offchip_rate = float(offchip_bits_per_cycle(c)[0, 0])

    samples = {i: trace.spike_samples.get(name) for i, name in enumerate(layers.names)}
    sampled = [i for i in range(n_layers) if samples[i] is not None and samples[i].size]

    def rows_for(layer: int, k: int) -> np.ndarray:
        """Sample rows replayed by the layer's k-th run: the rows spread evenly over its runs."""
        n_rows = samples[layer].shape[0]
        if n_rows >= steps_l[layer]:
            return np.arange(k * n_rows // steps_l[layer], (k + 1) * n_rows // steps_l[layer])
        return np.array([k % n_rows])

    replayed = {i: sum(int(np.count_nonzero(samples[i][rows_for(i, k)])) for k in range(steps_l[i])) for i in sampled}
    # Per sampled layer, trace events / sample events: 1 when the sample is the trace's inference.
    count_ratio = {i: (layers.input_events[i] / replayed[i] if replayed[i] else 1.0) for i in sampled}
    expected = sum(layers.input_events[i] for i in sampled)
    observed = sum(replayed[i] for i in sampled)
    activity_ratio = 1.0 if match_counts or not sampled or expected <= 0 else observed / expected
    scaled = tuple(layers.names[i] for i in range(n_layers) if i not in sampled)

    placement = [core_shares(mapping, 0, i) for i in range(n_layers)]
    widths = [int(samples[i].shape[1]) if i in sampled else max(int(layers.input_width[i]), 1) for i in range(n_layers)]

    def source_cores(layer: int, index: np.ndarray) -> np.ndarray:
        if layer == 0:
            return np.zeros(index.shape, dtype=np.intp)
        cores_p, shares_p = placement[layer - 1]
        position = (index + 0.5) / widths[layer]
        slot = np.searchsorted(np.cumsum(shares_p), position, side="right")
        return cores_p[np.minimum(slot, len(cores_p) - 1)]

    def events_of(layer: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        if layers.local_input[layer]:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
        sample = samples[layer]
        if layer in sampled:
            block = sample[rows_for(layer, k)]
            _, idx = np.nonzero(block)
            lev = block[block != 0].astype(np.int64)
            if not match_counts or count_ratio[layer] == 1.0 or idx.size == 0:
                return idx, lev
            # Keep the sample's pattern, thin or repeat its events to the trace's average count.
            want = idx.size * count_ratio[layer]
            target = int(want) + int(rng.random() < want - int(want))
            pick = (rng.choice(idx.size, size=target, replace=False) if target <= idx.size
                    else np.concatenate([np.arange(idx.size), rng.choice(idx.size, size=target - idx.size)]))
            pick = np.sort(pick)
            return idx[pick], lev[pick]
        mean = layers.input_events[layer] / steps_l[layer] * activity_ratio
        count = int(mean) + int(rng.random() < mean - int(mean))
        # More events than input positions per step happens (a conv reading several frames).
        idx = np.sort(rng.choice(widths[layer], size=count, replace=count > widths[layer]))
        if layers.is_graded[layer] and layers.input_events[layer] > 0:
            level = layers.input_level_sum[layer] / layers.input_events[layer]
            lev = np.floor(level) + (rng.random(count) < level - np.floor(level))
        else:
            lev = np.ones(count)
        return idx, np.maximum(lev, 1).astype(np.int64)

    counts = dict.fromkeys(
        ("synaptic_ops", "packets", "packet_copies", "hops_x", "hops_y", "neuron_updates", "offchip_bits",
         "weight_sram_words", "state_sram_words", "events_from_samples", "events_synthesised"), 0.0)
    per_layer = {k: np.zeros(n_layers) for k in ("ops", "packets", "copies", "hops_x", "hops_y")}
    busy = np.zeros(cores)
    stall = np.zeros(cores)
    cycles_by_layer = np.zeros(n_layers)
    executions = np.zeros(n_layers, dtype=int)
    barrier = float(barrier_cycles(c, derived)[0, 0])
    clock = 0.0

    for t in range(n_steps):
        for layer in range(n_layers):
            if (t + 1) * steps_l[layer] // n_steps == t * steps_l[layer] // n_steps:
                continue
            k = int(executions[layer])
            executions[layer] += 1
            t0 = clock
            mesh = _Mesh(cores, cols, hop_latency)
            idx, lev = events_of(layer, k)
            counts["events_from_samples" if layer in sampled else "events_synthesised"] += idx.size
            split = bool(work.split[0, layer])
            if split:
                src = np.repeat(source_cores(layer, idx), lev)
            else:
                src = source_cores(layer, idx)
            n_packets = src.size
            dest, shares = placement[layer]
            flits = at(work.flits, layer)
            columns: dict[int, list[tuple[int, int]]] = {}
            for core in dest:
                columns.setdefault(int(core) % cols, []).append((int(core) // cols, int(core)))
            # Injection: a source core puts one flit per cycle on the mesh, packets in order.
            order = np.argsort(src, kind="stable")
            sorted_src = src[order]
            rank = np.empty(n_packets)
            rank[order] = np.arange(n_packets) - np.searchsorted(sorted_src, sorted_src, side="left")
            # Without multicast the source sends one copy per destination core, back to back.
            copies = 1 if chip.noc_multicast else dest.size
            inject = t0 + rank * flits * copies
            arrival = np.empty((n_packets, dest.size))
            column_of = {int(core): j for j, core in enumerate(dest)}
            hops_x = hops_y = 0
            for j in np.argsort(inject, kind="stable"):
                times, hx, hy = mesh.multicast(int(src[j]), columns, float(inject[j]), flits)
                for core, when in times.items():
                    arrival[j, column_of[core]] = when
                hops_x += hx
                hops_y += hy
            copy_dst = np.tile(dest, n_packets)
            copy_share = np.tile(shares, n_packets)
            arrival = arrival.reshape(-1)
            fan_out = at(work.fan_out, layer)
            ops_copy = fan_out * copy_share
            spilled = bool(mapping.spilled[0, layer])
            weight_op_bits = at(work.weight_op_bits, layer)
            sram_bits = at(work.operand_bits, layer) - (weight_op_bits if spilled else 0.0)
            if spilled and layers.has_weights[layer]:
                # One chip-wide off-chip FIFO feeds the weights of every event, in arrival order.
                by_arrival = np.argsort(arrival, kind="stable")
                fetched = np.empty_like(arrival)
                fetched[by_arrival] = _fifo_finish(arrival[by_arrival],
                                                   ops_copy[by_arrival] * weight_op_bits / offchip_rate)
                ready = fetched
            else:
                ready = arrival
            zero_skip = chip.zero_skipping
            dense_per_step = layers.input_size[layer] / steps_l[layer] * fan_out * (layers.levels[layer] if split else 1.0)
            # A dense sweep of a spilled layer streams every weight it uses through the one
            # off-chip port, shared by all the layer's cores.
            dense_stream_end = t0
            if not zero_skip and spilled and layers.has_weights[layer]:
                dense_stream_end = t0 + dense_per_step * weight_op_bits / offchip_rate
            updates_step = layers.neuron_updates[layer] / steps_l[layer]
            aux_step = layers.aux_ops[layer] / steps_l[layer]
            layer_ops = 0.0
            ends: list[float] = []
            layer_busy: list[float] = []
            for core, share in zip(dest, shares, strict=True):
                mine = copy_dst == core
                arr = np.sort(ready[mine])
                ops_each = fan_out * share
                service_each = max(ops_each / chip.pes_per_core, ops_each * sram_bits / word)
                if zero_skip:
                    finish = _fifo_finish(arr, np.full(arr.size, service_each))
                    syn_end = float(finish[-1]) if arr.size else t0
                    syn_busy = service_each * arr.size
                    core_ops = ops_each * arr.size
                else:
                    core_ops = dense_per_step * share
                    syn_busy = max(core_ops / chip.pes_per_core, core_ops * sram_bits / word)
                    syn_end = max(t0 + syn_busy, dense_stream_end, float(arr[-1]) if arr.size else t0)
                upd = updates_step * share
                neuron = max((upd + aux_step * share) / chip.neuron_units_per_core, upd * 2.0 * chip.state_bits / word)
                ends.append(syn_end + neuron)
                layer_busy.append(syn_busy + neuron)
                busy[core] += syn_busy + neuron
                layer_ops += core_ops
                counts["state_sram_words"] += upd * 2.0 * chip.state_bits / chip.sram_word_bits
                counts["weight_sram_words"] += core_ops * sram_bits / chip.sram_word_bits
            layer_end = max(ends)
            # A stall is the part of the layer's span a holding core spends neither serving nor updating.
            stall[dest] += (layer_end - t0) - np.array(layer_busy)
            cycles_by_layer[layer] += layer_end - t0
            clock = layer_end
            per_layer["ops"][layer] += layer_ops
            per_layer["packets"][layer] += n_packets
            per_layer["copies"][layer] += copy_dst.size
            per_layer["hops_x"][layer] += hops_x
            per_layer["hops_y"][layer] += hops_y
            counts["neuron_updates"] += updates_step
            if spilled and layers.has_weights[layer]:
                counts["offchip_bits"] += layer_ops * weight_op_bits
        clock += barrier

    cycles = clock
    latency_ms = cycles / (chip.clock_mhz * 1e3)
    counts["synaptic_ops"] = float(per_layer["ops"].sum())
    counts["packets"] = float(per_layer["packets"].sum())
    counts["packet_copies"] = float(per_layer["copies"].sum())
    counts["hops_x"] = float(per_layer["hops_x"].sum())
    counts["hops_y"] = float(per_layer["hops_y"].sum())

    def e(arr: np.ndarray) -> np.ndarray:
        return np.broadcast_to(arr, mapping.need.shape)[0]

    ops = per_layer["ops"]
    spilled_f = mapping.spilled[0].astype(float)
    spikes = layers.output_spikes
    updates = layers.neuron_updates
    synaptic = ops * e(energies.synaptic_op)
    weight_mem = ops * e(energies.weight_read_op) * (1.0 - spilled_f)
    offchip = ops * e(work.weight_op_bits) * spilled_f * e(energies.offchip_bit)
    state_mem = updates * e(energies.state_access_update) + ops * e(energies.operand_read_op)
    neuron = (updates - spikes) * e(energies.neuron_update) + spikes * e(energies.neuron_spike) + layers.aux_ops * e(energies.aux_op)
    noc = (per_layer["copies"] * e(energies.packet_local) + per_layer["hops_x"] * e(energies.hop_ew)
           + per_layer["hops_y"] * e(energies.hop_ns))
    static_total = float(derived.static_power_mw[0, 0]) * latency_ms * 1e6
    span = cycles_by_layer.sum()
    static = static_total * (cycles_by_layer / span if span > 0 else np.full(n_layers, 1.0 / n_layers))
    table = np.stack([synaptic, weight_mem, state_mem, neuron, noc, offchip, static], axis=-1)
    return SimulationReport(
        chip_name=chip.name,
        layer_names=layers.names,
        energy_pj=table,
        cycles=cycles,
        cycles_by_layer=cycles_by_layer,
        barrier_cycles=barrier * n_steps,
        latency_ms=latency_ms,
        counts=counts,
        core_busy_cycles=busy,
        core_stall_cycles=stall,
        scaled_layers=scaled,
    )
