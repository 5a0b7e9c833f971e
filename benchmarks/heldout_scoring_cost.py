"""Benchmark: what measuring held-out-engine accuracy costs a trial (issue 25).

A full-budget trial already scores the test split (the held-out engine's speakers) beside the
validation split; a multi-fidelity rung scores validation only, and also the test split when
the study selects on a ``heldout_engine_*`` metric. This measures that extra pass against the
work of one rung: the quickstart corpus and base network (``studies/quickstart.yaml``, no
``snn.*`` override), one training epoch on one thread, then the network scored at the
quickstart chip's precision on validation alone and on validation + test (median of
``--repeats``). Figures are CPU seconds of this process (the machine is shared; CPU time
does not move with its load). Writes benchmarks/results/heldout_scoring_cost.json.

    PYTHONPATH=$PWD python benchmarks/heldout_scoring_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

RESULT = Path(__file__).parent / "results" / "heldout_scoring_cost.json"
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from codesign.data import load_corpus
    from codesign.search import load_study
    from codesign.search._evaluate import chip_precision
    from codesign.train import score_at_precision, train

    spec = load_study(ROOT / "studies" / "quickstart.yaml")
    corpus = load_corpus(spec.corpus, progress=False)
    precision = chip_precision(spec.chip)
    started = time.process_time()
    result = train(spec.model_for({}), corpus, spec.train_for({}), seed=spec.seed, until_epoch=1)
    epoch_cpu_s = time.process_time() - started

    def cpu_of(splits: tuple[str, ...]) -> float:
        times = []
        for _ in range(args.repeats):
            t = time.process_time()
            score_at_precision(result.model, corpus, result.head, precision, splits=splits)
            times.append(time.process_time() - t)
        return statistics.median(times)

    validation = cpu_of(("validation",))
    both = cpu_of(("validation", "test"))
    extra = both - validation
    figures = {
        "utterances": {s: len(corpus.split(s)) for s in ("train", "validation", "test")},
        "test_measured_on": corpus.measured_on("test"),
        "epoch_cpu_s": round(epoch_cpu_s, 3),
        "score_validation_cpu_s": round(validation, 4),
        "score_validation_and_test_cpu_s": round(both, 4),
        "test_split_extra_cpu_s": round(extra, 4),
        "test_split_extra_fraction_of_epoch": round(extra / epoch_cpu_s, 4),
    }
    out = {
        "benchmark": "heldout_scoring_cost",
        "command": "PYTHONPATH=$PWD python benchmarks/heldout_scoring_cost.py " + shlex.join(sys.argv[1:]),
        "repeats": args.repeats,
        "figures": figures,
        "loadavg_1min": os.getloadavg()[0],
        "note": "CPU seconds, 1 thread; quickstart corpus (cache) and base network, precision "
                f"{precision.label}; a rung that scores the test split pays test_split_extra_cpu_s",
    }
    RESULT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
