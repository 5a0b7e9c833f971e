"""Event-driven (FATReLU) Mamba against dense (SiLU) Mamba on ``digits``, same budget and seed.

Targets: activation sparsity >= 60 % with a test WER at most 1 point worse than dense.
Activation sparsity is the fraction of exact zeros at the block activations FATReLU replaces
(``act_x``, ``act_z``); the NeuroBench figure of the trace (which also counts the dense scan
states as units) and the effective synaptic MACs are reported alongside.
Writes benchmarks/results/mamba_event_vs_dense.json.

    PYTHONPATH=$PWD python benchmarks/mamba_event_vs_dense.py [--epochs 8] [--threshold 0.2]
"""

from __future__ import annotations

import argparse
import sys

from mamba_common import run, write

from codesign.snn import MambaConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--threshold", type=float, default=0.2, help="FATReLU threshold")
    args = parser.parse_args()
    common = {"family": "mamba", "width": 64, "depth": 2, "state_size": 8, "subsample": 4}
    dense = run(MambaConfig(variant="dense", **common), args.epochs, args.learning_rate)["figures"]
    event = run(MambaConfig(variant="event", fatrelu_threshold=args.threshold, **common), args.epochs, args.learning_rate)["figures"]
    wer_gap_points = 100 * (event["test_wer"] - dense["test_wer"])
    sparsity = event["block_activation_sparsity"]
    summary = {
        "event_activation_sparsity": sparsity,
        "dense_activation_sparsity": dense["block_activation_sparsity"],
        "event_test_wer": event["test_wer"],
        "dense_test_wer": dense["test_wer"],
        "wer_gap_points": wer_gap_points,
        # weight layers only (NeuroBench); codesign's real_input_macs also counts the scan
        "effective_macs_event_over_dense": event["trace_metrics"]["synaptic_macs_effective"]
        / dense["trace_metrics"]["synaptic_macs_effective"],
        "event_neurobench_activation_sparsity": event["trace_metrics"]["activation_sparsity"],
        "event_unit_activation_sparsity": event["trace_metrics"]["unit_activation_sparsity"],
        "target_sparsity_met": sparsity >= 0.60,
        "target_wer_met": wer_gap_points <= 1.0,
    }
    path = write("mamba_event_vs_dense", {"epochs": args.epochs, "learning_rate": args.learning_rate, "summary": summary, "dense": dense, "event": event})
    print(
        f"mamba_event_vs_dense: sparsity {100 * sparsity:.1f}% (dense {100 * dense['block_activation_sparsity']:.1f}%), "
        f"test WER event {100 * event['test_wer']:.1f}% vs dense {100 * dense['test_wer']:.1f}% "
        f"({wer_gap_points:+.1f} pts), effective MACs x{summary['effective_macs_event_over_dense']:.2f} -> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
