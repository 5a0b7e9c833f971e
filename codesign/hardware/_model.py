"""The analytic chip model: mapping, per-action energies, cycles and area, vectorised over chips.

One implementation: :func:`evaluate_batch` computes every figure for an array of chip
configurations against one trace with numpy, as ``[chips, layers]`` arrays;
:func:`evaluate` is a batch of one. The event-driven simulator reuses :func:`map_layers`,
:func:`layer_work` and :func:`action_energies`, so the two differ only in how they count
events and cycles, never in what one action costs. Every equation is written out in
docs/hardware.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from codesign.config import ConfigError
from codesign.hardware._chip import ChipArray, ChipConfig, as_chip_array
from codesign.hardware._report import (
    CATEGORIES,
    REASON_AREA,
    REASON_DEADLINE,
    REASON_STATE,
    REASON_WEIGHTS,
    BatchCostReport,
    ChipRequirements,
    CostReport,
)
from codesign.hardware._technology import (
    Technology,
    add_area_um2,
    add_energy_pj,
    load_technology,
    mult_area_um2,
    mult_energy_pj,
    sram_read_64b_pj,
)
from codesign.trace import WorkloadTrace

#: Bits per KB.
_BITS_PER_KB = 8192.0
#: Memory footprint given to a layer with neither weights nor state, so that it still has a core.
_MIN_NEED_CORES = 1e-6
#: Tolerance of the core-boundary arithmetic (cumulative sums of fractional core needs).
_EPS = 1e-9
#: Chips evaluated per numpy pass: large enough to amortise Python overhead, small enough for cache.
_CHUNK = 4096


@dataclass(frozen=True)
class LayerArrays:
    """The trace's chip-independent per-layer figures as ``[layers]`` float arrays."""

    names: tuple[str, ...]
    timesteps: np.ndarray
    weight_count: np.ndarray
    weight_density: np.ndarray
    index_bits: np.ndarray
    has_weights: np.ndarray
    is_matmul: np.ndarray
    fan_out: np.ndarray
    input_size: np.ndarray
    input_events: np.ndarray
    input_level_sum: np.ndarray
    is_spike: np.ndarray
    is_graded: np.ndarray
    levels: np.ndarray
    payload_bits: np.ndarray
    input_width: np.ndarray
    output_width: np.ndarray
    output_spikes: np.ndarray
    neuron_updates: np.ndarray
    aux_ops: np.ndarray
    state_size: np.ndarray
    local_input: np.ndarray

    @classmethod
    def from_trace(cls, trace: WorkloadTrace) -> LayerArrays:
        layers = trace.layers
        if not layers:
            raise ConfigError(None, "trace.layers", "a trace with at least one layer")

        def col(getter: Any) -> np.ndarray:
            return np.array([float(getter(layer)) for layer in layers])

        levels = col(lambda x: x.levels)
        is_spike = col(lambda x: x.input_is_spike).astype(bool)
        graded = is_spike & (levels > 1)
        # A graded event's payload must hold levels 1..D: ceil(log2(D + 1)) bits.
        payload = np.where(graded, np.ceil(np.log2(np.maximum(levels, 1) + 1)), 0.0)
        return cls(
            names=tuple(layer.name for layer in layers),
            timesteps=col(lambda x: x.timesteps),
            weight_count=col(lambda x: x.weight_count),
            weight_density=col(lambda x: min(x.weight_nonzero, x.weight_count) / x.weight_count if x.weight_count else 1.0),
            # A sparse synapse list stores each nonzero weight with the index of its target.
            index_bits=col(lambda x: np.ceil(np.log2(max(round(x.fan_out), 2)))),
            has_weights=col(lambda x: x.weight_count > 0),
            is_matmul=col(lambda x: x.kind == "spike_matmul"),
            fan_out=col(lambda x: x.fan_out),
            input_size=col(lambda x: x.input_size),
            input_events=col(lambda x: x.input_events),
            input_level_sum=col(lambda x: x.input_level_sum if x.input_is_spike else x.input_events),
            is_spike=is_spike,
            is_graded=graded,
            levels=levels,
            payload_bits=payload,
            input_width=col(lambda x: int(np.prod(x.in_shape)) if x.in_shape else 1),
            output_width=col(lambda x: int(np.prod(x.out_shape)) if x.out_shape else 1),
            output_spikes=col(lambda x: min(x.output_spikes, x.neuron_updates)),
            neuron_updates=col(lambda x: x.neuron_updates),
            aux_ops=col(lambda x: x.aux_ops),
            state_size=col(lambda x: x.state_size),
            # No synapses and real-valued inputs: the layer reads its producer's accumulators
            # (e.g. a neuron after its conv) in the same core, so nothing is routed to it.
            local_input=col(lambda x: x.fan_out == 0 and not x.input_is_spike).astype(bool),
        )


