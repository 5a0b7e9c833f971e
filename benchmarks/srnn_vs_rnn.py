"""Improved-recurrence spiking RNN against an LSTM and a GRU of the same width on ``digits``.

Targets: test WER within 1.5 points of the LSTM, >= 8x fewer multiplications per inference
than the GRU (counted as Ponghiran & Roy 2022 do, ``multiplications_per_inference``), fewer
parameters than the LSTM. Same budget and seeds for all three; figures are per seed and the
mean over seeds. Writes benchmarks/results/<name>.json.

    PYTHONPATH=$PWD python benchmarks/srnn_vs_rnn.py [--epochs 20] [--seeds 0 1 2] [--bits 4]
        [--zero-threshold 2] [--input-bits B] [--input-coding delta] [--input-zero-threshold 4]
        [--activity-target 0.01] [--activity-weight 20] [--name srnn_vs_rnn]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from mamba_common import run, write

from codesign.snn import SRNNConfig
from codesign.trace import multiplications_per_inference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--zero-threshold", type=int, default=2)
    parser.add_argument("--input-bits", type=int, default=None, help="input quantiser bits (default: --bits)")
    parser.add_argument("--input-coding", choices=("level", "delta"), default="delta")
    parser.add_argument("--input-zero-threshold", type=int, default=4, help="default: --zero-threshold")
    parser.add_argument("--activity-target", type=float, default=0.01, help="SNN mean level / max level (0: none)")
    parser.add_argument("--activity-weight", type=float, default=20.0)
    parser.add_argument("--name", default="srnn_vs_rnn", help="result file name (benchmarks/results/<name>.json)")
    args = parser.parse_args()
    common = {"family": "srnn", "width": 64, "depth": 2, "subsample": 4}
    snn_extra = {
        "quant_bits": args.bits, "quant_zero_threshold": args.zero_threshold, "quant_input_bits": args.input_bits,
        "quant_input_coding": args.input_coding, "quant_input_zero_threshold": args.input_zero_threshold,
        "activity_target": args.activity_target or None, "activity_weight": args.activity_weight,
    }
    runs: dict[str, list[dict]] = {"spiking": [], "lstm": [], "gru": []}
    for seed in args.seeds:
        for variant in runs:
            cfg = SRNNConfig(variant=variant, **common, **(snn_extra if variant == "spiking" else {}))
            out = run(cfg, args.epochs, args.learning_rate, seed=seed)
            out["figures"]["seed"] = seed
            out["figures"]["multiplications"] = multiplications_per_inference(out["trace"])
            # where the synaptic work goes: the fraction of nonzero inputs of each weight layer
            out["figures"]["input_density"] = {
                t.name: t.input_events / t.input_size for t in out["trace"].layers
                if t.kind == "synaptic_dense" and t.input_size
            }
            runs[variant].append(out["figures"])

    def mean(variant: str, key: str) -> float:
        return statistics.fmean(f[key] for f in runs[variant])

    per_seed = []
    for snn, lstm, gru in zip(runs["spiking"], runs["lstm"], runs["gru"], strict=True):
        per_seed.append({
            "seed": snn["seed"], "snn_test_wer": snn["test_wer"], "lstm_test_wer": lstm["test_wer"],
            "gru_test_wer": gru["test_wer"],
            "gru_over_snn_multiplications": gru["multiplications"]["total"] / snn["multiplications"]["total"],
        })
    gap = 100 * (mean("spiking", "test_wer") - mean("lstm", "test_wer"))
    fewer = statistics.fmean(s["gru_over_snn_multiplications"] for s in per_seed)
    params = {k: v[0]["parameters"] for k, v in runs.items()}
    summary = {
        "seeds": args.seeds,
        "snn_test_wer": mean("spiking", "test_wer"),
        "lstm_test_wer": mean("lstm", "test_wer"),
        "gru_test_wer": mean("gru", "test_wer"),
        "wer_gap_to_lstm_points": gap,
        "wer_gap_to_gru_points": 100 * (mean("spiking", "test_wer") - mean("gru", "test_wer")),
        "gru_over_snn_multiplications": fewer,
        "gru_over_snn_multiplications_min": min(s["gru_over_snn_multiplications"] for s in per_seed),
        "per_seed": per_seed,
        "parameters": params,
        "target_wer_met": gap <= 1.5,
        "target_multiplications_met": fewer >= 8.0,
        "target_parameters_met": params["spiking"] < params["lstm"],
    }
    path = write(args.name, {**vars(args), "summary": summary, "runs": runs})
    print(
        f"{args.name}: mean test WER over seeds {args.seeds}: SNN {100 * summary['snn_test_wer']:.1f}% / "
        f"LSTM {100 * summary['lstm_test_wer']:.1f}% / GRU {100 * summary['gru_test_wer']:.1f}% ({gap:+.1f} pts to "
        f"LSTM), {fewer:.1f}x fewer multiplications than the GRU (min {summary['gru_over_snn_multiplications_min']:.1f}x), "
        f"params {params['spiking']} vs LSTM {params['lstm']} -> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
