"""Benchmark: what each chip weight width does to the float networks a shipped study trained.

Reads every full-budget network in the training cache of a ``benchmarks/shipped_studies.py``
run (its ``--runs-dir``), whatever chip its draw had, and scores it as a chip of
``--weight-bits`` each computes it (post-training quantisation, the studies' ``precision: ptq``),
with the study chip's state width, on the validation split of the study's corpus. So a weight
width can be judged on every network the space trained, not only on the draws that happened
to get it. Used to decide the Mamba study's chip space (search_spaces/accelerator_mamba.yaml:
2-bit weights left it).

Figures: per network its float validation accuracy and its accuracy at each width; per width
the range of accuracies and of points lost against float.

Writes benchmarks/results/NAME.json (default shipped_studies_bits).

    PYTHONPATH=$PWD nice -n 10 python benchmarks/shipped_studies_bits.py --runs-dir DIR
        [--study studies/commands_mamba.yaml] [--corpus-size 1500] [--weight-bits 2 4 8] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from spikeformer_common import write_result

ROOT = Path(__file__).resolve().parents[1]


def rescore(runs: Path, study: Path, corpus_size: int, weight_bits: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    from codesign.data import load_corpus
    from codesign.search import load_study
    from codesign.search._store import TRAIN_CACHE_DIR
    from codesign.snn import Precision
    from codesign.train import load_trained_model, score_at_precision

    torch.set_num_threads(1)
    spec = load_study(study, {"corpus.size": corpus_size})
    corpus = load_corpus(spec.corpus, progress=False)
    state_bits = spec.chip.state_bits
    networks = []
    for entry in sorted((runs / TRAIN_CACHE_DIR).glob("*/full")):
        net, summary = load_trained_model(entry)
        row: dict[str, Any] = {"key": entry.parent.name, "model_config": summary["model_config"],
                               "float": summary["metrics"]["validation_accuracy"]}
        for bits in weight_bits:
            metrics, _ = score_at_precision(net, corpus, summary["head"],
                                            Precision(weight_bits=bits, state_bits=state_bits), splits=("validation",))
            row[str(bits)] = metrics["validation_accuracy"]
        networks.append(row)
    if not networks:
        raise SystemExit(f"no trained network under {runs / TRAIN_CACHE_DIR}")
    by_bits = {str(b): {"accuracy": [min(n[str(b)] for n in networks), max(n[str(b)] for n in networks)],
                        "points_lost": [min(n["float"] - n[str(b)] for n in networks),
                                        max(n["float"] - n[str(b)] for n in networks)]}
               for b in weight_bits}
    figures = {"networks": len(networks), "state_bits": state_bits,
               "float": [min(n["float"] for n in networks), max(n["float"] for n in networks)], "by_weight_bits": by_bits}
    return figures, {"study": str(study.relative_to(ROOT)) if study.is_relative_to(ROOT) else str(study),
                     "corpus_size": corpus_size, "networks": networks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", required=True, help="the --runs-dir of a shipped_studies.py run")
    parser.add_argument("--study", default=str(ROOT / "studies" / "commands_mamba.yaml"))
    parser.add_argument("--corpus-size", type=int, default=1500)
    parser.add_argument("--weight-bits", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--name", default="shipped_studies_bits")
    args = parser.parse_args()
    figures, details = rescore(Path(args.runs_dir), Path(args.study).resolve(), args.corpus_size, args.weight_bits)
    print(json.dumps(figures, indent=1))
    print(f"wrote {write_result(args.name, figures, details)}")


if __name__ == "__main__":
    main()