# ---------------------------------------------------------------------------------------------
# Chip-level derived quantities
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChipDerived:
    """Per-chip quantities that do not depend on the trace, as ``[chips, 1]`` arrays."""

    cores: np.ndarray
    mesh_cols: np.ndarray
    mesh_rows: np.ndarray
    energy_scale: np.ndarray
    voltage_ratio: np.ndarray
    core_area_mm2: np.ndarray
    area_mm2: np.ndarray
    static_power_mw: np.ndarray


def chip_derived(c: dict[str, np.ndarray], tech: Technology) -> ChipDerived:
    """Mesh shape, energy scaling, area and static power of each chip (``c`` columns are ``[n, 1]``)."""
    cores = c["cores"]
    cols = np.where(np.isnan(c["mesh_cols"]), np.ceil(np.sqrt(cores)), c["mesh_cols"])
    rows = np.ceil(cores / cols)
    efac, afac, vnom = tech.node_table(c["node_nm"])
    volt = np.where(np.isnan(c["voltage_v"]), vnom, c["voltage_v"])
    vratio = volt / vnom
    wb, sb = c["weight_bits"], c["state_bits"]
    sram_mm2 = (c["weight_sram_kb_per_core"] + c["state_sram_kb_per_core"]) * tech.sram_mm2_per_kb
    # Every PE can multiply-accumulate (real-valued first layers); neuron units multiply (leak).
    pe_um2 = (add_area_um2(tech, sb) + mult_area_um2(tech, wb, wb)) * tech.logic_overhead
    nu_um2 = (mult_area_um2(tech, sb, sb) + 2.0 * add_area_um2(tech, sb)) * tech.logic_overhead
    router_mm2 = tech.router_area_mm2_per_bit * c["noc_link_bits"]
    core_mm2 = (
        sram_mm2
        + (c["pes_per_core"] * pe_um2 + c["neuron_units_per_core"] * nu_um2) * 1e-6
        + router_mm2
        + tech.core_overhead_mm2
    ) * afac
    area = cores * core_mm2
    density = np.where(np.isnan(c["static_power_mw_per_mm2"]), tech.static_power_mw_per_mm2,
                       c["static_power_mw_per_mm2"])
    return ChipDerived(
        cores=cores,
        mesh_cols=cols,
        mesh_rows=rows,
        energy_scale=efac * vratio**2,
        voltage_ratio=vratio,
        core_area_mm2=core_mm2,
        area_mm2=area,
        # Leakage taken proportional to supply voltage (subthreshold current held constant).
        static_power_mw=area * density * vratio,
    )


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mapping:
    """Where each layer sits, as ``[chips, layers]`` arrays.

    Layers are packed in trace order along the cores (row-major over the mesh) by memory
    need, in fractions of a core; a layer occupying ``[start, start + need)`` is split over
    cores ``core_first .. core_last - 1`` by output neurons, ``share_first``/``share_last``
    of its neurons on the first/last of them and ``1/need`` on each one in between.
    """

    need: np.ndarray
    start: np.ndarray
    spilled: np.ndarray
    core_first: np.ndarray
    core_last: np.ndarray
    n_cores: np.ndarray
    share_first: np.ndarray
    share_last: np.ndarray
    share_max: np.ndarray
    weights_fit: np.ndarray
    state_fits: np.ndarray
    weight_kb: np.ndarray
    weight_kb_on_chip: np.ndarray
    state_kb: np.ndarray


