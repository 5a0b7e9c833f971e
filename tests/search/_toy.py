"""Toy evaluation functions for driver tests: real Ray tasks, no training.

Each has the driver's evaluation signature ``(TrialTask) -> TrialResult``; files a toy wants
kept go back to the driver in the result, as the real evaluation's do. ``python tests/search/_toy.py SPEC --runs-dir D [--address A] [--evaluator E]``
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

from codesign.search import (
    StudySpec,
    TrialRecord,
    TrialResult,
    TrialTask,
    constraint_values,
)

TOY_SPEC: dict[str, Any] = {
    "name": "toy",
    "seed": 3,
    "space": [
        {
            "parameters": {
                "train.learning_rate": {"type": "float", "low": 0.001, "high": 0.9},
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
    "execution": {"workers": 2, "trial_cpu_s": 300},
}


def spec(**changes: Any) -> StudySpec:
    """The toy study with top-level keys replaced."""
    from codesign.search import parse_study

    return parse_study({**TOY_SPEC, **changes})


def _quadratic_record(task: TrialTask) -> TrialRecord:
    """Two conflicting quadratics of the learning rate; area grows with dropout."""
    params, spec = task.params, task.spec
    x = float(params["train.learning_rate"])
    y = float(params["snn.dropout"])
    levels = int(params.get("snn.levels", 1))
    metrics = {
        "wer": (x - 0.2) ** 2 + 0.01 * levels,
        "energy_uj": (x - 0.7) ** 2 + y,
        "area_mm2": 0.5 + y,
    }
    constraints = constraint_values(metrics, spec.parsed_constraints())
    return TrialRecord(
        params=params,
        objectives={k: metrics[k] for k in spec.objectives},
        constraints=constraints,
        metrics=metrics,
        worker_host=socket.gethostname(),
        wall_time_s=0.0,
    )


def quadratic(task: TrialTask) -> TrialResult:
    return TrialResult(_quadratic_record(task))


def _with_wer(record: TrialRecord, wer: float) -> TrialRecord:
    return record.model_copy(update={"objectives": {**record.objectives, "wer": wer},
                                     "metrics": {**record.metrics, "wer": wer}})


def fidelity(task: TrialTask) -> TrialResult:
    """``quadratic`` whose wer improves with epochs (rung ``until_epoch``, else the full
    ``fidelity.epochs``); returns one empty file per call, ``calls/<trial>-<epochs>``."""
    epochs = task.until_epoch or int(task.spec.fidelity.epochs)
    record = _quadratic_record(task)
    record = _with_wer(record, record.objectives["wer"] + 1.0 / epochs)
    call = f"calls/{task.trial_number}-{epochs}"
    record = record.model_copy(update={"rung_epoch": task.until_epoch, "artifacts": {"calls": call},
                                       "train_config": task.spec.fidelity})
    return TrialResult(record, files={f"{task.spec.name}/{call}": b""})


def seeded(task: TrialTask) -> TrialResult:
    """``quadratic`` whose wer moves with the training seed (for confirmation over seeds)."""
    record = _quadratic_record(task)
    return TrialResult(_with_wer(record, record.objectives["wer"] + 0.01 * int(task.spec.seed)))


def sleepy(task: TrialTask) -> TrialResult:
    """``quadratic`` after a pause, so a driver can be killed while trials are in flight."""
    time.sleep(float(os.environ.get("TOY_SLEEP_S", "0.6")))
    return quadratic(task)


def misbehaving(task: TrialTask) -> TrialResult:
    """Trial 1 raises, 2 returns NaN, 3 kills its worker every time, 4 kills it once (its
    marker file is in ``TOY_MARKER_DIR``), 5 has parameters that make no valid config, 6 computes
    forever, 7 hangs."""
    number = task.trial_number
    if number == 1:
        raise RuntimeError("boom in trial 1")
    if number == 2:
        return TrialResult(_with_wer(_quadratic_record(task), math.nan))
    if number == 3:
        os._exit(1)
    if number == 4:
        marker = Path(os.environ["TOY_MARKER_DIR"]) / "trial4-crashed-once"
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)
    if number == 5:
        from codesign.config import ConfigError

        raise ConfigError(None, "snn.heads", "a divisor of snn.width", got=3)
    if number == 6:
        acc = 0
        while True:
            acc = (acc + 1) % 1_000_003
    if number == 7:
        time.sleep(120)
    return quadratic(task)


def seeded_dies_once(task: TrialTask) -> TrialResult:
    """``seeded``, but a confirmation's evaluation (a task with a ``folder``) kills its worker
    the first time each one runs (markers in ``TOY_MARKER_DIR``): a node lost mid-confirmation."""
    if task.folder:
        marker = Path(os.environ["TOY_MARKER_DIR"]) / f"died-{task.folder}"
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)
    return seeded(task)


def broken(task: TrialTask) -> TrialResult:
    """Every trial raises an error of its own (not one every trial shares by its type)."""
    raise RuntimeError(f"broken trial {task.trial_number}")


def misconfigured(task: TrialTask) -> TrialResult:
    """Trial 0 fails at once with a ConfigError (a failure every trial would share); the others
    take a moment and complete."""
    if task.trial_number == 0:
        from codesign.config import ConfigError

        raise ConfigError("/nowhere/technology.yaml", "", "an existing YAML file", hint="file not found")
    time.sleep(1.0)
    return quadratic(task)


def burn(task: TrialTask) -> TrialResult:
    """CPU-bound: a fixed amount of pure-Python arithmetic, then ``quadratic``."""
    n = int(os.environ.get("TOY_BURN_N", "3000000"))
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1_000_003
    record = _quadratic_record(task)
    return TrialResult(record.model_copy(update={"metrics": {**record.metrics, "burn_checksum": float(acc)}}))


def _steady_work(task: TrialTask, loaded: bool) -> TrialResult:
    """``quadratic`` after a fixed amount of CPU work that grows with dropout (0.05-0.25 CPU-s);
    a learning rate above 0.75 computes forever. ``loaded``: after every slice of work the
    task sleeps as long as the slice took (as if a CPU-bound neighbour shared its core), three
    times as long on odd trial numbers, so wall times double or more and trials finish in
    another order, while the work done is the same."""
    x, y = float(task.params["train.learning_rate"]), float(task.params["snn.dropout"])
    budget = math.inf if x > 0.75 else 0.05 + 0.4 * y
    stretch = (3.0 if task.trial_number % 2 else 1.0) if loaded else 0.0
    used, acc = 0.0, 0
    while used < budget:
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(20_000):
            acc = (acc + i * i) % 1_000_003
        used += time.process_time() - c0
        if stretch:
            time.sleep(stretch * (time.perf_counter() - t0))
    return quadratic(task)


def _nap() -> None:
    time.sleep(0.3)


def blocking(task: TrialTask) -> TrialResult:
    """``quadratic`` that waits on a nested Ray task (as reading the store does), recording when
    it started and ended (``started``/``ended`` metrics, seconds since the epoch)."""
    import ray

    started = time.time()
    ray.get(ray.remote(num_cpus=0)(_nap).remote())  # blocked in ray.get: Ray lends out its CPU
    record = _quadratic_record(task)
    return TrialResult(record.model_copy(update={"metrics": {**record.metrics, "started": started,
                                                             "ended": time.time()}}))


def steady(task: TrialTask) -> TrialResult:
    return _steady_work(task, loaded=False)


def steady_loaded(task: TrialTask) -> TrialResult:
    return _steady_work(task, loaded=True)


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
    from codesign.cli import terminate_as_interrupt, terminated

    try:
        with terminate_as_interrupt():
            outcome = run_study(spec, evaluate=globals()[args.evaluator], runs_dir=args.runs_dir,
                                storage=args.storage, progress=False)
    except ConfigError as err:  # e.g. StudyInUse: as the CLI does
        print(f"codesign: error: {err}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:  # as the CLI does
        return 143 if terminated() else 130
    print("COUNTS", outcome.counts, "TOLD", outcome.told, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
