"""Event-driven simulator: replays a trace's real spike samples through the mapped chip.

The reference the analytic model is checked against. It uses the same mapping
(:func:`map_layers`), the same per-event work (:func:`layer_work`) and the same per-action
energies (:func:`action_energies`) as the analytic model, but counts every event and every
cycle instead of using averages. On a ``timestep_parallel`` chip every layer of a step runs at
once (:func:`_run_step_parallel`: each core's send and receive pipelines, packets released as
their sources' neuron phases run, each copy delayed by SANA-FE's NoC congestion rule,
:class:`_Congestion`, and a sender held back while a route holds more messages than its
link buffers, ``noc_buffer_messages``). On a ``layer_sequential`` chip, per timestep, layer after
layer (a timestep barrier after the last one):

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

``simulate`` is three steps: the set-up (:class:`_Replay`: the chip mapped as the analytic model
maps it, and which events each layer run replays), the event replay (:func:`_replay`, one
:func:`_run_layer` per layer run) and the energy table, priced by the analytic model's own
:func:`energy_by_category_pj` from the counted actions.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from codesign.hardware._chip import ChipArray, ChipConfig
from codesign.hardware._energy import (
    ActionCounts,
    ActionEnergies,
    energy_by_category_pj,
    noc_energy_pj,
    static_energy_pj,
)
from codesign.hardware._model import (
    LayerArrays,
    LayerPlacement,
    LayerWork,
    action_energies,
    barrier_cycles,
    check_weight_bits,
    chip_derived,
    core_shares,
    layer_work,
    map_layers,
    message_cycles,
    offchip_bits_per_cycle,
    pipeline_depth,
)
from codesign.hardware._report import InferenceCost
from codesign.hardware._technology import Technology, load_technology
from codesign.trace import WorkloadTrace

_EAST, _WEST, _NORTH, _SOUTH, _EJECT = 0, 1, 2, 3, 4


@dataclass(frozen=True, eq=False)
class SimulationReport(InferenceCost):
    """What the simulator counted for one inference.

    Attributes:
        chip_name, layer_names, cycles, latency_ms: as in :class:`InferenceCost`.
        energy_by_layer_category_pj: ``[layers, categories]`` from the counted actions and the
            simulated latency.
        cycles_by_layer: time from a layer's start to its slowest core's end, summed over steps;
            barrier_cycles: all barriers.
        counts: totals of every action (``synaptic_ops``, ``packets``, ``packet_copies``,
            ``hops_x``, ``hops_y``, ``neuron_updates``, ``offchip_bits``, ``weight_sram_words``,
            ``state_sram_words``, ``events_from_samples``, ``events_synthesised``).
        core_busy_cycles, core_stall_cycles: per core; a stall is time a core holding the
            running layer spends neither serving an event nor updating neurons.
        scaled_layers: layers replayed from synthesised events (no sample in the trace).
    """

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

    def _hop(self, node: int, link: int, when: float, flits: float) -> float:
        slot = node * 5 + link
        when = max(when, self.free[slot])
        self.free[slot] = when + flits
        return when + self.hop_latency

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
        src_col, src_row = src % cols, src // cols
        at_col = {src_col: start}
        when, node = start, src
        for x in range(src_col + 1, max(columns) + 1):
            when = self._hop(node, _EAST, when, flits)
            node += 1
            at_col[x] = when
        when, node = start, src
        for x in range(src_col - 1, min(columns) - 1, -1):
            when = self._hop(node, _WEST, when, flits)
            node -= 1
            at_col[x] = when
        x_links = max(max(columns) - src_col, 0) + max(src_col - min(columns), 0)
        y_links = 0
        arrival: dict[int, float] = {}
        for col, cores_here in columns.items():
            at_row = {src_row: at_col[col]}
            lo, hi = cores_here[0][0], cores_here[-1][0]
            when, node = at_col[col], src_row * cols + col
            for y in range(src_row + 1, hi + 1):
                when = self._hop(node, _SOUTH, when, flits)
                node += cols
                at_row[y] = when
            when, node = at_col[col], src_row * cols + col
            for y in range(src_row - 1, lo - 1, -1):
                when = self._hop(node, _NORTH, when, flits)
                node -= cols
                at_row[y] = when
            y_links += max(hi, src_row) - min(lo, src_row)
            for row, core in cores_here:
                slot = core * 5 + _EJECT
                when = max(at_row[row], self.free[slot])
                self.free[slot] = when + flits
                arrival[core] = when + flits
        return arrival, x_links, y_links


class _Congestion:
    """The NoC congestion delay of SANA-FE's detailed timing model (SANA-FE 2.x,
    ``src/schedule.cpp``: ``schedule_handle_message``, ``NocInfo::update_message_density``,
    ``NocInfo::calculate_route_congestion``, ``NocInfo::update_rolling_averages``;
    github.com/SLAM-Lab/SANA-FE, read at commit 8951ab0; the cross-check runs sanafe 2.2.9).

    A message is in the NoC from when it is sent until its destination core starts taking it
    in (its ``received_timestamp``: arrival, or later when that core is still busy). While in
    the NoC it adds ``1 / (hops + 2)`` to each of the ``hops + 1`` links of its dimension-order
    route: the source's injection link, then per node after the source the link it enters
    by. A new message on a route of ``h`` hops is delayed by

        ``max(min hop delay, density summed along its route x mean receive time of the
        messages in the NoC / (h + 1))``

    (the mean is over the in-flight messages' ``processing_delay``: message-in plus the
    synaptic work at the destination). As in SANA-FE the routers are per tile
    (``tile_cols`` x ``tile_rows`` cores; each core has its own injection port), so ``h``
    counts tile hops here; the mesh trip itself stays codesign's. SANA-FE's blocking (a route
    holding more than ``(h + 1) x noc_buffer_messages`` messages holds the sender back by the
    excess x the mean receive time) is applied by :func:`_run_step_parallel` with
    :meth:`along` and :meth:`mean_receive`. The rules and their constants are SANA-FE's; none
    was fitted.
    """

    def __init__(self, cols: int, tile_cols: int, tile_rows: int) -> None:
        self.cols, self.tile_cols, self.tile_rows = cols, tile_cols, tile_rows
        self.density: dict[tuple[int, int, int], float] = {}
        self.in_noc: list[tuple[float, int, int, int, float]] = []
        self.serial = 0
        self.receive_sum = 0.0

    def route(self, src: int, dest: int) -> list[tuple[int, int, int]]:
        """The ``hops + 1`` links of the XY route between the cores' tiles: (tile x, tile y,
        port entered by), the source tile's port being its core's injection port."""
        cols, tw, th = self.cols, self.tile_cols, self.tile_rows
        x, y = (src % cols) // tw, (src // cols) // th
        dx, dy = (dest % cols) // tw, (dest // cols) // th
        links = [(x, y, _EJECT + ((src // cols) % th) * tw + (src % cols) % tw)]
        east, south = dx > x, dy > y
        while x != dx:
            x += 1 if east else -1
            links.append((x, y, _EAST if east else _WEST))
        while y != dy:
            y += 1 if south else -1
            links.append((x, y, _SOUTH if south else _NORTH))
        return links

    def settle(self, now: float) -> None:
        """Take out of the NoC every message received by ``now`` (``noc_update_all_tracked_messages``)."""
        while self.in_noc and self.in_noc[0][0] <= now:
            _, _, src, dest, service = heapq.heappop(self.in_noc)
            self._track(src, dest, service, -1.0)

    def _track(self, src: int, dest: int, service: float, sign: float) -> None:
        links = self.route(src, dest)
        step = sign / (len(links) + 1.0)
        for link in links:
            self.density[link] = self.density.get(link, 0.0) + step
        self.receive_sum += sign * service

    def mean_receive(self) -> float:
        """Mean receive time of the messages in the NoC (0 when none)."""
        return self.receive_sum / len(self.in_noc) if self.in_noc else 0.0

    def along(self, src: int, dest: int) -> tuple[float, int]:
        """Messages in flight along the route from ``src`` to ``dest`` (the density summed over
        its links), and its ``hops + 1`` links."""
        links = self.route(src, dest)
        return max(sum(self.density.get(link, 0.0) for link in links), 0.0), len(links)

    def delay(self, src: int, dest: int) -> float:
        """The congestion delay of a message sent now from ``src`` to ``dest`` (cycles)."""
        if not self.in_noc:
            return 0.0
        along, n_links = self.along(src, dest)
        return along * self.mean_receive() / n_links

    def enter(self, src: int, dest: int, received: float, service: float) -> None:
        """A message enters the NoC until cycle ``received``."""
        self.serial += 1
        heapq.heappush(self.in_noc, (received, self.serial, src, dest, service))
        self._track(src, dest, service, 1.0)


@dataclass(frozen=True, eq=False)
class _Replay:
    """The set-up of one replay: the chip mapped as the analytic model maps it, and what each
    layer run replays.

    Attributes:
        chip: the chip; ``layers``, ``work``, ``placement``, ``energies`` and ``derived`` as
            the analytic model computes them for it (one chip: ``[1, layers]`` arrays).
        samples: the nonempty spike samples, by layer index; ``scaled`` the names of the layers
            without one.
        steps: runs of each layer per inference; ``n_steps`` the most.
        count_ratio: per sampled layer, trace events / sample events (1 when the sample is the
            trace's inference); ``activity_ratio`` scales the synthesised layers' events.
        placement_cores: per layer, the cores holding it and its neuron share on each.
        widths: input positions of each layer (the sample's width when it has one).
        rng: the seeded generator of thinning and synthesis (drawn in replay order).
    """

    chip: ChipConfig
    layers: LayerArrays
    work: LayerWork
    placement: LayerPlacement
    energies: ActionEnergies
    static_power_mw: float
    mesh_cols: int
    barrier: float
    sram_port_bits: float
    offchip_rate: float
    samples: dict[int, np.ndarray]
    scaled: tuple[str, ...]
    steps: np.ndarray
    n_steps: int
    count_ratio: dict[int, float]
    activity_ratio: float
    match_counts: bool
    placement_cores: list[tuple[np.ndarray, np.ndarray]]
    widths: list[int]
    rng: np.random.Generator
    msg_out: np.ndarray
    msg_in: np.ndarray
    depth: int

    @classmethod
    def set_up(
        cls, trace: WorkloadTrace, chip: ChipConfig, tech: Technology, seed: int, match_counts: bool,
        placement: LayerPlacement | None = None,
    ) -> _Replay:
        layers = LayerArrays.from_trace(trace)
        columns = ChipArray.from_configs([chip]).block()
        derived = chip_derived(columns, tech)
        work = layer_work(layers, columns)
        if placement is None:
            placement = map_layers(layers, columns, work)
        placement.check_fits(layers, 1)
        energies = action_energies(layers, columns, work, derived, tech)
        n_layers = len(layers.names)
        steps = layers.steps.astype(int)
        samples = _replayed_samples(trace, layers)
        count_ratio, activity_ratio = _activity_ratios(layers, samples, steps, match_counts)
        msg_out, msg_in = message_cycles(columns, work)
        return cls(
            chip=chip,
            layers=layers,
            work=work,
            placement=placement,
            energies=energies,
            static_power_mw=float(derived.static_power_mw[0, 0]),
            mesh_cols=int(derived.mesh_cols[0, 0]),
            barrier=float(barrier_cycles(columns, derived, placement)[0, 0]),
            sram_port_bits=float(chip.sram_word_bits * chip.sram_ports_per_core),
            offchip_rate=float(offchip_bits_per_cycle(columns)[0, 0]),
            samples=samples,
            scaled=tuple(layers.names[i] for i in range(n_layers) if i not in samples),
            steps=steps,
            n_steps=int(steps.max()),
            count_ratio=count_ratio,
            activity_ratio=activity_ratio,
            match_counts=match_counts,
            placement_cores=[core_shares(placement, 0, i) for i in range(n_layers)],
            widths=[_input_width(layers, samples, i) for i in range(n_layers)],
            rng=np.random.default_rng(seed),
            msg_out=np.broadcast_to(msg_out, placement.need.shape)[0],
            msg_in=np.broadcast_to(msg_in, placement.need.shape)[0],
            depth=pipeline_depth(layers),
        )

    def at(self, arr: np.ndarray, layer: int) -> float:
        """The chip's value of a ``[1, layers]`` (or broadcastable) array for one layer."""
        return float(np.broadcast_to(arr, self.placement.need.shape)[0, layer])

    def source_cores(self, layer: int, index: np.ndarray) -> np.ndarray:
        """The core holding the source neuron of each input ``index`` (the host, core 0, for layer 0)."""
        if layer == 0:
            return np.zeros(index.shape, dtype=np.intp)
        cores_p, shares_p = self.placement_cores[layer - 1]
        position = (index + 0.5) / self.widths[layer]
        slot = np.searchsorted(np.cumsum(shares_p), position, side="right")
        return cores_p[np.minimum(slot, len(cores_p) - 1)]

    def events_of(self, layer: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Input positions and levels of the layer's ``k``-th run (see the module docstring)."""
        layers, rng = self.layers, self.rng
        if layers.local_input[layer]:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
        if layer in self.samples:
            sample = self.samples[layer]
            block = sample[_rows_for(sample, self.steps[layer], k)]
            _, idx = np.nonzero(block)
            lev = block[block != 0].astype(np.int64)
            if not self.match_counts or self.count_ratio[layer] == 1.0 or idx.size == 0:
                return idx, lev
            # Keep the sample's pattern, thin or repeat its events to the trace's average count.
            want = idx.size * self.count_ratio[layer]
            target = int(want) + int(rng.random() < want - int(want))
            pick = (rng.choice(idx.size, size=target, replace=False) if target <= idx.size
                    else np.concatenate([np.arange(idx.size), rng.choice(idx.size, size=target - idx.size)]))
            pick = np.sort(pick)
            return idx[pick], lev[pick]
        mean = layers.input_events[layer] / self.steps[layer] * self.activity_ratio
        count = int(mean) + int(rng.random() < mean - int(mean))
        # More events than input positions per step happens (a conv reading several frames).
        width = self.widths[layer]
        idx = np.sort(rng.choice(width, size=count, replace=count > width))
        if layers.is_graded[layer] and layers.input_events[layer] > 0:
            level = layers.input_level_sum[layer] / layers.input_events[layer]
            lev = np.floor(level) + (rng.random(count) < level - np.floor(level))
        else:
            lev = np.ones(count)
        return idx, np.maximum(lev, 1).astype(np.int64)


def _replayed_samples(trace: WorkloadTrace, layers: LayerArrays) -> dict[int, np.ndarray]:
    """The trace's nonempty spike samples, by layer index."""
    samples = ((i, trace.spike_samples.get(name)) for i, name in enumerate(layers.names))
    return {i: sample for i, sample in samples if sample is not None and sample.size}


def _activity_ratios(layers: LayerArrays, samples: dict[int, np.ndarray], steps: np.ndarray,
                     match_counts: bool) -> tuple[dict[int, float], float]:
    """Per sampled layer, trace events / the events its runs replay (1 when none), and the
    factor of the synthesised layers' events (sample events / trace events of the sampled
    layers without ``match_counts``, else 1)."""
    events = {
        i: sum(int(np.count_nonzero(sample[_rows_for(sample, steps[i], k)])) for k in range(steps[i]))
        for i, sample in samples.items()
    }
    count_ratio = {i: (layers.input_events[i] / events[i] if events[i] else 1.0) for i in samples}
    expected = sum(layers.input_events[i] for i in samples)
    observed = sum(events.values())
    return count_ratio, 1.0 if match_counts or not samples or expected <= 0 else observed / expected


def _input_width(layers: LayerArrays, samples: dict[int, np.ndarray], layer: int) -> int:
    """Input positions of a layer: its sample's width when it has one."""
    if layer in samples:
        return int(samples[layer].shape[1])
    return max(int(layers.input_width[layer]), 1)


def _rows_for(sample: np.ndarray, runs: int, k: int) -> np.ndarray:
    """Sample rows replayed by a layer's k-th run: the rows spread evenly over its ``runs``."""
    n_rows = sample.shape[0]
    if n_rows >= runs:
        return np.arange(k * n_rows // runs, (k + 1) * n_rows // runs)
    return np.array([k % n_rows])


@dataclass
class _Tally:
    """What the replay counts: action totals, per-layer traffic, per-core time, the clock."""

    counts: dict[str, float]
    ops: np.ndarray
    packets: np.ndarray
    copies: np.ndarray
    hops_x: np.ndarray
    hops_y: np.ndarray
    busy: np.ndarray
    stall: np.ndarray
    cycles_by_layer: np.ndarray
    clock: float = 0.0

    @classmethod
    def empty(cls, n_layers: int, cores: int) -> _Tally:
        counts = dict.fromkeys(
            ("synaptic_ops", "packets", "packet_copies", "hops_x", "hops_y", "neuron_updates", "offchip_bits",
             "weight_sram_words", "state_sram_words", "events_from_samples", "events_synthesised"), 0.0)
        return cls(counts=counts, ops=np.zeros(n_layers), packets=np.zeros(n_layers), copies=np.zeros(n_layers),
                   hops_x=np.zeros(n_layers), hops_y=np.zeros(n_layers), busy=np.zeros(cores),
                   stall=np.zeros(cores), cycles_by_layer=np.zeros(n_layers))


def _replay(replay: _Replay) -> _Tally:
    """Run every layer at every step it runs, with a barrier after each step: layer after
    layer on a ``layer_sequential`` chip, all at once on a ``timestep_parallel`` one."""
    n_layers = len(replay.layers.names)
    tally = _Tally.empty(n_layers, int(replay.chip.cores))
    executions = np.zeros(n_layers, dtype=int)
    n_steps = replay.n_steps
    parallel = replay.chip.execution == "timestep_parallel"
    for t in range(n_steps):
        running = []
        for layer in range(n_layers):
            steps = replay.steps[layer]
            if (t + 1) * steps // n_steps == t * steps // n_steps:
                continue
            running.append((layer, int(executions[layer])))
            executions[layer] += 1
        if parallel:
            tally.clock = _run_step_parallel(replay, running, tally.clock, tally)
        else:
            for layer, k in running:
                tally.clock = _run_layer(replay, layer, k, tally.clock, tally)
        tally.clock += replay.barrier
    if parallel and n_steps:
        # The pipeline fill: the last input's spikes reach the deepest layer ``depth`` steps
        # later; those steps are charged at the mean step's length.
        tally.clock *= (n_steps + replay.depth) / n_steps
    for key, per_layer in (("synaptic_ops", tally.ops), ("packets", tally.packets),
                           ("packet_copies", tally.copies), ("hops_x", tally.hops_x), ("hops_y", tally.hops_y)):
        tally.counts[key] = float(per_layer.sum())
    return tally


def _dest_columns(dest: np.ndarray, cols: int) -> dict[int, list[tuple[int, int]]]:
    """A layer's destination cores by mesh column: column -> [(row, core), ...] (as :meth:`_Mesh.multicast` takes them)."""
    columns: dict[int, list[tuple[int, int]]] = {}
    for core in dest:
        columns.setdefault(int(core) % cols, []).append((int(core) // cols, int(core)))
    return columns


@dataclass(frozen=True)
class _WeightReads:
    """What one synaptic operation of a layer reads on the chip: ``fan_out`` operations per
    event, ``weight_op_bits`` of weight each, ``sram_bits`` from SRAM (a spilled layer's weights
    come from off-chip instead: ``streams``)."""

    fan_out: float
    weight_op_bits: float
    sram_bits: float
    streams: bool

    @classmethod
    def of(cls, replay: _Replay, layer: int) -> _WeightReads:
        work = replay.work
        spilled = bool(replay.placement.spilled[0, layer])
        weight_op_bits = replay.at(work.weight_op_bits, layer)
        return cls(fan_out=replay.at(work.fan_out, layer), weight_op_bits=weight_op_bits,
                   sram_bits=replay.at(work.operand_bits, layer) - (weight_op_bits if spilled else 0.0),
                   streams=spilled and bool(replay.layers.has_weights[layer]))


@dataclass(frozen=True)
class _Packets:
    """One layer's input packets in a parallel step: send times and source cores, where they go."""

    times: np.ndarray
    src: np.ndarray
    columns: dict[int, list[tuple[int, int]]]
    flits: float
    reads: _WeightReads
    share_of: dict[int, float]


class _ParallelStep:
    """One timestep of a ``timestep_parallel`` chip (:func:`_run_step_parallel`): the send
    pipelines, then the packets' routes and the receive pipelines."""

    def __init__(self, replay: _Replay, running: list[tuple[int, int]], t0: float, tally: _Tally) -> None:
        self.replay, self.t0, self.tally = replay, t0, tally
        chip, n_layers = replay.chip, len(replay.layers.names)
        self.cores = int(chip.cores)
        self.mesh = _Mesh(self.cores, replay.mesh_cols, float(chip.noc_hop_latency_cycles))
        self.send_clock = np.full(self.cores, t0)
        self.core_free = np.full(self.cores, t0)
        self.layer_send = np.zeros((n_layers, self.cores))
        self.layer_receive = np.zeros((n_layers, self.cores))
        self.running = [layer for layer, _ in running]
        self.inputs = {layer: replay.events_of(layer, k) for layer, k in running}
        self.packets: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # -- send pipelines ----------------------------------------------------------------------
    def sources(self, layer: int) -> np.ndarray:
        idx, lev = self.inputs[layer]
        self.tally.counts["events_from_samples" if layer in self.replay.samples else "events_synthesised"] += idx.size
        src = self.replay.source_cores(layer, idx)
        return np.repeat(src, lev) if bool(self.replay.work.split[0, layer]) else src

    def send(self, layer: int, src: np.ndarray, phases: dict[int, float], owner: int) -> None:
        """Run ``owner``'s neuron phase on each core (``phases``), with the packets of ``layer``'s
        input that the core sends interleaved evenly among its updates."""
        replay = self.replay
        dest, _ = replay.placement_cores[layer] if layer >= 0 else (np.zeros(0), None)
        copies = 1 if replay.chip.noc_multicast or layer < 0 else dest.size
        cost = float(replay.msg_out[layer]) * copies if layer >= 0 else 0.0
        times = np.empty(src.size)
        for core in sorted(set(phases) | {int(c) for c in np.unique(src)}):
            mine = np.flatnonzero(src == core)
            phase = phases.get(core, 0.0)
            k = np.arange(1, mine.size + 1)
            times[mine] = self.send_clock[core] + phase * k / max(mine.size, 1) + cost * k
            self.send_clock[core] += phase + cost * mine.size
            self.layer_send[owner, core] += phase + cost * mine.size
        if layer >= 0:
            self.packets[layer] = (times, src)

    def neuron_phases(self, layer: int) -> dict[int, float]:
        """Each core's share of the layer's neuron updates this step (cycles), counted."""
        replay, chip, layers, tally = self.replay, self.replay.chip, self.replay.layers, self.tally
        dest, shares = replay.placement_cores[layer]
        steps = replay.steps[layer]
        upd_step = layers.neuron_updates[layer] / steps
        spikes_step = layers.output_spikes[layer] / steps
        aux_step = layers.aux_ops[layer] / steps
        phases: dict[int, float] = {}
        for core, share in zip(dest, shares, strict=True):
            neuron = max(
                (upd_step * chip.neuron_update_cycles + spikes_step * chip.spike_out_cycles + aux_step) * share
                / chip.neuron_units_per_core,
                upd_step * share * 2.0 * chip.state_bits / replay.sram_port_bits,
            )
            phases[int(core)] = neuron
            tally.busy[core] += neuron
            tally.counts["state_sram_words"] += upd_step * share * 2.0 * chip.state_bits / chip.sram_word_bits
        tally.counts["neuron_updates"] += upd_step
        return phases

    def run_sends(self) -> None:
        """Every core's send pipeline: the host's inputs first, then per layer in trace order its
        neuron phase with the packets it sends on."""
        if 0 in self.inputs:
            self.send(0, self.sources(0), {}, 0)  # the host at core 0 sends the first layer's inputs
        for layer in range(len(self.replay.layers.names)):
            phases = self.neuron_phases(layer) if layer in self.inputs else {}
            nxt = layer + 1
            if nxt in self.inputs:
                self.send(nxt, self.sources(nxt), phases, layer)
            elif phases:
                self.send(-1, np.zeros(0, dtype=np.intp), phases, layer)

    # -- receive pipelines -------------------------------------------------------------------
    def prepare(self, layer: int) -> _Packets:
        """A layer's packets ready to route, its synaptic operations counted (a dense core's
        sweep of every input queued first, from the step's start)."""
        replay, chip, tally = self.replay, self.replay.chip, self.tally
        times, src = self.packets[layer]
        dest, shares = replay.placement_cores[layer]
        reads = _WeightReads.of(replay, layer)
        layer_ops = reads.fan_out * times.size if chip.zero_skipping else 0.0
        if not chip.zero_skipping:
            layer_ops = self._dense_sweep(layer, dest, shares, reads)
        tally.ops[layer] += layer_ops
        tally.packets[layer] += times.size
        tally.copies[layer] += times.size * dest.size
        tally.counts["weight_sram_words"] += layer_ops * reads.sram_bits / chip.sram_word_bits
        if reads.streams:
            tally.counts["offchip_bits"] += layer_ops * reads.weight_op_bits
        return _Packets(times=times, src=src, columns=_dest_columns(dest, replay.mesh_cols),
                        flits=replay.at(replay.work.flits, layer), reads=reads,
                        share_of=dict(zip((int(c) for c in dest), shares, strict=True)))

    def _dense_sweep(self, layer: int, dest: np.ndarray, shares: np.ndarray, reads: _WeightReads) -> float:
        """A dense core sweeps every input of the step whatever arrived (first, from t0)."""
        replay, chip, layers, word = self.replay, self.replay.chip, self.replay.layers, self.replay.sram_port_bits
        split = bool(replay.work.split[0, layer])
        dense = layers.input_size[layer] / replay.steps[layer] * reads.fan_out * (layers.levels[layer] if split else 1.0)
        for core, share in zip(dest, shares, strict=True):
            sweep = max(dense * share / chip.pes_per_core, dense * share * reads.sram_bits / word,
                        dense * share * reads.weight_op_bits / replay.offchip_rate if reads.streams else 0.0)
            self.core_free[int(core)] += sweep
            self.tally.busy[int(core)] += sweep
            self.layer_receive[layer, int(core)] += sweep
        return float(dense)

    def route(self) -> None:
        """Route every packet and queue its copies at the destination cores, all layers'
        packets in one global send order (SANA-FE's detailed scheduler pops messages by sent
        time), each copy delayed by the NoC's congestion (:class:`_Congestion`) when that
        exceeds its mesh trip. Each source core sends its messages in order; one held back by a
        full route (SANA-FE's blocking: more than (hops + 1) x noc_buffer_messages in flight
        along it, held for the excess x the mean receive time) holds back everything the core
        sends after it."""
        chip = self.replay.chip
        noc = _Congestion(self.replay.mesh_cols, int(chip.tile_cols), int(chip.tile_rows))
        contexts: dict[int, _Packets] = {}
        order: list[tuple[float, int, int]] = []
        for layer in self.running:
            if layer not in self.packets or self.replay.layers.local_input[layer]:
                continue
            contexts[layer] = self.prepare(layer)
            order.extend((float(t), layer, j) for j, t in enumerate(contexts[layer].times))
        order.sort(key=lambda item: item[0])
        per_source: dict[int, list[tuple[float, int, int]]] = {}
        for sent, layer, j in order:
            per_source.setdefault(int(contexts[layer].src[j]), []).append((sent, layer, j))
        held = np.zeros(self.cores)
        position = dict.fromkeys(per_source, 0)
        ready = [(msgs[0][0], source, 0) for source, msgs in per_source.items()]
        heapq.heapify(ready)
        while ready:
            sent, source, _ = heapq.heappop(ready)
            _, layer, _ = per_source[source][position[source]]
            position[source] += 1
            noc.settle(sent)
            block = self._blocking(noc, source, contexts[layer])
            held[source] += block
            if position[source] < len(per_source[source]):
                heapq.heappush(ready, (per_source[source][position[source]][0] + held[source], source,
                                       position[source]))
            self._deliver(noc, layer, source, sent + block, contexts[layer])
        self.send_clock += held

    def _blocking(self, noc: _Congestion, source: int, packets: _Packets) -> float:
        """How long a full route holds the packet back (0 with unbounded buffers)."""
        buffer = self.replay.chip.noc_buffer_messages
        if buffer is None:
            return 0.0
        excess = 0.0
        for core in packets.share_of:
            along, n_links = noc.along(source, core)
            excess = max(excess, along - n_links * buffer)
        return excess * noc.mean_receive() if excess > 0.0 else 0.0

    def _deliver(self, noc: _Congestion, layer: int, source: int, sent: float, packets: _Packets) -> None:
        """Multicast one packet and queue its copies on their cores' receive pipelines."""
        replay, chip, tally, reads = self.replay, self.replay.chip, self.tally, packets.reads
        at, tree_x, tree_y = self.mesh.multicast(source, packets.columns, sent, packets.flits)
        tally.hops_x[layer] += tree_x
        tally.hops_y[layer] += tree_y
        for core, when in at.items():
            ops_each = reads.fan_out * packets.share_of[core] if chip.zero_skipping else 0.0
            service = float(replay.msg_in[layer]) + max(
                ops_each / chip.pes_per_core, ops_each * reads.sram_bits / replay.sram_port_bits,
                ops_each * reads.weight_op_bits / replay.offchip_rate if reads.streams else 0.0)
            arrival = sent + max(when - sent, noc.delay(source, core))
            received = max(self.core_free[core], arrival)
            self.core_free[core] = received + service
            noc.enter(source, core, received, service)
            tally.busy[core] += service
            self.layer_receive[layer, core] += service

    def finish(self) -> float:
        """The step's end (the busiest core's later pipeline), its layers' spans and the stalls."""
        t0, send_clock = self.t0, self.send_clock
        end = max(float(send_clock.max()), float(self.core_free.max()))
        self.tally.cycles_by_layer += np.maximum(self.layer_send, self.layer_receive).max(axis=1)
        used = np.flatnonzero(send_clock > t0) if (send_clock > t0).any() else np.arange(1)
        self.tally.stall[used] += (end - t0) - (send_clock[used] - t0)
        return end


def _run_step_parallel(replay: _Replay, running: list[tuple[int, int]], t0: float, tally: _Tally) -> float:
    """One timestep of a ``timestep_parallel`` chip starting at cycle ``t0``; returns its end.

    Each core's send pipeline runs, in trace order, the neuron phase of each layer it holds
    (its share of the layer's updates) followed by the packets that layer sends on to the
    next one, interleaved with the updates (the host, core 0, sends the first layer's inputs
    first). Packets cross the mesh with link contention; each destination core's receive
    pipeline serves its packets in arrival order (``message_in_cycles``, then the synaptic
    operations). The step ends when the busiest core's later pipeline ends.
    """
    step = _ParallelStep(replay, running, t0, tally)
    step.run_sends()
    step.route()
    return step.finish()


def _layer_arrivals(replay: _Replay, layer: int, src: np.ndarray, dest: np.ndarray, t0: float,
                    tally: _Tally) -> np.ndarray:
    """When each packet copy reaches its core, ``[packets x destination cores]`` flattened
    (packet-major): injected one flit per cycle per source core in order, multicast with link
    contention; the trees' hops counted."""
    chip, cols = replay.chip, replay.mesh_cols
    mesh = _Mesh(int(chip.cores), cols, float(chip.noc_hop_latency_cycles))
    n_packets = src.size
    flits = replay.at(replay.work.flits, layer)
    columns = _dest_columns(dest, cols)
    # Injection: a source core puts one flit per cycle on the mesh, packets in order.
    order = np.argsort(src, kind="stable")
    sorted_src = src[order]
    rank = np.empty(n_packets)
    rank[order] = np.arange(n_packets) - np.searchsorted(sorted_src, sorted_src, side="left")
    # Without multicast the source sends one copy per destination core, back to back.
    copies = 1 if chip.noc_multicast else dest.size
    inject = t0 + rank * flits * copies
    arrival: np.ndarray = np.empty((n_packets, dest.size))
    column_of = {int(core): j for j, core in enumerate(dest)}
    hops_x = hops_y = 0
    for j in np.argsort(inject, kind="stable"):
        times, tree_x, tree_y = mesh.multicast(int(src[j]), columns, float(inject[j]), flits)
        for core, when in times.items():
            arrival[j, column_of[core]] = when
        hops_x += tree_x
        hops_y += tree_y
    tally.hops_x[layer] += hops_x
    tally.hops_y[layer] += hops_y
    return arrival.reshape(-1)


def _weights_ready(replay: _Replay, arrival: np.ndarray, ops_copy: np.ndarray, reads: _WeightReads) -> np.ndarray:
    """When each copy's weights are at hand: on arrival, or (a spilled layer) once one
    chip-wide off-chip FIFO has fed them, in arrival order."""
    if not reads.streams:
        return arrival
    by_arrival = np.argsort(arrival, kind="stable")
    fetched = np.empty_like(arrival)
    fetched[by_arrival] = _fifo_finish(arrival[by_arrival], ops_copy[by_arrival] * reads.weight_op_bits
                                       / replay.offchip_rate)
    return fetched


def _run_layer(replay: _Replay, layer: int, k: int, t0: float, tally: _Tally) -> float:
    """One run of one layer starting at cycle ``t0``: inject, route, serve, update; returns its end."""
    chip, layers, work = replay.chip, replay.layers, replay.work
    word = replay.sram_port_bits
    steps = replay.steps[layer]
    idx, lev = replay.events_of(layer, k)
    tally.counts["events_from_samples" if layer in replay.samples else "events_synthesised"] += idx.size
    split = bool(work.split[0, layer])
    src = np.repeat(replay.source_cores(layer, idx), lev) if split else replay.source_cores(layer, idx)
    dest, shares = replay.placement_cores[layer]
    arrival = _layer_arrivals(replay, layer, src, dest, t0, tally)
    copy_dst = np.tile(dest, src.size)
    reads = _WeightReads.of(replay, layer)
    ready = _weights_ready(replay, arrival, reads.fan_out * np.tile(shares, src.size), reads)
    dense_per_step = layers.input_size[layer] / steps * reads.fan_out * (layers.levels[layer] if split else 1.0)
    # A dense sweep of a spilled layer streams every weight it uses through the one
    # off-chip port, shared by all the layer's cores.
    dense_stream_end = t0
    if not chip.zero_skipping and reads.streams:
        dense_stream_end = t0 + dense_per_step * reads.weight_op_bits / replay.offchip_rate
    updates_step = layers.neuron_updates[layer] / steps
    aux_step = layers.aux_ops[layer] / steps
    layer_ops = 0.0
    ends: list[float] = []
    layer_busy: list[float] = []
    for core, share in zip(dest, shares, strict=True):
        syn_end, syn_busy, core_ops = _core_synaptic_phase(
            replay, np.sort(ready[copy_dst == core]), reads.fan_out * share, dense_per_step * share, reads, t0,
            dense_stream_end)
        upd = updates_step * share
        neuron = max((upd + aux_step * share) / chip.neuron_units_per_core, upd * 2.0 * chip.state_bits / word)
        ends.append(syn_end + neuron)
        layer_busy.append(syn_busy + neuron)
        tally.busy[core] += syn_busy + neuron
        layer_ops += core_ops
        tally.counts["state_sram_words"] += upd * 2.0 * chip.state_bits / chip.sram_word_bits
        tally.counts["weight_sram_words"] += core_ops * reads.sram_bits / chip.sram_word_bits
    layer_end = max(ends)
    # A stall is the part of the layer's span a holding core spends neither serving nor updating.
    tally.stall[dest] += (layer_end - t0) - np.array(layer_busy)
    tally.cycles_by_layer[layer] += layer_end - t0
    tally.ops[layer] += layer_ops
    tally.packets[layer] += src.size
    tally.copies[layer] += copy_dst.size
    tally.counts["neuron_updates"] += updates_step
    if reads.streams:
        tally.counts["offchip_bits"] += layer_ops * reads.weight_op_bits
    return layer_end


def _core_synaptic_phase(
    replay: _Replay, arr: np.ndarray, ops_each: float, dense_ops: float, reads: _WeightReads, t0: float,
    dense_stream_end: float,
) -> tuple[float, float, float]:
    """One core's synaptic phase of a layer run: its end, its busy cycles and its operations.
    An event-driven core serves its copies (ready at ``arr``, sorted) in order, ``ops_each``
    operations each; a dense one sweeps ``dense_ops`` whatever arrived."""
    chip, word = replay.chip, replay.sram_port_bits
    if chip.zero_skipping:
        service_each = max(ops_each / chip.pes_per_core, ops_each * reads.sram_bits / word)
        finish = _fifo_finish(arr, np.full(arr.size, service_each))
        return (float(finish[-1]) if arr.size else t0), service_each * arr.size, ops_each * arr.size
    syn_busy = max(dense_ops / chip.pes_per_core, dense_ops * reads.sram_bits / word)
    return max(t0 + syn_busy, dense_stream_end, float(arr[-1]) if arr.size else t0), syn_busy, dense_ops


def simulate(
    trace: WorkloadTrace,
    chip: ChipConfig,
    *,
    tech: Technology | None = None,
    seed: int = 0,
    match_counts: bool = True,
    placement: LayerPlacement | None = None,
    requantise: bool = False,
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
        placement: where the layers sit (``codesign.hardware.place``; as :func:`estimate_cost`).
        requantise: price a quantised trace's weights at the chip's bits (as :func:`estimate_cost`).

    Raises:
        ConfigError: a trace recorded at other weight bits than the chip's (without
            ``requantise``), or a placement of other layers.
    """
    if not requantise:
        check_weight_bits(trace, chip.weight_bits, chip_wide_weight_bits=chip.wide_weight_bits,
                          chip_tap_scales=chip.tap_scales)
    replay = _Replay.set_up(trace, chip, tech if tech is not None else load_technology(), seed, match_counts,
                            placement)
    tally = _replay(replay)
    cycles = tally.clock
    latency_ms = cycles / (chip.clock_mhz * 1e3)
    layers, placement = replay.layers, replay.placement
    # The same prices as the analytic model, for the actions the replay counted.
    energies = replay.energies.of_chip(0, placement.need.shape)
    counts = ActionCounts(
        synaptic_ops=tally.ops,
        weight_op_bits=np.broadcast_to(replay.work.weight_op_bits, placement.need.shape)[0],
        weights_offchip=placement.spilled[0].astype(float),
        neuron_updates=layers.neuron_updates,
        output_spikes=layers.output_spikes,
        aux_ops=layers.aux_ops,
        # per output neuron and step whatever the activity: the analytic model's counts
        rescale_ops=np.broadcast_to(replay.work.rescale_ops, placement.need.shape)[0],
        scale_read_bits=np.broadcast_to(replay.work.scale_read_bits, placement.need.shape)[0],
    )
    noc = noc_energy_pj(energies, tally.copies, tally.hops_x, tally.hops_y)
    static = static_energy_pj(replay.static_power_mw, latency_ms, tally.cycles_by_layer)
    return SimulationReport(
        chip_name=chip.name,
        layer_names=layers.names,
        categories=chip.energy_categories,
        energy_by_layer_category_pj=energy_by_category_pj(energies, counts, noc, static, chip.energy_categories),
        cycles=cycles,
        cycles_by_layer=tally.cycles_by_layer,
        barrier_cycles=replay.barrier * replay.n_steps,
        latency_ms=latency_ms,
        counts=tally.counts,
        core_busy_cycles=tally.busy,
        core_stall_cycles=tally.stall,
        scaled_layers=replay.scaled,
    )
