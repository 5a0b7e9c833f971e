"""The technology rules reproduce the published points they are fitted to."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from codesign.hardware import ChipConfig, add_energy_pj, load_technology, mult_energy_pj, sram_read_64b_pj
from codesign.hardware._technology import add_area_um2, mult_area_um2


def test_sram_rule_reproduces_horowitz_points_within_5_percent() -> None:
    tech = load_technology()
    for kb, pj in {8: 10.0, 32: 20.0, 1024: 100.0}.items():
        assert float(sram_read_64b_pj(tech, kb)) == pytest.approx(pj, rel=0.05)
    _a, b = tech.sram_rule()
    assert 0.3 < b < 0.6  # sub-linear in capacity: bigger arrays cost more per access, less per bit
    assert float(sram_read_64b_pj(tech, 64)) > float(sram_read_64b_pj(tech, 32))


def test_add_is_linear_and_multiply_quadratic_in_bit_width() -> None:
    tech = load_technology()
    assert float(add_energy_pj(tech, 8)) == pytest.approx(0.03)
    assert float(add_energy_pj(tech, 32)) == pytest.approx(0.1)
    assert float(add_energy_pj(tech, 16)) == pytest.approx((0.03 + 0.1) / 2 - (0.1 - 0.03) / 6, rel=1e-9)
    assert float(mult_energy_pj(tech, 8, 8)) == pytest.approx(0.2)
    assert float(mult_energy_pj(tech, 32, 32)) == pytest.approx(3.1, rel=0.05)
    assert float(mult_energy_pj(tech, 16, 16)) == pytest.approx(4 * float(mult_energy_pj(tech, 8, 8)))
    assert float(add_area_um2(tech, 32)) == pytest.approx(137.0)
    assert float(mult_area_um2(tech, 32, 32)) == pytest.approx(3495.0)
    assert float(mult_area_um2(tech, 8, 8)) == pytest.approx(282.0)


def test_every_node_a_chip_may_name_has_constants_and_scaling_shrinks() -> None:
    tech = load_technology()
    nodes = typing.get_args(ChipConfig.model_fields["node_nm"].annotation)
    assert set(nodes) == set(tech.nodes)
    energy, area, volt = tech.node_table(np.array(sorted(nodes, reverse=True)))
    assert energy[0] == 1.0 and area[0] == 1.0  # 45 nm baseline
    assert np.all(np.diff(energy) < 0) and np.all(np.diff(area) < 0)
    assert np.all(volt > 0)
    assert tech.dram_pj_per_bit == pytest.approx((1300 + 2600) / 2 / 64)
