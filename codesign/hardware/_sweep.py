"""Sweeps of chip parameters against one trace: a grid of ChipConfig values and the table of results."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from codesign.config import ConfigError
from codesign.hardware._chip import ARRAY_FIELDS, ChipArray, ChipConfig
from codesign.hardware._model import estimate_cost_batch
from codesign.trace import WorkloadTrace

#: The most chips one sweep grid may hold (the batch model holds every chip's figures at once:
#: a million chips is about a gigabyte of arrays).
MAX_GRID_CHIPS = 1_000_000


def grid_columns(grid: dict[str, list[Any]]) -> dict[str, np.ndarray]:
    """The Cartesian product of per-field value lists, as ChipArray columns.

    Raises:
        ConfigError: no axis, or more than ``MAX_GRID_CHIPS`` combinations (counted before
            anything is allocated).
    """
    if not grid:
        raise ConfigError(None, "--grid", "at least one key=v1,v2,... axis")
    count = math.prod(len(values) for values in grid.values())
    if count > MAX_GRID_CHIPS:
        sizes = " x ".join(f"{len(v)} {k}" for k, v in grid.items())
        raise ConfigError(None, "--grid", f"a grid of at most {MAX_GRID_CHIPS} chips",
                          hint=f"{sizes} = {count} chips; use fewer values, or --space with --points to sample")
    keys = list(grid)
    combos = list(itertools.product(*(grid[k] for k in keys)))
    return {k: np.array([combo[i] for combo in combos], dtype=object) for i, k in enumerate(keys)}


def sweep_table(trace: WorkloadTrace, base: ChipConfig, columns: dict[str, Any], *,
                requantise: bool = False) -> pd.DataFrame:
    """Evaluate every chip of ``columns`` (on top of ``base``) against ``trace`` at once
    (``requantise``: as :func:`estimate_cost_batch`).

    Returns:
        One row per chip: the swept parameters, then the batch metrics, ``feasible`` and
        ``reasons`` (``; ``-joined). Choosing the Pareto-optimal rows is the caller's (the
        CLI uses ``codesign.search.pareto_mask``, the search's one Pareto rule).

    Raises:
        ConfigError: a bad parameter value (field and index named), or a quantised trace on
            chips of other weight bits (without ``requantise``).
    """
    chips = ChipArray.from_columns(columns, base=base)
    batch = estimate_cost_batch(trace, chips, base=base, requantise=requantise)
    params = pd.DataFrame({k: chips[k] for k in columns if k in ARRAY_FIELDS})
    table = pd.concat([params, batch.to_frame()], axis=1)
    table["reasons"] = ["; ".join(batch.reasons(i)) if not batch.feasible[i] else "" for i in range(len(batch))]
    return table
