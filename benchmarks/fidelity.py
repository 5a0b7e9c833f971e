"""Is a short training a good guide to a long one, and which strategy finds the front cheapest?

Two measurements on the quickstart study (studies/quickstart.yaml: its corpus, spaces, chip,
objectives and reference point):

1. Rank fidelity. ``--networks`` networks drawn from the quickstart's ``snn.*`` space (seeded)
   are trained to the full budget through the quickstart's rungs (each rung continues the
   previous one's checkpoint, as MO-ASHA does). ``spearman_rung<k>_vs_full``: Spearman rank
   correlation between validation accuracy after rung k and after the full budget.
2. Hypervolume at equal CPU time. The quickstart study is run with the same wall-clock budget
   and the same 2 workers (so the same CPU time) by each strategy, over ``--seeds`` seeds:
   ``multi_fidelity`` (nested + MO-ASHA, the quickstart), ``nested`` and ``joint`` (single
   fidelity, NSGA-II) and ``random`` (joint, random sampler). ``hv_at_equal_cpu``: the mean and
   standard deviation of the final hypervolume of each.

Writes benchmarks/results/fidelity.json.

    PYTHONPATH=$PWD python benchmarks/fidelity.py [--networks 24] [--seeds 0 1 2] [--seconds 120]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from spikeformer_common import write_result

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "studies" / "quickstart.yaml"


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _train_through_rungs(job: tuple[dict[str, Any], dict[str, Any], int]) -> dict[str, Any]:
    """One network trained to each rung in turn (continuing the checkpoint), its validation
    accuracy after each."""
    import torch

    from codesign.config import parse_spec
    from codesign.data import CorpusConfig, load_corpus
    from codesign.search import StudySpec, split_params
    from codesign.snn import ModelConfig
    from codesign.train import TrainConfig, train

    torch.set_num_threads(1)
    spec_dict, params, seed = job
    spec = parse_spec(StudySpec, spec_dict)
    model_over, train_over, _ = split_params(params)
    model = parse_spec(ModelConfig, {**spec.model.to_dict(), **model_over})
    budget = parse_spec(TrainConfig, {**spec.fidelity.to_dict(), **train_over})
    corpus = load_corpus(parse_spec(CorpusConfig, spec.corpus), progress=False)
    assert spec.multi_fidelity is not None
    accuracy = {}
    checkpoint = None
    start = time.perf_counter()
    for rung in (*spec.multi_fidelity.rungs, budget.epochs):
        until = None if rung == budget.epochs else rung
        result = train(model, corpus, budget, seed=seed, until_epoch=until, resume=checkpoint)
        accuracy[str(rung)] = result.metrics["validation_accuracy"]
        checkpoint = result.checkpoint
    return {"params": params, "accuracy": accuracy, "wall_s": time.perf_counter() - start}


def rank_fidelity(spec: Any, networks: int, seed: int, workers: int) -> dict[str, Any]:
    from codesign.data import CorpusConfig, load_corpus
    from codesign.search import sample_points

    load_corpus(CorpusConfig.model_validate(spec.corpus), progress=False)  # synthesised once, before the pool
    points = sample_points(spec.search_space().subspace("snn"), networks, seed)
    jobs = [(spec.to_dict(), p, spec.seed) for p in points]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(_train_through_rungs, jobs))
    rungs = list(runs[0]["accuracy"])
    full = [r["accuracy"][rungs[-1]] for r in runs]
    out = {f"spearman_rung{i + 1}_vs_full": _spearman([r["accuracy"][k] for r in runs], full)
           for i, k in enumerate(rungs[:-1])}
    out["networks"] = len(runs)
    out["rung_epochs"] = [int(k) for k in rungs]
    out["runs"] = runs
    return out


def _variant(spec: Any, name: str, seed: int, seconds: float) -> Any:
    from codesign.config import parse_spec
    from codesign.search import StudySpec

    data = spec.to_dict()
    data.update(name=f"fidelity_{name}_{seed}", seed=seed, confirm={"seeds": 0})
    data["budget"] = {"trials": None, "seconds": seconds}
    if name == "multi_fidelity":
        pass
    elif name == "nested":
        data["multi_fidelity"] = None
    elif name in ("joint", "random"):
        data.update(strategy="joint", multi_fidelity=None)
        if name == "random":
            data["sampler"] = {"name": "random"}
    else:
        raise ValueError(name)
    return parse_spec(StudySpec, data)


def hv_at_equal_cpu(spec: Any, strategies: list[str], seeds: list[int], seconds: float) -> dict[str, Any]:
    from codesign.search import run_study

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as runs:
        for name in strategies:
            values, trials = [], []
            for seed in seeds:
                variant = _variant(spec, name, seed, seconds)
                start = time.perf_counter()
                outcome = run_study(variant, runs_dir=Path(runs) / name, progress=False)
                values.append(outcome.hypervolume)
                trials.append({"seed": seed, "hypervolume": outcome.hypervolume, "counts": outcome.counts,
                               "front_points": len(outcome.front), "wall_s": time.perf_counter() - start})
                print(f"{name} seed {seed}: hypervolume {outcome.hypervolume:.4g}, {outcome.counts}",
                      file=sys.stderr, flush=True)
            results[name] = {"mean": statistics.fmean(values),
                             "std": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": trials}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=24)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=120.0, help="wall budget of each run (2 workers)")
    parser.add_argument("--strategies", nargs="+", default=["multi_fidelity", "nested", "joint", "random"])
    parser.add_argument("--skip-ranks", action="store_true")
    args = parser.parse_args()

    from codesign.search import load_study

    spec = load_study(QUICKSTART)
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {"study": "studies/quickstart.yaml", "workers": spec.execution.workers}
    if not args.skip_ranks:
        ranks = rank_fidelity(spec, args.networks, seed=0, workers=spec.execution.workers)
        figures.update({k: v for k, v in ranks.items() if k.startswith("spearman")})
        details["rank_fidelity"] = ranks
        print({k: v for k, v in ranks.items() if k != "runs"}, file=sys.stderr, flush=True)
    hv = hv_at_equal_cpu(spec, args.strategies, args.seeds, args.seconds)
    figures["hv_at_equal_cpu"] = {k: {"mean": v["mean"], "std": v["std"]} for k, v in hv.items()}
    figures["cpu_seconds_per_run"] = args.seconds * spec.execution.workers
    figures["best_strategy"] = max(hv, key=lambda k: hv[k]["mean"])
    details["hv_runs"] = hv
    print(write_result("fidelity", figures, details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
