"""Stored keys say what they hold, and what earlier versions stored under other names reads back."""

from __future__ import annotations

import numpy as np

from codesign.hardware import CATEGORIES, CostReport
from codesign.search import RECORD_ATTR, record_of

#: A nested trial's record as codesign stored it when the total energy was the metric ``energy_pj``.
OLD_RECORD = {
    "params": {"snn.width": 32},
    "objectives": {"accuracy": 0.5, "energy_uj": 0.002},
    "metrics": {"accuracy": 0.5, "energy_uj": 0.002, "energy_pj": 2000.0, "cycles": 10.0},
    "energy_by_category_pj": {"synaptic_compute": 1500.0, "static": 500.0},
    "strategy": "nested",
    "hw_front": [{"params": {"hw.cores": 2}, "objectives": {"accuracy": 0.5, "energy_uj": 0.002},
                  "metrics": {"energy_uj": 0.002, "energy_pj": 2000.0}, "trace": "t.npz"}],
}


def test_an_old_record_reads_its_total_energy_under_the_name_that_says_so() -> None:
    record = record_of({RECORD_ATTR: OLD_RECORD})
    assert record is not None
    assert record.metrics == {"accuracy": 0.5, "energy_uj": 0.002, "energy_pj_total": 2000.0, "cycles": 10.0}
    assert record.hw_front[0].metrics == {"energy_uj": 0.002, "energy_pj_total": 2000.0}
    assert record_of({RECORD_ATTR: record.to_dict()}) == record  # and is stored under it again


def test_a_cost_report_stores_its_table_under_a_name_that_says_its_shape() -> None:
    table = np.arange(2 * len(CATEGORIES), dtype=float).reshape(2, len(CATEGORIES))
    report = CostReport(chip_name="c", layer_names=("a", "b"), energy_by_layer_category_pj=table, cycles=1.0,
                        cycles_by_layer=np.ones(2), barrier_cycles=0.0, latency_ms=1.0, throughput_per_s=1.0,
                        area_mm2=1.0, sram_used_kb=1.0, weight_kb=1.0, offchip_bits=0.0,
                        utilisation={"pe": 1.0, "neuron_units": 1.0, "cores": 1.0}, feasible=True)
    data = report.to_dict()
    assert "energy_pj" not in data and data["energy_pj_by_layer_category"] == table.tolist()
    assert report.metrics()["energy_pj_total"] == table.sum() and "energy_pj" not in report.metrics()
    old = {("energy_pj" if k == "energy_pj_by_layer_category" else k): v for k, v in data.items()}
    assert np.array_equal(CostReport.from_dict(old).energy_by_layer_category_pj, table)  # an older file
