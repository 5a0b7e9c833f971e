"""Pareto fronts and exact hypervolume."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.search import DesignPoint, hypervolume, pareto_front, pareto_mask, study_hypervolume


def test_pareto_mask_drops_dominated_and_duplicates() -> None:
    values = np.array([[1, 3], [2, 2], [3, 1], [2, 3], [2, 2]], dtype=float)
    assert pareto_mask(values).tolist() == [True, True, True, False, False]


def test_hypervolume_2d_by_hand() -> None:
    values = np.array([[1, 3], [2, 2], [3, 1], [3.5, 3.5]], dtype=float)
    assert hypervolume(values, np.array([4.0, 4.0])) == pytest.approx(1 + 2 + 3 + 0.0)


def test_hypervolume_3d_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, size=(30, 3))
    ref = np.ones(3)
    samples = rng.uniform(0, 1, size=(200_000, 3))
    dominated = np.zeros(len(samples), dtype=bool)
    for v in values:
        dominated |= np.all(samples >= v, axis=1)
    assert hypervolume(values, ref) == pytest.approx(dominated.mean(), abs=0.005)


def test_front_keeps_feasible_points_and_respects_max_objectives() -> None:
    points = [
        DesignPoint(0, {}, {"accuracy": 0.9, "energy_uj": 5.0}),
        DesignPoint(1, {}, {"accuracy": 0.8, "energy_uj": 1.0}),
        DesignPoint(2, {}, {"accuracy": 0.7, "energy_uj": 2.0}),  # dominated
        DesignPoint(3, {}, {"accuracy": 0.99, "energy_uj": 0.5}, constraints={"area_mm2 <= 1": 0.2}),
    ]
    objectives = {"accuracy": "max", "energy_uj": "min"}
    assert [p.trial for p in pareto_front(points, objectives)] == [0, 1]
    hv = study_hypervolume(points, objectives, reference={"accuracy": 0.0, "energy_uj": 10.0})
    # losses (-accuracy, energy): (-0.9, 5) and (-0.8, 1) against (0, 10); the infeasible point
    # is ignored: 0.1 * 5 (the strip only the first point covers) + 0.8 * 9
    assert hv == pytest.approx(0.1 * 5 + 0.8 * 9)
    # Adding a dominated point changes nothing; a better one only adds.
    more = [*points, DesignPoint(4, {}, {"accuracy": 0.95, "energy_uj": 0.8})]
    assert study_hypervolume([*points, DesignPoint(5, {}, {"accuracy": 0.1, "energy_uj": 9})], objectives,
                             reference={"accuracy": 0.0, "energy_uj": 10.0}) == pytest.approx(hv)
    assert study_hypervolume(more, objectives, reference={"accuracy": 0.0, "energy_uj": 10.0}) > hv
