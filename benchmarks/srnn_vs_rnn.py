"""Improved-recurrence spiking RNN against an LSTM and a GRU of the same width on ``digits``.

Targets: test WER within 1.5 points of the LSTM, >= 8x fewer multiplications per inference
than the GRU (counted as Ponghiran & Roy 2022 do, ``multiplications_per_inference``), fewer
parameters than the LSTM. Same budget and seed for all three.
Writes benchmarks/results/srnn_vs_rnn.json.

    PYTHONPATH=$PWD python benchmarks/srnn_vs_rnn.py [--epochs 20] [--bits 2] [--zero-threshold 1] [--input-bits B] [--name srnn_vs_rnn]
"""

from __future__ import annotations

import argparse
import sys

from mamba_common import run, write

from codesign.snn import ModelConfig, multiplications_per_inference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--bits", type=int, default=2)
    parser.add_argument("--zero-threshold", type=int, default=1)
    parser.add_argument("--input-bits", type=int, default=None, help="input quantiser bits (default: --bits)")
    parser.add_argument("--name", default="srnn_vs_rnn", help="result file name (benchmarks/results/<name>.json)")
    args = parser.parse_args()
    common = {"family": "srnn", "width": 64, "depth": 2, "subsample": 4}
    figures = {}
    for variant in ("spiking", "lstm", "gru"):
        extra = (
            {"quant_bits": args.bits, "quant_zero_threshold": args.zero_threshold, "quant_input_bits": args.input_bits}
            if variant == "spiking" else {}
        )
        out = run(ModelConfig(variant=variant, **common, **extra), args.epochs, args.learning_rate)
        out["figures"]["multiplications"] = multiplications_per_inference(out["trace"])
        figures[variant] = out["figures"]
    snn, lstm, gru = figures["spiking"], figures["lstm"], figures["gru"]
    gap = 100 * (snn["test_wer"] - lstm["test_wer"])
    fewer = gru["multiplications"]["total"] / snn["multiplications"]["total"]
    summary = {
        "snn_test_wer": snn["test_wer"],
        "lstm_test_wer": lstm["test_wer"],
        "gru_test_wer": gru["test_wer"],
        "wer_gap_to_lstm_points": gap,
        "gru_over_snn_multiplications": fewer,
        "lstm_over_snn_multiplications": lstm["multiplications"]["total"] / snn["multiplications"]["total"],
        "parameters": {k: v["parameters"] for k, v in figures.items()},
        "target_wer_met": gap <= 1.5,
        "target_multiplications_met": fewer >= 8.0,
        "target_parameters_met": snn["parameters"] < lstm["parameters"],
    }
    path = write(args.name, {"bits": args.bits, "input_bits": args.input_bits, "zero_threshold": args.zero_threshold, "epochs": args.epochs, "learning_rate": args.learning_rate, "summary": summary, **figures})
    print(
        f"{args.name}: test WER SNN {100 * snn['test_wer']:.1f}% / LSTM {100 * lstm['test_wer']:.1f}% / "
        f"GRU {100 * gru['test_wer']:.1f}% ({gap:+.1f} pts to LSTM), {fewer:.1f}x fewer multiplications than "
        f"the GRU, params {snn['parameters']} vs LSTM {lstm['parameters']} -> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
