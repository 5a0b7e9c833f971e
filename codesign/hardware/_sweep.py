"""Grid sweeps of chip parameters against one trace, and the Pareto-optimal chips among them."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from codesign.config import ConfigError
from codesign.hardware._chip import ARRAY_FIELDS, ChipArray, ChipConfig
from codesign.hardware._model import evaluate_batch
from codesign.trace import WorkloadTrace

#: What a sweep minimises unless told otherwise.
DEFAULT_OBJECTIVES = ("energy_uj", "latency_ms", "area_mm2")


def grid_columns(grid: dict[str, list[Any]]) -> dict[str, np.ndarray]:
    """The Cartesian product of per-field value lists, as ChipArray columns."""
    if not grid:
        raise ConfigError(None, "--grid", "at least one key=v1,v2,... axis")
    keys = list(grid)
    combos = list(itertools.product(*(grid[k] for k in keys)))
    return {k: np.array([combo[i] for combo in combos], dtype=object) for i, k in enumerate(keys)}


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` ``[n, objectives]`` (all minimised) that no other row dominates."""
    n = values.shape[0]
    keep = np.ones(n, dtype=bool)
    order = np.lexsort(values.T[::-1])
    front: list[int] = []
    for i in order:
        row = values[i]
        dominated = any(np.all(values[j] <= row) and np.any(values[j] < row) for j in front)
        if dominated or any(np.array_equal(values[j], row) for j in front):
            keep[i] = False
        else:
            front.append(int(i))
    return keep


def sweep(
    trace: WorkloadTrace,
    base: ChipConfig,
    columns: dict[str, Any],
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES,
) -> pd.DataFrame:
    """Evaluate every chip of ``columns`` (on top of ``base``) and return the feasible Pareto front.

    Returns:
        One row per Pareto-optimal feasible chip: the swept parameters, then the metrics,
        sorted by the first objective.

    Raises:
        ConfigError: a bad parameter value, or no feasible chip in the sweep.
    """
    chips = ChipArray.from_columns(columns, base=base)
    batch = evaluate_batch(trace, chips, base=base)
    frame = batch.to_frame()
    unknown = [o for o in objectives if o not in frame.columns]
    if unknown:
        raise ConfigError(None, "objectives", "metrics of the batch report: " + ", ".join(frame.columns), got=unknown)
    params = pd.DataFrame({k: chips[k] for k in columns if k in ARRAY_FIELDS})
    table = pd.concat([params, frame], axis=1)
    feasible = table[table["feasible"]]
    if feasible.empty:
        reasons = sorted({r for i in range(len(batch)) for r in batch.reasons(i)})
        raise ConfigError(None, "grid", "at least one feasible chip", hint="; ".join(reasons[:3]))
    mask = pareto_mask(feasible[list(objectives)].to_numpy(dtype=float))
    return feasible[mask].sort_values(list(objectives)).reset_index(drop=True)
