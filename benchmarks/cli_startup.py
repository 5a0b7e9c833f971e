"""Benchmark: how long `codesign --help` and `codesign study status` take to start (target < 1.5 s).

Each command is run as a fresh process, as a user types it, ``--repeats`` times; the figures
are medians of the wall time. ``study status`` reads a stored study written first with
ask/tell: the quickstart spec and 16 trials with records (no training, no Ray), so what is
timed is the CLI's imports plus opening a SQLite study and summarising it. Torch, Ray and
Plotly are imported only by commands that need them, which keeps both commands far below the
4-8 s they took when `import codesign.search` imported torch. Writes
benchmarks/results/cli_startup.json.

    PYTHONPATH=$PWD python benchmarks/cli_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULT = Path(__file__).parent / "results" / "cli_startup.json"
ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.5


def write_study(runs: Path, trials: int = 16) -> None:
    """A stored quickstart study with ``trials`` complete trials (records made up, seeded)."""
    import numpy as np
    import optuna

    from codesign.search import (
        RECORD_ATTR,
        SPEC_ATTR,
        TrialRecord,
        default_storage_url,
        load_study,
        make_sampler,
        open_storage,
        suggest,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_study(ROOT / "studies" / "quickstart.yaml")
    storage = open_storage(default_storage_url(spec.name, runs), create=True)
    study = optuna.create_study(study_name=spec.name, directions=spec.directions(), sampler=make_sampler(spec),
                                storage=storage)
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    rng = np.random.default_rng(0)
    space = spec.search_space()
    for _ in range(trials):
        trial = study.ask()
        params = suggest(trial, space)
        metrics = {"accuracy": float(rng.uniform(0.05, 0.4)), "energy_uj": float(rng.uniform(1, 40)),
                   "latency_ms": float(rng.uniform(1, 90)), "area_mm2": float(rng.uniform(0.5, 3.5))}
        record = TrialRecord(params=params, objectives={k: metrics[k] for k in spec.objectives},
                             constraints={"area_mm2 <= 4": metrics["area_mm2"] - 4}, metrics=metrics, trained=True)
        trial.set_user_attr(RECORD_ATTR, record.to_dict())
        study.tell(trial, [metrics[k] for k in spec.objectives])
    # close the writer, as a finished `study run` has: an open WAL writer slows read-only readers
    storage.engine.dispose()  # type: ignore[union-attr]


def timed(argv: list[str], repeats: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "codesign"]
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        write_study(runs)
        help_times = timed([*cli, "--help"], args.repeats, env)
        status_times = timed([*cli, "study", "status", "quickstart", "--runs-dir", str(runs)], args.repeats, env)
        python_times = timed([sys.executable, "-c", "pass"], args.repeats, env)
        # the floor under `study status`: Optuna alone opening the same SQLite study and reading it
        url = f"sqlite:///{runs / 'quickstart' / 'study.db'}"
        optuna_code = (f"import optuna; s = optuna.storages.RDBStorage({url!r}); "
                       "optuna.load_study(study_name='quickstart', storage=s).get_trials(deepcopy=False)")
        optuna_times = timed([sys.executable, "-c", optuna_code], args.repeats, env)
    help_s, status_s = statistics.median(help_times), statistics.median(status_times)
    load = os.getloadavg()
    result = {
        "benchmark": "cli_startup",
        "command": "PYTHONPATH=$PWD python " + shlex.join(["benchmarks/cli_startup.py", *sys.argv[1:]]),
        "repeats": args.repeats,
        "figures": {
            "help_s": round(help_s, 3),
            "status_s": round(status_s, 3),
            "python_bare_s": round(statistics.median(python_times), 3),
            "optuna_open_s": round(statistics.median(optuna_times), 3),
        },
        "runs_s": {"help": [round(t, 3) for t in help_times], "status": [round(t, 3) for t in status_times]},
        "target_s": TARGET_S,
        "meets_target": help_s < TARGET_S and status_s < TARGET_S,
        "loadavg_1min": round(load[0], 2),
        "note": "median wall time of a fresh `python -m codesign ...` process; status reads a 16-trial "
                "SQLite study; optuna_open_s: Optuna alone opening and reading the same study (the floor, "
                "measured in the same run, so load affects both alike); shared 2-core machine",
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"cli_startup: --help {help_s:.2f} s, study status {status_s:.2f} s (Optuna alone "
          f"{result['figures']['optuna_open_s']:.2f} s; medians of {args.repeats}; target < {TARGET_S} s; "
          f"load {load[0]:.1f})")


if __name__ == "__main__":
    main()
