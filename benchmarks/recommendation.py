"""Benchmark: is the study's recommendation a good design to build?

Runs the quickstart study (`studies/quickstart.yaml`) at its own seed and at 2 other seeds,
confirms each study's whole front over 3 seeds at full fidelity (`codesign study confirm
--scope front`), which also stores the recommendation chosen on the confirmed means (the knee
policy, docs/search.md), and compares the recommended design with the front's most accurate
design on their confirmed means:

- ``within_one_std``: the recommendation's confirmed accuracy is within one standard
  deviation (the larger of the two designs') of the best confirmed accuracy on the front;
- ``less_energy``: it uses less energy than the most accurate design;
- ``energy_ratio``: the most accurate design's energy over the recommendation's.

Figures: ``figures.success_rate`` (fraction of seeds with both ``within_one_std`` and
``less_energy``), ``figures.successes`` / ``figures.studies``, ``figures.energy_ratio``
(per seed) and ``figures.energy_ratio_median``, ``figures.same_design`` (seeds where the
recommendation is the most accurate design), and ``figures.runs`` (per seed: both designs'
ids and confirmed figures). Writes benchmarks/results/recommendation.json.

    PYTHONPATH=$PWD python benchmarks/recommendation.py                   # the real measurement
    PYTHONPATH=$PWD python benchmarks/recommendation.py --set corpus.size=400 \\
        --set budget.trials=3 --set fidelity.epochs=2 --out /tmp/rec.json   # a shrunken check
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "recommendation.json"
STUDY = ROOT / "studies" / "quickstart.yaml"


def compare(view: Any) -> dict[str, Any]:
    """The recommended design against the front's most accurate one, on confirmed means."""
    from codesign.search import pareto_front, recommendation_of

    rec = recommendation_of(view)
    front = pareto_front(view.points, view.objectives)
    confirmed = [p for p in front if p.confirmed is not None and "accuracy" in p.confirmed.mean
                 and "energy_uj" in p.confirmed.mean]
    if rec is None or not confirmed:
        return {"recommended": rec.point_id if rec else None, "front_points": len(front),
                "confirmed_front_points": len(confirmed), "within_one_std": None, "less_energy": None,
                "energy_ratio": None}
    best = max(confirmed, key=lambda p: (p.confirmed.mean["accuracy"], -p.confirmed.mean["energy_uj"]))  # type: ignore[union-attr]
    chosen = view.point_by_id(rec.point_id)
    figures = {}
    for label, p in (("recommended", chosen), ("most_accurate", best)):
        c = p.confirmed
        figures[label] = {"id": p.point_id, "accuracy_mean": c.mean["accuracy"], "accuracy_std": c.std["accuracy"],
                          "energy_uj_mean": c.mean["energy_uj"], "latency_ms_mean": c.mean.get("latency_ms"),
                          "search_accuracy": p.objectives["accuracy"], "precision_weight_bits":
                          p.params.get("hw.weight_bits")}
    r, b = figures["recommended"], figures["most_accurate"]
    spread = max(r["accuracy_std"], b["accuracy_std"])
    return {
        **figures,
        "front_points": len(front),
        "confirmed_front_points": len(confirmed),
        "rationale": rec.rationale,
        "within_one_std": bool(b["accuracy_mean"] - r["accuracy_mean"] <= spread),
        "less_energy": bool(r["energy_uj_mean"] < b["energy_uj_mean"]),
        "same_design": r["id"] == b["id"],
        "energy_ratio": b["energy_uj_mean"] / r["energy_uj_mean"] if r["energy_uj_mean"] > 0 else None,
    }


def run_seed(seed: int, sets: dict[str, Any], runs: Path, confirm_seeds: int) -> dict[str, Any]:
    from codesign.search import confirm_study, load_stored_study, load_study, run_study, study_view

    overrides = {"name": f"recommendation_s{seed}", "seed": seed, "confirm.seeds": 0, **sets}
    spec = load_study(STUDY, overrides)
    cpu0 = time.process_time()
    started = time.perf_counter()
    outcome = run_study(spec, runs_dir=runs, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url, writable=True)
    if outcome.front:
        confirm_study(study, confirm_seeds, "front")
    result = compare(study_view(load_stored_study(spec.name, outcome.storage_url)))
    return {"seed": seed, "wall_s": time.perf_counter() - started, "driver_cpu_s": time.process_time() - cpu0,
            **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="study seeds (0 is the quickstart's own; default 0 1 2)")
    parser.add_argument("--confirm-seeds", type=int, default=3, help="seeds per confirmed design (default 3)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="study-spec overrides, as `codesign study run --set` (a shrunken check)")
    parser.add_argument("--runs-dir", help="where the studies go (default: a temporary folder)")
    parser.add_argument("--out", default=str(RESULT), help=f"result file (default {RESULT.relative_to(ROOT)})")
    args = parser.parse_args()
    from codesign.config import parse_set_args

    sets = parse_set_args(args.set)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(args.runs_dir) if args.runs_dir else Path(tmp)
        results = []
        for seed in args.seeds:
            result = run_seed(seed, sets, runs, args.confirm_seeds)
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "rationale"}), flush=True)
    judged = [r for r in results if r["within_one_std"] is not None]
    successes = sum(1 for r in judged if r["within_one_std"] and r["less_energy"])
    ratios = [r["energy_ratio"] for r in judged if r["energy_ratio"] is not None]
    figures = {
        "studies": len(results),
        "judged": len(judged),
        "successes": successes,
        "success_rate": successes / len(judged) if judged else None,
        "within_one_std": sum(1 for r in judged if r["within_one_std"]),
        "less_energy": sum(1 for r in judged if r["less_energy"]),
        "same_design": sum(1 for r in judged if r["same_design"]),
        "energy_ratio": ratios,
        "energy_ratio_median": statistics.median(ratios) if ratios else None,
        "seeds": args.seeds,
        "overrides": sets,
    }
    command = "PYTHONPATH=$PWD " + shlex.join(["python", "benchmarks/recommendation.py", *sys.argv[1:]])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "recommendation", "command": command, "figures": figures,
                               "runs": results}, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
