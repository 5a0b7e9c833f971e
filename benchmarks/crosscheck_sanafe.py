"""The analytic chip model against SANA-FE's silicon-calibrated Loihi, on whole networks.

Four networks: a spiking Spikeformer (IMLS), a spiking Mamba (IMLS) and the improved-recurrence
SRNN, briefly trained on the Mamba/SRNN benchmark corpus (``digits``, ``--epochs``, default 1)
and recorded on its fixed evaluation batch with spike samples; and a plain LIF network
(40-256-256-128-22, half its weights zero, Poisson input at rate 0.3, seeded and simulated
in numpy: ``codesign.hardware.lif_mlp_trace``). Each is replayed whole through SANA-FE's
Loihi (``codesign.hardware.sanafe_crosscheck``: every replayable layer at once, on the
mapping codesign estimates, tiles in SANA-FE's order) beside codesign's analytic model and
event-driven simulator, at 1, 4, 8, 16, 32 and 64 cores and the full 128-core chip, for
``loihi_sanafe`` (SANA-FE's constants) and ``loihi_like`` (Loihi's pre-silicon figures).

Needs the optional extra: ``pip install 'codesign[sanafe]'`` (SANA-FE is GPL-3.0).
Writes ``benchmarks/results/crosscheck_sanafe.json``: ``figures.energy_rel_error`` and
``figures.latency_rel_error`` (analytic vs SANA-FE for ``loihi_sanafe``: ``max`` of the
magnitudes over every (network, cores) pair, ``pairs``), the simulator's, the same for
``loihi_like`` under its name, and ``pairs``: the per-pair table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from mamba_common import budget, corpus, write

from codesign.config import parse_spec
from codesign.hardware import ChipConfig, lif_mlp_trace, load_chip
from codesign.hardware.sanafe_crosscheck import crosscheck
from codesign.snn import MambaConfig, ModelConfig, SpikeformerConfig, SRNNConfig
from codesign.trace import WorkloadTrace, evaluation_batch, load_trace, record_trace, save_trace
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
#: The plain LIF network: codesign.hardware.lif_mlp_trace's arguments.
LIF_MLP = {"sizes": (40, 256, 256, 128, 22), "steps": 20, "rate": 0.3, "prune": 0.5, "seed": 0}
CORES = (1, 4, 8, 16, 32, 64, 128)
TARGETS = {"energy": 0.15, "latency": 0.25}


def network_trace(name: str, epochs: int, trace_dir: Path) -> WorkloadTrace:
    """The network's trace with spike samples (trained ones cached under ``trace_dir``)."""
    if name == "lif_mlp":
        return lif_mlp_trace(**LIF_MLP)  # type: ignore[arg-type]
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


def chip_at(chip: ChipConfig, cores: int) -> ChipConfig:
    """The chip cut to ``cores`` cores (a square-ish mesh; the full chip keeps its own)."""
    if cores == chip.cores:
        return chip
    return parse_spec(ChipConfig, {**chip.model_dump(), "cores": cores, "mesh_cols": None})