def map_layers(layers: LayerArrays, c: dict[str, np.ndarray], work: LayerWork | None = None) -> Mapping:
    """Place layers on cores by weight- and state-memory capacity (see :class:`Mapping`).

    When the whole network's weights do not fit, the first layer that overflows and every
    later one keep only their neuron state on chip and stream their weights from off-chip
    memory (``spilled``); whether that is allowed is the chip's ``weight_overflow``.
    With ``mapping_policy: spread`` the cores left over after the memory need are shared
    out among the layers in proportion to their work (synaptic operations + neuron
    updates per inference, from ``work``), so that busy layers are split over more cores;
    ``pack`` uses as few cores as memory allows.
    """
    cores = c["cores"]
    sparse = c["sparse_weights"] > 0
    weight_bits_l = np.where(
        sparse,
        layers.weight_count * layers.weight_density * (c["weight_bits"] + layers.index_bits),
        layers.weight_count * c["weight_bits"],
    )
    state_bits_l = layers.state_size * c["state_bits"]
    need_w = weight_bits_l / (c["weight_sram_kb_per_core"] * _BITS_PER_KB)
    need_s = state_bits_l / (c["state_sram_kb_per_core"] * _BITS_PER_KB)
    need_state = np.maximum(need_s, _MIN_NEED_CORES)
    need_full = np.maximum(need_w, need_state)
    spilled = np.cumsum(need_full, axis=1) > cores + _EPS
    need = np.where(spilled, need_state, need_full)
    if work is not None:
        load = work.synaptic_ops + layers.neuron_updates + layers.aux_ops
        total = load.sum(axis=1, keepdims=True)
        slack = np.maximum(cores - need.sum(axis=1, keepdims=True), 0.0)
        extra = np.where(total > 0, slack * load / np.where(total > 0, total, 1.0), 0.0)
        # A layer is split over cores by its output neurons, so it cannot use more cores than it
        # has output neurons (per step); the slack it cannot use stays idle.
        extra = np.minimum(extra, np.maximum(layers.output_width - need, 0.0))
        need = need + extra * (c["mapping_policy"] > 0)
    end = np.cumsum(need, axis=1)
    start = end - need
    state_fits = end[:, -1] <= cores[:, 0] + _EPS
    first = np.floor(start + _EPS)
    last = np.maximum(np.ceil(end - _EPS), first + 1.0)
    # Layers beyond the chip (state does not fit) are clamped onto its last core: the chip is
    # reported infeasible, the figures stay finite.
    first = np.minimum(first, cores - 1.0)
    last = np.clip(last, first + 1.0, cores)
    n = last - first
    share_first = np.where(n == 1, 1.0, (np.minimum(end, first + 1.0) - start) / need)
    share_last = np.where(n == 1, 0.0, (end - np.maximum(start, last - 1.0)) / need)
    share_first = np.clip(share_first, 0.0, 1.0)
    share_last = np.clip(share_last, 0.0, 1.0)
    share_max = np.maximum(np.maximum(share_first, share_last), np.where(n > 2, 1.0 / need, 0.0))
    weight_kb = weight_bits_l.sum(axis=1) / _BITS_PER_KB
    return Mapping(
        need=need,
        start=start,
        spilled=spilled,
        core_first=first,
        core_last=last,
        n_cores=n,
        share_first=share_first,
        share_last=share_last,
        share_max=share_max,
        weights_fit=~spilled.any(axis=1),
        state_fits=state_fits,
        weight_kb=weight_kb,
        weight_kb_on_chip=(weight_bits_l * ~spilled).sum(axis=1) / _BITS_PER_KB,
        state_kb=state_bits_l.sum(axis=1) / _BITS_PER_KB,
    )


