"""Helpers shared by the spikeformer_* benchmarks: one training+trace run, and the result file."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from codesign._io import write_json_atomic
from codesign.snn import ModelConfig
from codesign.trace import ENERGY_AC_PJ, ENERGY_MAC_PJ, evaluation_batch, record_trace, trace_metrics
from codesign.train import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"


def run_once(cfg: ModelConfig, corpus: Any, budget: TrainConfig, seed: int) -> dict[str, Any]:
    """Train, trace on the fixed test batch, and return metrics + trace metrics + timings."""
    start = time.perf_counter()
    result = train(cfg, corpus, budget, seed=seed, progress=False)
    trace = record_trace(result.model, *evaluation_batch(corpus.test), cfg)
    energy_by_layer = {}
    for layer in trace.layers:
        if layer.kind in ("synaptic_dense", "synaptic_conv", "spike_matmul"):
            pj = ENERGY_AC_PJ * layer.binary_ops if layer.input_is_spike else ENERGY_MAC_PJ * layer.effective_ops
            energy_by_layer[layer.name] = round(pj, 1)
    return {
        "energy_by_layer_pj": energy_by_layer,
        "model_config": {k: v for k, v in cfg.to_dict().items() if v != type(cfg).model_fields[k].default},
        "metrics": result.metrics,
        "trace_metrics": trace_metrics(trace).to_dict(),
        "run_wall_time_s": time.perf_counter() - start,
    }


def write_result(name: str, figures: dict[str, Any], details: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the figures, the details and the exact command."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        # As run from the repository root (the script's own directory is on sys.path either way).
        "command": "PYTHONPATH=$PWD python benchmarks/"
        + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]]),
        "figures": figures,
        "details": details,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "shared 2-core development machine with other engineers running at the same time; "
            "timings are noisy, speed goals are ratios of runs made side by side in this process",
        },
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return write_json_atomic(path, payload)
