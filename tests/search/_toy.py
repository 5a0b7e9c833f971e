"""Toy evaluation functions for driver tests: real Ray tasks, no training.

Each has the driver's evaluation signature ``(params, spec, trial_number, artifact_dir) ->
TrialRecord dict``. ``python tests/search/_toy.py SPEC --runs-dir D [--address A] [--evaluator E]``
runs a study with one of them in a fresh process (for the kill/resume and join-a-cluster tests).
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from codesign.search import StudySpec, TrialRecord, constraint_values, parse_constraint

TOY_SPEC: dict[str, Any] = {
    "name": "toy",
    "seed": 3,
    "space": [
        {
            "parameters": {
                "snn.learning_rate": {"type": "float", "low": 0.001, "high": 0.9},
                "snn.dropout": {"type": "float", "low": 0.0, "high": 0.5},
                "snn.neuron": {"type": "categorical", "choices": ["lif", "imls"]},
                "snn.levels": {"type": "int", "low": 1, "high": 8, "when": {"snn.neuron": "imls"}},
                "snn.family": "spikeformer",
            }
        }
    ],
    "corpus": {"task": "digits"},  # (it measures wer)
    "objectives": {"wer": "min", "energy_uj": "min"},
    "constraints": ["area_mm2 <= 0.8"],
    "sampler": {"name": "random"},
    "budget": {"trials": 6},
    "execution": {"workers": 2, "trial_timeout_s": 300},
}


def quadratic(params: dict[str, Any], spec: dict[str, Any], number: int, artifact_dir: str) -> dict[str, Any]:
    """Two conflicting quadratics of the learning rate; area grows with dropout."""
    x = float(params["snn.learning_rate"])
    y = float(params["snn.dropout"])
    levels = int(params.get("snn.levels", 1))
    metrics = {
        "wer": (x - 0.2) ** 2 + 0.01 * levels,
        "energy_uj": (x - 0.7) ** 2 + y,
        "area_mm2": 0.5 + y,
    }
    constraints = constraint_values(metrics, [parse_constraint(c) for c in spec["constraints"]])
    return TrialRecord(
        params=params,
        objectives={k: metrics[k] for k in spec["objectives"]},
        constraints=constraints,
        metrics=metrics,
        worker_host=socket.gethostname(),
        wall_time_s=0.0,
    ).to_dict()


def fidelity(
    params: dict[str, Any], spec: dict[str, Any], number: int, artifact_dir: str, until_epoch: int | None = None
) -> dict[str, Any]:
    """``quadratic`` whose wer improves with epochs (rung ``until_epoch``, else the full
    ``fidelity.epochs``); records the rung and every call in ``calls.log``."""
    epochs = until_epoch or int(spec["fidelity"]["epochs"])
    record = quadratic(params, spec, number, artifact_dir)
    record["objectives"]["wer"] += 1.0 / epochs
    record["metrics"]["wer"] = record["objectives"]["wer"]
    record["rung_epoch"] = until_epoch
    record["train_config"] = {"epochs": int(spec["fidelity"]["epochs"])}
    with open(Path(artifact_dir) / "calls.log", "a") as log:
        log.write(f"{number} {epochs}\n")
    return record


def seeded(
    params: dict[str, Any], spec: dict[str, Any], number: int, artifact_dir: str, folder: str | None = None
) -> dict[str, Any]:
    """``quadratic`` whose wer moves with the training seed (for confirmation over seeds)."""
    record = quadratic(params, spec, number, artifact_dir)
    record["objectives"]["wer"] += 0.01 * int(spec["seed"])
    record["metrics"]["wer"] = record["objectives"]["wer"]
    return record


def sleepy(params: dict[str, Any], spec: dict[str, Any], number: int, artifact_dir: str) -> dict[str, Any]:
    """``quadratic`` after a pause, so a driver can be killed while trials are in flight."""
    time.sleep(float(os.environ.get("TOY_SLEEP_S", "0.6")))
    return quadratic(params, spec, number, artifact_dir)


def misbehaving(params: dict[str, Any], spec: dict[str, Any], number: int, artifact_dir: str) -> dict[str, Any]:
    """Trial 1 raises, 2 returns NaN, 3 kills its worker every time, 4 kills it once, 7 hangs."""
    if number == 1:
        raise RuntimeError("boom in trial 1")
    if number == 2:
        record = quadratic(params, spec, number, artifact_dir)
        record["objectives"]["wer"] = math.nan
        return record
    if number == 3:
        os._exit(1)
    if number == 4:
        marker = Path(artifact_dir) / "trial4-crashed-once"
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)
    if number == 7:
        time.sleep(120)
    return quadratic(params, spec, number, artifact_dir)


def burn(params: dict[str, Any], spec: dict[str, Any], number: int, artifact_dir: str) -> dict[str, Any]:
    """CPU-bound: a fixed amount of pure-Python arithmetic, then ``quadratic``."""
    n = int(os.environ.get("TOY_BURN_N", "3000000"))
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1_000_003
    record = quadratic(params, spec, number, artifact_dir)
    record["metrics"]["burn_checksum"] = float(acc)
    return record


def main(argv: list[str]) -> int:
    import argparse

    from codesign.config import ConfigError
    from codesign.search import parse_study, run_study

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--address")
    parser.add_argument("--evaluator", default="sleepy")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--storage")
    args = parser.parse_args(argv)
    data = dict(TOY_SPEC)
    data["budget"] = {"trials": args.trials or 6}
    if args.address:
        data["execution"] = {**data["execution"], "address": args.address}
    spec: StudySpec = parse_study(data)
    try:
        outcome = run_study(spec, evaluate=globals()[args.evaluator], runs_dir=args.runs_dir,
                            storage=args.storage, progress=False)
    except ConfigError as err:  # e.g. StudyInUse: as the CLI does
        print(f"codesign: error: {err}", file=sys.stderr, flush=True)
        return 2
    print("COUNTS", outcome.counts, "TOLD", outcome.told, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
