"""Exporting chosen design points as bundles (configs, weights, trace, cost report, NIR graph,
manifest) and re-evaluating a bundle against its stored figures.

Owns picking a stored design point, writing and checking bundles, the NIR conversion and
re-evaluation; never searches. Reads studies through ``codesign.search.study_view``.
"""

from __future__ import annotations

from codesign.export._bundle import (
    CONFIG_FILE,
    COST_REPORT_FILE,
    NIR_FILE,
    TRACE_FILE,
    TRAIN_RESULT_FILE,
    WEIGHTS_FILE,
    WEIGHTS_INT_FILE,
    BundleConfig,
    ExportResult,
    StudyProvenance,
    code_commit,
    export_bundle,
    load_bundle_config,
    select_point,
)
from codesign.export._evaluate import (
    CHIP_FIGURES,
    CHIP_REL_TOL,
    METRIC_ABS_TOL,
    Comparison,
    EvaluationReport,
    Rescored,
    bundle_trace,
    evaluate_bundle,
    load_bundle_model,
    recost_bundle,
    rescore_bundle,
)
from codesign.export._manifest import MANIFEST, sha256_file, verify_bundle, write_manifest
from codesign.export._nir import NirExport, network_to_nir
from codesign.search import (  # the pick language is codesign.search's
    Condition,  # re-exported: a --pick condition is a search condition
    Pick,
    Rank,
    parse_pick,
    pick_point,
)

__all__ = [
    "CHIP_FIGURES",
    "CHIP_REL_TOL",
    "CONFIG_FILE",
    "COST_REPORT_FILE",
    "MANIFEST",
    "METRIC_ABS_TOL",
    "NIR_FILE",
    "TRACE_FILE",
    "TRAIN_RESULT_FILE",
    "WEIGHTS_FILE",
    "WEIGHTS_INT_FILE",
    "BundleConfig",
    "Comparison",
    "Condition",
    "EvaluationReport",
    "ExportResult",
    "NirExport",
    "Pick",
    "Rank",
    "Rescored",
    "StudyProvenance",
    "bundle_trace",
    "code_commit",
    "evaluate_bundle",
    "export_bundle",
    "load_bundle_config",
    "load_bundle_model",
    "network_to_nir",
    "parse_pick",
    "pick_point",
    "recost_bundle",
    "rescore_bundle",
    "select_point",
    "sha256_file",
    "verify_bundle",
    "write_manifest",
]
