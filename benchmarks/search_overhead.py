"""Benchmark: the driver's own cost per trial (target <= 100 ms).

Runs the real driver (Optuna NSGA-II ask/tell, Ray tasks, a SQLite file, TrialRecord user
attributes, progress bookkeeping) with an evaluation that returns at once, so the wall time
per trial is the driver and Ray overhead alone. The same number of trials is also run with a
plain in-process Optuna loop on the same storage kind, side by side, to show what is Ray's
and what is Optuna's. Writes benchmarks/results/search_overhead.json.

    PYTHONPATH=$PWD python benchmarks/search_overhead.py [--trials 200] [--storage sqlite|journal]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

from codesign.search import TrialRecord, make_sampler, open_storage, parse_study, run_study, suggest

RESULT = Path(__file__).parent / "results" / "search_overhead.json"
SPEC: dict[str, Any] = {
    "name": "overhead",
    "space": [{"parameters": {
        "train.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "snn.width": {"type": "int", "low": 16, "high": 256, "step": 16},
        "snn.neuron": {"type": "categorical", "choices": ["lif", "imls"]},
        "snn.levels": {"type": "int", "low": 1, "high": 8, "when": {"snn.neuron": "imls"}},
    }}],
    "objectives": {"wer": "min", "energy_uj": "min"},
    "constraints": ["area_mm2 <= 1"],
    "sampler": {"name": "nsga2", "population_size": 20},
    "execution": {"workers": 2},
}


def instant(params: dict[str, Any], spec: dict[str, Any], number: int, artifact_dir: str) -> dict[str, Any]:
    """A trial that costs nothing: two objectives and a constraint from the parameters."""
    lr, width = float(params["train.learning_rate"]), int(params["snn.width"])
    metrics = {"wer": lr * 50, "energy_uj": width / 256, "area_mm2": width / 200}
    return TrialRecord(params=params, objectives={"wer": metrics["wer"], "energy_uj": metrics["energy_uj"]},
                       constraints={"area_mm2 <= 1": metrics["area_mm2"] - 1}, metrics=metrics).to_dict()


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--storage", choices=["sqlite", "journal"], default="sqlite")
    args = parser.parse_args()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING, object_store_memory=128 * 1024 * 1024)
    try:
        with tempfile.TemporaryDirectory() as runs:
            spec = parse_study({**SPEC, "budget": {"trials": 4}, "name": "warmup"})
            run_study(spec, evaluate=instant, runs_dir=runs, progress=False)  # start the workers
            spec = parse_study({**SPEC, "budget": {"trials": args.trials}})
            url = f"sqlite:///{runs}/driver.db" if args.storage == "sqlite" else f"journal:///{runs}/driver.log"
            started, cpu_started = time.perf_counter(), time.process_time()
            outcome = run_study(spec, evaluate=instant, runs_dir=runs, storage=url, progress=False)
            driver_s, driver_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
            assert outcome.counts["complete"] == args.trials, outcome.counts

            # the same ask/suggest/evaluate/tell with no Ray, for comparison
            plain_url = f"sqlite:///{runs}/plain.db" if args.storage == "sqlite" else f"journal:///{runs}/plain.log"
            study = optuna.create_study(storage=open_storage(plain_url, create=True), sampler=make_sampler(spec),
                                        directions=spec.directions())
            space, spec_dict = spec.search_space(), spec.to_dict()
            started, cpu_started = time.perf_counter(), time.process_time()
            for n in range(args.trials):
                trial = study.ask()
                record = instant(suggest(trial, space), spec_dict, n, runs)
                trial.set_user_attr("codesign.record", record)
                trial.set_constraint("area_mm2 <= 1", record["constraints"]["area_mm2 <= 1"])
                study.tell(trial, list(record["objectives"].values()))
            plain_s, plain_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        ray.shutdown()
    per_trial_ms = 1000 * driver_s / args.trials
    plain_ms = 1000 * plain_s / args.trials
    load = os.getloadavg()
    result = {
        "benchmark": "search_overhead",
        "command": "PYTHONPATH=$PWD python " + shlex.join(["benchmarks/search_overhead.py", *sys.argv[1:]]),
        "trials": args.trials,
        "workers": 2,
        "storage": args.storage,
        "driver_ms_per_trial": round(per_trial_ms, 1),
        "driver_cpu_ms_per_trial": round(1000 * driver_cpu_s / args.trials, 1),
        "plain_optuna_loop_ms_per_trial": round(plain_ms, 1),
        "plain_optuna_loop_cpu_ms_per_trial": round(1000 * plain_cpu_s / args.trials, 1),
        "target_ms": 100,
        "meets_target": per_trial_ms <= 100,
        "loadavg_1min": round(load[0], 2),
        "note": "wall time per trial with an instant evaluation (upper bound on the overhead); "
                "shared 2-core machine",
    }
    out = RESULT.with_name(f"search_overhead_{args.storage}.json") if args.storage != "sqlite" else RESULT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"search_overhead ({args.storage}): {per_trial_ms:.1f} ms wall, {result['driver_cpu_ms_per_trial']} ms "
          f"driver CPU per trial through the Ray driver (plain Optuna loop {plain_ms:.1f} ms wall; "
          f"target <= 100 ms; load {load[0]:.1f})")


if __name__ == "__main__":
    main()
