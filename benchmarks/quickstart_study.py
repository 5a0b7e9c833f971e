"""Benchmark: the README's main job, `codesign study run studies/quickstart.yaml`, end to end.

Runs the real command in a subprocess from an empty corpus cache and an empty runs directory
(corpus synthesis, Ray start-up, every trial, the report page), and records its wall time
and what the study ended with. Target: at most 5 minutes on 2 cores. Writes
benchmarks/results/quickstart_study.json.

    PYTHONPATH=$PWD python benchmarks/quickstart_study.py
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "quickstart_study.json"
TARGET_S = 300.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs, cache = Path(tmp) / "runs", Path(tmp) / "cache"
        env = {**os.environ, "CODESIGN_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "codesign", "study", "run", "studies/quickstart.yaml",
                   "--runs-dir", str(runs), "--no-progress"]
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall_s = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"quickstart failed ({done.returncode}):\n{done.stderr[-3000:]}")
        study = optuna.load_study(study_name="quickstart", storage=f"sqlite:///{runs / 'quickstart' / 'study.db'}")
        states = [t.state.name for t in study.trials]
        accuracies = [t.values[0] for t in study.trials if t.values]
        report_written = (runs / "quickstart" / "report.html").is_file()
    figures = {
        "wall_time_s": wall_s,
        "target_s": TARGET_S,
        "target_met": wall_s <= TARGET_S,
        "trials": len(states),
        "complete": states.count("COMPLETE"),
        "pruned_infeasible_chip": states.count("PRUNED"),
        "failed": states.count("FAIL"),
        "best_validation_accuracy": max(accuracies) if accuracies else None,
        "report_written": report_written,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({
        "benchmark": "quickstart_study",
        "command": "PYTHONPATH=$PWD python benchmarks/quickstart_study.py",
        "runs": shlex.join(["codesign", *command[3:]]),
        "figures": figures,
    }, indent=2) + "\n")
    print(f"quickstart_study: {wall_s:.0f} s from empty caches (target {TARGET_S:.0f} s), "
          f"{figures['complete']} complete / {figures['pruned_infeasible_chip']} pruned / {figures['failed']} failed, "
          f"best accuracy {figures['best_validation_accuracy']}")


if __name__ == "__main__":
    main()
