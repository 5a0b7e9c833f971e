"""Trials per hour of one quickstart trial on a GPU against one CPU core.

Trains the quickstart's recommended-size network (width 64, depth 2, IMLS D=4, T=2) for the
quickstart's full 12 epochs on its corpus, once on ``cuda`` (``fidelity.device``) and once on
one CPU thread, each followed by the precision scoring and trace a trial does, and reports
trials per hour for both. Needs a CUDA device; without one it exits with a message and writes
nothing. Writes benchmarks/results/gpu_trial.json.

    PYTHONPATH=$PWD python benchmarks/gpu_trial.py [--epochs 12]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from spikeformer_common import write_result

from codesign.data import CorpusConfig, load_corpus
from codesign.snn import Precision, SpikeformerConfig
from codesign.trace import evaluation_batch, record_trace
from codesign.train import TrainConfig, score_at_precision, train

MODEL = SpikeformerConfig(family="spikeformer", subsample=4, width=64, depth=2, heads=4, levels=4, neuron="imls",
                    timesteps=2)
CORPUS = CorpusConfig(task="commands", size=2000, seed=0, n_speakers=40, difficulty="easy")


def one_trial(corpus, device: str, epochs: int) -> dict[str, float]:
    start = time.perf_counter()
    result = train(MODEL, corpus, TrainConfig(epochs=epochs, batch_size=32, threads=1, device=device), seed=0)
    scored, net = score_at_precision(result.model, corpus, result.head, Precision(weight_bits=4, state_bits=12))
    record_trace(net, *evaluation_batch(corpus.validation, 16), MODEL)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "trials_per_hour": 3600.0 / wall, "validation_accuracy": scored["validation_accuracy"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_trial: no CUDA device here; nothing measured", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    corpus = load_corpus(CORPUS, progress=False)
    gpu = one_trial(corpus, "cuda", args.epochs)
    cpu = one_trial(corpus, "cpu", args.epochs)
    figures = {"gpu_trials_per_hour": gpu["trials_per_hour"], "cpu_core_trials_per_hour": cpu["trials_per_hour"],
               "gpu_over_cpu_core": gpu["trials_per_hour"] / cpu["trials_per_hour"]}
    details = {"gpu": gpu, "cpu": cpu, "device_name": torch.cuda.get_device_name(0), "model": MODEL.to_dict()}
    print(figures)
    print(write_result("gpu_trial", figures, details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
