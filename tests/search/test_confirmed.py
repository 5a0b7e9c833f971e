"""Reading a confirmed point's spread (what the report and ``study front`` show) from a
hand-built ``codesign.confirmed.<trial>`` study attribute, as ``codesign study confirm`` writes it."""

from __future__ import annotations

from codesign.search import CONFIRMED_ATTR, confirmed_figures

ATTRS = {
    f"{CONFIRMED_ATTR}.4": {
        "seeds": [0, 1, 2],
        "points": [
            {"chip": None, "mean": {"accuracy": 0.31, "energy_uj": 2.5}, "std": {"accuracy": 0.02, "energy_uj": 0.1},
             "values": {"accuracy": [0.29, 0.31, 0.33]}},
        ],
    },
    f"{CONFIRMED_ATTR}.7": {"seeds": [0, 1], "points": [{"chip": 2, "mean": {"accuracy": 0.29}, "std": {}}]},
}


def test_spread_per_metric_and_chip() -> None:
    joint = confirmed_figures(ATTRS, 4)
    assert joint is not None and joint.seeds == (0, 1, 2)
    assert joint.spread("accuracy") == (0.31, 0.02)
    assert joint.spread("latency_ms") is None  # not re-measured: nothing to show
    nested = confirmed_figures(ATTRS, 7, member=2)
    assert nested is not None and nested.spread("accuracy") == (0.29, 0.0)
    assert confirmed_figures(ATTRS, 7, member=0) is None and confirmed_figures(ATTRS, 5) is None
