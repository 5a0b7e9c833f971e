"""The chip template: ``ChipConfig`` (one chip), ``ChipArray`` (many chips as numpy columns), presets.

A chip is a mesh of identical cores. Each core has synaptic processing elements (PEs, each
one synaptic operation per cycle), neuron-update units, a weight SRAM and a state SRAM
(``sram_ports_per_core`` word ports each), and a mesh router. Every parameter a search
space may set is a field whose name carries its unit. Energies that a published chip gives
per operation (Loihi) can be set directly (``*_energy_pj`` fields); left unset they follow
from the technology table.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np
import numpy.typing as npt
from annotated_types import Ge, Gt, Le
from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo

from codesign._resources import shipped_or_path
from codesign.config import ConfigError, OmitAtDefault, apply_overrides, load_yaml, parse_spec
from codesign.hardware._energy import CORE_CATEGORIES, check_categories
from codesign.hardware._technology import HW_MODELS_DIR, TECHNOLOGY_FILE

if TYPE_CHECKING:
    import pandas as pd

#: Process nodes the technology table has constants for.
Node = Literal[45, 28, 22, 14, 7]


class ChipConfig(OmitAtDefault):
    """One neuromorphic chip: a mesh of cores, its memories, network and process.

    Attributes:
        name, description: labels only (not used by the model).
        cores: cores in the mesh; ``mesh_cols`` columns (default ``ceil(sqrt(cores))``).
        pes_per_core: synaptic processing elements per core (synaptic operations per cycle).
        neuron_units_per_core: neuron-update units per core (state updates per cycle).
        weight_sram_kb_per_core, state_sram_kb_per_core: SRAM per core (KiB: every ``kb`` is 1024 bytes).
        sram_ports_per_core: word ports of each SRAM (words per cycle); ``sram_word_bits`` wide.
        weight_bits, state_bits: stored weight and neuron-state precision.
        wide_weight_bits: mixed precision, as 2-bit accelerators hold their most sensitive
            layers wider: the wide layers of a network (``LayerTrace.wide_weights``: the
            conv-fused RepSSA projections, ``codesign.snn.wide_weight_modules``) are stored,
            read and multiplied at ``max(weight_bits, wide_weight_bits)`` bits, every other layer
            at ``weight_bits``; the PEs' multipliers are sized for the wider word (area). The
            network is quantised and scored the same way (``codesign.search.chip_precision``).
            None (default): every layer at ``weight_bits``.
        tap_scales: the wide layers' weights (the conv-fused RepSSA projections, ``[out, in,
            taps]``) have a scale per (output channel, kernel tap) instead of per output
            channel: each tap's partial sum is rescaled before they are added, ``taps − 1``
            more multiplies (at ``state_bits``, the accumulator's word) per output neuron and
            step than one scale per channel, and ``out × (taps − 1)`` more
            :data:`TAP_SCALE_BITS`-bit scales stored in weight SRAM and read with them. The
            network is quantised and scored the same way (``codesign.search.chip_precision``);
            at 4 bits it holds the quickstart's networks far better (docs/models.md,
            "Precision"). False (default): one scale per output channel.
        graded_spike_bits: spike payload bits; 0 = binary spikes only (a level-k spike is then
            k events); a layer's graded spikes travel as one event when the payload holds its levels.
        zero_skipping: event-driven processing; off = every input element is processed.
        sparse_weights: store only nonzero weights, each with its target's index
            (``ceil(log2(fan_out))`` bits); zero weights are neither stored nor processed.
        clock_mhz, voltage_v (None = the node's nominal voltage), node_nm.
        noc_link_bits: mesh link width (bits per cycle); ``noc_header_bits`` per spike packet.
        noc_hop_latency_cycles: router + link latency per hop.
        noc_multicast: a source injects one packet per event that the mesh copies along an XY
            tree to the layer's cores; off, it injects one packet per destination core (Loihi's
            per-core axons), which serialises its sending. Energy is counted per destination
            core either way.
        timestep_sync_ns: fixed time of the end-of-timestep synchronisation (a chip-wide
            barrier handshake, e.g. Loihi's), added to the barrier token's mesh crossing.
        timestep_sync_ns_by_tiles: more synchronisation time by the number of tiles in use, as
            SANA-FE's ``latency_sync`` table: ``{1: 600, 2: 1000, 4: 1400, 29: 1800}`` charges
            1000 ns for 2-3 tiles (the entry of the largest key not above the tiles in use);
            at most four entries; empty = none.
        tile_cols, tile_rows: cores per tile along the mesh's columns and rows (Loihi: 2 x 2
            cores share a router); the synchronisation counts the tiles holding a used core.
        noc_buffer_messages: messages one mesh link buffers (SANA-FE's ``link_buffer_size``);
            on a ``timestep_parallel`` chip a source whose route holds more than ``(tile hops
            + 1) x`` this many messages in flight is held back (backpressure). None =
            unbounded buffers, a sender is never held back.
        execution: how a timestep runs. ``layer_sequential``: one layer at a time, each layer's
            busiest core ending before the next layer starts (an accelerator that runs one
            layer at a time). ``timestep_parallel``: every core processes its share of every
            layer in the same timestep and spikes reach the next layer at the next step
            (Loihi, SANA-FE); a step lasts as long as the busiest core's work over all the
            layers it holds, and an inference adds the pipeline fill (docs/hardware.md).
        neuron_update_cycles: cycles one neuron unit takes per neuron update, state access
            included (1 = one per cycle).
        spike_out_cycles: extra neuron-unit cycles of an update that emits a spike.
        message_out_cycles, message_in_cycles: cycles a source core spends sending one packet,
            and a destination core spends taking one in, before its synaptic operations
            (None = the packet's flits: one flit per cycle).
        hop_energy_ew_pj, hop_energy_ns_pj, spike_local_energy_pj: per-packet NoC energies
            (None = router + wire energy from the technology table).
        synaptic_op_energy_pj: energy of one synaptic operation including its weight read
            (None = adder/multiplier + SRAM read from the technology table).
        neuron_update_energy_pj, neuron_spike_energy_pj: energy of an update that does not /
            does emit a spike, including state access (None = from the technology table).
        offchip_energy_pj_per_bit (None = DRAM from the technology table), offchip_bandwidth_gb_per_s.
        weight_overflow: ``spill`` streams the weights of layers that do not fit from off-chip
            memory; ``infeasible`` reports the chip as infeasible instead.
        mapping_policy: ``spread`` shares the cores memory leaves free among layers by their
            work (more parallelism, more traffic); ``pack`` uses as few cores as memory allows.
        static_power_mw_per_mm2: leakage (None = technology table).
        energy_categories: the categories the chip's energy tables break energy into, in order
            (default: the seven built in, ``codesign.hardware.CORE_CATEGORIES``); each a
            registered ``CostCategory`` (``codesign.hardware.register_category``). A category
            left out is not priced: list every one the chip spends energy on.

    A chip describes hardware only: a deadline or an area budget is a requirement of a study
    (its ``constraints``) or of one evaluation (``ChipRequirements``), never a chip field.
    ``wide_weight_bits`` and ``tap_scales``, added after chips keyed stored studies, leave the
    dumped form while unset (:class:`~codesign.config.OmitAtDefault`).
    """

    _omit_at_default = ("wide_weight_bits", "tap_scales")

    name: str = "custom"
    description: str = ""
    cores: int = Field(16, ge=1, le=1024)
    mesh_cols: int | None = Field(None, ge=1)
    pes_per_core: int = Field(8, ge=1)
    neuron_units_per_core: int = Field(4, ge=1)
    weight_sram_kb_per_core: float = Field(64.0, gt=0.0)
    state_sram_kb_per_core: float = Field(16.0, gt=0.0)
    sram_ports_per_core: int = Field(1, ge=1)
    sram_word_bits: int = Field(64, ge=8, le=1024)
    weight_bits: int = Field(8, ge=1, le=32)
    state_bits: int = Field(16, ge=1, le=32)
    wide_weight_bits: int | None = Field(None, ge=2, le=24)
    tap_scales: bool = False
    graded_spike_bits: int = Field(0, ge=0, le=8)
    zero_skipping: bool = True
    sparse_weights: bool = False
    clock_mhz: float = Field(200.0, ge=1e-3)  # (a clock of 5e-324 MHz made every latency infinite)
    voltage_v: float | None = Field(None, gt=0.0)
    node_nm: Node = 45
    noc_link_bits: int = Field(32, ge=1)
    noc_header_bits: int = Field(16, ge=1)
    noc_hop_latency_cycles: float = Field(2.0, ge=0.0)
    noc_multicast: bool = True
    timestep_sync_ns: float = Field(0.0, ge=0.0)
    timestep_sync_ns_by_tiles: dict[int, float] = Field(default_factory=dict)
    tile_cols: int = Field(1, ge=1)
    tile_rows: int = Field(1, ge=1)
    noc_buffer_messages: int | None = Field(None, ge=1)
    execution: Literal["layer_sequential", "timestep_parallel"] = "layer_sequential"
    neuron_update_cycles: float = Field(1.0, gt=0.0)
    spike_out_cycles: float = Field(0.0, ge=0.0)
    message_out_cycles: float | None = Field(None, ge=0.0)
    message_in_cycles: float | None = Field(None, ge=0.0)
    hop_energy_ew_pj: float | None = Field(None, ge=0.0)
    hop_energy_ns_pj: float | None = Field(None, ge=0.0)
    spike_local_energy_pj: float | None = Field(None, ge=0.0)
    synaptic_op_energy_pj: float | None = Field(None, ge=0.0)
    neuron_update_energy_pj: float | None = Field(None, ge=0.0)
    neuron_spike_energy_pj: float | None = Field(None, ge=0.0)
    offchip_energy_pj_per_bit: float | None = Field(None, ge=0.0)
    offchip_bandwidth_gb_per_s: float = Field(12.8, gt=0.0)
    weight_overflow: Literal["spill", "infeasible"] = "infeasible"
    mapping_policy: Literal["spread", "pack"] = "spread"
    static_power_mw_per_mm2: float | None = Field(None, ge=0.0)
    energy_categories: tuple[str, ...] = CORE_CATEGORIES

    @property
    def held_wide_weight_bits(self) -> int | None:
        """The bits the chip holds its wide layers in where wider than ``weight_bits`` (as the
        cost model prices them, ``codesign.hardware.layer_weight_bits``), else None."""
        wide = self.wide_weight_bits
        return wide if wide is not None and wide > self.weight_bits else None

    @field_validator("energy_categories")
    @classmethod
    def _registered(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return check_categories(names)
        except ConfigError as err:
            raise ValueError(err.expected + (f"; {err.got!r}: {err.hint}" if err.hint else "")) from None

    @model_validator(mode="after")
    def _check(self) -> ChipConfig:
        if self.mesh_cols is not None and self.mesh_cols > self.cores:
            raise ValueError(f"mesh_cols <= cores ({self.mesh_cols} > {self.cores})")
        table = self.timestep_sync_ns_by_tiles
        if len(table) > SYNC_TABLE_SIZE:
            raise ValueError(f"timestep_sync_ns_by_tiles: at most {SYNC_TABLE_SIZE} entries (got {len(table)})")
        if any(k < 1 or v < 0 for k, v in table.items()):
            raise ValueError("timestep_sync_ns_by_tiles: tile counts >= 1 and times >= 0")
        return self


#: Bits of one stored weight scale (a chip with ``tap_scales`` stores ``taps − 1`` more per output
#: channel of a wide layer): a 16-bit word, as the accumulator rescale reads it.
TAP_SCALE_BITS = 16

#: Entries a synchronisation table may have (each is two hidden ChipArray columns).
SYNC_TABLE_SIZE = 4
#: Hidden ChipArray columns of the synchronisation table: tile counts and times (NaN = unused).
SYNC_TILE_COLUMNS = tuple(f"sync_tiles_{k}" for k in range(SYNC_TABLE_SIZE))
SYNC_NS_COLUMNS = tuple(f"sync_ns_{k}" for k in range(SYNC_TABLE_SIZE))


def _sync_columns(table: dict[int, float]) -> dict[str, float]:
    """The table as hidden column values, sorted by tile count, NaN-padded."""
    items = sorted(table.items())
    out = {}
    for k in range(SYNC_TABLE_SIZE):
        tiles, ns = items[k] if k < len(items) else (float("nan"), float("nan"))
        out[SYNC_TILE_COLUMNS[k]] = float(tiles)
        out[SYNC_NS_COLUMNS[k]] = float(ns)
    return out


#: Yes/no fields, stored as 1/0 in a ChipArray.
_BOOLS = ("zero_skipping", "sparse_weights", "noc_multicast", "tap_scales")
#: Two-way choices stored as 1 (first option) / 0 (second) in a ChipArray.
_CHOICES = {"weight_overflow": ("spill", "infeasible"), "mapping_policy": ("spread", "pack"),
            "execution": ("timestep_parallel", "layer_sequential")}
#: ChipConfig fields that are labels, not model inputs.
_LABEL_FIELDS = ("name", "description")
#: ChipConfig fields a ChipArray holds beside its columns (a table or a list is not one number).
_TABLE_FIELDS = ("timestep_sync_ns_by_tiles", "energy_categories")
#: Numeric columns of a ChipArray (everything but labels and tables; bools and choices as 0/1).
ARRAY_FIELDS: tuple[str, ...] = tuple(
    f for f in ChipConfig.model_fields if f not in _LABEL_FIELDS and f not in _TABLE_FIELDS
)
#: Columns that hold whole numbers (integer fields, the node, yes/no and two-way choices).
_INT_FIELDS = frozenset(
    f for f in ARRAY_FIELDS
    if f in ("node_nm", *_BOOLS, *_CHOICES) or ChipConfig.model_fields[f].annotation in (int, int | None)
)


def _column(field: str, value: float | int | bool | str | None) -> float:
    """A ChipConfig field's value as its ChipArray column codes it."""
    if value is None:
        return float("nan")
    if field in _CHOICES:
        return 1.0 if value == _CHOICES[field][0] else 0.0
    return float(value)


@dataclass(frozen=True, eq=False)
class ChipColumns:
    """A block of chips as the cost model reads them: one ``[chips, 1]`` float array per numeric
    ChipConfig field (coded as in :class:`ChipArray`), so that they broadcast against
    ``[chips, layers]``, read as attributes (``columns.cores``), never by a string key; the
    synchronisation table as ``sync_tiles``/``sync_ns`` (one array per entry, NaN = unused) and
    the chips' energy categories. Built by :meth:`ChipArray.block` (or :meth:`of`).
    """

    cores: np.ndarray
    mesh_cols: np.ndarray
    pes_per_core: np.ndarray
    neuron_units_per_core: np.ndarray
    weight_sram_kb_per_core: np.ndarray
    state_sram_kb_per_core: np.ndarray
    sram_ports_per_core: np.ndarray
    sram_word_bits: np.ndarray
    weight_bits: np.ndarray
    state_bits: np.ndarray
    wide_weight_bits: np.ndarray
    tap_scales: np.ndarray
    graded_spike_bits: np.ndarray
    zero_skipping: np.ndarray
    sparse_weights: np.ndarray
    clock_mhz: np.ndarray
    voltage_v: np.ndarray
    node_nm: np.ndarray
    noc_link_bits: np.ndarray
    noc_header_bits: np.ndarray
    noc_hop_latency_cycles: np.ndarray
    noc_multicast: np.ndarray
    timestep_sync_ns: np.ndarray
    tile_cols: np.ndarray
    tile_rows: np.ndarray
    noc_buffer_messages: np.ndarray
    execution: np.ndarray
    neuron_update_cycles: np.ndarray
    spike_out_cycles: np.ndarray
    message_out_cycles: np.ndarray
    message_in_cycles: np.ndarray
    hop_energy_ew_pj: np.ndarray
    hop_energy_ns_pj: np.ndarray
    spike_local_energy_pj: np.ndarray
    synaptic_op_energy_pj: np.ndarray
    neuron_update_energy_pj: np.ndarray
    neuron_spike_energy_pj: np.ndarray
    offchip_energy_pj_per_bit: np.ndarray
    offchip_bandwidth_gb_per_s: np.ndarray
    weight_overflow: np.ndarray
    mapping_policy: np.ndarray
    static_power_mw_per_mm2: np.ndarray
    sync_tiles: tuple[np.ndarray, ...]
    sync_ns: tuple[np.ndarray, ...]
    categories: tuple[str, ...] = CORE_CATEGORIES

    @property
    def size(self) -> int:
        return int(self.cores.shape[0])

    @classmethod
    def of(cls, columns: Mapping[str, np.ndarray] | ChipColumns,
           categories: tuple[str, ...] = CORE_CATEGORIES) -> ChipColumns:
        """The typed view of ``{field: [chips, 1] array}`` columns (ChipColumns pass through);
        the hidden ``sync_tiles_k``/``sync_ns_k`` columns become the table (absent: none)."""
        if isinstance(columns, ChipColumns):
            return columns
        nan = np.full_like(columns["cores"], np.nan)
        return cls(**{f: columns[f] for f in ARRAY_FIELDS},
                   sync_tiles=tuple(columns.get(k, nan) for k in SYNC_TILE_COLUMNS),
                   sync_ns=tuple(columns.get(k, nan) for k in SYNC_NS_COLUMNS),
                   categories=categories)


#: What the cost model's column functions take: typed columns, or ``{field: [chips, 1] array}``.
ColumnsLike = ChipColumns | Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class ChipArray:
    """Many chip configurations as one float64 column per ChipConfig field.

    ``None`` fields are NaN, yes/no fields are 0/1, ``weight_overflow`` is 1 for spill,
    ``mapping_policy`` 1 for spread, ``execution`` 1 for timestep_parallel. The
    synchronisation table is hidden columns (``sync_tiles_k``, ``sync_ns_k``), taken from
    each config or from ``base``; it is not a searchable column.
    Build with :meth:`from_configs`, :meth:`from_columns` (validated, vectorised) or
    :func:`as_chip_array`.
    """

    columns: dict[str, np.ndarray]
    names: tuple[str, ...] = ()
    categories: tuple[str, ...] = CORE_CATEGORIES

    @property
    def size(self) -> int:
        return int(next(iter(self.columns.values())).shape[0])

    def block(self, lo: int = 0, hi: int | None = None) -> ChipColumns:
        """Chips ``lo .. hi - 1`` as the cost model's typed ``[chips, 1]`` columns."""
        return ChipColumns.of({k: v[lo:hi, None] for k, v in self.columns.items()}, self.categories)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, field: str) -> np.ndarray:
        return self.columns[field]

    @classmethod
    def from_configs(cls, chips: Sequence[ChipConfig]) -> ChipArray:
        """Stack already-validated configs."""
        categories = _shared_categories(chips)
        cols = {f: np.array([_column(f, getattr(c, f)) for c in chips], dtype=float) for f in ARRAY_FIELDS}
        tables = [_sync_columns(c.timestep_sync_ns_by_tiles) for c in chips]
        for key in (*SYNC_TILE_COLUMNS, *SYNC_NS_COLUMNS):
            cols[key] = np.array([t[key] for t in tables], dtype=float)
        return cls(columns=cols, names=tuple(c.name for c in chips), categories=categories)

    @classmethod
    def from_columns(cls, columns: Mapping[str, npt.ArrayLike], base: ChipConfig | None = None) -> ChipArray:
        """Validate numpy columns (any subset of fields; the rest taken from ``base``).

        Raises:
            ConfigError: an unknown field (with a close match) or the first out-of-range value,
                keyed ``field[index]``.
        """
        base = base if base is not None else ChipConfig()
        arrays = {key: _column_values(key, raw) for key, raw in columns.items() if key not in _LABEL_FIELDS}
        size = _common_size(arrays)
        cols = {}
        for f in ARRAY_FIELDS:
            arr = arrays[f] if f in arrays else np.array([_column(f, getattr(base, f))])
            cols[f] = np.broadcast_to(arr, (size,)).astype(float)
        for key, value in _sync_columns(base.timestep_sync_ns_by_tiles).items():
            cols[key] = np.full(size, value)
        _validate_columns(cols)
        return cls(columns=cols, names=(base.name,) * size, categories=base.energy_categories)

    def config(self, index: int) -> ChipConfig:
        """The ``index``-th chip as a validated ChipConfig."""
        data: dict[str, object] = {f: _field_value(f, float(self.columns[f][index])) for f in ARRAY_FIELDS}
        data["timestep_sync_ns_by_tiles"] = {
            int(self.columns[t][index]): float(self.columns[n][index])
            for t, n in zip(SYNC_TILE_COLUMNS, SYNC_NS_COLUMNS, strict=True)
            if t in self.columns and not np.isnan(self.columns[t][index])
        }
        data["name"] = self.names[index] if self.names else "custom"
        data["energy_categories"] = self.categories
        return parse_spec(ChipConfig, data)


def _shared_categories(chips: Sequence[ChipConfig]) -> tuple[str, ...]:
    """The energy categories every chip of a batch declares (a batch holds one energy table).

    Raises:
        ConfigError: no chip, or chips that declare different categories.
    """
    if not chips:
        raise ConfigError(None, "chips", "at least one chip configuration")
    categories = {c.energy_categories for c in chips}
    if len(categories) > 1:
        raise ConfigError(None, "energy_categories", "the same energy categories on every chip of a batch "
                          "(one energy table)", got=sorted(categories))
    return chips[0].energy_categories


def _common_size(arrays: dict[str, np.ndarray]) -> int:
    """The chips the columns describe: each column has that many values, or one for all.

    Raises:
        ConfigError: the first column whose length differs from those before it.
    """
    size = None
    for key, arr in arrays.items():
        if size is not None and arr.shape[0] != size and arr.shape[0] != 1:
            raise ConfigError(None, key, f"{size} values like the other columns", got=arr.shape[0])
        size = max(size or 0, arr.shape[0])
    return size or 1


def _field_value(field: str, value: float) -> float | int | bool | str | None:
    """A ChipArray column value as the ChipConfig field takes it (the inverse of :func:`_column`)."""
    if np.isnan(value):
        return None
    if field in _CHOICES:
        return _CHOICES[field][0] if value else _CHOICES[field][1]
    if field in _BOOLS:
        return bool(value)
    if field in _INT_FIELDS:
        return int(value)
    return value


def _column_values(key: str, raw: npt.ArrayLike) -> np.ndarray:
    """One column of :meth:`ChipArray.from_columns` as float64: an option's name is coded 0/1.

    Raises:
        ConfigError: an unknown field (with a close match), an unknown option or a non-number.
    """
    if key not in ARRAY_FIELDS:
        close = difflib.get_close_matches(key, ARRAY_FIELDS, n=1, cutoff=0.5)
        raise ConfigError(None, key, "a ChipConfig field", hint=f"did you mean '{close[0]}'?" if close else None)
    if key in _CHOICES and np.asarray(raw).dtype.kind in "OUS":
        words = np.asarray(raw).astype(str)
        bad = ~np.isin(words, list(_CHOICES[key]))
        if bad.any():
            i = int(np.argmax(bad))
            raise ConfigError(None, f"{key}[{i}]", f"one of {_CHOICES[key]}", got=str(words[i]))
        raw = words == _CHOICES[key][0]
    return _as_float(key, raw)


def _as_float(key: str, raw: npt.ArrayLike) -> np.ndarray:
    """A column as float64 (None -> NaN, booleans -> 0/1); anything else non-numeric is refused."""
    values = np.asarray(raw, dtype=object).reshape(-1) if np.asarray(raw).dtype.kind == "O" else np.asarray(raw)
    try:
        if values.dtype.kind == "O":
            return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        return values.astype(float).reshape(-1)
    except (TypeError, ValueError):
        bad = next((v for v in values.reshape(-1) if not isinstance(v, int | float | bool | np.number) and v is not None), None)
        raise ConfigError(None, key, "numbers", got=bad) from None


def _first_bad(field: str, bad: np.ndarray, values: np.ndarray, expected: str) -> None:
    """Raise for the first chip where ``bad`` holds (keyed ``field[index]``)."""
    if bad.any():
        i = int(np.argmax(bad))
        raise ConfigError(None, f"{field}[{i}]", expected, got=float(values[i]))


def _bound_violations(info: FieldInfo, arr: np.ndarray, ok: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """Where a column breaks each of its field's bounds (``Ge``, ``Gt``, ``Le``), with the words."""
    out = []
    for meta in info.metadata:
        if isinstance(meta, Ge):
            out.append((ok & (arr < meta.ge), f"greater than or equal to {meta.ge}"))
        elif isinstance(meta, Gt):
            out.append((ok & (arr <= meta.gt), f"greater than {meta.gt}"))
        elif isinstance(meta, Le):
            out.append((ok & (arr > meta.le), f"less than or equal to {meta.le}"))
    return out


def _validate_field(field: str, arr: np.ndarray) -> None:
    """One column against its ChipConfig field: set unless optional, within bounds, whole if integral."""
    info = ChipConfig.model_fields[field]
    nan = np.isnan(arr)
    if nan.any() and type(None) not in getattr(info.annotation, "__args__", ()):
        raise ConfigError(None, f"{field}[{int(np.argmax(nan))}]", "a number (this field cannot be left unset)")
    ok = ~nan
    for bad, words in _bound_violations(info, arr, ok):
        _first_bad(field, bad, arr, words)
    if field in _INT_FIELDS:
        _first_bad(field, ok & (arr != np.round(arr)), arr, "a whole number")


def _validate_columns(cols: dict[str, np.ndarray]) -> None:
    for f in ARRAY_FIELDS:
        _validate_field(f, cols[f])
    for f in (*_BOOLS, *_CHOICES):
        _first_bad(f, ~np.isin(cols[f], (0.0, 1.0)), cols[f], "0 or 1 (false/true, or the option's name)")
    nodes = (45, 28, 22, 14, 7)
    _first_bad("node_nm", ~np.isin(cols["node_nm"], nodes), cols["node_nm"],
               f"a node with technology constants, one of {nodes}")
    _first_bad("mesh_cols", ~np.isnan(cols["mesh_cols"]) & (cols["mesh_cols"] > cols["cores"]), cols["mesh_cols"],
               "mesh_cols <= cores")


#: What the batch model takes as chips: a ChipArray, one or more ChipConfigs, a pandas
#: DataFrame or a dict of arrays (columns named as ChipConfig fields).
ChipsLike = Union["ChipArray", ChipConfig, Sequence[ChipConfig], Mapping[str, npt.ArrayLike], "pd.DataFrame"]


def _configs_of(chips: object) -> list[ChipConfig]:
    """``chips`` as ChipConfigs when it is one or a nonempty list or tuple of them, else empty."""
    items = [chips] if isinstance(chips, ChipConfig) else chips
    if not isinstance(items, list | tuple):
        return []
    configs = [c for c in items if isinstance(c, ChipConfig)]
    return configs if len(configs) == len(items) else []


def as_chip_array(chips: ChipsLike, base: ChipConfig | None = None) -> ChipArray:
    """Accept a ChipArray, a ChipConfig, a list of ChipConfigs, a pandas DataFrame or a dict of arrays."""
    if isinstance(chips, ChipArray):
        return chips
    configs = _configs_of(chips)
    if configs:
        return ChipArray.from_configs(configs)
    if isinstance(chips, Mapping):
        return ChipArray.from_columns(chips, base=base)
    frame_columns = getattr(chips, "columns", None)
    if hasattr(chips, "to_dict") and frame_columns is not None:  # pandas DataFrame
        frame: pd.DataFrame = chips  # duck-typed: pandas is not imported here
        return ChipArray.from_columns({str(c): frame[c].to_numpy() for c in frame_columns}, base=base)
    raise ConfigError(None, "chips", "a ChipArray, ChipConfig(s), a DataFrame or a dict of arrays",
                      got=type(chips).__name__)


# -- presets ----------------------------------------------------------------------------------
def list_presets(directory: str | Path | None = None) -> list[str]:
    """Names of the chip presets in ``hw_models/`` (the technology table excluded)."""
    folder = Path(directory) if directory is not None else HW_MODELS_DIR
    return sorted(p.stem for p in folder.glob("*.yaml") if p.resolve() != TECHNOLOGY_FILE.resolve())


def load_chip(preset: str | Path, overrides: dict[str, Any] | None = None) -> ChipConfig:
    """Load a chip preset by name (``loihi_like``) or path, apply ``--set`` overrides, validate.

    Raises:
        ConfigError: unknown preset (with a close match), unknown key (with a suggestion),
            a node with no technology constants, zero cores, negative SRAM, ...
    """
    path = shipped_or_path(preset, "hw_models")  # a file on disk wins, else a shipped preset file
    if not path.is_file():
        names = list_presets()
        if str(preset) in names:
            path = HW_MODELS_DIR / f"{preset}.yaml"
        else:
            close = difflib.get_close_matches(Path(str(preset)).stem, names, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else "known presets: " + ", ".join(names)
            raise ConfigError(preset, "", "a chip preset name or an existing YAML file", hint=hint)
    if path.resolve() == TECHNOLOGY_FILE.resolve():
        raise ConfigError(path, "", "a chip preset", hint="technology.yaml holds constants, not a chip")
    data = load_yaml(path)
    if not overrides:
        return parse_spec(ChipConfig, data, file=path)
    parse_spec(ChipConfig, data, file=path)  # the preset's own errors are the file's
    try:
        return parse_spec(ChipConfig, apply_overrides(data, overrides), file=path)
    except ConfigError as err:  # valid preset, so an override broke it: blame --set
        raise ConfigError(None, f"--set {err.key}" if err.key else "--set", err.expected,
                          got=err.got, hint=err.hint) from None