def summary(rows: list[dict[str, Any]], figure: str, source: str = "analytic") -> dict[str, Any]:
    values = {f"{r['network']}@{r['cores']}": r[figure][source] for r in rows if source in r[figure]}
    return {**values, "max": max(abs(v) for v in values.values()), "pairs": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--networks", nargs="+", default=[*NETWORKS, "lif_mlp"], choices=[*NETWORKS, "lif_mlp"])
    parser.add_argument("--chips", nargs="+", default=["loihi_sanafe", "loihi_like"])
    parser.add_argument("--cores", nargs="+", type=int, default=list(CORES))
    parser.add_argument("--max-steps", type=int, default=None, help="sample rows replayed per network")
    parser.add_argument("--trace-dir", default="runs/crosscheck_sanafe", help="cache of the trained traces")
    parser.add_argument("--name", default="crosscheck_sanafe")
    parser.add_argument("--pairs", nargs="+", default=None, metavar="NETWORK@CORES",
                        help="replay only these pairs (e.g. srnn@4 spikeformer@16; overrides --networks and --cores)")
    args = parser.parse_args()
    selected: set[tuple[str, int]] | None = None
    if args.pairs:
        try:
            selected = {(p.split("@")[0], int(p.split("@")[1])) for p in args.pairs}
        except (IndexError, ValueError):
            parser.error(f"--pairs takes NETWORK@CORES, got {args.pairs}")
        unknown = {n for n, _ in selected} - {*NETWORKS, "lif_mlp"}
        if unknown:
            parser.error(f"--pairs: unknown networks {sorted(unknown)}; expected {[*NETWORKS, 'lif_mlp']}")
        args.networks = [n for n in [*NETWORKS, "lif_mlp"] if any(n == m for m, _ in selected)]
    trace_dir = Path(args.trace_dir)
    trace_dir.mkdir(parents=True, exist_ok=True)

    rows: dict[str, list[dict[str, Any]]] = {chip: [] for chip in args.chips}
    coverage: dict[str, float] = {}
    skipped: dict[str, dict[str, str]] = {}
    for name in args.networks:
        trace = network_trace(name, args.epochs, trace_dir)
        for chip_name in args.chips:
            base = load_chip(chip_name)
            for cores in args.cores if selected is None else sorted(c for m, c in selected if m == name):
                start = time.process_time()
                try:
                    report = crosscheck(trace, chip_at(base, cores), max_steps=args.max_steps)
                except ValueError as err:  # the mapping does not fit SANA-FE's Loihi: no pair
                    skipped.setdefault(chip_name, {})[f"{name}@{cores}"] = str(err)
                    print(f"{name:>14} {chip_name:>13} {cores:>4} cores: not replayable: {err}", flush=True)
                    continue
                row = {"network": name, **report.to_dict(), "cpu_s": time.process_time() - start}
                rows[chip_name].append(row)
                coverage[name] = report.coverage
                simple = row["latency_rel_error_vs_sanafe_simple"].get("analytic", float("nan"))
                print(f"{name:>14} {chip_name:>13} {cores:>4} cores {report.tiles:>3} tiles: energy "
                      f"{report.energy_rel_error():+.3f}, latency {report.latency_rel_error():+.3f} "
                      f"(simulator {report.latency_rel_error('simulated'):+.3f}; vs SANA-FE simple {simple:+.3f})",
                      flush=True)

    main_chip = args.chips[0]
    figures: dict[str, Any] = {
        "chip": main_chip,
        "energy_rel_error": summary(rows[main_chip], "energy_rel_error"),
        "latency_rel_error": summary(rows[main_chip], "latency_rel_error"),
        "simulator_energy_rel_error": summary(rows[main_chip], "energy_rel_error", "simulated"),
        "simulator_latency_rel_error": summary(rows[main_chip], "latency_rel_error", "simulated"),
        # Against SANA-FE's simple timing model (no network interactions), for reference only.
        "latency_rel_error_vs_sanafe_simple": summary(rows[main_chip], "latency_rel_error_vs_sanafe_simple"),
        "pairs": len(rows[main_chip]),
        "targets": TARGETS,
    }
    figures["energy_target_met"] = figures["energy_rel_error"]["max"] <= TARGETS["energy"]
    figures["latency_target_met"] = figures["latency_rel_error"]["max"] <= TARGETS["latency"]
    for chip in args.chips[1:]:
        figures[chip] = {
            "energy_rel_error": summary(rows[chip], "energy_rel_error"),
            "latency_rel_error": summary(rows[chip], "latency_rel_error"),
            "pairs": len(rows[chip]),
        }
    figures["coverage"] = coverage
    figures["skipped_pairs"] = skipped
    table = [
        {"chip": chip, "network": r["network"], "cores": r["cores"], "tiles": r["tiles"], "steps": r["steps"],
         "energy_pj": r["total_energy_pj"], "latency_us": r["latency_us"],
         "energy_rel_error": r["energy_rel_error"]["analytic"], "latency_rel_error": r["latency_rel_error"]["analytic"],
         "simulator_latency_rel_error": r["latency_rel_error"]["simulated"],
         "latency_rel_error_vs_sanafe_simple": r["latency_rel_error_vs_sanafe_simple"].get("analytic")}
        for chip in args.chips for r in rows[chip]
    ]
    result = {"benchmark": args.name, "figures": figures, "selected_pairs": args.pairs, "pairs": table, "runs": rows,
              "train_epochs": args.epochs, "lif_mlp": LIF_MLP,
              "models": {n: NETWORKS[n].to_dict() for n in args.networks if n in NETWORKS}}
    path = write(args.name, result)
    print(f"\n{path}: energy error max {figures['energy_rel_error']['max']:.3f}, "
          f"latency error max {figures['latency_rel_error']['max']:.3f} over {figures['pairs']} pairs")


if __name__ == "__main__":
    main()
