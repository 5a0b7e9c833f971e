"""Neuromorphic chip model: the chip template, presets, mapping, the vectorised analytic cost
model and the event-driven simulator that checks it.

Three inputs, as ZigZag separates them: the hardware (``ChipConfig``/``ChipArray``, which also
declares its energy categories), the workload (``codesign.trace.WorkloadTrace``) and the
mapping (``place`` -> ``LayerPlacement``). Owns ``ChipConfig`` (hw_models/*.yaml presets), the technology constants
(hw_models/technology.yaml), ``estimate_cost``/``estimate_cost_batch`` -> ``CostReport``/``BatchCostReport``
and ``simulate`` -> ``SimulationReport`` (both reports share ``InferenceCost``; both price their
actions with one energy table). Never trains. Sizes named ``*_kb`` are KiB (1024 bytes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codesign._lazy import lazy_exports

# Names are imported on first use (PEP 562), so that reading a study's ChipConfig does not
# import torch (the cost model reads traces through codesign.trace, which does).
if TYPE_CHECKING:
    from codesign.hardware._chip import (
        ARRAY_FIELDS,
        ChipArray,
        ChipColumns,
        ChipConfig,
        as_chip_array,
        list_presets,
        load_chip,
    )
    from codesign.hardware._energy import (
        CORE_CATEGORIES,
        CostCategory,
        PricedActions,
        cost_category,
        register_category,
    )
    from codesign.hardware._model import (
        LayerArrays,
        LayerPlacement,
        check_weight_bits,
        estimate_cost,
        estimate_cost_batch,
        map_layers,
        place,
    )
    from codesign.hardware._report import (
        CATEGORIES,
        REASON_FLAGS,
        BatchCostReport,
        ChipRequirements,
        CostReport,
        InferenceCost,
    )
    from codesign.hardware._simulator import SimulationReport, simulate
    from codesign.hardware._sweep import grid_columns, sweep_table
    from codesign.hardware._synthetic import lif_mlp_trace, random_chip_columns, synthetic_trace
    from codesign.hardware._technology import (
        HW_MODELS_DIR,
        TECHNOLOGY_FILE,
        Technology,
        add_energy_pj,
        load_technology,
        mult_energy_pj,
        sram_read_64b_pj,
    )

_EXPORTS: dict[str, str] = {
    "ARRAY_FIELDS": "_chip",
    "ChipArray": "_chip",
    "ChipColumns": "_chip",
    "CORE_CATEGORIES": "_energy",
    "CostCategory": "_energy",
    "PricedActions": "_energy",
    "cost_category": "_energy",
    "register_category": "_energy",
    "check_weight_bits": "_model",
    "place": "_model",
    "ChipConfig": "_chip",
    "as_chip_array": "_chip",
    "list_presets": "_chip",
    "load_chip": "_chip",
    "LayerArrays": "_model",
    "LayerPlacement": "_model",
    "estimate_cost": "_model",
    "estimate_cost_batch": "_model",
    "map_layers": "_model",
    "CATEGORIES": "_report",
    "REASON_FLAGS": "_report",
    "BatchCostReport": "_report",
    "ChipRequirements": "_report",
    "CostReport": "_report",
    "InferenceCost": "_report",
    "SimulationReport": "_simulator",
    "simulate": "_simulator",
    "grid_columns": "_sweep",
    "sweep_table": "_sweep",
    "lif_mlp_trace": "_synthetic",
    "random_chip_columns": "_synthetic",
    "synthetic_trace": "_synthetic",
    "HW_MODELS_DIR": "_technology",
    "TECHNOLOGY_FILE": "_technology",
    "Technology": "_technology",
    "add_energy_pj": "_technology",
    "load_technology": "_technology",
    "mult_energy_pj": "_technology",
    "sram_read_64b_pj": "_technology",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "ARRAY_FIELDS",
    "CATEGORIES",
    "CORE_CATEGORIES",
    "HW_MODELS_DIR",
    "REASON_FLAGS",
    "TECHNOLOGY_FILE",
    "BatchCostReport",
    "ChipArray",
    "ChipColumns",
    "ChipConfig",
    "ChipRequirements",
    "CostCategory",
    "CostReport",
    "InferenceCost",
    "LayerArrays",
    "LayerPlacement",
    "PricedActions",
    "SimulationReport",
    "Technology",
    "add_energy_pj",
    "as_chip_array",
    "check_weight_bits",
    "cost_category",
    "estimate_cost",
    "estimate_cost_batch",
    "grid_columns",
    "lif_mlp_trace",
    "list_presets",
    "load_chip",
    "load_technology",
    "map_layers",
    "mult_energy_pj",
    "place",
    "random_chip_columns",
    "register_category",
    "simulate",
    "sram_read_64b_pj",
    "sweep_table",
    "synthetic_trace",
]
