"""Benchmark (c): one short training trial of the default quickstart-size model, on 2 threads.

The default ModelConfig (width 64, depth 2, IMLS D=4, T=1) with the default TrainConfig
(4 epochs, batch 32) on a ``commands`` corpus of --size utterances, followed by the workload
trace on the fixed 16-utterance test batch: what one search trial costs before the chip
model. Target: <= 60 s. The corpus is built (or read from cache) before the clock starts.
Writes benchmarks/results/spikeformer_quickstart_trial-threads<N>.json.

    PYTHONPATH=$PWD python benchmarks/spikeformer_quickstart_trial.py [--size 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch
from spikeformer_common import run_once, write_result

from codesign.data import CorpusConfig, load_corpus
from codesign.snn import SpikeformerConfig
from codesign.train import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = load_corpus(CorpusConfig(task="commands", size=args.size, seed=args.seed),
                         cache_dir=args.cache_dir, progress=False)
    budget = TrainConfig(threads=args.threads)
    start = time.perf_counter()
    run = run_once(SpikeformerConfig(), corpus, budget, args.seed)
    trial_s = time.perf_counter() - start
    figures = {
        "trial_wall_time_s": trial_s,
        "train_wall_time_s": run["metrics"]["wall_time_s"],
        "time_per_epoch_s": run["metrics"]["time_per_epoch_s"],
        "test_accuracy": run["metrics"]["test_accuracy"],
        "theoretical_energy_pj": run["trace_metrics"]["theoretical_energy_pj"],
        "target_met": trial_s <= 60.0,
        "train_utterances": len(corpus.train),
    }
    # One file per thread count: on a loaded 2-core machine two threads can be far slower than one.
    path = write_result(f"spikeformer_quickstart_trial-threads{args.threads}", figures, {
        "corpus": {"task": "commands", "size": args.size, "seed": args.seed},
        "train_config": budget.to_dict(), "run": run,
    })
    print(f"quickstart trial (default model, {len(corpus.train)} training utterances, {budget.epochs} epochs, "
          f"{args.threads} threads): {trial_s:.1f} s (train {run['metrics']['wall_time_s']:.1f} s), "
          f"test accuracy {run['metrics']['test_accuracy']:.3f} -> {path}")


if __name__ == "__main__":
    main()
