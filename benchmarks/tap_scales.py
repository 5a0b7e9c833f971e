"""What a scale per kernel tap (``ChipConfig.tap_scales``) buys the quickstart's chips, and what it costs.

The quickstart's networks (the trials of ``benchmarks/results/quickstart_study.json``, their
parameters as that study drew them) are each trained once in float as the study trains them
(``studies/quickstart.yaml``: its corpus, its 12 epochs, its seed; ``precision: ptq``), then
scored on the validation split at each weight width of the quickstart's accelerator space (2, 4,
8 bits; the chip's 12-bit state) with one weight scale per output channel and with a scale per
(output channel, kernel tap) in the conv-fused RepSSA projections, and traced and priced on the
quickstart's chip (``hw_models/edge_kws.yaml``, with 128 KiB of weight SRAM per core so that
every network fits at 8 bits) at each precision, with and without the tap
scales (energy per inference, weights stored). Writes ``benchmarks/results/tap_scales.json``:
``figures.accuracy[<bits>][plain|tap]`` (validation accuracy, mean over the networks),
``figures.best[<bits>][plain|tap]`` (the most accurate network's), ``figures.energy_ratio[<bits>]``
(tap-scaled energy over plain, mean) and ``details.networks`` per trial.

    PYTHONPATH=$PWD python benchmarks/tap_scales.py [--trials 0 1 ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from spikeformer_common import write_result

from codesign.data import load_corpus
from codesign.hardware import estimate_cost
from codesign.search import chip_precision, load_study
from codesign.trace import trace_split
from codesign.train import score_at_precision, train

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "quickstart.yaml"
NETWORKS = ROOT / "benchmarks" / "results" / "quickstart_study.json"
WEIGHT_BITS = (2, 4, 8)
#: The chip the traces are priced on: the quickstart's, with the accelerator space's largest
#: weight SRAM (128 KiB per core), so every network fits at 8 bits and the costs compare.
COST_CHIP_FIELDS = {"weight_sram_kb_per_core": 128.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=None, help="trial numbers (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    trials = {t["number"]: t for t in json.loads(NETWORKS.read_text())["details"]["idle"]["trials"]}
    numbers = args.trials if args.trials is not None else sorted(trials)
    spec = load_study(str(STUDY))
    corpus = load_corpus(spec.corpus, progress=False)
    head = "classify"
    networks: dict[str, dict] = {}
    for number in numbers:
        params = trials[number]["params"]
        model = spec.model_for({k.partition(".")[2]: v for k, v in params.items() if k.startswith("snn.")})
        budget = spec.train_for({k.partition(".")[2]: v for k, v in params.items() if k.startswith("train.")})
        start = time.process_time()
        result = train(model, corpus, budget, seed=spec.seed)
        row: dict = {"float": result.metrics["validation_accuracy"], "train_cpu_s": time.process_time() - start}
        for bits in WEIGHT_BITS:
            row[str(bits)] = {}
            for kind, tap in (("plain", False), ("tap", True)):
                chip = spec.chip.model_copy(update={**COST_CHIP_FIELDS, "weight_bits": bits, "tap_scales": tap})
                precision = chip_precision(chip)
                with torch.no_grad():
                    scored, on_chip = score_at_precision(result.model, corpus, head, precision, splits=("validation",))
                    report = estimate_cost(trace_split(on_chip, corpus.validation, model, spec.trace_batch), chip)
                row[str(bits)][kind] = {"label": precision.label, "accuracy": scored["validation_accuracy"],
                                        "energy_uj": report.energy_uj, "weight_kb": report.weight_kb,
                                        "feasible": report.feasible}
            print(f"trial {number}: float {row['float']:.3f} w{bits} plain {row[str(bits)]['plain']['accuracy']:.3f} "
                  f"tap {row[str(bits)]['tap']['accuracy']:.3f}; energy x"
                  f"{row[str(bits)]['tap']['energy_uj'] / row[str(bits)]['plain']['energy_uj']:.4f}",
                  file=sys.stderr, flush=True)
        networks[str(number)] = row

    def mean(bits: int, kind: str, key: str) -> float:
        return statistics.fmean(n[str(bits)][kind][key] for n in networks.values())

    best = max(networks, key=lambda n: networks[n]["float"])
    figures = {
        "accuracy": {str(b): {k: mean(b, k, "accuracy") for k in ("plain", "tap")} for b in WEIGHT_BITS},
        "float_accuracy": statistics.fmean(n["float"] for n in networks.values()),
        "best_network": int(best),
        "best": {"float": networks[best]["float"],
                 **{str(b): {k: networks[best][str(b)][k]["accuracy"] for k in ("plain", "tap")}
                    for b in WEIGHT_BITS}},
        "gain_points": {str(b): 100 * (mean(b, "tap", "accuracy") - mean(b, "plain", "accuracy"))
                        for b in WEIGHT_BITS},
        "energy_ratio": {str(b): statistics.fmean(n[str(b)]["tap"]["energy_uj"] / n[str(b)]["plain"]["energy_uj"]
                                                  for n in networks.values()) for b in WEIGHT_BITS},
        "weight_kb_ratio": {str(b): statistics.fmean(n[str(b)]["tap"]["weight_kb"] / n[str(b)]["plain"]["weight_kb"]
                                                     for n in networks.values()) for b in WEIGHT_BITS},
    }
    details = {
        "study": "studies/quickstart.yaml (corpus, fidelity, seed, chip edge_kws)",
        "networks_from": "benchmarks/results/quickstart_study.json details.idle.trials[*].params",
        "trials": numbers,
        "scoring": "post-training quantisation (the quickstart's precision: ptq) of one float training per network, "
                   "validation split; state 12 bits (edge_kws); plain: a weight scale per output channel; tap: the "
                   "conv-fused RepSSA projections with a scale per (output channel, kernel tap) (ChipConfig.tap_scales)",
        "cost": "each network's trace at that precision (validation evaluation batch) priced on edge_kws with "
                f"{COST_CHIP_FIELDS} (every network fits at 8 bits), weight_bits set and tap_scales off/on",
        "networks": networks,
    }
    print(write_result("tap_scales", figures, details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
