"""The analytic chip model against SANA-FE's silicon-calibrated Loihi, on three trained networks.

Trains a spiking Spikeformer (IMLS), a spiking Mamba (IMLS) and the improved-recurrence SRNN on
the Mamba/SRNN benchmark corpus (``digits``), records each trace on the fixed evaluation batch
with its spike samples, and replays the samples through SANA-FE's Loihi
(``codesign.hardware.sanafe_crosscheck``) beside codesign's analytic model and event-driven
simulator, for ``loihi_sanafe`` (SANA-FE's constants) and ``loihi_like`` (pre-silicon).

Needs the optional extra: ``pip install 'codesign[sanafe]'`` (SANA-FE is GPL-3.0).
Writes ``benchmarks/results/crosscheck_sanafe.json``: ``figures.energy_rel_error`` and
``figures.latency_rel_error`` (analytic vs SANA-FE, ``loihi_sanafe``, per network and ``max``
of the magnitudes), the same for the simulator and for ``loihi_like``, and per network the
totals, blocks and per-layer figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mamba_common import budget, corpus, write

from codesign.hardware import load_chip
from codesign.hardware.sanafe_crosscheck import crosscheck
from codesign.snn import MambaConfig, ModelConfig, SpikeformerConfig, SRNNConfig
from codesign.trace import evaluation_batch, load_trace, record_trace, save_trace
from codesign.train import train

NETWORKS: dict[str, ModelConfig] = {
    "spikeformer": SpikeformerConfig(family="spikeformer", variant="spiking", neuron="imls", levels=4, threshold=2.0,
                               width=64, depth=2, heads=4, subsample=4),
    "mamba_spiking": MambaConfig(family="mamba", variant="spiking", neuron="imls", levels=4, threshold=2.5,
                                 width=64, depth=2, state_size=8, subsample=4),
    "srnn": SRNNConfig(family="srnn", variant="spiking", width=64, depth=2, subsample=4, quant_bits=4,
                        quant_zero_threshold=2, quant_input_coding="delta", quant_input_zero_threshold=4,
                        activity_target=0.01, activity_weight=20.0),
}
LEARNING_RATE = {"spikeformer": 3e-3, "mamba_spiking": 3e-3, "srnn": 1e-2}


def trained_trace(name: str, epochs: int, trace_dir: Path) -> Any:
    """The network's trace with spike samples, trained once and cached under ``trace_dir``."""
    cfg = NETWORKS[name]
    path = trace_dir / f"{name}-{cfg.config_hash()}-e{epochs}.npz"
    if path.is_file():
        return load_trace(path)
    data = corpus()
    result = train(cfg, data, budget(epochs, LEARNING_RATE[name]), seed=0, progress=False)
    features, lengths = evaluation_batch(data.test)
    trace = record_trace(result.model, features, lengths, cfg, sample_spikes=True)
    save_trace(trace, path)
    print(f"{name}: trained {epochs} epochs, test WER {result.metrics['test_wer']:.3f}; trace {path}", flush=True)
    return trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--chips", nargs="+", default=["loihi_sanafe", "loihi_like"])
    parser.add_argument("--max-steps", type=int, default=None, help="sample rows replayed per layer")
    parser.add_argument("--trace-dir", default="runs/crosscheck_sanafe", help="cache of the trained traces")
    parser.add_argument("--name", default="crosscheck_sanafe")
    args = parser.parse_args()
    trace_dir = Path(args.trace_dir)
    trace_dir.mkdir(parents=True, exist_ok=True)

    per_network: dict[str, dict[str, Any]] = {}
    for name in args.networks:
        trace = trained_trace(name, args.epochs, trace_dir)
        per_network[name] = {}
        for chip_name in args.chips:
            report = crosscheck(trace, load_chip(chip_name), max_steps=args.max_steps)
            print(f"\n== {name} on {chip_name}\n{report.table()}", flush=True)
            per_network[name][chip_name] = report.to_dict()

    def errors(chip: str, figure: str, source: str) -> dict[str, float]:
        out = {n: per_network[n][chip][figure][source] for n in per_network if chip in per_network[n]}
        out["max"] = max(abs(v) for v in out.values())
        return out

    main_chip = args.chips[0]
    figures: dict[str, Any] = {
        "chip": main_chip,
        "energy_rel_error": errors(main_chip, "energy_rel_error", "analytic"),
        "latency_rel_error": errors(main_chip, "latency_rel_error", "analytic"),
        "simulator_energy_rel_error": errors(main_chip, "energy_rel_error", "simulated"),
        "simulator_latency_rel_error": errors(main_chip, "latency_rel_error", "simulated"),
        "targets": {"energy": 0.15, "latency": 0.25},
    }
    figures["energy_target_met"] = figures["energy_rel_error"]["max"] <= 0.15
    figures["latency_target_met"] = figures["latency_rel_error"]["max"] <= 0.25
    for chip in args.chips[1:]:
        figures[chip] = {
            "energy_rel_error": errors(chip, "energy_rel_error", "analytic"),
            "latency_rel_error": errors(chip, "latency_rel_error", "analytic"),
        }
    figures["coverage"] = {n: per_network[n][main_chip]["coverage"] for n in per_network}
    result = {"benchmark": args.name, "figures": figures, "networks": per_network,
              "train_epochs": args.epochs, "models": {n: NETWORKS[n].to_dict() for n in per_network}}
    path = write(args.name, result)
    print(f"\n{path}: energy error {figures['energy_rel_error']}, latency error {figures['latency_rel_error']}")


if __name__ == "__main__":
    main()
