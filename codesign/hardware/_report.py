"""CostReport (one chip) and BatchCostReport (many chips): what the chip model hands to search.

Energy is per inference, in pJ. Its three shapes have three names:

- ``energy_by_layer_category_pj``: the table, ``[layers, categories]`` (one chip; a
  BatchCostReport adds a leading chip axis);
- ``energy_by_category_pj``: summed over layers (a dict for one chip, ``[chips, categories]``
  for a batch);
- ``total_energy_pj`` (and ``energy_uj``): the scalar total.

Stored keys say which shape they hold: the scalar total is the metric ``"energy_pj_total"`` in
trial records (beside ``"energy_uj"``, ``"sram_used_kb"``, ...), and a saved cost report keeps
the table as ``"energy_pj_by_layer_category"``. Files written when both were ``"energy_pj"``
still load (:meth:`CostReport.from_dict`, ``codesign.search.record_of``).

``kb`` in every name here means KiB (1024 bytes), as in the chip fields
(``weight_sram_kb_per_core``) and the SRAM literature the constants come from.

``InferenceCost`` holds what the analytic report and the simulator's report share. All reports
are frozen and carry no logic beyond views and (de)serialisation; the arithmetic lives in
``_model.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from codesign.config import ConfigError
from codesign.hardware._energy import CORE_CATEGORIES, check_categories

#: The built-in energy categories, the columns of an energy table unless the chip declares its
#: own (``ChipConfig.energy_categories``; a report names its own in ``categories``).
CATEGORIES: tuple[str, ...] = CORE_CATEGORIES


#: Bit flags of BatchCostReport.reason_flags.
REASON_WEIGHTS = 1
REASON_STATE = 2
REASON_DEADLINE = 4
REASON_AREA = 8
REASON_FLAGS = {"weights": REASON_WEIGHTS, "state": REASON_STATE, "deadline": REASON_DEADLINE, "area": REASON_AREA}


@dataclass(frozen=True)
class ChipRequirements:
    """What a design must meet, which belongs to a study, not to the chip (a preset describes
    hardware; a study describes requirements). None: no such requirement.

    Attributes:
        max_latency_ms: the inference deadline.
        max_area_mm2: the area budget.
    """

    max_latency_ms: float | None = None
    max_area_mm2: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_latency_ms", "max_area_mm2"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} a finite number > 0, got {value}")


@dataclass(frozen=True, eq=False)
class InferenceCost:
    """The figures of one inference on one chip that the analytic model and the simulator both give.

    Attributes:
        chip_name: the chip's label.
        layer_names: rows of ``energy_by_layer_category_pj``; ``categories`` its columns (the
            chip's ``energy_categories``).
        energy_by_layer_category_pj: float array ``[layers, len(categories)]``, pJ.
        cycles: clock cycles per inference; ``cycles_by_layer`` splits them (timestep
            barriers are listed as ``barrier_cycles``).
        latency_ms: ``cycles`` at the chip's clock.
    """

    chip_name: str
    layer_names: tuple[str, ...]
    energy_by_layer_category_pj: np.ndarray
    cycles: float
    cycles_by_layer: np.ndarray
    barrier_cycles: float
    latency_ms: float
    categories: tuple[str, ...] = field(default=CORE_CATEGORIES, kw_only=True)

    def __post_init__(self) -> None:
        for name in ("energy_by_layer_category_pj", "cycles_by_layer"):
            arr = np.array(getattr(self, name), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "categories", tuple(self.categories))
        if self.energy_by_layer_category_pj.shape[-1:] != (len(self.categories),):
            raise ValueError(f"an energy table of {len(self.categories)} categories ({', '.join(self.categories)}), "
                             f"got shape {self.energy_by_layer_category_pj.shape}")

    @property
    def total_energy_pj(self) -> float:
        return float(self.energy_by_layer_category_pj.sum())

    @property
    def energy_uj(self) -> float:
        return self.total_energy_pj * 1e-6

    @property
    def energy_by_category_pj(self) -> dict[str, float]:
        """Energy summed over layers, by category (pJ)."""
        totals = self.energy_by_layer_category_pj.sum(axis=0)
        return {c: float(v) for c, v in zip(self.categories, totals, strict=True)}

    @property
    def energy_by_layer_pj(self) -> dict[str, float]:
        """Energy summed over categories, by layer (pJ)."""
        totals = self.energy_by_layer_category_pj.sum(axis=1)
        return {n: float(v) for n, v in zip(self.layer_names, totals, strict=True)}

    def energy_table(self) -> pd.DataFrame:
        """Layers x categories in pJ, with a ``total`` row and column."""
        frame = pd.DataFrame(self.energy_by_layer_category_pj, index=list(self.layer_names),
                             columns=list(self.categories))
        frame["total"] = frame.sum(axis=1)
        frame.loc["total"] = frame.sum(axis=0)
        return frame


@dataclass(frozen=True, eq=False)
class CostReport(InferenceCost):
    """Cost of one inference of one trace on one chip (the analytic model's figures).

    Attributes:
        chip_name, layer_names, energy_by_layer_category_pj, cycles, cycles_by_layer,
            barrier_cycles, latency_ms: as in :class:`InferenceCost`.
        throughput_per_s (inferences per second, one at a time), area_mm2,
        sram_used_kb (KiB: weights kept on chip + neuron state), weight_kb (KiB: all weights at
        the chip's precision), offchip_bits (weight traffic per inference).
        utilisation: ``pe`` and ``neuron_units`` (busy fraction of all units over the
            latency) and ``cores`` (fraction of cores holding a layer).
        weights_fit, state_fits: the network's weights (with ``weight_overflow: infeasible``)
            and its neuron state fit in the chip's SRAM.
        within_deadline, within_area: the requirements given to the model are met (None: no
            such requirement was given).
        split_spike_fraction: the fraction of spike events the chip must split because its
            ``graded_spike_bits`` cannot carry their level in one event (0 when all fit).
        feasible: every check above holds; reasons: the failed ones in words, for people.
    """

    throughput_per_s: float
    area_mm2: float
    sram_used_kb: float
    weight_kb: float
    offchip_bits: float
    utilisation: dict[str, float]
    feasible: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)
    weights_fit: bool = True
    state_fits: bool = True
    within_deadline: bool | None = None
    within_area: bool | None = None
    split_spike_fraction: float = 0.0

    @property
    def fits_on_chip(self) -> bool:
        """Weights and state both fit (what the ``fits_on_chip`` constraint asks)."""
        return self.weights_fit and self.state_fits

    def metrics(self) -> dict[str, float]:
        """Flat scalar metrics, the names search and report use (and trial records store)."""
        return {
            "energy_uj": self.energy_uj,
            "energy_pj_total": self.total_energy_pj,
            "cycles": self.cycles,
            "latency_ms": self.latency_ms,
            "throughput_per_s": self.throughput_per_s,
            "area_mm2": self.area_mm2,
            "sram_used_kb": self.sram_used_kb,
            "weight_kb": self.weight_kb,
            "offchip_bits": self.offchip_bits,
            **{f"utilisation_{k}": v for k, v in self.utilisation.items()},
            "fits_on_chip": float(self.fits_on_chip),
            "split_spike_fraction": self.split_spike_fraction,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict; :meth:`from_dict` is its inverse.

        The table is stored as ``energy_pj_by_layer_category``, ``[layers, categories]``.
        """
        return {
            "chip_name": self.chip_name,
            "layer_names": list(self.layer_names),
            "categories": list(self.categories),
            "energy_pj_by_layer_category": self.energy_by_layer_category_pj.tolist(),
            "cycles": self.cycles,
            "cycles_by_layer": self.cycles_by_layer.tolist(),
            "barrier_cycles": self.barrier_cycles,
            "latency_ms": self.latency_ms,
            "throughput_per_s": self.throughput_per_s,
            "area_mm2": self.area_mm2,
            "sram_used_kb": self.sram_used_kb,
            "weight_kb": self.weight_kb,
            "offchip_bits": self.offchip_bits,
            "utilisation": dict(self.utilisation),
            "feasible": self.feasible,
            "reasons": list(self.reasons),
            "weights_fit": self.weights_fit,
            "state_fits": self.state_fits,
            "within_deadline": self.within_deadline,
            "within_area": self.within_area,
            "split_spike_fraction": self.split_spike_fraction,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CostReport:
        """The report :meth:`to_dict` wrote. Its ``categories`` are those its chip declared
        (files written before they were stored hold the built-in ones), each a registered
        category (``codesign.hardware.register_category``).

        Raises:
            ValueError: an unregistered category, or a table of another shape.
        """
        try:
            categories = check_categories(data.get("categories", CORE_CATEGORIES))
        except ConfigError as err:
            raise ValueError(f"energy categories: {err.expected}, got {err.got!r}") from None
        fields = {k: v for k, v in data.items() if k != "categories"}
        fields["layer_names"] = tuple(fields["layer_names"])
        fields["reasons"] = tuple(fields["reasons"])
        table = fields.pop("energy_pj_by_layer_category", None)
        if table is None:  # written before the key said its shape
            table = fields.pop("energy_pj")
        fields["energy_by_layer_category_pj"] = np.asarray(table, dtype=float).reshape(
            len(fields["layer_names"]), len(categories))
        return cls(**fields, categories=categories)


@dataclass(frozen=True, eq=False)
class BatchCostReport:
    """The same figures for ``n`` chips at once, one numpy array per metric.

    ``energy_by_category_pj`` is ``[n, categories]``; ``energy_by_layer_category_pj`` is
    ``[n, layers, categories]`` when requested (``by_layer=True``), else None. ``reason_flags``
    holds bit flags (:data:`REASON_FLAGS`) and :meth:`reasons` spells them out. Sizes ending in
    ``_kb`` are KiB.
    """

    layer_names: tuple[str, ...]
    chip_names: tuple[str, ...]
    energy_by_category_pj: np.ndarray
    energy_by_layer_category_pj: np.ndarray | None
    cycles: np.ndarray
    cycles_by_layer: np.ndarray
    barrier_cycles: np.ndarray
    latency_ms: np.ndarray
    throughput_per_s: np.ndarray
    area_mm2: np.ndarray
    sram_used_kb: np.ndarray
    weight_kb: np.ndarray
    offchip_bits: np.ndarray
    utilisation_pe: np.ndarray
    utilisation_neuron_units: np.ndarray
    utilisation_cores: np.ndarray
    feasible: np.ndarray
    reason_flags: np.ndarray
    weight_capacity_kb: np.ndarray
    state_kb: np.ndarray
    state_capacity_kb: np.ndarray
    latency_deadline_ms: np.ndarray
    area_budget_mm2: np.ndarray
    split_spike_fraction: np.ndarray
    categories: tuple[str, ...] = CORE_CATEGORIES

    @classmethod
    def concat(cls, parts: list[BatchCostReport]) -> BatchCostReport:
        """Blocks of chips of one workload (the batch model's chunks) as one report, in order."""
        first = parts[0]
        arrays = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(cls)
            if isinstance(getattr(first, f.name), np.ndarray)
        }
        return cls(layer_names=first.layer_names, chip_names=tuple(n for p in parts for n in p.chip_names),
                   categories=first.categories,
                   energy_by_layer_category_pj=arrays.pop("energy_by_layer_category_pj", None), **arrays)

    @property
    def weights_fit(self) -> np.ndarray:
        fits: np.ndarray = (self.reason_flags.astype(int) & REASON_WEIGHTS) == 0
        return fits

    @property
    def state_fits(self) -> np.ndarray:
        fits: np.ndarray = (self.reason_flags.astype(int) & REASON_STATE) == 0
        return fits

    @property
    def fits_on_chip(self) -> np.ndarray:
        """Weights and state both fit, per chip."""
        fits: np.ndarray = self.weights_fit & self.state_fits
        return fits

    def __len__(self) -> int:
        return int(self.cycles.shape[0])

    @property
    def total_energy_pj(self) -> np.ndarray:
        total_pj: np.ndarray = self.energy_by_category_pj.sum(axis=1)
        return total_pj

    @property
    def energy_uj(self) -> np.ndarray:
        return self.total_energy_pj * 1e-6

    def to_frame(self) -> pd.DataFrame:
        """One row per chip: scalar metrics, energy per category and feasibility."""
        frame = pd.DataFrame({
            "energy_uj": self.energy_uj,
            "cycles": self.cycles,
            "latency_ms": self.latency_ms,
            "throughput_per_s": self.throughput_per_s,
            "area_mm2": self.area_mm2,
            "sram_used_kb": self.sram_used_kb,
            "offchip_bits": self.offchip_bits,
            "utilisation_pe": self.utilisation_pe,
            "feasible": self.feasible,
        })
        for j, cat in enumerate(self.categories):
            frame[f"{cat}_pj"] = self.energy_by_category_pj[:, j]
        return frame

    def report(self, index: int) -> CostReport:
        """The ``index``-th chip as a CostReport (needs ``by_layer=True``)."""
        if self.energy_by_layer_category_pj is None:
            raise ValueError("per-layer energy was not kept; estimate_cost_batch(..., by_layer=True)")
        return CostReport(
            chip_name=self.chip_names[index] if self.chip_names else "custom",
            layer_names=self.layer_names,
            categories=self.categories,
            energy_by_layer_category_pj=self.energy_by_layer_category_pj[index],
            cycles=float(self.cycles[index]),
            cycles_by_layer=self.cycles_by_layer[index],
            barrier_cycles=float(self.barrier_cycles[index]),
            latency_ms=float(self.latency_ms[index]),
            throughput_per_s=float(self.throughput_per_s[index]),
            area_mm2=float(self.area_mm2[index]),
            sram_used_kb=float(self.sram_used_kb[index]),
            weight_kb=float(self.weight_kb[index]),
            offchip_bits=float(self.offchip_bits[index]),
            utilisation={
                "pe": float(self.utilisation_pe[index]),
                "neuron_units": float(self.utilisation_neuron_units[index]),
                "cores": float(self.utilisation_cores[index]),
            },
            feasible=bool(self.feasible[index]),
            reasons=self.reasons(index),
            weights_fit=bool(self.weights_fit[index]),
            state_fits=bool(self.state_fits[index]),
            within_deadline=None if np.isnan(self.latency_deadline_ms[index])
            else not bool(int(self.reason_flags[index]) & REASON_DEADLINE),
            within_area=None if np.isnan(self.area_budget_mm2[index])
            else not bool(int(self.reason_flags[index]) & REASON_AREA),
            split_spike_fraction=float(self.split_spike_fraction[index]),
        )

    def reasons(self, index: int) -> tuple[str, ...]:
        """Why chip ``index`` is infeasible, in words (empty when feasible)."""
        flags = int(self.reason_flags[index])
        out = []
        if flags & REASON_WEIGHTS:
            out.append(
                f"does not fit: weights need {self.weight_kb[index]:.1f} KB, the chip holds "
                f"{self.weight_capacity_kb[index]:.1f} KB (weight_overflow: infeasible)"
            )
        if flags & REASON_STATE:
            out.append(
                f"does not fit: neuron state needs {self.state_kb[index]:.1f} KB beside the weights, "
                f"the chip holds {self.state_capacity_kb[index]:.1f} KB"
            )
        if flags & REASON_DEADLINE:
            out.append(
                f"misses deadline: latency {self.latency_ms[index]:.4g} ms > "
                f"{self.latency_deadline_ms[index]:.4g} ms"
            )
        if flags & REASON_AREA:
            out.append(f"over area: {self.area_mm2[index]:.4g} mm^2 > {self.area_budget_mm2[index]:.4g} mm^2")
        return tuple(out)
