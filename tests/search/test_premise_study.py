"""benchmarks/premise.py measures any study, not only the quickstart: a study minimising WER is
read at a fixed reference of WER 1 and its networks are ranked by the lowest WER (it ranked by
``accuracy``, which a digits study does not have)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _benchmarks import load_benchmark

from codesign.search import DesignPoint, load_study

ROOT = Path(__file__).resolve().parents[2]


def test_a_digits_study_is_read_by_wer() -> None:
    premise = load_benchmark("premise")
    digits = load_study(ROOT / "studies" / "digits_srnn_nested.yaml")
    quick = load_study(ROOT / "studies" / "quickstart.yaml")
    assert premise.fixed_reference(digits) == {"wer": 1.0, "energy_uj": 50.0, "latency_ms": 100.0}
    assert premise.fixed_reference(quick) == {"accuracy": 0.0, "energy_uj": 50.0, "latency_ms": 100.0}
    assert premise.quality_objective(digits) == ("wer", -1.0)
    assert premise.quality_objective(quick) == ("accuracy", 1.0)


def test_top_networks_are_those_of_lowest_wer() -> None:
    premise = load_benchmark("premise")
    digits = load_study(ROOT / "studies" / "digits_srnn_nested.yaml")

    def point(trial: int, wer: float, energy_uj: float) -> DesignPoint:
        return DesignPoint(trial=trial, params={}, objectives={"wer": wer, "energy_uj": energy_uj, "latency_ms": 1.0})

    # network 0 is the most accurate (WER 0.2) but only on a costly chip; networks 1-4 are worse
    points = [point(0, 0.2, 8.0), point(1, 0.5, 1.0), point(2, 0.6, 1.5), point(3, 0.7, 2.0), point(4, 0.8, 0.5)]
    run = {"events": [{"cpu_s": 1.0, "points": points}]}
    share = premise.top_k_share([run], digits, {"wer": 1.0, "energy_uj": 10.0, "latency_ms": 2.0})
    # ranked 0, 1, 2: the top network alone carries part of the volume, all five carry it all
    assert 0.0 < share["hv_fraction"]["1"] < share["hv_fraction"]["3"] < share["hv_fraction"]["5"] == pytest.approx(1.0)
    # under the cheapest cap (0.5 uJ) only network 4 fits: its WER, and none of the top 3
    cap = share["energy_caps"]["0.1"]
    assert cap["best_accuracy_all"] == pytest.approx(0.8)
    assert cap["best_accuracy_top3"] == 1.0  # no top-3 network under the cap: the reference's WER
