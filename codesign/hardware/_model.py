"""The analytic chip model: mapping, per-action energies, cycles and area, vectorised over chips.

One implementation: :func:`estimate_cost_batch` computes every figure for an array of chip
configurations against one trace with numpy, as ``[chips, layers]`` arrays;
:func:`estimate_cost` is a batch of one. The event-driven simulator reuses :func:`map_layers`,
:func:`layer_work`, :func:`action_energies` and the energy table
(:func:`energy_by_category_pj`, with :func:`noc_energy_pj` and :func:`static_energy_pj`), so
the two differ only in how they count events and cycles (:class:`ActionCounts`), never in what
one action costs. A chip's ``execution`` decides how a timestep's layers share the clock:
one after another (``layer_sequential``) or all at once, the busiest core's work setting the
step (``timestep_parallel``, :func:`_parallel_cycles`, with SANA-FE's NoC congestion in closed
form, :func:`congestion_cycles`, its copies split by destination tile, :func:`route_sharing`;
its blocking by full link buffers, :func:`blocked_send`). Every equation is written out in
docs/hardware.md.

Chip columns (``columns``) are ``{ChipConfig field: [chips, 1] float array}``, so that they
broadcast against ``[chips, layers]``. Sizes ending in ``_kb`` are KiB (1024 bytes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.config import ConfigError
from codesign.hardware._chip import (
    TAP_SCALE_BITS,
    ChipColumns,
    ChipConfig,
    ChipsLike,
    ColumnsLike,
    as_chip_array,
)
from codesign.hardware._energy import (
    ActionCounts,
    ActionEnergies,
    energy_by_category_pj,
    noc_energy_pj,
    static_energy_pj,
)
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
from codesign.trace import LayerTrace, WorkloadTrace

#: The weight bits of a float (unquantised) network (``codesign.snn.Precision``'s 32).
FLOAT_BITS = 32

#: Bits per KiB (the ``kb`` of every size name).
_BITS_PER_KIB = 8192.0
#: Memory footprint given to a layer with neither weights nor state, so that it still has a core.
_MIN_NEED_CORES = 1e-6
#: Tolerance of the core-boundary arithmetic (cumulative sums of fractional core needs).
_EPS = 1e-9
#: Chips evaluated per numpy pass: large enough to amortise Python overhead, small enough for cache.
_CHUNK = 4096


def _stored_fan_out(layer: LayerTrace) -> float:
    """Weights one input event reads when every stored weight is processed: a weight layer's
    dense operations per input element (zeros included), never below its nonzero fan-out."""
    if layer.kind in ("synaptic_dense", "synaptic_conv") and layer.weight_count > 0 and layer.input_size > 0:
        return float(max(layer.fan_out, layer.dense_macs / layer.input_size))
    return float(layer.fan_out)


@dataclass(frozen=True)
class LayerArrays:
    """The trace's chip-independent per-layer figures as ``[layers]`` float arrays.

    ``steps`` is how many steps each layer runs per inference (frames x T, the trace's
    ``LayerTrace.steps``). ``fan_out`` is the synaptic operations of one input event with
    nonzero weights only (the trace's); ``stored_fan_out`` the weights one event reads when
    every stored weight is processed, zeros included (a weight layer's dense operations per
    input element: the structural zeros of a fused projection count, they are stored).
    ``wide_weights`` marks the layers a chip with ``wide_weight_bits`` holds in those bits
    (:func:`layer_weight_bits`); ``taps`` their kernel taps (1 elsewhere), each scaled on its
    own on a chip with ``tap_scales`` (:func:`extra_tap_scales`).
    """

    names: tuple[str, ...]
    steps: np.ndarray
    weight_count: np.ndarray
    weight_density: np.ndarray
    index_bits: np.ndarray
    has_weights: np.ndarray
    wide_weights: np.ndarray
    taps: np.ndarray
    is_matmul: np.ndarray
    fan_out: np.ndarray
    stored_fan_out: np.ndarray
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

        def col(getter: Callable[[LayerTrace], float]) -> np.ndarray:
            return np.array([float(getter(layer)) for layer in layers])

        levels = col(lambda x: x.levels)
        is_spike = col(lambda x: x.input_is_spike).astype(bool)
        graded = is_spike & (levels > 1)
        # A graded event's payload must hold levels 1..D: ceil(log2(D + 1)) bits.
        payload = np.where(graded, np.ceil(np.log2(np.maximum(levels, 1) + 1)), 0.0)
        return cls(
            names=tuple(layer.name for layer in layers),
            steps=col(lambda x: x.steps),
            weight_count=col(lambda x: x.weight_count),
            weight_density=col(lambda x: min(x.weight_nonzero, x.weight_count) / x.weight_count if x.weight_count else 1.0),
            # A sparse synapse list stores each nonzero weight with the index of its target
            # among the targets an input could reach (the stored fan-out).
            index_bits=col(lambda x: np.ceil(np.log2(max(round(_stored_fan_out(x)), 2)))),
            has_weights=col(lambda x: x.weight_count > 0),
            wide_weights=col(lambda x: x.wide_weights).astype(bool),
            taps=col(lambda x: x.taps),
            is_matmul=col(lambda x: x.kind == "spike_matmul"),
            fan_out=col(lambda x: x.fan_out),
            stored_fan_out=col(_stored_fan_out),
            input_size=col(lambda x: x.input_size),
            input_events=col(lambda x: x.input_events),
            input_level_sum=col(lambda x: x.input_level_sum if x.input_is_spike else x.input_events),
            is_spike=is_spike,
            is_graded=graded,
            levels=levels,
            payload_bits=payload,
            input_width=col(lambda x: int(np.prod(x.in_shape)) if x.in_shape else 1),
            output_width=col(lambda x: int(np.prod(x.out_shape)) if x.out_shape else 1),
            output_spikes=col(lambda x: min(x.output_spikes, x.neuron_evaluations)),
            neuron_updates=col(lambda x: x.neuron_evaluations),
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


def widest_weight_bits(columns: ChipColumns) -> np.ndarray:
    """``[chips, 1]``: the widest weight word a chip stores and multiplies, ``max(weight_bits,
    wide_weight_bits)`` (``weight_bits`` where it holds no wide layers)."""
    return np.where(np.isnan(columns.wide_weight_bits), columns.weight_bits,
                    np.maximum(columns.weight_bits, columns.wide_weight_bits))


def layer_weight_bits(layers: LayerArrays, columns: ChipColumns) -> np.ndarray:
    """``[chips, layers]``: the bits each chip holds each layer's weights in: the wide layers
    (``LayerTrace.wide_weights``) at :func:`widest_weight_bits`, every other at ``weight_bits``
    (mixed precision; ``ChipConfig.wide_weight_bits``). The one place the cost model reads a
    layer's weight bits: capacity, weight reads, MAC energy and the trace check all use it."""
    return np.where(layers.wide_weights, widest_weight_bits(columns), columns.weight_bits)


def extra_tap_scales(layers: LayerArrays, columns: ChipColumns) -> np.ndarray:
    """``[chips, layers]``: the weight scales each output channel of a layer has beyond its one
    per-channel scale: ``taps − 1`` for a wide layer (``LayerTrace.wide_weights``) on a chip
    with ``tap_scales`` (a scale per output channel and kernel tap) and fixed-point weights, else 0. The one place the
    cost model reads ``tap_scales``: the scales' storage (:func:`map_layers`), and their reads
    and rescale multiplies (:func:`layer_work`)."""
    # float weights (32 bits) have no grid to scale per tap: the network is held as it is
    tapped = (columns.tap_scales > 0) & (columns.weight_bits < FLOAT_BITS)
    extra: np.ndarray = np.where(layers.wide_weights & tapped, layers.taps - 1.0, 0.0)
    return extra


def chip_derived(columns: ChipColumns, tech: Technology) -> ChipDerived:
    """Mesh shape, energy scaling, area and static power of each chip (``columns`` are ``[n, 1]``)."""
    cores = columns.cores
    mesh_cols = np.where(np.isnan(columns.mesh_cols), np.ceil(np.sqrt(cores)), columns.mesh_cols)
    mesh_rows = np.ceil(cores / mesh_cols)
    energy_factor, area_factor, nominal_v = tech.node_table(columns.node_nm)
    voltage_v = np.where(np.isnan(columns.voltage_v), nominal_v, columns.voltage_v)
    voltage_ratio = voltage_v / nominal_v
    weight_bits, state_bits = widest_weight_bits(columns), columns.state_bits
    sram_mm2 = (columns.weight_sram_kb_per_core + columns.state_sram_kb_per_core) * tech.sram_mm2_per_kb
    # Every PE can multiply-accumulate (real-valued first layers) at the widest weight word it
    # holds (a mixed-precision chip's wide layers); neuron units multiply (leak).
    pe_um2 = (add_area_um2(tech, state_bits) + mult_area_um2(tech, weight_bits, weight_bits)) * tech.logic_overhead
    neuron_unit_um2 = (
        mult_area_um2(tech, state_bits, state_bits) + 2.0 * add_area_um2(tech, state_bits)
    ) * tech.logic_overhead
    router_mm2 = tech.router_area_mm2_per_bit * columns.noc_link_bits
    core_mm2 = (
        sram_mm2
        + (columns.pes_per_core * pe_um2 + columns.neuron_units_per_core * neuron_unit_um2) * 1e-6
        + router_mm2
        + tech.core_overhead_mm2
    ) * area_factor
    area = cores * core_mm2
    density = np.where(np.isnan(columns.static_power_mw_per_mm2), tech.static_power_mw_per_mm2,
                       columns.static_power_mw_per_mm2)
    return ChipDerived(
        cores=cores,
        mesh_cols=mesh_cols,
        mesh_rows=mesh_rows,
        energy_scale=energy_factor * voltage_ratio**2,
        voltage_ratio=voltage_ratio,
        core_area_mm2=core_mm2,
        area_mm2=area,
        # Leakage taken proportional to supply voltage (subthreshold current held constant).
        static_power_mw=area * density * voltage_ratio,
    )


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LayerPlacement:
    """Where each layer sits, as ``[chips, layers]`` arrays (per chip: ``weights_fit``,
    ``state_fits``, ``weight_kb``, ``weight_kb_on_chip``, ``state_kb``, in KiB): the mapping,
    the cost model's third input beside the chip and the workload (:func:`place`).

    Layers are packed in trace order along the cores (row-major over the mesh) by memory
    need, in fractions of a core; a layer occupying ``[start, start + need)`` is split over
    cores ``core_first .. core_last - 1`` by output neurons, ``share_first``/``share_last``
    of its neurons on the first/last of them and ``1/need`` on each one in between.
    ``layer_names`` are the layers placed (empty: not recorded). The arrays are read-only.
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
    layer_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    @property
    def n_chips(self) -> int:
        return int(self.need.shape[0])

    def rows(self, lo: int, hi: int) -> LayerPlacement:
        """The placement of chips ``lo .. hi - 1``."""
        arrays = {name: getattr(self, name)[lo:hi] for name in self.__dataclass_fields__ if name != "layer_names"}
        return dataclasses.replace(self, **arrays)

    def check_fits(self, layers: LayerArrays, n_chips: int) -> None:
        """Refuse a placement made for other layers or another number of chips.

        Raises:
            ConfigError: the layers or the chip count differ.
        """
        if self.layer_names and self.layer_names != layers.names:
            raise ConfigError(None, "placement", "a placement of the trace's layers, in the same order",
                              got=list(self.layer_names)[:4])
        if self.n_chips != n_chips or self.need.shape[1] != len(layers.names):
            raise ConfigError(None, "placement", f"a placement of {n_chips} chips x {len(layers.names)} layers",
                              got=list(self.need.shape))


def place(
    trace: WorkloadTrace | LayerArrays, chips: ChipsLike, *,
    base: ChipConfig | None = None,
) -> LayerPlacement:
    """The mapping of a workload onto chips: where each layer's neurons sit (:func:`map_layers`).

    One of the cost model's three inputs (chip, workload, mapping): :func:`estimate_cost`,
    :func:`estimate_cost_batch` and the simulator take it (``placement=``) and compute this
    one when given none; the SANA-FE cross-check computes it once on the whole trace and
    costs a replay of part of it on that same mapping.
    """
    layers = trace if isinstance(trace, LayerArrays) else LayerArrays.from_trace(trace)
    columns = as_chip_array(chips, base=base).block()
    placed = map_layers(layers, columns, layer_work(layers, columns))
    return dataclasses.replace(placed, layer_names=layers.names)


def map_layers(
    layers: LayerArrays, chips: ColumnsLike, work: LayerWork | None = None
) -> LayerPlacement:
    """Place layers on cores by weight- and state-memory capacity (see :class:`LayerPlacement`).

    When the whole network's weights do not fit, the first layer that overflows and every
    later one keep only their neuron state on chip and stream their weights from off-chip
    memory (``spilled``); whether that is allowed is the chip's ``weight_overflow``.
    With ``mapping_policy: spread`` the cores left over after the memory need are shared
    out among the layers in proportion to their work (synaptic operations + neuron
    updates per inference, from ``work``), so that busy layers are split over more cores;
    ``pack`` uses as few cores as memory allows. :func:`place` is the mapping input of the
    cost model; this is its arithmetic on ``[chips, 1]`` columns.
    """
    columns = ChipColumns.of(chips)
    cores = columns.cores
    sparse = columns.sparse_weights > 0
    bits = layer_weight_bits(layers, columns)
    stored_bits = np.where(
        sparse,
        layers.weight_count * layers.weight_density * (bits + layers.index_bits),
        layers.weight_count * bits,
    )
    # a chip with tap_scales stores taps - 1 more scales per output channel of a wide layer
    stored_bits = stored_bits + extra_tap_scales(layers, columns) * layers.output_width * TAP_SCALE_BITS
    layer_state_bits = layers.state_size * columns.state_bits
    need_weight_memory = stored_bits / (columns.weight_sram_kb_per_core * _BITS_PER_KIB)
    need_state_memory = layer_state_bits / (columns.state_sram_kb_per_core * _BITS_PER_KIB)
    need_state = np.maximum(need_state_memory, _MIN_NEED_CORES)
    need_full = np.maximum(need_weight_memory, need_state)
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
        need = need + extra * (columns.mapping_policy > 0)
    end = np.cumsum(need, axis=1)
    start = end - need
    state_fits = end[:, -1] <= cores[:, 0] + _EPS
    first = np.floor(start + _EPS)
    last = np.maximum(np.ceil(end - _EPS), first + 1.0)
    # Layers beyond the chip (state does not fit) are clamped onto its last core: the chip is
    # reported infeasible, the figures stay finite.
    first = np.minimum(first, cores - 1.0)
    last = np.clip(last, first + 1.0, cores)
    n_cores = last - first
    share_first = np.where(n_cores == 1, 1.0, (np.minimum(end, first + 1.0) - start) / need)
    share_last = np.where(n_cores == 1, 0.0, (end - np.maximum(start, last - 1.0)) / need)
    share_first = np.clip(share_first, 0.0, 1.0)
    share_last = np.clip(share_last, 0.0, 1.0)
    share_max = np.maximum(np.maximum(share_first, share_last), np.where(n_cores > 2, 1.0 / need, 0.0))
    weight_kb = stored_bits.sum(axis=1) / _BITS_PER_KIB
    return LayerPlacement(
        need=need,
        start=start,
        spilled=spilled,
        core_first=first,
        core_last=last,
        n_cores=n_cores,
        share_first=share_first,
        share_last=share_last,
        share_max=share_max,
        weights_fit=np.logical_not(spilled.any(axis=1)),
        state_fits=state_fits,
        weight_kb=weight_kb,
        weight_kb_on_chip=(stored_bits * ~spilled).sum(axis=1) / _BITS_PER_KIB,
        state_kb=layer_state_bits.sum(axis=1) / _BITS_PER_KIB,
    )


def core_shares(placement: LayerPlacement, chip: int, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Cores holding one layer and the fraction of its neurons on each (for the simulator)."""
    first = int(placement.core_first[chip, layer])
    last = int(placement.core_last[chip, layer])
    n_cores = last - first
    shares = np.full(n_cores, 1.0 / placement.need[chip, layer])
    shares[0] = placement.share_first[chip, layer]
    if n_cores > 1:
        shares[-1] = placement.share_last[chip, layer]
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


def _dest_geometry(first_core: np.ndarray, end_core: np.ndarray, width: np.ndarray) -> _DestGeometry:
    """Geometry of the cores ``first_core .. end_core - 1`` on a mesh ``width`` columns wide."""
    # Float arithmetic throughout: numpy's integer // and % are several times slower.
    last_core = end_core - 1.0
    row_first, row_last = np.floor(first_core / width), np.floor(last_core / width)
    col_first, col_last = first_core - row_first * width, last_core - row_last * width
    one_row = row_first == row_last
    multi = ~one_row
    far_col = width - 1.0
    # The farthest destination from any source is a corner of the range: an end of its first
    # or last row, or (several rows) an end of the full rows between them.
    corners = (
        (col_first, row_first),
        (np.where(multi, far_col, col_last), row_first),
        (np.where(multi, 0.0, col_first), row_last),
        (col_last, row_last),
        (np.where(multi, 0.0, col_first), np.where(multi, np.minimum(row_first + 1.0, row_last), row_first)),
        (np.where(multi, far_col, col_last), np.where(multi, np.maximum(row_last - 1.0, row_first), row_last)),
    )
    return _DestGeometry(
        corners=corners,
        width=width,
        row_first=row_first,
        row_last=row_last,
        col_first=col_first,
        col_last=col_last,
        col_min=np.where(one_row, col_first, 0.0),
        col_max=np.where(one_row, col_last, width - 1.0),
        groups=tuple(
            (np.where(lo <= hi, count, 0.0), lo, hi)
            for count, lo, hi in (
                # columns in both the first and the last row
                (np.maximum(col_last - col_first + 1.0, 0.0), row_first, row_last),
                # in the first row only
                (width - np.maximum(col_first, col_last + 1.0), row_first, row_last - 1.0),
                # in the last row only
                (np.minimum(col_first, col_last + 1.0), row_first + 1.0, row_last),
                # in neither: full middle rows
                (np.maximum(col_first - col_last - 1.0, 0.0), row_first + 1.0, row_last - 1.0),
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
    src_row = np.floor(src / dest.width)
    src_col = src - src_row * dest.width
    right = np.maximum(dest.col_max - src_col, 0.0)
    left = np.maximum(src_col - dest.col_min, 0.0)
    links_x = right + left
    # Absent column kinds have count 0; a one-row range is the first kind alone.
    links_y = np.zeros(np.broadcast_shapes(src_row.shape, dest.width.shape))
    for count, lo, hi in dest.groups:
        links_y += count * (np.maximum(hi, src_row) - np.minimum(lo, src_row))
    if not with_depth:
        return links_x, links_y, None
    depth = np.zeros_like(links_y)
    for col, row in dest.corners:
        depth = np.maximum(depth, np.abs(col - src_col) + np.abs(row - src_row))
    return links_x, links_y, depth


#: Interior source cores at which the multicast tree is evaluated (the rest are interpolated).
_TREE_SAMPLES = 2


def tree_totals(placement: LayerPlacement, mesh_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multicast-tree links (x, y) per input event of each layer, and the tree depth.

    Sources are weighted by their neuron shares (the host at core 0 feeds the first layer).
    The first and last source core are exact; the interior cores (uniform weight) are
    averaged over ``_TREE_SAMPLES`` evenly spaced ones (exact up to two interior cores).
    """
    n_chips = placement.need.shape[0]
    zeros = np.zeros((n_chips, 1))
    ones = np.ones((n_chips, 1))
    # Each layer's sources are the previous layer's cores (the host, core 0, for the first).
    src_first = np.hstack([zeros, placement.core_first[:, :-1]])
    src_end = np.hstack([ones, placement.core_last[:, :-1]])
    src_share_first = np.hstack([ones, placement.share_first[:, :-1]])
    src_share_last = np.hstack([zeros, placement.share_last[:, :-1]])
    src_need = np.hstack([ones, placement.need[:, :-1]])
    dest = _dest_geometry(placement.core_first, placement.core_last, mesh_cols)
    first_x, first_y, first_depth = tree_links(src_first, dest)
    last_x, last_y, last_depth = tree_links(src_end - 1.0, dest)
    assert first_depth is not None and last_depth is not None
    interior = np.maximum(src_end - src_first - 2.0, 0.0)
    scale = interior / src_need
    links_x = src_share_first * first_x + src_share_last * last_x
    links_y = src_share_first * first_y + src_share_last * last_y
    for k in range(_TREE_SAMPLES):
        pos = np.minimum(src_first + 1.0 + np.floor((k + 0.5) * interior / _TREE_SAMPLES), src_end - 1.0)
        sample_x, sample_y, _ = tree_links(pos, dest, with_depth=False)
        links_x = links_x + scale / _TREE_SAMPLES * sample_x
        links_y = links_y + scale / _TREE_SAMPLES * sample_y
    # The step ends with the last packet's trip; the end source cores bound the interior ones.
    depth = np.maximum(first_depth, np.where(src_share_last > 0, last_depth, 0.0))
    return links_x, links_y, depth


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
    rescale_ops: np.ndarray
    scale_read_bits: np.ndarray


def layer_work(layers: LayerArrays, chips: ColumnsLike) -> LayerWork:
    """Routed events and synaptic operations per inference on each chip.

    A layer's graded spikes travel as one event carrying a payload when the chip's
    ``graded_spike_bits`` hold its levels; otherwise a level-k spike is split into k binary
    events. Real-valued inputs travel as one event carrying a ``weight_bits``-wide value.
    With zero skipping off every input element is processed (``levels`` times on a chip that
    splits graded spikes). Zero weights are priced once: a chip without ``sparse_weights``
    stores and processes every weight, zeros included (``stored_fan_out`` per event); one with
    it stores and processes only the nonzero ones (the trace's ``fan_out``). A chip with
    ``tap_scales`` rescales each extra tap's partial sum of a wide layer's output neurons at
    every step (``rescale_ops``: :func:`extra_tap_scales` × outputs × steps, each a multiply
    and an add at ``state_bits``, reading one :data:`TAP_SCALE_BITS`-bit scale from weight
    SRAM: ``scale_read_bits``), whatever the input's activity.
    """
    columns = ChipColumns.of(chips)
    graded = layers.is_graded & (columns.graded_spike_bits >= layers.payload_bits)
    split = layers.is_graded & ~graded
    events = np.where(layers.local_input, 0.0, np.where(split, layers.input_level_sum, layers.input_events))
    sparse = columns.sparse_weights > 0
    # The trace's fan_out already leaves the zero weights out: a sparse synapse list (nonzero
    # weights only) touches exactly those; a dense one reads every stored weight.
    fan_out = np.where(sparse, layers.fan_out, layers.stored_fan_out)
    dense_ops = layers.input_size * fan_out * np.where(split, layers.levels, 1.0)
    ops = np.where(columns.zero_skipping > 0, events * fan_out, dense_ops)
    payload = np.where(graded, layers.payload_bits, np.where(layers.is_spike, 0.0, columns.weight_bits))
    packet_bits = columns.noc_header_bits + payload
    # Bits each synaptic op reads: a weight (with its target index when sparse), or
    # (spike_matmul) the other operand, kept in state memory.
    weight_op_bits = layers.has_weights * (layer_weight_bits(layers, columns) + np.where(sparse, layers.index_bits, 0.0))
    operand_bits = weight_op_bits + layers.is_matmul * columns.state_bits
    rescale_ops = extra_tap_scales(layers, columns) * layers.output_width * layers.steps
    return LayerWork(
        graded=graded,
        split=split,
        events=events,
        synaptic_ops=ops,
        packet_bits=packet_bits,
        flits=np.ceil(packet_bits / columns.noc_link_bits),
        fan_out=fan_out,
        weight_op_bits=weight_op_bits,
        operand_bits=operand_bits,
        rescale_ops=rescale_ops,
        scale_read_bits=rescale_ops * TAP_SCALE_BITS,
    )


def action_energies(
    layers: LayerArrays, columns: ChipColumns, work: LayerWork, derived: ChipDerived, tech: Technology
) -> ActionEnergies:
    """Per-action energies from the technology rules, or the chip's own per-op figures when set."""
    scale = derived.energy_scale
    weight_bits, state_bits = layer_weight_bits(layers, columns), columns.state_bits
    add = add_energy_pj(tech, state_bits) * scale
    mac = mult_energy_pj(tech, weight_bits, weight_bits) * scale + add
    graded_mult = mult_energy_pj(tech, weight_bits, layers.payload_bits) * scale + add
    op = np.where(~layers.is_spike, mac, np.where(work.graded, graded_mult, add))
    quoted_op = columns.synaptic_op_energy_pj
    has_quoted_op = ~np.isnan(quoted_op)
    op = np.where(has_quoted_op, quoted_op, op)
    weight_sram_bit = sram_read_64b_pj(tech, columns.weight_sram_kb_per_core) / 64.0 * scale
    state_sram_bit = sram_read_64b_pj(tech, columns.state_sram_kb_per_core) / 64.0 * scale
    # A chip that quotes a synaptic-op energy includes the weight read in it.
    weight_read = np.where(has_quoted_op, 0.0, work.weight_op_bits * weight_sram_bit)
    operand_read = state_bits * state_sram_bit * layers.is_matmul
    quoted_update = columns.neuron_update_energy_pj
    has_quoted_update = ~np.isnan(quoted_update)
    update = (mult_energy_pj(tech, state_bits, state_bits) + 2.0 * add_energy_pj(tech, state_bits)) * scale
    quoted_spike = np.where(
        np.isnan(columns.neuron_spike_energy_pj), quoted_update, columns.neuron_spike_energy_pj
    )
    neuron_update = np.where(has_quoted_update, quoted_update, update)
    # a tap's partial sum rescaled and added at the accumulator's (state) word
    rescale = (mult_energy_pj(tech, state_bits, state_bits) + add_energy_pj(tech, state_bits)) * scale
    neuron_spike = np.where(has_quoted_update, quoted_spike, update)
    # Quoted neuron-update energies include the state access; otherwise read + write the state.
    state_access = np.where(has_quoted_update, 0.0, 2.0 * state_bits * state_sram_bit)
    pitch_mm = np.sqrt(derived.core_area_mm2)
    local = work.packet_bits * tech.noc_router_pj_per_bit * scale
    hop = work.packet_bits * (tech.noc_router_pj_per_bit + tech.noc_wire_pj_per_bit_mm * pitch_mm) * scale
    offchip = np.where(
        np.isnan(columns.offchip_energy_pj_per_bit), tech.dram_pj_per_bit, columns.offchip_energy_pj_per_bit
    )
    return ActionEnergies(
        synaptic_op=op,
        weight_read_op=weight_read,
        operand_read_op=operand_read,
        rescale_op=rescale,
        weight_read_bit=weight_sram_bit,
        offchip_bit=offchip,
        neuron_update=neuron_update,
        neuron_spike=neuron_spike,
        state_access_update=state_access,
        aux_op=add,
        packet_local=np.where(np.isnan(columns.spike_local_energy_pj), local, columns.spike_local_energy_pj),
        hop_ew=np.where(np.isnan(columns.hop_energy_ew_pj), hop, columns.hop_energy_ew_pj),
        hop_ns=np.where(np.isnan(columns.hop_energy_ns_pj), hop, columns.hop_energy_ns_pj),
    )


def used_cores(placement: LayerPlacement, cores: np.ndarray) -> np.ndarray:
    """Cores holding at least part of a layer (a prefix of the row-major order), ``[chips, 1]``."""
    end = placement.start[:, -1:] + placement.need[:, -1:]
    used: np.ndarray = np.clip(np.ceil(end - _EPS), 1.0, cores)
    return used


def tiles_in_use(columns: ChipColumns, derived: ChipDerived, used: np.ndarray) -> np.ndarray:
    """Tiles (``tile_cols`` x ``tile_rows`` cores) holding one of the ``used`` first cores (row-major)."""
    width, tile_w, tile_h = derived.mesh_cols, columns.tile_cols, columns.tile_rows
    row_last = np.ceil(used / width) - 1.0
    band_last = np.floor(row_last / tile_h)
    full_band = np.ceil(width / tile_w)
    # The last band is full width when a row above its last one is (a full row).
    last_band = np.where(row_last > band_last * tile_h, full_band, np.ceil((used - row_last * width) / tile_w))
    tiles: np.ndarray = band_last * full_band + last_band
    return tiles


def sync_table_ns(columns: ChipColumns, tiles: np.ndarray) -> np.ndarray:
    """The ``timestep_sync_ns_by_tiles`` entry of the largest tile count not above ``tiles`` (0: none)."""
    out = np.zeros(np.broadcast_shapes(tiles.shape, columns.cores.shape))
    for threshold, ns in zip(columns.sync_tiles, columns.sync_ns, strict=True):
        out = np.where(~np.isnan(threshold) & (tiles >= threshold), ns, out)
    return out


def barrier_cycles(columns: ChipColumns, derived: ChipDerived, placement: LayerPlacement) -> np.ndarray:
    """Cycles of one timestep barrier: a token crosses the mesh (columns + rows hops), plus the
    chip's synchronisation time, ``timestep_sync_ns`` and the ``timestep_sync_ns_by_tiles``
    entry for the tiles in use."""
    tiles = tiles_in_use(columns, derived, used_cores(placement, columns.cores))
    sync = (columns.timestep_sync_ns + sync_table_ns(columns, tiles)) * columns.clock_mhz / 1000.0
    cycles: np.ndarray = columns.noc_hop_latency_cycles * (derived.mesh_cols + derived.mesh_rows) + sync
    return cycles


def message_cycles(columns: ChipColumns, work: LayerWork) -> tuple[np.ndarray, np.ndarray]:
    """Cycles a source core spends sending one packet, and a destination core taking one in."""
    out = np.where(np.isnan(columns.message_out_cycles), work.flits, columns.message_out_cycles)
    into = np.where(np.isnan(columns.message_in_cycles), work.flits, columns.message_in_cycles)
    return out, into


def per_core(placement: LayerPlacement, each: np.ndarray, by_share: np.ndarray, n_cores: int) -> np.ndarray:
    """Per-core sums over the layers a core holds: ``each`` on every core holding a layer, plus
    ``by_share`` times the core's share of its neurons; ``[chips, n_cores]``."""
    n_chips, n_layers = placement.need.shape
    each = np.broadcast_to(each, (n_chips, n_layers))
    by_share = np.broadcast_to(by_share, (n_chips, n_layers))
    first = placement.core_first.astype(np.intp)
    last = placement.core_last.astype(np.intp)
    multi = placement.n_cores > 1
    rows = np.broadcast_to(np.arange(n_chips)[:, None] * (n_cores + 1), (n_chips, n_layers))
    # Interior cores (between the first and the last) all get the same load: a difference array.
    interior = np.where(placement.n_cores > 2, each + by_share / placement.need, 0.0)
    diff = np.zeros(n_chips * (n_cores + 1))
    np.add.at(diff, (rows + first + 1).ravel(), interior.ravel())
    np.add.at(diff, (rows + np.maximum(last - 1, first + 1)).ravel(), -interior.ravel())
    loads = np.cumsum(diff.reshape(n_chips, n_cores + 1), axis=1)
    flat = loads.reshape(-1)
    np.add.at(flat, (rows + first).ravel(), (each + by_share * placement.share_first).ravel())
    np.add.at(flat, (rows + last - 1).ravel(), np.where(multi, each + by_share * placement.share_last, 0.0).ravel())
    out: np.ndarray = loads[:, :n_cores]
    return out


def offchip_bits_per_cycle(columns: ChipColumns) -> np.ndarray:
    """Off-chip bandwidth in bits per clock cycle."""
    return columns.offchip_bandwidth_gb_per_s * 8e9 / (columns.clock_mhz * 1e6)


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
def pipeline_depth(layers: LayerArrays) -> int:
    """Layers an input event passes through one step each on a timestep-parallel chip: those
    that receive routed events (a neuron reading its synapses' accumulators in the same core
    adds no step)."""
    return int(np.count_nonzero(~layers.local_input))


def _release_bound(
    placement: LayerPlacement, send: np.ndarray, host: np.ndarray, receive_each: np.ndarray,
    receive_share: np.ndarray,
) -> np.ndarray:
    """The receive pipeline waits for its packets: a layer's packets leave as the layer before
    it runs its neuron phase, which on its first core starts after the phases of the layers
    that core held before (and the host's sends, on core 0); a layer split over several
    cores releases only that core's share late. So a step lasts at least that (share-weighted)
    start plus the receive work, on the layer's busiest core, of the layer and of every later
    layer on that core. Layers hold contiguous core ranges in trace order, so both sums run
    over neighbouring layers only; ``[chips]``, totals over the inference.
    """
    n_chips, n_layers = placement.need.shape
    first = placement.core_first
    last = placement.core_last - 1.0
    single = placement.n_cores == 1
    # Forward: when each layer's phase starts on its first core.
    start = np.zeros((n_chips, n_layers))
    core = np.zeros(n_chips)
    acc = host.copy()
    for i in range(n_layers):
        start[:, i] = np.where(first[:, i] == core, acc, 0.0)
        acc = np.where(single[:, i], start[:, i] + send[:, i], send[:, i] * placement.share_last[:, i])
        core = last[:, i]
    # Backward: receive work from each layer on, on its last core (later layers start there).
    share_last = np.where(single, placement.share_first, placement.share_last)
    suffix = np.zeros((n_chips, n_layers))
    core = np.full(n_chips, -1.0)
    acc = np.zeros(n_chips)
    for i in range(n_layers - 1, -1, -1):
        own = receive_each[:, i] + receive_share[:, i] * share_last[:, i]
        suffix[:, i] = own + np.where(last[:, i] == core, acc, 0.0)
        acc = np.where(single[:, i], suffix[:, i], receive_each[:, i] + receive_share[:, i] * placement.share_first[:, i])
        core = first[:, i]
    own_max = receive_each + receive_share * placement.share_max
    wait = np.maximum(suffix, own_max)
    # A layer split over several cores sends from all of them; only the first core's share
    # of its packets waits for that core's earlier layers.
    late = start * np.where(single, 1.0, placement.share_first)
    release = np.hstack([np.zeros((n_chips, 1)), late[:, :-1]])
    bound: np.ndarray = (release + wait).max(axis=1)
    return bound


@dataclass(frozen=True)
class RouteSharing:
    """Per layer, ``[chips, layers]``: how its copies share their routes (:func:`route_sharing`)."""

    route: np.ndarray
    injection: np.ndarray
    tile_share: np.ndarray


def _unique_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of one row per distinct row of the integer matrix ``key`` ``[n, k]``, and each row's
    position among them (``key[index][inverse] == key``)."""
    k = key.astype(np.int64)
    low = k.min(axis=0)
    span = k.max(axis=0) - low + 1
    if float(np.prod(span.astype(float))) < 2.0**62:
        radix = np.concatenate([[1], np.cumprod(span[:-1])])
        _, index, inverse = np.unique((k - low) @ radix, return_index=True, return_inverse=True)
    else:
        _, index, inverse = np.unique(k, axis=0, return_index=True, return_inverse=True)
    return index, inverse.reshape(-1)


def route_sharing(chips: ColumnsLike, placement: LayerPlacement, mesh_cols: np.ndarray) -> RouteSharing:
    """How each layer's copies share their dimension-order routes, by destination tile.

    With ``w_t`` the share of the layer's destination cores in tile ``t`` and ``L_t`` the links
    of the route to it from the source (the middle core of the layer before; the host, core
    0, for the first layer): ``route = sum_t w_t sum_u w_u O_tu / (L_t (L_t + 1))``, ``O_tu``
    the links a copy to ``t`` shares with a copy to ``u`` (``L_t`` for ``u = t``; otherwise
    the injection link, the x hops both take toward the same side and, in the same tile
    column, the y hops toward the same side); ``injection = sum_t w_t / (L_t (L_t + 1))``, the
    injection link's part; ``tile_share`` the largest ``w_t``. The figures depend only on the
    mesh, the tiles and the source and destination core ranges (integers), so they are
    computed once per distinct geometry in the batch, as arrays over tiles (no Python loop).
    """
    columns = ChipColumns.of(chips)
    first, end = placement.core_first, placement.core_last
    n_chips, n_layers = first.shape
    src_first = np.hstack([np.zeros((n_chips, 1)), first[:, :-1]])
    src_end = np.hstack([np.ones((n_chips, 1)), end[:, :-1]])
    fields = [np.broadcast_to(f, first.shape).reshape(-1) for f in (
        mesh_cols, columns.cores, columns.tile_cols, columns.tile_rows, first, end, src_first, src_end)]
    index, inverse = _unique_rows(np.stack(fields, axis=1))
    route, injection, tile_share = _route_sharing_of(*(f[index] for f in fields))
    return RouteSharing(
        route=route[inverse].reshape(n_chips, n_layers),
        injection=injection[inverse].reshape(n_chips, n_layers),
        tile_share=tile_share[inverse].reshape(n_chips, n_layers),
    )


def _route_sharing_of(
    width: np.ndarray, cores: np.ndarray, tw: np.ndarray, th: np.ndarray, first: np.ndarray, end: np.ndarray,
    src_first: np.ndarray, src_end: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`route_sharing` of ``[n]`` geometries: route, injection and tile share, each ``[n]``."""
    n = np.maximum(end - first, 1.0)
    source = np.floor((src_first + src_end - 1.0) / 2.0)
    src_x = np.floor((source % width) / tw)[:, None]
    src_y = np.floor(np.floor(source / width) / th)[:, None]
    rows = np.ceil(cores / width)
    r = np.arange(int(rows.max()), dtype=float)
    # Columns of the range in each mesh row, [n, rows].
    lo = np.clip(first[:, None] - r * width[:, None], 0.0, width[:, None])
    hi = np.clip(end[:, None] - r * width[:, None], 0.0, width[:, None])
    tx = np.arange(int(np.ceil(width / tw).max()), dtype=float)
    x0 = tx * tw[:, None]  # [n, tile x]
    x1 = np.minimum(x0 + tw[:, None], width[:, None])
    # Cores of the range in each (tile column, row): [n, tile x, rows].
    overlap = np.maximum(np.minimum(hi[:, None, :], x1[:, :, None]) - np.maximum(lo[:, None, :], x0[:, :, None]), 0.0)
    ty = np.arange(int(np.ceil(rows / th).max()), dtype=float)
    band = (np.floor(r / th[:, None])[:, None, :] == ty[None, :, None]).astype(float)  # [n, tile y, rows]
    w = np.matmul(overlap, band.swapaxes(-1, -2)) / n[:, None, None]  # [n, tile x, tile y]
    ox, oy = tx - src_x, ty - src_y  # [n, tile x], [n, tile y]
    ax, ay = np.abs(ox), np.abs(oy)
    links = ax[:, :, None] + ay[:, None, :] + 1.0
    share_x = (ox[:, :, None] * ox[:, None, :] > 0) * np.minimum(ax[:, :, None], ax[:, None, :])
    share_y = (oy[:, :, None] * oy[:, None, :] > 0) * np.minimum(ay[:, :, None], ay[:, None, :])
    x_sum = np.matmul(share_x, w.sum(axis=-1)[:, :, None])  # [n, tile x, 1]
    y_sum = np.matmul(w, share_y.swapaxes(-1, -2))  # [n, tile x, tile y]
    # A tile's own copies share its whole route; take them out of the x and y sums.
    shared = (1.0 - w) + w * links + x_sum - w * ax[:, :, None] + y_sum - w * ay[:, None, :]
    per_link = w / (links * (links + 1.0))
    return (per_link * shared).sum(axis=(1, 2)), per_link.sum(axis=(1, 2)), w.max(axis=(1, 2))

def congestion_cycles(
    chips: ColumnsLike, placement: LayerPlacement, mesh_cols: np.ndarray, receive: np.ndarray,
    sources: np.ndarray | float = 1.0, sharing: RouteSharing | None = None,
) -> np.ndarray:
    """Cycles the NoC takes, per packet copy, to deliver a layer's input stream under SANA-FE's
    congestion rule, ``[chips, layers]``.

    SANA-FE's detailed timing model (``src/schedule.cpp``, ``schedule_handle_message``;
    github.com/SLAM-Lab/SANA-FE at 8951ab0) delays a message on a route of ``h`` tile hops by
    ``density along the route x mean receive time of the messages in flight / (h + 1)``; a
    message stays in flight until its destination core starts taking it in, adding
    ``1 / (h + 2)`` to each of the route's ``h + 1`` links. A stream of messages sharing their
    route, sent every ``g`` cycles and each taking ``s`` to receive, then arrives one every
    ``max(g, s / (h + 2))`` cycles: with arrivals every ``tau`` the ``k``-th message finds
    ``k (1 - g / tau)`` in flight and is delayed ``k (1 - g / tau) s / (h + 2)``, which is
    linear in ``k`` only for ``tau = g`` or ``tau = s / (h + 2)``.

    A layer's copies go to several destination tiles, along routes that share only part of
    their links, so the copies are split by destination tile ``t`` (share ``w_t`` of the
    layer's destination cores, ``L_t = h_t + 1`` links from the source): a copy to ``t``
    finds the layer's other copies in flight on ``O_tu`` of its links (its own tile's: all
    ``L_t``; another tile's: the source's injection link, plus the x hops both routes take
    toward the same side, plus, in the same tile column, the y hops toward the same side:
    dimension-order routes), and the same argument gives one copy every
    ``s x sum_t w_t sum_u w_u O_tu / (L_t (L_t + 1))`` cycles (``s / (h + 2)`` when every
    copy goes to one tile). The source is the middle core of the layer before (the host, core
    0, for the first layer); ``receive`` is ``s``, the mean receive time of the messages in
    flight (``message_in_cycles`` plus a copy's synaptic work). With ``sources`` cores of one
    source tile sending the layer's copies through one pipeline, a copy from another of them
    shares every link but the injection link (``O_tu - 1``): ``s x (route - (1 - 1/sources) x
    injection)`` (:class:`RouteSharing`; ``sharing`` if already computed). SANA-FE's blocking
    (a sender held back while a route holds more than its buffers) is :func:`blocked_send`.
    """
    sharing = route_sharing(chips, placement, mesh_cols) if sharing is None else sharing
    # Copies from the other source cores of a tile share every link of their route but the
    # injection link.
    other_sources = 1.0 - 1.0 / np.maximum(sources, 1.0)
    per_copy: np.ndarray = receive * (sharing.route - other_sources * sharing.injection)
    return per_copy


def blocked_send(
    placement: LayerPlacement, receive_each: np.ndarray, receive_share: np.ndarray, copies: np.ndarray,
    route: np.ndarray, mean_receive: np.ndarray, buffer_messages: np.ndarray, n_steps: float,
) -> np.ndarray:
    """The least send work of each layer's neuron phase when full link buffers hold its
    sender back (SANA-FE's blocking), ``[chips, layers]``, totals over the inference, per unit
    share of the layer (as ``send``); 0 where ``buffer_messages`` is NaN (unbounded).

    SANA-FE (``schedule_handle_message``, ``src/schedule.cpp``) holds a message back while
    the density of messages in flight along its route exceeds ``(h + 1) x link_buffer_size``,
    by the excess x the mean receive time ``s`` of the messages in flight, and everything its
    core sends after it. A copy of layer ``l + 1`` finds ``route_{l+1} x (h + 1)`` of its route's
    density per copy of the layer in flight (:class:`RouteSharing`), so its source keeps at
    most ``K = buffer_messages / route_{l+1}`` copies in flight (``(h + 2) x buffer`` when all
    go to one tile): it sends its last copy no earlier than the layer's slowest destination
    core has taken in all but ``K`` of them. Layer ``l``'s send work then lasts at least that
    core's receive work on layer ``l + 1`` (``receive_each + receive_share x share_max``)
    less ``K x s`` per step; the release bound (:func:`_release_bound`) carries the hold to the
    layers the core sends after it.
    """
    n_chips = placement.need.shape[0]
    slowest = receive_each + receive_share * placement.share_max
    held_for = n_steps * np.broadcast_to(buffer_messages, (n_chips, 1)) / np.maximum(route, 1e-12) * mean_receive
    blocked = np.where(copies > 0.0, np.maximum(slowest - held_for, 0.0), 0.0)
    out: np.ndarray = np.nan_to_num(blocked, nan=0.0)
    return out


def _parallel_cycles(
    layers: LayerArrays,
    columns: ChipColumns,
    work: LayerWork,
    placement: LayerPlacement,
    msg_out: np.ndarray,
    msg_in: np.ndarray,
    copies: np.ndarray,
    sram_bits_op: np.ndarray,
    offchip_cycles: np.ndarray,
    delivery: np.ndarray,
    step_barrier: np.ndarray,
    mesh_cols: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cycles of one inference on a ``timestep_parallel`` chip (docs/hardware.md, section 3).

    Every core runs its share of every layer it holds in each timestep, with two pipelines
    that overlap (SANA-FE's Loihi: a core's neuron updates and sends, and its receiving of
    packets, run on their own timelines):

    - send: per layer held, its neuron updates (``neuron_update_cycles`` each,
      ``spike_out_cycles`` more per spike, aux operations) on the neuron units, at least the
      state port's reads and writes; then one ``message_out_cycles`` per packet sent to the
      next layer (per destination core without multicast), its share of the packets;
    - receive: per layer held, one ``message_in_cycles`` per packet taken in, then its
      synaptic operations on the PEs (at least the SRAM port's and off-chip weight reads).

    A step lasts as long as the busiest core's longer pipeline (summed over the layers it
    holds; the inference's total over the steps, divided evenly), or, when longer, a
    layer's packets' release plus the receive work waiting for them (:func:`_release_bound`),
    plus the deepest multicast tree's trip and the barrier. An inference of ``n`` steps ends ``depth`` steps
    after its last input (spikes reach the next layer at the next step): ``n + depth`` steps.

    Returns:
        (cycles, per layer the busiest core's work on it over the inference, barrier cycles),
        ``[chips]``, ``[chips, layers]``, ``[chips]``.
    """
    n_chips = placement.need.shape[0]
    port_bits = columns.sram_word_bits * columns.sram_ports_per_core
    units = columns.neuron_units_per_core
    # Send pipeline, per layer: what scales with the core's share of the layer's neurons.
    neuron = (
        layers.neuron_updates * columns.neuron_update_cycles + layers.output_spikes * columns.spike_out_cycles
        + layers.aux_ops
    ) / units
    state = layers.neuron_updates * 2.0 * columns.state_bits / port_bits
    send_neuron = np.maximum(neuron, state)
    # A layer's input packets leave the cores of the layer before it (the host, core 0, for the first).
    sent = work.events * msg_out * copies
    send_next = np.hstack([sent[:, 1:], np.zeros((n_chips, 1))])
    send = send_neuron + send_next
    # Receive pipeline: every core holding a layer takes in each of its packets.
    receive_each = work.events * msg_in
    receive_share = np.maximum(
        np.maximum(work.synaptic_ops / columns.pes_per_core, work.synaptic_ops * sram_bits_op / port_bits),
        offchip_cycles,
    )
    n_cores = int(columns.cores.max())
    send_cores = per_core(placement, np.zeros_like(send), send, n_cores)
    host = np.zeros((n_chips, n_cores))
    host[:, 0] = sent[:, 0]
    send_cores = send_cores + host
    receive_cores = per_core(placement, receive_each, receive_share, n_cores)
    # Network pipeline (SANA-FE's congestion, :func:`congestion_cycles`): a source's copies
    # reach their layer one every s x (shared links) / (h (h + 1)) cycles at best, s the mean
    # receive time of the messages in flight, chip-wide (weighted by each layer's copies).
    n_copies = work.events * copies
    copy_receive = msg_in + receive_share / np.maximum(work.events * placement.n_cores, 1e-12)
    mean_receive = (n_copies * copy_receive).sum(axis=1, keepdims=True) / np.maximum(
        n_copies.sum(axis=1, keepdims=True), 1e-12)
    sharing = route_sharing(columns, placement, mesh_cols)
    jammed = n_copies * congestion_cycles(columns, placement, mesh_cols, mean_receive, sharing=sharing)
    network_cores = per_core(placement, np.zeros_like(jammed),
                             np.hstack([jammed[:, 1:], np.zeros((n_chips, 1))]), n_cores)
    network_cores[:, 0] += jammed[:, 0]
    # A layer's source cores in one tile send its copies along the same routes (all but their
    # injection links): that tile's share of the layer's copies goes through one pipeline.
    tile_share = sharing.tile_share
    src_tile = np.hstack([np.ones((n_chips, 1)), tile_share[:, :-1]])
    src_in_tile = np.hstack([np.ones((n_chips, 1)), (tile_share * placement.n_cores)[:, :-1]])
    tile_jammed = n_copies * congestion_cycles(columns, placement, mesh_cols, mean_receive, src_in_tile, sharing)
    network_tile = (tile_jammed * src_tile).max(axis=1)
    busiest = np.maximum(np.maximum(np.maximum(send_cores, receive_cores), network_cores).max(axis=1), network_tile)
    # SANA-FE's blocking (:func:`blocked_send`): a sender held back by full link buffers sends
    # what follows only once its copies' slowest destination has taken in all but a buffer's worth.
    release_send, release_host = send, sent[:, 0]
    if not np.isnan(columns.noc_buffer_messages).all():
        blocked = blocked_send(placement, receive_each, receive_share, n_copies, sharing.route, mean_receive,
                               columns.noc_buffer_messages, float(layers.steps.max()))
        release_send = np.maximum(send, np.hstack([blocked[:, 1:], np.zeros((n_chips, 1))]))
        release_host = np.maximum(release_host, blocked[:, 0])
    busiest = np.maximum(busiest, _release_bound(placement, release_send, release_host, receive_each, receive_share))
    n_steps = float(layers.steps.max())
    steps_total = n_steps + pipeline_depth(layers)
    trip = delivery.max(axis=1)
    cycles = steps_total * (busiest / n_steps + trip + step_barrier)
    layer_work_cycles = np.maximum(send * placement.share_max, receive_each + receive_share * placement.share_max)
    return cycles, layer_work_cycles, steps_total * step_barrier


@dataclass(frozen=True)
class _Timing:
    """Cycles of one inference on each chip of a block: ``[chips]``, ``[chips, layers]``, ``[chips]``."""

    cycles: np.ndarray
    cycles_by_layer: np.ndarray
    barrier_cycles: np.ndarray
    latency_ms: np.ndarray


def _sequential_cycles(
    layers: LayerArrays, columns: ChipColumns, work: LayerWork, placement: LayerPlacement, derived: ChipDerived,
    counts: ActionCounts, depth: np.ndarray,
) -> _Timing:
    """Cycles per inference: per timestep, the busiest core of each layer (layer after layer on
    a ``layer_sequential`` chip; :func:`_parallel_cycles` on a ``timestep_parallel`` one)."""
    ops, updates, steps = work.synaptic_ops, layers.neuron_updates, layers.steps
    spilled = counts.weights_offchip
    msg_out, msg_in = message_cycles(columns, work)
    ops_core = ops / steps * placement.share_max
    pe_cycles = ops_core / columns.pes_per_core
    sram_bits_op = work.operand_bits - work.weight_op_bits * spilled
    sram_cycles = ops_core * sram_bits_op / (columns.sram_word_bits * columns.sram_ports_per_core)
    events_step = work.events / steps
    ingress = events_step * msg_in
    src_share = np.hstack([np.ones((placement.need.shape[0], 1)), placement.share_max[:, :-1]])
    # Without multicast a source core sends one packet per destination core of the layer.
    copies = np.where(columns.noc_multicast > 0, 1.0, placement.n_cores)
    # The busiest of n source cores: a step's events fall on the sources' inputs at random
    # (each input nonzero with probability p, the layer's input density), so the most loaded
    # one expects about mean + sqrt(mean (1 - p)) sqrt(2 ln n) of them (Gaussian extreme of
    # binomial counts); a dense input (p = 1) has no spread.
    src_cores = np.hstack([np.ones((placement.need.shape[0], 1)), placement.n_cores[:, :-1]])
    density = np.clip(layers.input_events / np.maximum(layers.input_size, 1e-12), 0.0, 1.0)
    src_events = events_step * src_share
    src_events = src_events + np.sqrt(src_events * (1.0 - density)) * np.sqrt(2.0 * np.log(src_cores))
    egress = src_events * msg_out * copies
    offchip_cycles = counts.offchip_bits / steps / offchip_bits_per_cycle(columns)
    compute = np.maximum(np.maximum(pe_cycles, sram_cycles), offchip_cycles)
    network = np.maximum(ingress, egress)
    updates_core = updates / steps * placement.share_max
    spikes_core = layers.output_spikes / steps * placement.share_max
    neuron_unit_cycles = (
        updates_core * columns.neuron_update_cycles + spikes_core * columns.spike_out_cycles
        + layers.aux_ops / steps * placement.share_max
    ) / columns.neuron_units_per_core
    state_cycles = (
        updates_core * 2.0 * columns.state_bits / (columns.sram_word_bits * columns.sram_ports_per_core)
    )
    neuron_phase = np.maximum(neuron_unit_cycles, state_cycles)
    delivery = np.where(events_step > 0, columns.noc_hop_latency_cycles * depth, 0.0)
    # Event-driven cores process each event after it arrives: the pipeline's bound plus the
    # last event's trip. A dense core sweeps all its inputs regardless and only has to wait
    # for the last event to arrive.
    synaptic_phase = np.where(
        columns.zero_skipping > 0,
        np.maximum(compute, network) + delivery,
        np.maximum(compute, network + delivery),
    )
    layer_cycles = steps * (synaptic_phase + neuron_phase)
    step_barrier = barrier_cycles(columns, derived, placement)[:, 0]
    barrier = steps.max() * step_barrier
    cycles = layer_cycles.sum(axis=1) + barrier
    parallel = columns.execution[:, 0] > 0
    if parallel.any():
        p_cycles, p_layer, p_barrier = _parallel_cycles(
            layers, columns, work, placement, msg_out, msg_in, copies, sram_bits_op, offchip_cycles * steps,
            delivery, step_barrier, derived.mesh_cols,
        )
        cycles = np.where(parallel, p_cycles, cycles)
        layer_cycles = np.where(parallel[:, None], p_layer, layer_cycles)
        barrier = np.where(parallel, p_barrier, barrier)
    return _Timing(cycles=cycles, cycles_by_layer=layer_cycles, barrier_cycles=barrier,
                   latency_ms=cycles / (columns.clock_mhz[:, 0] * 1e3))


def _reason_flags(
    columns: ChipColumns, placement: LayerPlacement, latency_ms: np.ndarray, area: np.ndarray,
    requirements: ChipRequirements,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bit flags of why each chip is infeasible (:data:`REASON_FLAGS`), the deadline and the
    area budget (NaN: none)."""
    shape = latency_ms.shape
    flags = np.zeros(shape, dtype=np.int64)
    weights_over = ~placement.weights_fit & (columns.weight_overflow[:, 0] == 0)
    flags |= np.where(weights_over, REASON_WEIGHTS, 0)
    flags |= np.where(~placement.state_fits, REASON_STATE, 0)
    deadline = np.full(shape, np.nan if requirements.max_latency_ms is None else requirements.max_latency_ms)
    flags |= np.where(~np.isnan(deadline) & (latency_ms > deadline), REASON_DEADLINE, 0)
    budget = np.full(shape, np.nan if requirements.max_area_mm2 is None else requirements.max_area_mm2)
    flags |= np.where(~np.isnan(budget) & (area > budget), REASON_AREA, 0)
    return flags, deadline, budget


def _evaluate_chunk(
    layers: LayerArrays,
    columns: ChipColumns,
    tech: Technology,
    by_layer: bool,
    requirements: ChipRequirements,
    placement: LayerPlacement | None = None,
    chip_names: tuple[str, ...] = (),
) -> BatchCostReport:
    """Every figure of one block of chips (``columns``, ``[chips, 1]``) on one workload, placed
    by ``placement`` (:func:`map_layers` of the workload when None)."""
    derived = chip_derived(columns, tech)
    work = layer_work(layers, columns)
    placement = map_layers(layers, columns, work) if placement is None else placement
    energies = action_energies(layers, columns, work, derived, tech)
    links_x, links_y, depth = tree_totals(placement, derived.mesh_cols)
    ops = work.synaptic_ops
    updates = layers.neuron_updates
    counts = ActionCounts(
        synaptic_ops=ops,
        weight_op_bits=work.weight_op_bits,
        weights_offchip=placement.spilled.astype(float),
        neuron_updates=updates,
        output_spikes=layers.output_spikes,
        aux_ops=layers.aux_ops,
        rescale_ops=work.rescale_ops,
        scale_read_bits=work.scale_read_bits,
    )
    timing = _sequential_cycles(layers, columns, work, placement, derived, counts, depth)
    cycles, latency_ms = timing.cycles, timing.latency_ms

    # -- energy per inference, [chips, layers, categories] ---------------------------------
    # Every routed event reaches each core holding the layer and takes the tree's hops.
    noc = work.events * noc_energy_pj(energies, placement.n_cores, links_x, links_y)
    static = static_energy_pj(derived.static_power_mw[:, 0], latency_ms, timing.cycles_by_layer)
    table = energy_by_category_pj(energies, counts, noc, static, columns.categories)

    cores = columns.cores[:, 0]
    total_ops = ops.sum(axis=1)
    total_updates = (updates + layers.aux_ops).sum() + np.zeros_like(cores)
    area = derived.area_mm2[:, 0]
    flags, deadline, budget = _reason_flags(columns, placement, latency_ms, area, requirements)
    spike_events = np.where(layers.is_graded, layers.input_events, 0.0).sum()
    split_events = np.where(work.split, layers.input_events, 0.0).sum(axis=1)
    split_fraction = split_events / spike_events if spike_events > 0 else np.zeros_like(split_events)
    return BatchCostReport(
        layer_names=layers.names,
        chip_names=chip_names,
        categories=columns.categories,
        energy_by_category_pj=table.sum(axis=1),
        energy_by_layer_category_pj=table if by_layer else None,
        cycles=cycles,
        cycles_by_layer=timing.cycles_by_layer,
        barrier_cycles=timing.barrier_cycles,
        latency_ms=latency_ms,
        throughput_per_s=1e3 / latency_ms,
        area_mm2=area,
        sram_used_kb=placement.weight_kb_on_chip + placement.state_kb,
        weight_kb=placement.weight_kb,
        offchip_bits=counts.offchip_bits.sum(axis=1),
        utilisation_pe=total_ops / (cores * columns.pes_per_core[:, 0] * cycles),
        utilisation_neuron_units=total_updates / (cores * columns.neuron_units_per_core[:, 0] * cycles),
        utilisation_cores=np.minimum(np.ceil(placement.start[:, -1] + placement.need[:, -1] - _EPS), cores) / cores,
        feasible=flags == 0,
        reason_flags=flags,
        weight_capacity_kb=cores * columns.weight_sram_kb_per_core[:, 0],
        state_kb=placement.state_kb,
        state_capacity_kb=cores * columns.state_sram_kb_per_core[:, 0],
        latency_deadline_ms=deadline,
        area_budget_mm2=budget,
        split_spike_fraction=split_fraction,
    )


def estimate_cost_batch(
    trace: WorkloadTrace,
    chips: ChipsLike,
    *,
    base: ChipConfig | None = None,
    by_layer: bool = False,
    tech: Technology | None = None,
    requirements: ChipRequirements | None = None,
    placement: LayerPlacement | None = None,
    requantise: bool = False,
) -> BatchCostReport:
    """Evaluate many chip configurations against one trace at once.

    The three inputs: the chips (hardware), the trace (workload) and the placement (mapping).

    Args:
        trace: the workload.
        chips: a ChipArray, one or more ChipConfigs, a pandas DataFrame or a dict of numpy
            arrays whose keys are ChipConfig fields (missing fields come from ``base``).
        base: defaults for fields the columns leave out (ChipConfig() if None).
        by_layer: also keep the ``[chips, layers, categories]`` energy table
            (``energy_by_layer_category_pj``).
        tech: technology constants (hw_models/technology.yaml if None).
        requirements: a deadline and area budget to check (a study's, never the chip's).
        placement: where the layers sit on each chip (:func:`place`; the same layers in the
            same order, one row per chip); None: :func:`place` of this trace. The cross-check
            costs replayed activity on the whole network's placement.
        requantise: price a quantised trace's weights at each chip's ``weight_bits`` even where
            they differ from the bits the trace was recorded at (:func:`check_weight_bits`).

    Returns:
        A BatchCostReport with one entry per chip, in input order.

    Raises:
        ConfigError: a bad chip value (field and index named), an empty trace, a placement of
            other layers or chips, or a trace recorded at other weight bits than a chip's.
    """
    tech = tech if tech is not None else load_technology()
    array = as_chip_array(chips, base=base)
    layers = LayerArrays.from_trace(trace)
    if not requantise:
        block = array.block()
        check_weight_bits(trace, block.weight_bits, chip_wide_weight_bits=block.wide_weight_bits,
                          chip_tap_scales=block.tap_scales)
    if placement is not None:
        placement.check_fits(layers, array.size)
    requirements = requirements or ChipRequirements()
    pieces = [
        _evaluate_chunk(layers, array.block(lo, lo + _CHUNK), tech, by_layer, requirements,
                        None if placement is None else placement.rows(lo, lo + _CHUNK), array.names[lo: lo + _CHUNK])
        for lo in range(0, array.size, _CHUNK)
    ]
    return BatchCostReport.concat(pieces)


def check_weight_bits(trace: WorkloadTrace, chip_weight_bits: np.ndarray | int, file: str | Path | None = None,
                      chip_wide_weight_bits: np.ndarray | int | None = None,
                      chip_tap_scales: np.ndarray | bool | None = None) -> None:
    """Refuse a trace whose weights were quantised to other bits than a chip holds them in.

    ``weight_bits`` has one carrier into the cost model, the chip's (its columns, read through
    :func:`layer_weight_bits`): a weight layer of the trace recorded at ``b < 32`` bits (a
    quantised network) is priced only on a chip that holds that layer in ``b`` bits
    (``weight_bits``, or for a wide layer ``max(weight_bits, wide_weight_bits)``). A float
    trace (32 bits) is priced at any chip's bits: it is the network before the chip's
    quantisation. ``requantise=True`` on the cost functions (``--requantise`` on ``codesign
    hw``) prices a quantised trace at the chip's bits anyway, its activity still that of the
    trace's network. The same holds for the grid of a quantised wide layer with kernel taps:
    one recorded with a scale per tap (``LayerTrace.tap_scales``) is priced only on a chip with
    ``tap_scales``, one recorded without only on a chip without.

    Args:
        chip_wide_weight_bits: the chips' ``wide_weight_bits`` (NaN or None: none), beside
            ``chip_weight_bits``.
        chip_tap_scales: the chips' ``tap_scales`` (None: not checked).

    Raises:
        ConfigError: keyed ``layers[i].weight_bits`` (or ``layers[i].tap_scales``) of the trace
            ``file`` (``trace.layers[i]...`` when no file is given), naming both precisions.
    """
    narrow, wide_in = (a.reshape(-1) for a in np.broadcast_arrays(
        np.asarray(chip_weight_bits, dtype=float).reshape(-1),
        np.asarray(np.nan if chip_wide_weight_bits is None else chip_wide_weight_bits, dtype=float).reshape(-1)))
    wide = np.where(np.isnan(wide_in), narrow, np.maximum(narrow, wide_in))
    for i, layer in enumerate(trace.layers):
        if layer.weight_count > 0 and layer.weight_bits != FLOAT_BITS:
            chip_bits = {int(b) for b in np.unique(wide if layer.wide_weights else narrow)}
            others = sorted(chip_bits - {layer.weight_bits})
            if others:
                held = "the chip's wide_weight_bits" if layer.wide_weights and not np.isnan(wide_in).all() \
                    else "the chip's weight_bits"
                raise ConfigError(
                    file, f"{'' if file else 'trace.'}layers[{i}].weight_bits",
                    f"{held} ({', '.join(map(str, others))}): the chip prices weights at its own bits",
                    got=layer.weight_bits,
                    hint=f"layer {layer.name} was recorded with {layer.weight_bits}-bit weights; record the trace "
                         "at the chip's precision (hw evaluate --bundle re-quantises and re-scores the network), "
                         "or pass --requantise (requantise=True) to price its weights at the chip's bits")
    if chip_tap_scales is None:
        return
    taps_held = {bool(t) for t in np.unique(np.asarray(chip_tap_scales, dtype=float))}
    for i, layer in enumerate(trace.layers):
        if layer.weight_count > 0 and layer.weight_bits != FLOAT_BITS and layer.wide_weights and layer.taps > 1 \
                and taps_held - {layer.tap_scales}:
            raise ConfigError(
                file, f"{'' if file else 'trace.'}layers[{i}].tap_scales",
                f"the chip's tap_scales ({not layer.tap_scales}): the chip prices weights on its own grid",
                got=layer.tap_scales,
                hint=f"layer {layer.name} was recorded {'with' if layer.tap_scales else 'without'} a scale per kernel "
                     "tap; record the trace at the chip's precision (hw evaluate --bundle re-quantises and re-scores "
                     "the network), or pass --requantise (requantise=True)")


def estimate_cost(
    trace: WorkloadTrace, chip: ChipConfig, *, tech: Technology | None = None,
    requirements: ChipRequirements | None = None, placement: LayerPlacement | None = None,
    requantise: bool = False,
) -> CostReport:
    """Cost of one inference of ``trace`` on ``chip``: the batch model on a batch of one.

    Returns:
        A CostReport; an infeasible chip is a report with ``feasible=False`` and reasons.
    """
    return estimate_cost_batch(trace, [chip], by_layer=True, tech=tech, requirements=requirements,
                               placement=placement, requantise=requantise).report(0)


__all__ = [
    "CATEGORIES",
    "ActionCounts",
    "ActionEnergies",
    "LayerArrays",
    "LayerPlacement",
    "check_weight_bits",
    "energy_by_category_pj",
    "estimate_cost",
    "estimate_cost_batch",
    "map_layers",
    "noc_energy_pj",
    "place",
    "static_energy_pj",
]
