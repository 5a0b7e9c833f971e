"""``cost_report.json`` has one parser, ``CostReport.from_dict``, behind the report's
``read_cost_report``: files written before the typed feasibility fields still load, and a file
that is not a whole cost report is refused with its path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from codesign.hardware import CATEGORIES, CostReport
from codesign.report import read_cost_report

#: A cost report as the chip model wrote it before ``weights_fit``, ``state_fits``,
#: ``within_deadline``, ``within_area`` and ``split_spike_fraction`` existed (commit 237a452).
OLD_FORMAT = {
    "chip_name": "loihi_like",
    "layer_names": ["embed", "head"],
    "categories": ["synaptic_compute", "weight_memory", "state_memory", "neuron_update", "noc", "offchip", "static"],
    "energy_pj": [[10.0, 20.0, 3.0, 4.0, 5.0, 0.0, 1.0], [1.0, 2.0, 0.5, 0.5, 0.25, 0.0, 0.75]],
    "cycles": 1200.0,
    "cycles_by_layer": [800.0, 300.0],
    "barrier_cycles": 100.0,
    "latency_ms": 0.012,
    "throughput_per_s": 83333.3,
    "area_mm2": 1.25,
    "sram_used_kb": 12.5,
    "weight_kb": 8.0,
    "offchip_bits": 0.0,
    "utilisation": {"pe": 0.4, "neuron_units": 0.2, "cores": 0.5},
    "feasible": True,
    "reasons": [],
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "cost_report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_an_old_format_cost_report_loads_with_the_new_fields_defaulted(tmp_path: Path) -> None:
    report = read_cost_report(_write(tmp_path, OLD_FORMAT))
    assert report.layer_names == ("embed", "head") and report.cycles == 1200.0 and report.area_mm2 == 1.25
    assert report.total_energy_pj == pytest.approx(43.0 + 5.0)
    assert report.energy_by_category_pj["weight_memory"] == pytest.approx(22.0)
    assert report.cycles_by_layer.tolist() == [800.0, 300.0]
    assert report.weights_fit and report.state_fits and report.fits_on_chip
    assert report.within_deadline is None and report.within_area is None and report.split_spike_fraction == 0.0


def test_a_cost_report_reads_back_as_written(tmp_path: Path) -> None:
    written = CostReport.from_dict(OLD_FORMAT | {"weights_fit": False, "split_spike_fraction": 0.25,
                                                 "feasible": False, "reasons": ["weights do not fit"]})
    read = read_cost_report(_write(tmp_path, written.to_dict()))
    assert read.to_dict() == written.to_dict()
    assert np.array_equal(read.energy_by_layer_category_pj, written.energy_by_layer_category_pj)
    assert not read.fits_on_chip and read.reasons == ("weights do not fit",)


@pytest.mark.parametrize("bad", [
    {"cycles": 3},  # a few figures, no table
    {k: v for k, v in OLD_FORMAT.items() if k != "cycles_by_layer"},  # a figure missing
    OLD_FORMAT | {"categories": list(CATEGORIES[:-1])},  # other energy categories
    OLD_FORMAT | {"energy_pj": {"layers": ["embed"], "categories": list(CATEGORIES), "values": [[0.0] * 7]}},
    OLD_FORMAT | {"surprise": 1},  # a key the chip model never wrote
    [1, 2, 3],
])
def test_anything_else_is_refused_with_its_path(tmp_path: Path, bad: object) -> None:
    path = _write(tmp_path, bad)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_cost_report(path)
