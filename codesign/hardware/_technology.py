"""Technology constants (hw_models/technology.yaml) and the per-operation energy and area rules.

Owns the one place where a bit width, an SRAM capacity or a process node becomes picojoules
or square micrometres:
- integer add energy/area is linear in bit width through Horowitz's 8- and 32-bit points;
- integer multiply energy is quadratic (product of the operand widths), anchored at
  Horowitz's 8-bit point (it then gives 3.2 pJ for 32 bits against the measured 3.1 pJ);
  multiplier area is ``A8 * (product / 64) ** p`` with ``p`` through the 8- and 32-bit areas;
- a 64-bit SRAM read costs ``a * capacity_kb ** b`` with ``a, b`` the least-squares fit in
  log-log space to Horowitz's 8 KB / 32 KB / 1 MB points (capacities in KiB: ``kb`` in every
  name of this package means 1024 bytes);
- a node scales dynamic energy by ``energy_factor * (voltage / nominal_voltage)^2`` and area
  by ``area_factor`` (Stillmaker & Baas 2017).
All functions take numpy arrays and broadcast, so the batch model uses them unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from codesign._resources import shipped_dir
from codesign.config import Spec, load_spec

#: Folder of chip presets and the technology table: the checkout's ``hw_models/``, or the copy
#: installed with the wheel (``codesign._resources``).
HW_MODELS_DIR = shipped_dir("hw_models")
TECHNOLOGY_FILE = HW_MODELS_DIR / "technology.yaml"


class NodeScaling(Spec):
    """Scaling of one process node relative to the 45 nm baseline."""

    energy_factor: float = Field(gt=0.0)
    area_factor: float = Field(gt=0.0)
    nominal_voltage_v: float = Field(gt=0.0)


class Technology(Spec):
    """The constants of ``hw_models/technology.yaml`` (see that file for every source)."""

    baseline_node_nm: int
    baseline_voltage_v: float = Field(gt=0.0)
    int_add_pj: dict[int, float]
    int_mult_pj: dict[int, float]
    fp32_add_pj: float = Field(gt=0.0)
    fp32_mult_pj: float = Field(gt=0.0)
    int_add_area_um2: dict[int, float]
    int_mult_area_um2: dict[int, float]
    sram_read_64b_pj: dict[float, float]
    dram_pj_per_64b: tuple[float, float]
    sram_bitcell_um2: float = Field(gt=0.0)
    sram_array_efficiency: float = Field(gt=0.0, le=1.0)
    logic_overhead: float = Field(ge=1.0)
    router_area_mm2_per_bit: float = Field(ge=0.0)
    core_overhead_mm2: float = Field(ge=0.0)
    noc_wire_pj_per_bit_mm: float = Field(ge=0.0)
    noc_router_pj_per_bit: float = Field(ge=0.0)
    static_power_mw_per_mm2: float = Field(ge=0.0)
    nodes: dict[int, NodeScaling]

    @model_validator(mode="after")
    def _check(self) -> Technology:
        for key in ("int_add_pj", "int_mult_pj", "int_add_area_um2", "int_mult_area_um2"):
            if set(getattr(self, key)) != {8, 32}:
                raise ValueError(f"{key} with exactly the 8- and 32-bit points")
        if len(self.sram_read_64b_pj) < 2:
            raise ValueError("sram_read_64b_pj with at least two capacities to fit the rule")
        if self.baseline_node_nm not in self.nodes:
            raise ValueError("nodes to include the baseline node")
        return self

    # -- derived rules ------------------------------------------------------------------
    def sram_rule(self) -> tuple[float, float]:
        """``(a, b)`` of ``E_64bit_read_pj = a * capacity_kb ** b``, least squares in log-log."""
        return _sram_fit(tuple(sorted(self.sram_read_64b_pj.items())))

    @property
    def dram_pj_per_bit(self) -> float:
        """Midpoint of Horowitz's DRAM range, per bit."""
        return float(np.mean(self.dram_pj_per_64b)) / 64.0

    @property
    def sram_mm2_per_kb(self) -> float:
        """SRAM macro area per KiB (8192 bits) at the baseline node (bit cell / array efficiency)."""
        return 8192.0 * self.sram_bitcell_um2 / self.sram_array_efficiency * 1e-6

    def node_table(self, node_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``energy_factor, area_factor, nominal_voltage_v`` arrays for an array of nodes."""
        node_nm = np.asarray(node_nm)
        energy = np.empty(node_nm.shape)
        area = np.empty(node_nm.shape)
        volt = np.empty(node_nm.shape)
        for node, scale in self.nodes.items():
            hit = node_nm == node
            energy[hit], area[hit], volt[hit] = scale.energy_factor, scale.area_factor, scale.nominal_voltage_v
        missing = ~np.isin(node_nm, list(self.nodes))
        if missing.any():
            raise KeyError(f"no technology constants for node {node_nm[missing].flat[0]} nm")
        return energy, area, volt


@lru_cache(maxsize=8)
def _sram_fit(points: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    kb = np.log([p[0] for p in points])
    pj = np.log([p[1] for p in points])
    b, log_a = np.polyfit(kb, pj, 1)
    return float(np.exp(log_a)), float(b)


@lru_cache(maxsize=4)
def _load_technology(path: str) -> Technology:
    return load_spec(Technology, path)


def load_technology(path: str | Path | None = None) -> Technology:
    """Read and validate the technology table (cached per path; the result is frozen).

    Raises:
        ConfigError: missing file or a bad constant.
    """
    return _load_technology(str(Path(path) if path is not None else TECHNOLOGY_FILE))


# -- rules at the 45 nm baseline (numpy-broadcasting) ---------------------------------------
def add_energy_pj(tech: Technology, bits: np.ndarray | float) -> np.ndarray:
    """Integer add: linear in bit width through the 8- and 32-bit points."""
    e8, e32 = tech.int_add_pj[8], tech.int_add_pj[32]
    return e8 + (e32 - e8) * (np.asarray(bits, dtype=float) - 8.0) / 24.0


def mult_energy_pj(tech: Technology, bits_a: np.ndarray | float, bits_b: np.ndarray | float) -> np.ndarray:
    """Integer multiply: proportional to the product of the operand widths, anchored at 8x8 bits."""
    energy_pj: np.ndarray = tech.int_mult_pj[8] * np.asarray(bits_a, dtype=float) * np.asarray(bits_b, dtype=float) / 64.0
    return energy_pj


def add_area_um2(tech: Technology, bits: np.ndarray | float) -> np.ndarray:
    """Integer adder area: linear in bit width through the 8- and 32-bit points."""
    a8, a32 = tech.int_add_area_um2[8], tech.int_add_area_um2[32]
    return a8 + (a32 - a8) * (np.asarray(bits, dtype=float) - 8.0) / 24.0


def mult_area_um2(tech: Technology, bits_a: np.ndarray | float, bits_b: np.ndarray | float) -> np.ndarray:
    """Integer multiplier area: a power of the operand-width product through the 8x8 and 32x32 points.

    The exponent ``log(A32 / A8) / log(16)`` is 0.91 for Horowitz's areas (a purely
    quadratic rule would overshoot the 32-bit multiplier by 29 %).
    """
    a8, a32 = tech.int_mult_area_um2[8], tech.int_mult_area_um2[32]
    exponent = np.log(a32 / a8) / np.log(16.0)
    product = np.asarray(bits_a, dtype=float) * np.asarray(bits_b, dtype=float) / 64.0
    area_um2: np.ndarray = a8 * np.power(product, exponent)
    return area_um2


def sram_read_64b_pj(tech: Technology, capacity_kb: np.ndarray | float) -> np.ndarray:
    """Energy of one 64-bit read from an SRAM of ``capacity_kb`` (the fitted power law)."""
    a, b = tech.sram_rule()
    read_pj: np.ndarray = a * np.power(np.asarray(capacity_kb, dtype=float), b)
    return read_pj
