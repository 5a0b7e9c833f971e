"""Training-step time of a quickstart-sized Spikeformer, before and after the in-place staircase surrogate.

Profiling one quickstart trial (cProfile, one epoch, width 64, depth 2, IMLS D=4, T=2) put
about a fifth of the step in the IMLS staircase's backward: D passes of the atan surrogate,
each allocating about seven temporaries. ``codesign.snn._neurons.staircase_surrogate`` builds
each level's term in place in one buffer (a broadcast over the D levels was tried first and
was slower: 0.84x, it moves D times the memory). This benchmark times training steps with
the previous per-level expression ("before", re-created here) and the current code ("after"),
alternating in one process so machine load hits both alike, and reports the median step
times and their ratio. Writes benchmarks/results/training_step.json.

    PYTHONPATH=$PWD python benchmarks/training_step.py [--steps 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from spikeformer_common import write_result

from codesign.data import CorpusConfig, load_corpus
from codesign.snn import SpikeformerConfig, _neurons, build_model
from codesign.train._train import _batch, _loss

MODEL = SpikeformerConfig(family="spikeformer", subsample=4, width=64, depth=2, heads=4, levels=4, neuron="imls",
                    timesteps=2)
CORPUS = CorpusConfig(task="commands", size=2000, seed=0, n_speakers=40, difficulty="easy")


def loop_surrogate(u: torch.Tensor, levels: int, surrogate: str, slope: float) -> torch.Tensor:
    """The previous implementation: one pass of the unit-step surrogate per level."""
    fn = _neurons.SURROGATE_GRADS[surrogate]
    return sum(fn(u - j, slope) for j in range(1, levels + 1))  # type: ignore[return-value]


def time_steps(corpus, steps: int, surrogate) -> list[float]:
    """Seconds per training step (forward, backward, optimiser) with the given staircase surrogate."""
    original = _neurons.staircase_surrogate
    _neurons.staircase_surrogate = surrogate
    try:
        torch.manual_seed(0)
        net = build_model(MODEL, corpus.n_features, len(corpus.vocabulary), "classify").train()
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
        order = torch.randperm(len(corpus.train), generator=torch.Generator().manual_seed(0))
        times = []
        for i in range(steps):
            features, lengths, targets, target_lengths = _batch(corpus.train, order[i * 32 : (i + 1) * 32])
            start = time.perf_counter()
            out, out_lengths = net(features, lengths)
            loss = _loss(out, out_lengths, targets, target_lengths, "classify")
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
        return times
    finally:
        _neurons.staircase_surrogate = original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = load_corpus(CORPUS, progress=False)
    # the two implementations agree (up to float summation order)
    u = torch.randn(2, 8, 25, 64) * 3
    assert torch.allclose(loop_surrogate(u, 4, "atan", 2.0), _neurons.staircase_surrogate(u, 4, "atan", 2.0),
                          atol=1e-6)
    before, after = [], []
    time_steps(corpus, 3, _neurons.staircase_surrogate)  # warm-up
    for _ in range(args.rounds):
        before += time_steps(corpus, args.steps, loop_surrogate)
        after += time_steps(corpus, args.steps, _neurons.staircase_surrogate)
    figures = {
        "step_s_before": statistics.median(before),
        "step_s_after": statistics.median(after),
        "speedup": statistics.median(before) / statistics.median(after),
    }
    details = {"model": MODEL.to_dict(), "corpus": CORPUS.to_dict(), "batch_size": 32, "threads": 1,
               "steps_per_round": args.steps, "rounds": args.rounds,
               "note": "rounds alternate before/after in one process; medians over all steps"}
    print(figures)
    print(write_result("training_step", figures, details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
