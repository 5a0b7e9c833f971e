"""Benchmark: the driver's overhead per trial and the bytes each trial moves through Ray, on a
two-node cluster whose nodes share no files, against one local node.

The main job's study (studies/quickstart.yaml: its corpus, space, nested strategy and 12-epoch
training), its first ``--trials`` networks without the confirmation, runs twice from the same
seed, one trial at a time (so no trial waits for another to be told):
1. on a local cluster the driver starts (the default), and
2. on a two-node cluster on this machine: a head beside the driver that runs no trials
   (``--num-cpus 0``, as on a KubeRay head) and a worker node in its own mount namespace that
   sees none of the driver's files (tests/search/_cluster.py), joined with ``--address``.

Overhead of one trial = (Optuna's tell time - its ask time) - the evaluation's own wall time:
scheduling, shipping the task, the corpus from the object store, returning the files and the
driver writing them into the artifact store and the record into storage. Median over trials.
Bytes per trial: the files a trial returns through Ray (weights, trace, scores, cost report)
plus what workers read of the training cache through the driver's store actor; a task's own
arguments (parameters, the spec: a few kB) are not counted, and the corpus crosses once per
node and is reported apart. Needs root (mount namespaces).
Writes benchmarks/results/cluster_overhead.json.

    PYTHONPATH=$PWD python benchmarks/cluster_overhead.py [--trials 6]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "search"))
RESULT = Path(__file__).parent / "results" / "cluster_overhead.json"


def _spec(trials: int, address: str | None) -> Any:
    from codesign.config import parse_spec
    from codesign.search import StudySpec, load_study

    data = load_study(ROOT / "studies" / "quickstart.yaml").to_dict()
    data.update(name="overhead", budget={"trials": trials}, confirm={"seeds": 0},
                execution={**data["execution"], "workers": 1, "cpus_per_trial": 1, "address": address})
    return parse_spec(StudySpec, data)


def _measure(outcome: Any) -> dict[str, Any]:
    from codesign.search import load_stored_study, record_of

    study = load_stored_study(outcome.name, outcome.storage_url)
    overheads, nodes = [], set()
    for t in study.trials:
        record = record_of(t.user_attrs)
        assert record is not None and record.error is None, record and record.error
        span_s = (t.datetime_complete - t.datetime_start).total_seconds()
        overheads.append(1000.0 * (span_s - record.wall_time_s))
        nodes.add(record.worker_node_ip)
    return {
        "trials": len(overheads),
        "overhead_ms_median": round(statistics.median(overheads), 1),
        "overhead_ms_mean": round(statistics.fmean(overheads), 1),
        "overhead_ms_per_trial": [round(x, 1) for x in overheads],
        "returned_bytes": outcome.artifact_bytes,
        "served_bytes": outcome.served_bytes,
        "bytes_per_trial": round((outcome.artifact_bytes + outcome.served_bytes) / max(1, len(overheads))),
        "worker_nodes": sorted(nodes),
    }


def main() -> None:
    import ray
    from _cluster import NODE_B_IP, namespaces_permitted, two_node_cluster

    from codesign.search import run_study
    from codesign.search._evaluate import prepare_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    why = namespaces_permitted()
    if why is not None:
        sys.exit(f"cluster_overhead: {why}")
    corpus_bytes = len(pickle.dumps(prepare_study(_spec(args.trials, None), progress=False)))
    with tempfile.TemporaryDirectory(prefix="cluster-overhead-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        local = _measure(run_study(_spec(args.trials, None), runs_dir=work / "local", progress=False))
        local_s = time.perf_counter() - started
        assert not ray.is_initialized()
        (work / "logs").mkdir()
        with two_node_cluster(work / "logs", [str(work)], head_cpus=0) as (address, env):
            os.environ.update(RAY_AUTH_MODE=env["RAY_AUTH_MODE"], RAY_AUTH_TOKEN=env["RAY_AUTH_TOKEN"])
            started = time.perf_counter()
            outcome = run_study(_spec(args.trials, address), runs_dir=work / "cluster", progress=False)
            cluster_s = time.perf_counter() - started
            ray.shutdown()
            two = _measure(outcome)
    assert two["worker_nodes"] == [NODE_B_IP], two["worker_nodes"]
    result = {
        "benchmark": "cluster_overhead",
        "command": "PYTHONPATH=$PWD python " + shlex.join(["benchmarks/cluster_overhead.py", *sys.argv[1:]]),
        "study": f"studies/quickstart.yaml, its first {args.trials} networks, no confirmation, one trial at a time",
        "figures": {
            "overhead_ms_per_trial_two_nodes": two["overhead_ms_median"],
            "overhead_ms_per_trial_local": local["overhead_ms_median"],
            "bytes_per_trial": two["bytes_per_trial"],
            "corpus_bytes_once_per_node": corpus_bytes,
        },
        "two_nodes": {**two, "study_wall_s": round(cluster_s, 1)},
        "local": {**local, "study_wall_s": round(local_s, 1)},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"cluster_overhead: driver overhead per trial {two['overhead_ms_median']:.0f} ms on two nodes "
          f"vs {local['overhead_ms_median']:.0f} ms local (median of {two['trials']}); "
          f"{two['bytes_per_trial'] / 1e3:.0f} kB per trial through Ray; corpus {corpus_bytes / 1e6:.1f} MB once per node")


if __name__ == "__main__":
    main()