def core_shares(mapping: Mapping, chip: int, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Cores holding one layer and the fraction of its neurons on each (for the simulator)."""
    first = int(mapping.core_first[chip, layer])
    last = int(mapping.core_last[chip, layer])
    n = last - first
    shares = np.full(n, 1.0 / mapping.need[chip, layer])
    shares[0] = mapping.share_first[chip, layer]
    if n > 1:
        shares[-1] = mapping.share_last[chip, layer]
    return np.arange(first, last), shares / shares.sum()


@dataclass(frozen=True)
class _DestGeometry:
    """Row/column extent of a contiguous row-major destination range (float arrays)."""

    width: np.ndarray
    row_first: np.ndarray
    row_last: np.ndarray
    col_first: np.ndarray
    col_last: np.ndarray
    col_min: np.ndarray
    col_max: np.ndarray
    groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    corners: tuple[tuple[np.ndarray, np.ndarray], ...]


def _dest_geometry(b0: np.ndarray, b1: np.ndarray, width: np.ndarray) -> _DestGeometry:
    # Float arithmetic throughout: numpy's integer // and % are several times slower.
    last = b1 - 1.0
    yb0, yb1 = np.floor(b0 / width), np.floor(last / width)
    cf, cl = b0 - yb0 * width, last - yb1 * width
    one_row = yb0 == yb1
    multi = ~one_row
    far_col = width - 1.0
    # The farthest destination from any source is a corner of the range: an end of its first
    # or last row, or (several rows) an end of the full rows between them.
    corners = (
        (cf, yb0),
        (np.where(multi, far_col, cl), yb0),
        (np.where(multi, 0.0, cf), yb1),
        (cl, yb1),
        (np.where(multi, 0.0, cf), np.where(multi, np.minimum(yb0 + 1.0, yb1), yb0)),
        (np.where(multi, far_col, cl), np.where(multi, np.maximum(yb1 - 1.0, yb0), yb1)),
    )
    return _DestGeometry(
        corners=corners,
        width=width,
        row_first=yb0,
        row_last=yb1,
        col_first=cf,
        col_last=cl,
        col_min=np.where(one_row, cf, 0.0),
        col_max=np.where(one_row, cl, width - 1.0),
        groups=tuple(
            (np.where(lo <= hi, count, 0.0), lo, hi)
            for count, lo, hi in (
                (np.maximum(cl - cf + 1.0, 0.0), yb0, yb1),  # columns in both the first and the last row
                (width - np.maximum(cf, cl + 1.0), yb0, yb1 - 1.0),  # in the first row only
                (np.minimum(cf, cl + 1.0), yb0 + 1.0, yb1),  # in the last row only
                (np.maximum(cf - cl - 1.0, 0.0), yb0 + 1.0, yb1 - 1.0),  # in neither: full middle rows
            )
        ),
    )


def tree_links(
    src: np.ndarray, dest: _DestGeometry, with_depth: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Links (x, y) of the XY multicast tree from core ``src`` to a destination range, and its depth.

    The packet runs along the source's row to the leftmost and rightmost destination
    columns, and in each destination column branches up and down to cover that column's
    destination rows (``max(row_hi, row_src) - min(row_lo, row_src)`` links). Closed form:
    a contiguous row-major range has at most four kinds of column (in both its first and
    last row, in the first only, in the last only, in neither), each with one row span.
    The depth is the hop distance to the farthest destination.
    """
    ys = np.floor(src / dest.width)
    xs = src - ys * dest.width
    right = np.maximum(dest.col_max - xs, 0.0)
    left = np.maximum(xs - dest.col_min, 0.0)
    tx = right + left
    # Absent column kinds have count 0; a one-row range is the first kind alone.
    ty = np.zeros(np.broadcast_shapes(ys.shape, dest.width.shape))
    for count, lo, hi in dest.groups:
        ty += count * (np.maximum(hi, ys) - np.minimum(lo, ys))
    if not with_depth:
        return tx, ty, None
    depth = np.zeros_like(ty)
    for col, row in dest.corners:
        depth = np.maximum(depth, np.abs(col - xs) + np.abs(row - ys))
    return tx, ty, depth


#: Interior source cores at which the multicast tree is evaluated (the rest are interpolated).
_TREE_SAMPLES = 2


def tree_totals(mapping: Mapping, mesh_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multicast-tree links (x, y) per input event of each layer, and the tree depth.

    Sources are weighted by their neuron shares (the host at core 0 feeds the first layer).
    The first and last source core are exact; the interior cores (uniform weight) are
    averaged over ``_TREE_SAMPLES`` evenly spaced ones (exact up to two interior cores).
    """
    n_chips = mapping.need.shape[0]
    zeros = np.zeros((n_chips, 1))
    ones = np.ones((n_chips, 1))
    a0 = np.hstack([zeros, mapping.core_first[:, :-1]])
    a1 = np.hstack([ones, mapping.core_last[:, :-1]])
    wf = np.hstack([ones, mapping.share_first[:, :-1]])
    wl = np.hstack([zeros, mapping.share_last[:, :-1]])
    need_a = np.hstack([ones, mapping.need[:, :-1]])
    dest = _dest_geometry(mapping.core_first, mapping.core_last, mesh_cols)
    fx, fy, fd = tree_links(a0, dest)
    lx, ly, ld = tree_links(a1 - 1.0, dest)
    assert fd is not None and ld is not None
    interior = np.maximum(a1 - a0 - 2.0, 0.0)
    scale = interior / need_a
    tx = wf * fx + wl * lx
    ty = wf * fy + wl * ly
    for k in range(_TREE_SAMPLES):
        pos = np.minimum(a0 + 1.0 + np.floor((k + 0.5) * interior / _TREE_SAMPLES), a1 - 1.0)
        sx, sy, _ = tree_links(pos, dest, with_depth=False)
        tx = tx + scale / _TREE_SAMPLES * sx
        ty = ty + scale / _TREE_SAMPLES * sy
    # The step ends with the last packet's trip; the end source cores bound the interior ones.
    depth = np.maximum(fd, np.where(wl > 0, ld, 0.0))
    return tx, ty, depth


# ---------------------------------------------------------------------------------------------
# Chip-dependent workload and per-action energies
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerWork:
    """What a layer asks of one chip per inference, ``[chips, layers]``."""

    graded: np.ndarray
    split: np.ndarray
    events: np.ndarray
    synaptic_ops: np.ndarray
    packet_bits: np.ndarray
    flits: np.ndarray
    fan_out: np.ndarray
    weight_op_bits: np.ndarray
    operand_bits: np.ndarray


def layer_work(layers: LayerArrays, c: dict[str, np.ndarray]) -> LayerWork:
    """Routed events and synaptic operations per inference on each chip.

    A layer's graded spikes travel as one event carrying a payload when the chip's
    ``graded_spike_bits`` hold its levels; otherwise a level-k spike is split into k binary
    events. Real-valued inputs travel as one event carrying a ``weight_bits``-wide value.
    With zero skipping off every input element is processed (``levels`` times on a chip that
    splits graded spikes).
    """
    graded = layers.is_graded & (c["graded_spike_bits"] >= layers.payload_bits)
    split = layers.is_graded & ~graded
    events = np.where(layers.local_input, 0.0, np.where(split, layers.input_level_sum, layers.input_events))
    sparse = c["sparse_weights"] > 0
    # A sparse synapse list holds only nonzero weights: an event touches fan_out x density.
    fan_out = layers.fan_out * np.where(sparse & (layers.has_weights > 0), layers.weight_density, 1.0)
    dense_ops = layers.input_size * fan_out * np.where(split, layers.levels, 1.0)
    ops = np.where(c["zero_skipping"] > 0, events * fan_out, dense_ops)
    payload = np.where(graded, layers.payload_bits, np.where(layers.is_spike, 0.0, c["weight_bits"]))
    packet_bits = c["noc_header_bits"] + payload
    # Bits each synaptic op reads: a weight (with its target index when sparse), or
    # (spike_matmul) the other operand, kept in state memory.
    weight_op_bits = layers.has_weights * (c["weight_bits"] + np.where(sparse, layers.index_bits, 0.0))
    operand_bits = weight_op_bits + layers.is_matmul * c["state_bits"]
    return LayerWork(
        graded=graded,
        split=split,
        events=events,
        synaptic_ops=ops,
        packet_bits=packet_bits,
        flits=np.ceil(packet_bits / c["noc_link_bits"]),
        fan_out=fan_out,
        weight_op_bits=weight_op_bits,
        operand_bits=operand_bits,
    )


@dataclass(frozen=True)
class ActionEnergies:
    """Energy of each action on each chip (pJ), ``[chips, layers]`` or broadcastable."""

    synaptic_op: np.ndarray
    weight_read_op: np.ndarray
    operand_read_op: np.ndarray
    offchip_bit: np.ndarray
    neuron_update: np.ndarray
    neuron_spike: np.ndarray
    state_access_update: np.ndarray
    aux_op: np.ndarray
    packet_local: np.ndarray
    hop_ew: np.ndarray
    hop_ns: np.ndarray


def action_energies(
    layers: LayerArrays, c: dict[str, np.ndarray], work: LayerWork, derived: ChipDerived, tech: Technology
) -> ActionEnergies:
    """Per-action energies from the technology rules, or the chip's own per-op figures when set."""
    s = derived.energy_scale
    wb, sb = c["weight_bits"], c["state_bits"]
    add_s = add_energy_pj(tech, sb) * s
    mac = mult_energy_pj(tech, wb, wb) * s + add_s
    graded_mult = mult_energy_pj(tech, wb, layers.payload_bits) * s + add_s
    op = np.where(~layers.is_spike, mac, np.where(work.graded, graded_mult, add_s))
    syn_override = c["synaptic_op_energy_pj"]
    has_syn = ~np.isnan(syn_override)
    op = np.where(has_syn, syn_override, op)
    w_bit = sram_read_64b_pj(tech, c["weight_sram_kb_per_core"]) / 64.0 * s
    s_bit = sram_read_64b_pj(tech, c["state_sram_kb_per_core"]) / 64.0 * s
    # A chip that quotes a synaptic-op energy includes the weight read in it.
    weight_read = np.where(has_syn, 0.0, work.weight_op_bits * w_bit)
    operand_read = sb * s_bit * layers.is_matmul
    nu_override = c["neuron_update_energy_pj"]
    has_nu = ~np.isnan(nu_override)
    update = (mult_energy_pj(tech, sb, sb) + 2.0 * add_energy_pj(tech, sb)) * s
    spike_override = np.where(np.isnan(c["neuron_spike_energy_pj"]), nu_override, c["neuron_spike_energy_pj"])
    neuron_update = np.where(has_nu, nu_override, update)
    neuron_spike = np.where(has_nu, spike_override, update)
    # Quoted neuron-update energies include the state access; otherwise read + write the state.
    state_access = np.where(has_nu, 0.0, 2.0 * sb * s_bit)
    pitch_mm = np.sqrt(derived.core_area_mm2)
    local = work.packet_bits * tech.noc_router_pj_per_bit * s
    hop = work.packet_bits * (tech.noc_router_pj_per_bit + tech.noc_wire_pj_per_bit_mm * pitch_mm) * s
    offchip = np.where(np.isnan(c["offchip_energy_pj_per_bit"]), tech.dram_pj_per_bit, c["offchip_energy_pj_per_bit"])
    return ActionEnergies(
        synaptic_op=op,
        weight_read_op=weight_read,
        operand_read_op=operand_read,
        offchip_bit=offchip,
        neuron_update=neuron_update,
        neuron_spike=neuron_spike,
        state_access_update=state_access,
        aux_op=add_s,
        packet_local=np.where(np.isnan(c["spike_local_energy_pj"]), local, c["spike_local_energy_pj"]),
        hop_ew=np.where(np.isnan(c["hop_energy_ew_pj"]), hop, c["hop_energy_ew_pj"]),
        hop_ns=np.where(np.isnan(c["hop_energy_ns_pj"]), hop, c["hop_energy_ns_pj"]),
    )


def barrier_cycles(c: dict[str, np.ndarray], derived: ChipDerived) -> np.ndarray:
    """Cycles of one timestep barrier: a token crosses the mesh (columns + rows hops), plus the
    chip's fixed synchronisation time ``timestep_sync_ns``."""
    sync = c["timestep_sync_ns"] * c["clock_mhz"] / 1000.0
    return c["noc_hop_latency_cycles"] * (derived.mesh_cols + derived.mesh_rows) + sync


def offchip_bits_per_cycle(c: dict[str, np.ndarray]) -> np.ndarray:
    return c["offchip_bandwidth_gb_per_s"] * 8e9 / (c["clock_mhz"] * 1e6)


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
def _evaluate_chunk(
    layers: LayerArrays, c: dict[str, np.ndarray], tech: Technology, by_layer: bool, requirements: ChipRequirements
) -> dict[str, np.ndarray]:
    derived = chip_derived(c, tech)
    work = layer_work(layers, c)
    mapping = map_layers(layers, c, work)
    e = action_energies(layers, c, work, derived, tech)
    tx, ty, depth = tree_totals(mapping, derived.mesh_cols)
    spilled = mapping.spilled.astype(float)
    ops = work.synaptic_ops
    updates = layers.neuron_updates
    spikes = layers.output_spikes

    # -- energy per inference, [chips, layers] per category ----------------------------------
    weight_traffic_bits = ops * work.weight_op_bits
    synaptic = ops * e.synaptic_op
    weight_mem = ops * e.weight_read_op * (1.0 - spilled)
    offchip_bits = weight_traffic_bits * spilled
    offchip = offchip_bits * e.offchip_bit
    state_mem = updates * e.state_access_update + ops * e.operand_read_op
    neuron = (updates - spikes) * e.neuron_update + spikes * e.neuron_spike + layers.aux_ops * e.aux_op
    noc = work.events * (mapping.n_cores * e.packet_local + tx * e.hop_ew + ty * e.hop_ns)

    # -- cycles: per timestep, the busiest core of each layer ------------------------------
    steps = layers.timesteps
    ops_core = ops / steps * mapping.share_max
    pe_cycles = ops_core / c["pes_per_core"]
    sram_bits_op = work.operand_bits - work.weight_op_bits * spilled
    sram_cycles = ops_core * sram_bits_op / (c["sram_word_bits"] * c["sram_ports_per_core"])
    events_step = work.events / steps
    ingress = events_step * work.flits
    src_share = np.hstack([np.ones((mapping.need.shape[0], 1)), mapping.share_max[:, :-1]])
    # Without multicast a source core sends one packet per destination core of the layer.
    copies = np.where(c["noc_multicast"] > 0, 1.0, mapping.n_cores)
    # The busiest of n source cores: a step's events fall on the sources' inputs at random
    # (each input nonzero with probability p, the layer's input density), so the most loaded
    # one expects about mean + sqrt(mean (1 - p)) sqrt(2 ln n) of them (Gaussian extreme of
    # binomial counts); a dense input (p = 1) has no spread.
    src_cores = np.hstack([np.ones((mapping.need.shape[0], 1)), mapping.n_cores[:, :-1]])
    density = np.clip(layers.input_events / np.maximum(layers.input_size, 1e-12), 0.0, 1.0)
    src_events = events_step * src_share
    src_events = src_events + np.sqrt(src_events * (1.0 - density)) * np.sqrt(2.0 * np.log(src_cores))
    egress = src_events * work.flits * copies
    offchip_cycles = offchip_bits / steps / offchip_bits_per_cycle(c)
    compute = np.maximum(np.maximum(pe_cycles, sram_cycles), offchip_cycles)
    network = np.maximum(ingress, egress)
    updates_core = updates / steps * mapping.share_max
    nu_cycles = (updates_core + layers.aux_ops / steps * mapping.share_max) / c["neuron_units_per_core"]
    state_cycles = updates_core * 2.0 * c["state_bits"] / (c["sram_word_bits"] * c["sram_ports_per_core"])
    neuron_phase = np.maximum(nu_cycles, state_cycles)
    delivery = np.where(events_step > 0, c["noc_hop_latency_cycles"] * depth, 0.0)
    # Event-driven cores process each event after it arrives: the pipeline's bound plus the
    # last event's trip. A dense core sweeps all its inputs regardless and only has to wait
    # for the last event to arrive.
    synaptic_phase = np.where(
        c["zero_skipping"] > 0,
        np.maximum(compute, network) + delivery,
        np.maximum(compute, network + delivery),
    )
    layer_cycles = steps * (synaptic_phase + neuron_phase)
    barrier = steps.max() * barrier_cycles(c, derived)[:, 0]
    cycles = layer_cycles.sum(axis=1) + barrier
    latency_ms = cycles / (c["clock_mhz"][:, 0] * 1e3)

    # Static energy over the latency, split over layers by their share of the cycles.
    static_total = derived.static_power_mw[:, 0] * latency_ms * 1e6
    layer_sum = layer_cycles.sum(axis=1, keepdims=True)
    n_layers = layer_cycles.shape[1]
    fraction = np.where(layer_sum > 0, layer_cycles / np.where(layer_sum > 0, layer_sum, 1.0), 1.0 / n_layers)
    static = static_total[:, None] * fraction

    table = np.stack([synaptic, weight_mem, state_mem, neuron, noc, offchip, static], axis=-1)
    cores = c["cores"][:, 0]
    total_ops = ops.sum(axis=1)
    total_updates = (updates + layers.aux_ops).sum() + np.zeros_like(cores)

    flags = np.zeros(cores.shape, dtype=np.int64)
    weights_over = ~mapping.weights_fit & (c["weight_overflow"][:, 0] == 0)
    flags |= np.where(weights_over, REASON_WEIGHTS, 0)
    flags |= np.where(~mapping.state_fits, REASON_STATE, 0)
    deadline = np.full(cores.shape, np.nan if requirements.max_latency_ms is None else requirements.max_latency_ms)
    flags |= np.where(~np.isnan(deadline) & (latency_ms > deadline), REASON_DEADLINE, 0)
    area = derived.area_mm2[:, 0]
    budget = np.full(cores.shape, np.nan if requirements.max_area_mm2 is None else requirements.max_area_mm2)
    flags |= np.where(~np.isnan(budget) & (area > budget), REASON_AREA, 0)
    spike_events = np.where(layers.is_graded, layers.input_events, 0.0).sum()
    split_events = np.where(work.split, layers.input_events, 0.0).sum(axis=1)
    split_fraction = split_events / spike_events if spike_events > 0 else np.zeros_like(split_events)

    out = {
        "energy_pj": table.sum(axis=1),
        "cycles": cycles,
        "cycles_by_layer": layer_cycles,
        "barrier_cycles": barrier,
        "latency_ms": latency_ms,
        "throughput_per_s": 1e3 / latency_ms,
        "area_mm2": area,
        "sram_used_kb": mapping.weight_kb_on_chip + mapping.state_kb,
        "weight_kb": mapping.weight_kb,
        "offchip_bits": offchip_bits.sum(axis=1),
        "utilisation_pe": total_ops / (cores * c["pes_per_core"][:, 0] * cycles),
        "utilisation_neuron_units": total_updates / (cores * c["neuron_units_per_core"][:, 0] * cycles),
        "utilisation_cores": np.minimum(np.ceil(mapping.start[:, -1] + mapping.need[:, -1] - _EPS), cores) / cores,
        "feasible": flags == 0,
        "reason_flags": flags,
        "weight_capacity_kb": cores * c["weight_sram_kb_per_core"][:, 0],
        "state_kb": mapping.state_kb,
        "state_capacity_kb": cores * c["state_sram_kb_per_core"][:, 0],
        "latency_deadline_ms": deadline,
        "area_budget_mm2": budget,
        "split_spike_fraction": split_fraction,
    }
    if by_layer:
        out["energy_by_layer_pj"] = table
    return out


def evaluate_batch(
    trace: WorkloadTrace,
    chips: ChipArray | ChipConfig | list[ChipConfig] | dict[str, Any] | Any,
    *,
    base: ChipConfig | None = None,
    by_layer: bool = False,
    tech: Technology | None = None,
    requirements: ChipRequirements | None = None,
) -> BatchCostReport:
    """Evaluate many chip configurations against one trace at once.

    Args:
        trace: the workload.
        chips: a ChipArray, one or more ChipConfigs, a pandas DataFrame or a dict of numpy
            arrays whose keys are ChipConfig fields (missing fields come from ``base``).
        base: defaults for fields the columns leave out (ChipConfig() if None).
        by_layer: also keep the ``[chips, layers, categories]`` energy table.
        tech: technology constants (hw_models/technology.yaml if None).
        requirements: a deadline and area budget to check (a study's, never the chip's).

    Returns:
        A BatchCostReport with one entry per chip, in input order.

    Raises:
        ConfigError: a bad chip value (field and index named) or an empty trace.
    """
    tech = tech if tech is not None else load_technology()
    array = as_chip_array(chips, base=base)
    layers = LayerArrays.from_trace(trace)
    pieces: list[dict[str, np.ndarray]] = []
    for lo in range(0, array.size, _CHUNK):
        c = {k: v[lo : lo + _CHUNK, None] for k, v in array.columns.items()}
        pieces.append(_evaluate_chunk(layers, c, tech, by_layer, requirements or ChipRequirements()))
    merged = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
    return BatchCostReport(
        layer_names=layers.names,
        chip_names=array.names,
        energy_by_layer_pj=merged.pop("energy_by_layer_pj", None),
        **merged,
    )


def evaluate(
    trace: WorkloadTrace, chip: ChipConfig, *, tech: Technology | None = None,
    requirements: ChipRequirements | None = None,
) -> CostReport:
    """Cost of one inference of ``trace`` on ``chip``: the batch model on a batch of one.

    Returns:
        A CostReport; an infeasible chip is a report with ``feasible=False`` and reasons.
    """
    return evaluate_batch(trace, [chip], by_layer=True, tech=tech, requirements=requirements).report(0)


__all__ = ["CATEGORIES", "evaluate", "evaluate_batch"]
