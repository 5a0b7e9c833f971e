"""The cost model's three inputs (ZigZag's split): hardware, workload and mapping.

- the mapping is its own input: ``place`` returns a typed, read-only placement that the batch
  path, the one-chip path and the simulator take, with the figures they compute themselves;
- the hardware declares its energy categories: a new one is a registered rule plus the chip's
  ``energy_categories`` entry (here a toy category added in-test, the package untouched), and
  its cost reports store and load it;
- ``weight_bits`` reaches the model once, as the chip's: a trace quantised to other bits is
  refused, or re-priced at the chip's bits on request.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codesign.cli import main
from codesign.config import ConfigError
from codesign.hardware import (
    ARRAY_FIELDS,
    CORE_CATEGORIES,
    HW_MODELS_DIR,
    ChipArray,
    ChipColumns,
    ChipConfig,
    CostCategory,
    CostReport,
    estimate_cost,
    estimate_cost_batch,
    load_chip,
    place,
    random_chip_columns,
    register_category,
    simulate,
    synthetic_trace,
)
from codesign.trace import WorkloadTrace, save_trace

# -- mapping ----------------------------------------------------------------------------------


def test_a_placement_given_is_the_placement_the_model_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    import codesign.hardware._model as model

    trace = synthetic_trace(5, seed=3, levels=[1, 3, 7, 1, 3], matmul_layers=(2,))
    cols = random_chip_columns(23, seed=5)
    cols["execution"] = np.where(np.arange(23) % 2 == 0, "timestep_parallel", "layer_sequential")
    chips = ChipArray.from_columns(cols)
    placement = place(trace, chips)
    assert placement.layer_names == tuple(layer.name for layer in trace.layers)
    assert placement.need.shape == (23, 5) and not placement.need.flags.writeable
    monkeypatch.setattr(model, "_CHUNK", 7)  # several chunks: the placement is cut into rows
    own = estimate_cost_batch(trace, chips, by_layer=True)
    given = estimate_cost_batch(trace, chips, by_layer=True, placement=placement)
    for f in dataclasses.fields(own):
        a, b = getattr(own, f.name), getattr(given, f.name)
        assert np.array_equal(a, b, equal_nan=True) if isinstance(a, np.ndarray) else a == b, f.name
    # the scalar path and the simulator take it too
    chip = chips.config(4)
    one = place(trace, chip)
    assert estimate_cost(trace, chip, placement=one).to_dict() == estimate_cost(trace, chip).to_dict()
    assert np.array_equal(estimate_cost(trace, chip).energy_by_layer_category_pj, given.energy_by_layer_category_pj[4])
    sim, sim_given = simulate(trace, chip, seed=1), simulate(trace, chip, seed=1, placement=one)
    assert sim.cycles == sim_given.cycles
    assert np.array_equal(sim.energy_by_layer_category_pj, sim_given.energy_by_layer_category_pj)


def test_a_placement_is_an_input_that_changes_the_figures_and_must_fit(generic: ChipConfig) -> None:
    trace = synthetic_trace(3, seed=1, widths=[64, 128, 128, 32])
    chip = generic.model_copy(update={"mapping_policy": "spread"})
    packed = place(trace, generic.model_copy(update={"mapping_policy": "pack"}))
    spread = estimate_cost(trace, chip)
    on_packed = estimate_cost(trace, chip, placement=packed)
    assert on_packed.utilisation["cores"] < spread.utilisation["cores"]  # the placement given was used
    other = synthetic_trace(2, seed=1)
    with pytest.raises(ConfigError, match="placement"):
        estimate_cost(trace, chip, placement=place(other, chip))
    with pytest.raises(ConfigError, match="placement"):
        estimate_cost_batch(trace, [chip, chip], placement=place(trace, chip))


# -- energy categories from the hardware description ------------------------------------------


@pytest.fixture
def spike_out(monkeypatch: pytest.MonkeyPatch) -> CostCategory:
    """A toy category registered in-test (the registry restored afterwards): 2 pJ per output spike."""
    import codesign.hardware._energy as energy

    monkeypatch.setattr(energy, "_REGISTRY", dict(energy._REGISTRY))
    return register_category(CostCategory("spike_out", lambda a: 2.0 * a.counts.output_spikes, "soma"))


def test_a_new_cost_category_is_one_registration_and_one_preset_entry(
        spike_out: CostCategory, tmp_path: Path, golden_trace: WorkloadTrace, generic: ChipConfig) -> None:
    preset = tmp_path / "toy_chip.yaml"  # generic_45nm plus the one entry
    preset.write_text((HW_MODELS_DIR / "generic_45nm.yaml").read_text()
                      + "\nenergy_categories: [" + ", ".join([*CORE_CATEGORIES, "spike_out"]) + "]\n")
    chip = load_chip(preset)
    assert chip.energy_categories == (*CORE_CATEGORIES, "spike_out")
    plain, toy = estimate_cost(golden_trace, generic), estimate_cost(golden_trace, chip)
    assert toy.categories == (*CORE_CATEGORIES, "spike_out")
    spikes = sum(layer.output_spikes for layer in golden_trace.layers)
    assert toy.energy_by_category_pj["spike_out"] == pytest.approx(2.0 * spikes, rel=1e-15)
    assert np.array_equal(toy.energy_by_layer_category_pj[:, :-1], plain.energy_by_layer_category_pj)
    assert toy.total_energy_pj == pytest.approx(plain.total_energy_pj + 2.0 * spikes, rel=1e-12)
    # stored and read back; the batch path and the simulator carry the chip's categories
    assert CostReport.from_dict(toy.to_dict()).to_dict() == toy.to_dict()
    batch = estimate_cost_batch(golden_trace, [chip, chip.model_copy(update={"cores": 4})], by_layer=True)
    assert batch.categories == chip.energy_categories and "spike_out_pj" in batch.to_frame()
    assert np.array_equal(batch.energy_by_layer_category_pj[0], toy.energy_by_layer_category_pj)
    assert simulate(golden_trace, chip).energy_by_category_pj["spike_out"] == pytest.approx(2.0 * spikes)
    # a batch holds one energy table: its chips share their categories
    with pytest.raises(ConfigError, match="energy_categories"):
        ChipArray.from_configs([chip, generic])


def test_a_stored_report_loads_only_registered_categories(golden_trace: WorkloadTrace, generic: ChipConfig,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import codesign.hardware._energy as energy

    monkeypatch.setattr(energy, "_REGISTRY", dict(energy._REGISTRY))
    register_category(CostCategory("leak_retention", lambda a: a.static_pj * 0.5))
    chip = ChipConfig(energy_categories=("synaptic_compute", "noc", "leak_retention"))
    stored = estimate_cost(golden_trace, chip).to_dict()
    assert CostReport.from_dict(stored).categories == ("synaptic_compute", "noc", "leak_retention")
    old = {k: v for k, v in estimate_cost(golden_trace, generic).to_dict().items() if k != "categories"}
    assert CostReport.from_dict(old).categories == CORE_CATEGORIES  # written before reports named them
    del energy._REGISTRY["leak_retention"]
    with pytest.raises(ValueError, match="leak_retention"):
        CostReport.from_dict(stored)
    with pytest.raises(ConfigError, match="energy_categories"):
        load_chip("generic_45nm", {"energy_categories": ["noc", "statik"]})


def test_chip_columns_hold_every_numeric_chip_field() -> None:
    names = {f.name for f in dataclasses.fields(ChipColumns)}
    assert names == {*ARRAY_FIELDS, "sync_tiles", "sync_ns", "categories"}
    columns = ChipArray.from_configs([load_chip("loihi_sanafe"), load_chip("loihi_sanafe")]).block()
    assert columns.cores.shape == (2, 1) and columns.size == 2
    assert [float(t[0, 0]) for t in columns.sync_tiles] == [1.0, 2.0, 4.0, 29.0]


# -- one weight_bits carrier --------------------------------------------------------------------


def _at_bits(trace: WorkloadTrace, bits: int) -> WorkloadTrace:
    layers = tuple(layer.model_copy(update={"weight_bits": bits}) for layer in trace.layers)
    return WorkloadTrace(meta=trace.meta.model_copy(update={"layers": layers}), spike_samples=trace.spike_samples)


def test_a_trace_quantised_to_other_bits_is_refused_or_requantised(golden_trace: WorkloadTrace,
                                                                   generic: ChipConfig) -> None:
    four = _at_bits(golden_trace, 4)
    with pytest.raises(ConfigError, match=r"trace\.layers\[0\]\.weight_bits.*got 4"):
        estimate_cost(four, generic)  # an 8-bit chip
    with pytest.raises(ConfigError, match="weight_bits"):
        simulate(four, generic)
    with pytest.raises(ConfigError, match="weight_bits"):  # one chip of the batch differs
        estimate_cost_batch(four, {"weight_bits": np.array([4, 8])}, base=generic)
    # the chip's bits price the weights: at matching bits, re-quantised, or from a float trace
    on_four = estimate_cost(four, generic.model_copy(update={"weight_bits": 4}))
    assert np.array_equal(on_four.energy_by_layer_category_pj,
                          estimate_cost(_at_bits(golden_trace, 32), generic.model_copy(update={"weight_bits": 4}))
                          .energy_by_layer_category_pj)
    requantised = estimate_cost(four, generic, requantise=True)
    assert np.array_equal(requantised.energy_by_layer_category_pj,
                          estimate_cost(golden_trace, generic).energy_by_layer_category_pj)


def test_hw_commands_name_the_trace_file_and_offer_requantise(golden_trace: WorkloadTrace, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = save_trace(_at_bits(golden_trace, 4), tmp_path / "four_bit.npz")
    args: list[Any] = ["hw", "evaluate", "--trace", str(path), "--chip", "generic_45nm"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "layers[0].weight_bits" in err and "--requantise" in err
    assert main([*args, "--requantise", "--json"]) == 0
    capsys.readouterr()
    assert main(["hw", "simulate", "--trace", str(path), "--chip", "generic_45nm"]) == 2
    capsys.readouterr()
    # a sweep is checked against the swept chips' bits, not the base chip's
    sweep = ["hw", "sweep", "--trace", str(path), "--chip", "generic_45nm", "--json", "--grid"]
    assert main([*sweep, "weight_bits=4", "cores=4,8"]) == 0
    capsys.readouterr()
    assert main([*sweep, "weight_bits=4,8", "cores=4,8"]) == 2
    assert str(path) in capsys.readouterr().err
