"""Fixtures for the search tests: toy evaluators shipped to Ray workers by value."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _toy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def toy(ray_cluster: str):
    """The toy evaluators module, pickled by value so workers need not import the tests."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(_toy)
    return _toy
