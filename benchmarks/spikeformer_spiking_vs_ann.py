"""Benchmark (b): the spiking HD-RepSSA Spikeformer against its ANN twin on ``digits``.

Same topology, corpus, epochs and seed. Figures: test WER of each (target: spiking within
1.5 points), theoretical energy per inference from the workload trace (4.6 pJ/MAC, 0.9
pJ/AC, 45 nm; target: ANN / spiking >= 4, graded spikes counted as level-sum ACs, the
one-AC-per-graded-event figure reported beside it), and the spiking model's activation
sparsity (target >= 70 %). The energy ratio is given in both conventions: codesign's
(level-sum ACs over weight layers and the spiking attention products Q·Kᵀ, A·V) and
NeuroBench's (weight layers only; a graded spike is a MAC, a binary one an AC). With several seeds, per seed and the mean (the targets use the
mean). Writes benchmarks/results/spikeformer_spiking_vs_ann[-TAG].json.

    PYTHONPATH=$PWD python benchmarks/spikeformer_spiking_vs_ann.py [--size 1000] [--epochs 8]
        [--seeds 0 1 2] [--set KEY=VALUE ...] [--tag TAG]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from spikeformer_common import run_once, write_result

from codesign.config import parse_set_args
from codesign.data import CorpusConfig, load_corpus
from codesign.snn import ModelConfig, SpikeformerConfig
from codesign.train import TrainConfig


def compare(spiking_cfg: ModelConfig, args: argparse.Namespace, seed: int) -> dict:
    """One seed: the corpus of that seed, the spiking model and its ANN twin, same budget."""
    corpus = load_corpus(CorpusConfig(task="digits", size=args.size, seed=seed),
                         cache_dir=args.cache_dir, progress=False)
    budget = TrainConfig(epochs=args.epochs, batch_size=32, learning_rate=args.learning_rate,
                         threads=args.threads)
    spiking = run_once(spiking_cfg, corpus, budget, seed)
    ann = run_once(spiking_cfg.model_copy(update={"variant": "ann"}), corpus, budget, seed)
    figures = {
        "seed": seed,
        "spiking_test_wer": spiking["metrics"]["test_wer"],
        "ann_test_wer": ann["metrics"]["test_wer"],
        "spiking_minus_ann_wer_points": 100.0 * (spiking["metrics"]["test_wer"] - ann["metrics"]["test_wer"]),
        "spiking_validation_wer": spiking["metrics"]["validation_wer"],
        "ann_validation_wer": ann["metrics"]["validation_wer"],
        "spiking_theoretical_energy_pj": spiking["trace_metrics"]["theoretical_energy_pj"],
        "spiking_theoretical_energy_graded_pj": spiking["trace_metrics"]["theoretical_energy_graded_pj"],
        "ann_theoretical_energy_pj": ann["trace_metrics"]["theoretical_energy_pj"],
        "ann_over_spiking_energy": ann["trace_metrics"]["theoretical_energy_pj"]
        / spiking["trace_metrics"]["theoretical_energy_pj"],
        "ann_over_spiking_energy_graded": ann["trace_metrics"]["theoretical_energy_pj"]
        / spiking["trace_metrics"]["theoretical_energy_graded_pj"],
        "spiking_theoretical_energy_neurobench_pj": spiking["trace_metrics"]["theoretical_energy_neurobench_pj"],
        "ann_theoretical_energy_neurobench_pj": ann["trace_metrics"]["theoretical_energy_neurobench_pj"],
        "ann_over_spiking_energy_neurobench": ann["trace_metrics"]["theoretical_energy_neurobench_pj"]
        / spiking["trace_metrics"]["theoretical_energy_neurobench_pj"],
        "spiking_activation_sparsity": spiking["trace_metrics"]["activation_sparsity"],
        "ann_activation_sparsity": ann["trace_metrics"]["activation_sparsity"],
        "test_utterances": len(corpus.test),
    }
    return {"figures": figures, "train_config": budget.to_dict(), "spiking": spiking, "ann": ann}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="each seed draws its own corpus and initialisation; targets use the mean")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="ModelConfig fields of the spiking model (e.g. threshold=2.0)")
    parser.add_argument("--tag", default="", help="suffix of the result file, to keep several configurations")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    spiking_cfg = SpikeformerConfig(**parse_set_args(args.set))
    runs = [compare(spiking_cfg, args, seed) for seed in args.seeds]
    per_seed = [r["figures"] for r in runs]

    def mean(key: str) -> float:
        return statistics.fmean(f[key] for f in per_seed)

    wer_gap, sparsity = mean("spiking_minus_ann_wer_points"), mean("spiking_activation_sparsity")
    energy_ratio = mean("ann_over_spiking_energy")
    figures = {
        "seeds": args.seeds,
        "spiking_test_wer": mean("spiking_test_wer"),
        "ann_test_wer": mean("ann_test_wer"),
        "spiking_minus_ann_wer_points": wer_gap,
        "ann_over_spiking_energy": energy_ratio,
        "ann_over_spiking_energy_min": min(f["ann_over_spiking_energy"] for f in per_seed),
        "ann_over_spiking_energy_graded": mean("ann_over_spiking_energy_graded"),
        "ann_over_spiking_energy_neurobench": mean("ann_over_spiking_energy_neurobench"),
        "ann_over_spiking_energy_neurobench_min": min(f["ann_over_spiking_energy_neurobench"] for f in per_seed),
        "spiking_activation_sparsity": sparsity,
        "ann_activation_sparsity": mean("ann_activation_sparsity"),
        "wer_target_met": wer_gap <= 1.5,
        "energy_target_met": energy_ratio >= 4.0,
        "sparsity_target_met": sparsity >= 0.70,
        "per_seed": per_seed,
    }
    name = "spikeformer_spiking_vs_ann" + (f"-{args.tag}" if args.tag else "")
    path = write_result(name, figures, {
        "corpus": {"task": "digits", "size": args.size, "seeds": args.seeds},
        "runs": [{k: v for k, v in r.items() if k != "figures"} for r in runs],
    })
    print(f"spiking vs ANN on digits, mean over seeds {args.seeds}: WER {figures['spiking_test_wer']:.3f} vs "
          f"{figures['ann_test_wer']:.3f} ({wer_gap:+.1f} points); energy {energy_ratio:.2f}x lower "
          f"(min {figures['ann_over_spiking_energy_min']:.2f}x; NeuroBench's convention "
          f"{figures['ann_over_spiking_energy_neurobench']:.2f}x); activation sparsity {sparsity:.1%} -> {path}")


if __name__ == "__main__":
    main()
