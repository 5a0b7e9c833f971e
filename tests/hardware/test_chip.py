"""Chip presets load and validate; bad chip input is one clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.config import ConfigError
from codesign.hardware import ChipArray, ChipConfig, as_chip_array, list_presets, load_chip


def test_presets_load_and_are_what_they_say() -> None:
    assert set(list_presets()) >= {"generic_45nm", "loihi_like", "edge_kws"}
    assert "technology" not in list_presets()
    loihi = load_chip("loihi_like")
    assert (loihi.cores, loihi.node_nm, loihi.synaptic_op_energy_pj) == (128, 14, 23.6)
    assert (loihi.neuron_update_energy_pj, loihi.neuron_spike_energy_pj) == (52.0, 81.0)
    assert (loihi.spike_local_energy_pj, loihi.hop_energy_ew_pj, loihi.hop_energy_ns_pj) == (1.7, 3.0, 4.0)
    edge = load_chip("edge_kws")
    assert (edge.cores, edge.node_nm, edge.weight_bits) == (4, 22, 4)
    # presets describe hardware only: requirements belong to studies
    assert "area_budget_mm2" not in ChipConfig.model_fields and "latency_deadline_ms" not in ChipConfig.model_fields
    assert load_chip("generic_45nm", {"cores": 8}).cores == 8


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("cores: 0\n", "cores", "greater than or equal to 1"),
        ("weight_sram_kb_per_core: -4\n", "weight_sram_kb_per_core", "greater than 0"),
        ("state_sram_kb_per_core: -1\n", "state_sram_kb_per_core", "greater than 0"),
        ("pes_per_cor: 4\n", "pes_per_cor", "did you mean 'pes_per_core'?"),
        ("node_nm: 10\n", "node_nm", "45, 28, 22, 14 or 7"),
        ("cores: 4\nmesh_cols: 8\n", "", "mesh_cols <= cores"),
        ("weight_overflow: sometimes\n", "weight_overflow", "'spill' or 'infeasible'"),
    ],
)
def test_bad_chip_file_is_one_clear_error(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = tmp_path / "chip.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_chip(path)
    assert info.value.key == key
    assert fragment in str(info.value)
    assert str(info.value).startswith(str(path))


def test_unknown_preset_and_technology_file_are_refused() -> None:
    with pytest.raises(ConfigError, match="did you mean 'loihi_like'"):
        load_chip("loihi_lik")
    with pytest.raises(ConfigError, match="holds constants, not a chip"):
        load_chip(Path(__file__).parents[2] / "hw_models" / "technology.yaml")
    with pytest.raises(ConfigError, match="did you mean 'cores'"):
        load_chip("generic_45nm", {"coers": 4})


def test_chip_array_round_trips_and_validates_columns() -> None:
    chips = [load_chip(p) for p in list_presets()]
    array = ChipArray.from_configs(chips)
    # Names travel with the array; descriptions are labels it does not keep.
    assert [array.config(i) for i in range(len(chips))] == [c.model_copy(update={"description": ""}) for c in chips]
    base = load_chip("generic_45nm")
    grid = as_chip_array({"cores": np.array([4, 8]), "weight_overflow": np.array(["spill", "infeasible"])}, base=base)
    assert list(grid["cores"]) == [4.0, 8.0] and list(grid["weight_overflow"]) == [1.0, 0.0]
    assert grid.config(1).pes_per_core == base.pes_per_core
    with pytest.raises(ConfigError) as info:
        ChipArray.from_columns({"cores": np.array([4, 0, 8])})
    assert info.value.key == "cores[1]"
    with pytest.raises(ConfigError, match="a whole number"):
        ChipArray.from_columns({"pes_per_core": np.array([2.5])})
    with pytest.raises(ConfigError, match=r"node_nm\[0\]"):
        ChipArray.from_columns({"node_nm": np.array([10])})
    with pytest.raises(ConfigError, match="did you mean 'clock_mhz'"):
        ChipArray.from_columns({"clock_mhzz": np.array([100.0])})


def test_chip_config_is_frozen() -> None:
    chip = ChipConfig()
    with pytest.raises(Exception, match="frozen"):
        chip.cores = 3  # type: ignore[misc]


def test_columns_accept_none_and_refuse_words() -> None:
    array = ChipArray.from_columns({"voltage_v": np.array([None, 0.6], dtype=object), "cores": [2, 4]})
    assert np.isnan(array["voltage_v"][0]) and array["voltage_v"][1] == 0.6
    assert array.config(0).voltage_v is None
    with pytest.raises(ConfigError, match="expected numbers, got 'many'"):
        ChipArray.from_columns({"cores": np.array([2, "many"], dtype=object)})
    with pytest.raises(ConfigError, match=r"cores\[0\]"):
        ChipArray.from_columns({"cores": np.array([None, 4], dtype=object)})


def test_execution_and_sync_table_travel_in_columns() -> None:
    base = load_chip("loihi_sanafe")
    assert base.execution == "timestep_parallel"
    assert base.timestep_sync_ns_by_tiles == {1: 600.0, 2: 1000.0, 4: 1400.0, 29: 1800.0}
    grid = as_chip_array({"cores": np.array([4, 128]), "mesh_cols": np.array([2, 16]),
                          "execution": np.array(["layer_sequential", "timestep_parallel"])}, base=base)
    assert list(grid["execution"]) == [0.0, 1.0]
    assert grid.config(0).execution == "layer_sequential"
    # The table is not a searchable column: it comes from the base chip, whole.
    assert grid.config(1).timestep_sync_ns_by_tiles == base.timestep_sync_ns_by_tiles
    with pytest.raises(ConfigError, match="at most 4 entries"):
        load_chip("loihi_sanafe", {"timestep_sync_ns_by_tiles": {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 5.0}})
    with pytest.raises(ConfigError, match="execution"):
        ChipArray.from_columns({"execution": np.array(["sometimes"])})
