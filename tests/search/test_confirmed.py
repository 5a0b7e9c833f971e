"""The reader of ``codesign.confirmed`` (written by ``codesign study confirm``): a hand-built attribute."""

from __future__ import annotations

import pytest

from codesign.config import ConfigError
from codesign.search import CONFIRMED_ATTR, confirmed_figures

ATTR = {
    "seeds": [0, 1, 2],
    "points": [
        {"chip": None, "mean": {"accuracy": 0.31, "energy_uj": 2.5}, "std": {"accuracy": 0.02, "energy_uj": 0.1}},
        {"chip": 2, "mean": {"accuracy": 0.29}, "std": {}},
    ],
}


def test_reads_each_point_by_chip() -> None:
    figures = confirmed_figures({CONFIRMED_ATTR: ATTR, "other": 1})
    assert set(figures) == {None, 2}
    joint = figures[None]
    assert joint.seeds == (0, 1, 2)
    assert joint.spread("accuracy") == (0.31, 0.02)
    assert joint.spread("latency_ms") is None
    assert figures[2].spread("accuracy") == (0.29, 0.0)  # no std recorded: no spread shown


def test_unconfirmed_trial_has_none() -> None:
    assert confirmed_figures({}) == {}


@pytest.mark.parametrize(
    ("attr", "key"),
    [
        ({"seeds": [0], "points": [{"chip": None, "mean": {"accuracy": "high"}, "std": {}}]},
         "codesign.confirmed.points[0].mean.accuracy"),
        ({"seeds": [0], "points": [{"chip": -1, "mean": {}, "std": {}}]}, "codesign.confirmed.points[0].chip"),
        ({"seeds": ["a"], "points": []}, "codesign.confirmed.seeds"),
        ({"seeds": [0]}, "codesign.confirmed.points"),
    ],
)
def test_malformed_attribute_names_its_key(attr: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        confirmed_figures({CONFIRMED_ATTR: attr})
    assert info.value.key == key
