"""The energy table: what one action costs, and the energy categories that price counted actions.

Shared by the analytic model and the event-driven simulator (they differ only in how they
count actions, never in what one costs). Owns:

- :class:`ActionEnergies` (pJ per action on each chip) and :class:`ActionCounts` (how often
  each action happens in one inference);
- :func:`noc_energy_pj` and :func:`static_energy_pj`, the traffic and leakage terms;
- the energy categories: each a :class:`CostCategory`, a name with the rule that prices it
  from the actions (:class:`PricedActions`) and the SANA-FE energy block it belongs to. The
  seven built in are :data:`CORE_CATEGORIES`; a chip declares its own list
  (``ChipConfig.energy_categories``, the hardware description), which sets the columns of its
  energy tables (:func:`energy_by_category_pj`).

A new category is one :func:`register_category` call (here, or in-test) plus the preset's
``energy_categories`` entry; stored cost reports name their categories, so they still load.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from codesign.config import ConfigError


@dataclass(frozen=True)
class ActionEnergies:
    """Energy of each action on each chip (pJ), ``[chips, layers]`` or broadcastable."""

    synaptic_op: np.ndarray
    weight_read_op: np.ndarray
    operand_read_op: np.ndarray
    rescale_op: np.ndarray
    weight_read_bit: np.ndarray
    offchip_bit: np.ndarray
    neuron_update: np.ndarray
    neuron_spike: np.ndarray
    state_access_update: np.ndarray
    aux_op: np.ndarray
    packet_local: np.ndarray
    hop_ew: np.ndarray
    hop_ns: np.ndarray

    def of_chip(self, chip: int, shape: tuple[int, int]) -> ActionEnergies:
        """The energies of chip ``chip`` as ``[layers]`` arrays (``shape`` is ``[chips, layers]``)."""
        return ActionEnergies(**{
            name: np.broadcast_to(getattr(self, name), shape)[chip] for name in self.__dataclass_fields__
        })


@dataclass(frozen=True)
class ActionCounts:
    """How often each costed action happens in one inference, per layer.

    ``[chips, layers]`` in the analytic model (expected counts from the trace's averages),
    ``[layers]`` in the simulator (counted while replaying). The NoC's packet deliveries and
    hops are priced by :func:`noc_energy_pj`.

    Attributes:
        synaptic_ops: synaptic operations.
        weight_op_bits: weight bits each synaptic operation reads (``LayerWork``).
        weights_offchip: 1.0 where the layer's weights stream from off-chip memory (spilled),
            else 0.0: its synaptic operations read no weight SRAM.
        neuron_updates: neuron / state updates; ``output_spikes`` of them emit a spike.
        output_spikes: updates that emit a spike.
        aux_ops: auxiliary elementwise operations.
        rescale_ops: a chip with ``tap_scales``: tap partial sums rescaled (a multiply and an
            add at the state word) before they are summed.
        scale_read_bits: the weight-SRAM bits those rescales read (their scales).
    """

    synaptic_ops: np.ndarray
    weight_op_bits: np.ndarray
    weights_offchip: np.ndarray
    neuron_updates: np.ndarray
    output_spikes: np.ndarray
    aux_ops: np.ndarray
    rescale_ops: np.ndarray
    scale_read_bits: np.ndarray

    @cached_property
    def offchip_bits(self) -> np.ndarray:
        """Weight bits streamed from off-chip memory: what a spilled layer's streaming takes
        time for, and the off-chip bits a report counts (as the simulator counts them)."""
        bits: np.ndarray = self.synaptic_ops * self.weight_op_bits * self.weights_offchip
        return bits

    @cached_property
    def offchip_energy_bits(self) -> np.ndarray:
        """:attr:`offchip_bits` with the tap scales of a spilled layer: the off-chip reads
        priced in energy (the scales' streaming time is not modelled, docs/hardware.md)."""
        bits: np.ndarray = self.offchip_bits + self.scale_read_bits * self.weights_offchip
        return bits


def noc_energy_pj(
    energies: ActionEnergies, deliveries: np.ndarray, hops_x: np.ndarray, hops_y: np.ndarray
) -> np.ndarray:
    """Energy of packet traffic: ``deliveries`` packet copies handed to a core, and link hops
    along x (east-west) and y (north-south)."""
    energy_pj: np.ndarray = deliveries * energies.packet_local + hops_x * energies.hop_ew + hops_y * energies.hop_ns
    return energy_pj


def static_energy_pj(
    static_power_mw: np.ndarray | float, latency_ms: np.ndarray | float, cycles_by_layer: np.ndarray
) -> np.ndarray:
    """Leakage over the latency (mW x ms = 1e6 pJ), split over layers by their share of the cycles.

    ``cycles_by_layer`` is ``[..., layers]``; ``static_power_mw`` and ``latency_ms`` are its
    leading shape (one chip: scalars). Layers share equally when no layer takes a cycle.
    """
    total = np.asarray(static_power_mw * latency_ms * 1e6)
    span = cycles_by_layer.sum(axis=-1, keepdims=True)
    n_layers = cycles_by_layer.shape[-1]
    fraction = np.where(span > 0, cycles_by_layer / np.where(span > 0, span, 1.0), 1.0 / n_layers)
    return total[..., None] * fraction


# ---------------------------------------------------------------------------------------------
# Energy categories
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PricedActions:
    """What a category's rule prices: the actions' energies and counts, and the traffic and
    leakage already priced (:func:`noc_energy_pj`, :func:`static_energy_pj`); ``[..., layers]``."""

    energies: ActionEnergies
    counts: ActionCounts
    noc_pj: np.ndarray
    static_pj: np.ndarray


@dataclass(frozen=True)
class CostCategory:
    """One energy category: its name, the rule that prices it per layer (pJ per inference,
    ``[..., layers]``) and the SANA-FE energy block it falls in (``synapse``, ``dendrite``,
    ``soma``, ``network`` or ``other``; the cross-check compares by block)."""

    name: str
    price: Callable[[PricedActions], np.ndarray]
    sanafe_block: str = "other"
    description: str = ""


def _synaptic_compute(a: PricedActions) -> np.ndarray:
    out: np.ndarray = a.counts.synaptic_ops * a.energies.synaptic_op + a.counts.rescale_ops * a.energies.rescale_op
    return out


def _weight_memory(a: PricedActions) -> np.ndarray:
    out: np.ndarray = ((a.counts.synaptic_ops * a.energies.weight_read_op
                        + a.counts.scale_read_bits * a.energies.weight_read_bit) * (1.0 - a.counts.weights_offchip))
    return out


def _state_memory(a: PricedActions) -> np.ndarray:
    out: np.ndarray = (a.counts.neuron_updates * a.energies.state_access_update
                       + a.counts.synaptic_ops * a.energies.operand_read_op)
    return out


def _neuron_update(a: PricedActions) -> np.ndarray:
    updates, spikes = a.counts.neuron_updates, a.counts.output_spikes
    out: np.ndarray = (
        (updates - spikes) * a.energies.neuron_update + spikes * a.energies.neuron_spike
        + a.counts.aux_ops * a.energies.aux_op
    )
    return out


def _offchip(a: PricedActions) -> np.ndarray:
    out: np.ndarray = a.counts.offchip_energy_bits * a.energies.offchip_bit
    return out


#: The registered categories, by name (:func:`register_category`).
_REGISTRY: dict[str, CostCategory] = {}


def register_category(category: CostCategory) -> CostCategory:
    """Make ``category`` one a chip may declare in its ``energy_categories``.

    Raises:
        ValueError: another category of that name is registered.
    """
    known = _REGISTRY.get(category.name)
    if known is not None and known != category:
        raise ValueError(f"an energy category named {category.name!r} is already registered")
    _REGISTRY[category.name] = category
    return category


for _category in (
    CostCategory("synaptic_compute", _synaptic_compute, "synapse",
                 "synaptic operations (weight x input), and tap rescales (tap_scales)"),
    CostCategory("weight_memory", _weight_memory, "synapse",
                 "weight SRAM reads of the synaptic operations, and of the tap scales (tap_scales)"),
    CostCategory("state_memory", _state_memory, "soma", "neuron-state SRAM reads and writes"),
    CostCategory("neuron_update", _neuron_update, "soma", "neuron updates, spikes and auxiliary operations"),
    CostCategory("noc", lambda a: a.noc_pj, "network", "packet deliveries and mesh hops"),
    CostCategory("offchip", _offchip, "other", "weights streamed from off-chip memory"),
    CostCategory("static", lambda a: a.static_pj, "other", "leakage over the latency"),
):
    register_category(_category)

#: The categories every preset declares unless it lists its own (``ChipConfig.energy_categories``).
CORE_CATEGORIES: tuple[str, ...] = tuple(_REGISTRY)


def cost_category(name: str) -> CostCategory:
    """The registered category ``name``.

    Raises:
        ConfigError: no such category (with a close match).
    """
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.5)
        raise ConfigError(None, "energy_categories", "registered energy categories: " + ", ".join(_REGISTRY),
                          got=name, hint=f"did you mean '{close[0]}'?" if close else None)
    return _REGISTRY[name]


def check_categories(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple of registered, distinct categories (at least one).

    Raises:
        ConfigError: an unregistered or repeated name, or none.
    """
    out = tuple(names)
    if not out:
        raise ConfigError(None, "energy_categories", "at least one energy category")
    for name in out:
        cost_category(name)
    if len(set(out)) != len(out):
        raise ConfigError(None, "energy_categories", "each category once", got=list(out))
    return out


def energy_by_category_pj(
    energies: ActionEnergies, counts: ActionCounts, noc_pj: np.ndarray, static_pj: np.ndarray,
    categories: tuple[str, ...] = CORE_CATEGORIES,
) -> np.ndarray:
    """Energy of one inference by layer and category: ``[..., layers, len(categories)]`` pJ.

    The one place that prices counted actions, for the analytic model and the simulator
    alike; ``categories`` are the chip's (its ``energy_categories``), in order.
    """
    actions = PricedActions(energies=energies, counts=counts, noc_pj=noc_pj, static_pj=static_pj)
    shape = np.broadcast_shapes(np.shape(noc_pj), np.shape(static_pj), np.shape(counts.synaptic_ops))
    return np.stack([np.broadcast_to(cost_category(name).price(actions), shape) for name in categories], axis=-1)


__all__ = [
    "CORE_CATEGORIES",
    "ActionCounts",
    "ActionEnergies",
    "CostCategory",
    "PricedActions",
    "check_categories",
    "cost_category",
    "energy_by_category_pj",
    "noc_energy_pj",
    "register_category",
    "static_energy_pj",
]
