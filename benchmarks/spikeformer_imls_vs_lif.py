"""Benchmark (a): IMLS (D levels, T=1) against LIF (T timesteps) in the same Spikeformer.

Same corpus, same epochs, same seed, one process, one run after the other. Figures:
training seconds per epoch of each and their ratio (target: LIF / IMLS >= 3); because the
machine is shared and its load drifts over minutes, also the mean seconds per training step
with the two models' steps alternated on the same batches; and test accuracy of each
(target: IMLS no more than 1 point below LIF). Writes benchmarks/results/spikeformer_imls_vs_lif.json.

    PYTHONPATH=$PWD python benchmarks/spikeformer_imls_vs_lif.py [--size 2000] [--epochs 8]
"""

from __future__ import annotations

import argparse
import time

import torch
from spikeformer_common import run_once, write_result

from codesign.data import CorpusConfig, load_corpus
from codesign.snn import ModelConfig, SpikeformerConfig, build_model
from codesign.train import TrainConfig


def interleaved_step_seconds(cfgs: dict[str, ModelConfig], corpus: object, steps: int, seed: int) -> dict[str, float]:
    """Mean seconds per training step (forward, backward, AdamW) of each config, steps alternated.

    Alternating the models step by step on the same batches exposes both to the same machine
    load, which a shared machine makes drift over minutes.
    """
    torch.manual_seed(seed)
    split = corpus.train  # type: ignore[attr-defined]
    models = {k: build_model(c, corpus.n_features, len(corpus.vocabulary), "classify") for k, c in cfgs.items()}  # type: ignore[attr-defined]
    optimisers = {k: torch.optim.AdamW(m.parameters(), lr=1e-3) for k, m in models.items()}
    totals = dict.fromkeys(cfgs, 0.0)
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps + 1):
        index = torch.randint(0, len(split), (32,), generator=generator)
        lengths = split.feature_lengths[index]
        x, y = split.features[index, : int(lengths.max())], split.targets[index]
        for name, model in models.items():
            start = time.perf_counter()
            logits, _ = model(x, lengths)
            loss = torch.nn.functional.cross_entropy(logits, y)
            optimisers[name].zero_grad()
            loss.backward()
            optimisers[name].step()
            if step > 0:  # the first step warms up allocators and kernels
                totals[name] += time.perf_counter() - start
    return {name: total / steps for name, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--timesteps", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interleaved-steps", type=int, default=30)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    corpus = load_corpus(CorpusConfig(task="commands", size=args.size, seed=args.seed),
                         cache_dir=args.cache_dir, progress=False)
    budget = TrainConfig(epochs=args.epochs, batch_size=32, learning_rate=args.learning_rate,
                         threads=args.threads)
    imls_cfg = SpikeformerConfig(neuron="imls", levels=args.levels, timesteps=1)
    lif_cfg = SpikeformerConfig(neuron="lif", timesteps=args.timesteps)
    imls = run_once(imls_cfg, corpus, budget, args.seed)
    lif = run_once(lif_cfg, corpus, budget, args.seed)
    steps = interleaved_step_seconds({"imls": imls_cfg, "lif": lif_cfg}, corpus, args.interleaved_steps, args.seed)
    step_ratio = steps["lif"] / steps["imls"]
    ratio = lif["metrics"]["time_per_epoch_s"] / imls["metrics"]["time_per_epoch_s"]
    gap = 100.0 * (imls["metrics"]["test_accuracy"] - lif["metrics"]["test_accuracy"])
    figures = {
        "imls_time_per_epoch_s": imls["metrics"]["time_per_epoch_s"],
        "lif_time_per_epoch_s": lif["metrics"]["time_per_epoch_s"],
        "lif_over_imls_time_per_epoch": ratio,
        "imls_step_s_interleaved": steps["imls"],
        "lif_step_s_interleaved": steps["lif"],
        "lif_over_imls_step_time_interleaved": step_ratio,
        "imls_test_accuracy": imls["metrics"]["test_accuracy"],
        "lif_test_accuracy": lif["metrics"]["test_accuracy"],
        "imls_minus_lif_accuracy_points": gap,
        "speed_target_met": ratio >= 3.0,
        "accuracy_target_met": round(gap, 6) >= -1.0,  # accuracies are float32 fractions
        "test_utterances": len(corpus.test),
    }
    path = write_result("spikeformer_imls_vs_lif", figures, {
        "corpus": {"task": "commands", "size": args.size, "seed": args.seed},
        "train_config": budget.to_dict(), "imls": imls, "lif": lif,
    })
    print(f"IMLS(D={args.levels},T=1) vs LIF(T={args.timesteps}): {ratio:.2f}x faster per epoch "
          f"({imls['metrics']['time_per_epoch_s']:.2f} s vs {lif['metrics']['time_per_epoch_s']:.2f} s), "
          f"{step_ratio:.2f}x per training step interleaved; "
          f"test accuracy {imls['metrics']['test_accuracy']:.3f} vs {lif['metrics']['test_accuracy']:.3f} "
          f"({gap:+.1f} points) -> {path}")


if __name__ == "__main__":
    main()
