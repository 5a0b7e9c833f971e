"""Spiking Mamba against a Spikeformer of similar size on ``digits``, same budget and seed.

Target: activation sparsity >= 70 % (fraction of zero outputs of the spiking neurons); test
WER and parameter counts are reported for both models.
Writes benchmarks/results/mamba_spiking.json.

    PYTHONPATH=$PWD python benchmarks/mamba_spiking.py [--epochs 8] [--neuron imls] [--threshold 2.5]
"""

from __future__ import annotations

import argparse
import sys

from mamba_common import run, write

from codesign.snn import MambaConfig, SpikeformerConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--neuron", choices=("imls", "lif"), default="imls")
    parser.add_argument("--threshold", type=float, default=2.5, help="IMLS alpha / LIF threshold, both models")
    parser.add_argument("--spikeformer-width", type=int, default=56, help="chosen to match the parameter count")
    args = parser.parse_args()
    mamba_cfg = MambaConfig(family="mamba", variant="spiking", neuron=args.neuron, threshold=args.threshold, width=64, depth=2,
                            state_size=8, subsample=4)
    former_cfg = SpikeformerConfig(family="spikeformer", variant="spiking", neuron=args.neuron, threshold=args.threshold,
                             width=args.spikeformer_width, depth=2, heads=4, subsample=4, causal=True)
    mamba = run(mamba_cfg, args.epochs, args.learning_rate)["figures"]
    former = run(former_cfg, args.epochs, args.learning_rate)["figures"]
    # codesign's unit count (scan states included); the trace's NeuroBench figure counts neurons only
    sparsity = mamba["trace_metrics"]["unit_activation_sparsity"]
    summary = {
        "mamba_neuron_activation_sparsity": mamba["block_activation_sparsity"],
        "mamba_neurobench_activation_sparsity": mamba["trace_metrics"]["activation_sparsity"],
        "mamba_trace_activation_sparsity": sparsity,
        "spikeformer_trace_activation_sparsity": former["trace_metrics"]["activation_sparsity"],
        "mamba_test_wer": mamba["test_wer"],
        "spikeformer_test_wer": former["test_wer"],
        "mamba_parameters": mamba["parameters"],
        "spikeformer_parameters": former["parameters"],
        "target_sparsity_met": mamba["block_activation_sparsity"] >= 0.70,
    }
    path = write("mamba_spiking", {"epochs": args.epochs, "learning_rate": args.learning_rate, "summary": summary, "mamba": mamba, "spikeformer": former})
    print(
        f"mamba_spiking: neuron sparsity {100 * mamba['block_activation_sparsity']:.1f}% "
        f"(trace, scan states included: {100 * sparsity:.1f}%), test WER {100 * mamba['test_wer']:.1f}% with "
        f"{mamba['parameters']} params vs Spikeformer {100 * former['test_wer']:.1f}% with "
        f"{former['parameters']} params -> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
