"""Agreement of the analytic chip model with the event-driven simulator over random (trace, chip) pairs.

Writes benchmarks/results/hw_agreement.json (figures + the command) and prints one line.
Targets: cycles within 15 % on every pair (median within 10 %), energy within 5 %.

Run: PYTHONPATH=$PWD python benchmarks/hw_agreement.py [--pairs 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign._io import write_json_atomic
from codesign.hardware import (
    ChipArray,
    estimate_cost,
    list_presets,
    load_chip,
    random_chip_columns,
    simulate,
    synthetic_trace,
)

RESULTS = Path(__file__).parent / "results" / "hw_agreement.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-recorded", dest="recorded", action="store_false",
                        help="skip the traces recorded from (untrained) networks of each family")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    random_chips = ChipArray.from_columns(random_chip_columns(args.pairs, seed=args.seed + 1))
    presets = [load_chip(p) for p in list_presets()]
    rows = []
    for i in tqdm(range(args.pairs), desc="pairs", file=sys.stderr):
        # Every fourth pair uses a preset; the rest span the template's ranges.
        chip = presets[i // 4 % len(presets)] if i % 4 == 3 else random_chips.config(i)
        n_layers = int(rng.integers(2, 9))
        trace = synthetic_trace(
            n_layers,
            seed=args.seed * 1000 + i,
            steps=int(rng.integers(5, 40)),
            levels=[int(v) for v in rng.choice([1, 3, 7, 15], n_layers)],
            rates=[float(v) for v in rng.uniform(0.02, 0.5, n_layers)],
            burstiness=float(rng.choice([0.0, 0.5, 1.5])),
            weight_density=float(rng.choice([1.0, 0.5, 0.2])),
            matmul_layers=(1,) if n_layers > 3 and i % 3 == 0 else (),
            unsampled_layers=(n_layers - 1,) if i % 5 == 0 else (),
        )
        t0 = time.perf_counter()
        analytic = estimate_cost(trace, chip)
        t1 = time.perf_counter()
        sim = simulate(trace, chip)
        t2 = time.perf_counter()
        rows.append({
            "pair": i,
            "chip": chip.name,
            "cores": chip.cores,
            "layers": n_layers,
            "feasible": analytic.feasible,
            "analytic_cycles": analytic.cycles,
            "simulated_cycles": sim.cycles,
            "cycles_rel_error": (analytic.cycles - sim.cycles) / sim.cycles,
            "analytic_energy_pj": analytic.total_energy_pj,
            "simulated_energy_pj": sim.total_energy_pj,
            "energy_rel_error": (analytic.total_energy_pj - sim.total_energy_pj) / sim.total_energy_pj,
            "scaled_layers": list(sim.scaled_layers),
            "analytic_s": t1 - t0,
            "simulator_s": t2 - t1,
        })
    recorded = _recorded_pairs(presets) if args.recorded else []
    cyc = np.abs([r["cycles_rel_error"] for r in rows])
    eng = np.abs([r["energy_rel_error"] for r in rows])
    summary = {
        "pairs": len(rows),
        "cycles_abs_rel_error": {"max": float(cyc.max()), "median": float(np.median(cyc)), "p90": float(np.quantile(cyc, 0.9))},
        "energy_abs_rel_error": {"max": float(eng.max()), "median": float(np.median(eng)), "p90": float(np.quantile(eng, 0.9))},
        "targets": {"cycles_max": 0.15, "cycles_median": 0.10, "energy_max": 0.05},
    }
    summary["meets_targets"] = bool(cyc.max() <= 0.15 and np.median(cyc) <= 0.10 and eng.max() <= 0.05)
    for mode in ("matched", "raw"):
        sel = [r for r in recorded if r["replay"] == mode]
        if sel:
            rc = np.abs([r["cycles_rel_error"] for r in sel])
            re_ = np.abs([r["energy_rel_error"] for r in sel])
            summary[f"recorded_{mode}"] = {"pairs": len(sel), "cycles_abs_rel_error_max": float(rc.max()),
                                           "energy_abs_rel_error_max": float(re_.max())}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": "PYTHONPATH=$PWD python " + " ".join(shlex.quote(a) for a in sys.argv),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "note": "shared 2-core development machine; timings are indicative only",
        "summary": summary,
        "pairs": rows,
        "recorded_pairs": recorded,
    }
    write_json_atomic(RESULTS, payload)
    extra = ""
    if recorded:
        m, r = summary["recorded_matched"], summary["recorded_raw"]
        extra = (f"; recorded traces ({m['pairs']} pairs): matched replay cycles max {m['cycles_abs_rel_error_max']:.2%} "
                 f"energy max {m['energy_abs_rel_error_max']:.2%}, raw replay cycles max {r['cycles_abs_rel_error_max']:.2%} "
                 f"energy max {r['energy_abs_rel_error_max']:.2%}")
    print(
        f"hw_agreement: {len(rows)} synthetic pairs; cycles |error| max {cyc.max():.2%} median {np.median(cyc):.2%}; "
        f"energy |error| max {eng.max():.2%} median {np.median(eng):.2%}; "
        f"targets {'met' if summary['meets_targets'] else 'NOT met'}{extra}"
    )
    return 0


def _recorded_pairs(presets: list) -> list[dict]:
    """Traces recorded by codesign.trace from untrained networks of each family, on every preset,
    with the simulator replaying the samples matched to the trace's counts and raw."""
    import torch

    from codesign.snn import build_model, parse_model_config
    from codesign.trace import record_trace

    torch.set_num_threads(1)
    out = []
    families = [("spikeformer", "spiking"), ("mamba", "spiking"), ("mamba", "event"), ("srnn", "spiking")]
    for family, variant in tqdm(families, desc="recorded", file=sys.stderr):
        torch.manual_seed(0)
        heads = {"heads": 2} if family == "spikeformer" else {}  # a Spikeformer field only
        cfg = parse_model_config({"family": family, "variant": variant, "width": 32, "depth": 2, **heads})
        model = build_model(cfg, 20, 10, "classify")
        trace = record_trace(model, torch.randn(3, 40, 20), torch.tensor([40, 30, 35]), cfg)
        for chip in presets:
            analytic = estimate_cost(trace, chip)
            for mode in ("matched", "raw"):
                sim = simulate(trace, chip, match_counts=mode == "matched")
                out.append({
                    "family": family, "variant": variant, "chip": chip.name, "replay": mode,
                    "cycles_rel_error": (analytic.cycles - sim.cycles) / sim.cycles,
                    "energy_rel_error": (analytic.total_energy_pj - sim.total_energy_pj) / sim.total_energy_pj,
                    "sampled_layers": len(trace.spike_samples), "layers": len(trace.layers),
                })
    return out


if __name__ == "__main__":
    sys.exit(main())
