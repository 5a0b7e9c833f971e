"""Is a short training a good guide to a long one, and which strategy finds the front cheapest?

Two measurements on the quickstart study (studies/quickstart.yaml: its corpus, spaces, chip,
objectives and reference point):

1. Rank fidelity. ``--networks`` networks drawn from the quickstart's ``snn.*`` space (seeded)
   are trained to the full budget through the rungs 2 and 6 (each rung continues the
   previous one's checkpoint, as MO-ASHA does). ``spearman_rung<k>_vs_full``: Spearman rank
   correlation between validation accuracy after rung k and after the full budget.
2. Hypervolume at equal CPU time. The quickstart study is run by each strategy over
   ``--seeds`` seeds: ``multi_fidelity`` (nested + MO-ASHA, rungs 2/6), ``nested`` (the quickstart) and
   ``joint`` (single fidelity, NSGA-II) and ``random`` (joint, random sampler). Every
   evaluation records its CPU seconds, so the hypervolume each run had reached after the same
   CPU time is read off its history (robust to a busy machine, where wall time is not).
   ``hv_at_equal_cpu``: mean and standard deviation over seeds at ``cpu_budget_s``.

Writes benchmarks/results/fidelity.json.

    PYTHONPATH=$PWD python benchmarks/fidelity.py [--networks 24] [--seeds 0 1 2] [--cpu-budget S]
        [--trials multi_fidelity=24 nested=8 joint=12 random=12]
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
#: The MO-ASHA schedule compared: rungs at 2 and 6 of the quickstart's 12 epochs, eta 3.
MULTI_FIDELITY = {"rungs": [2, 6], "reduction_factor": 3}


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _train_through_rungs(job: tuple[dict[str, Any], dict[str, Any], int]) -> dict[str, Any]:
    """One network trained to each rung in turn (continuing the checkpoint), its validation
    accuracy after each."""
    import torch

    from codesign.config import parse_spec
    from codesign.data import load_corpus
    from codesign.search import StudySpec, split_params
    from codesign.train import train

    torch.set_num_threads(1)
    spec_dict, params, seed = job
    spec = parse_spec(StudySpec, spec_dict)
    model_over, train_over, _ = split_params(params)
    model = spec.model_for(model_over)
    budget = spec.train_for(train_over)
    corpus = load_corpus(spec.corpus, progress=False)
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
    from codesign.data import load_corpus
    from codesign.search import sample_points

    load_corpus(spec.corpus, progress=False)  # synthesised once, before the pool
    points = sample_points(spec.search_space().subspace("snn", "train"), networks, seed)
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


def _variant(spec: Any, name: str, seed: int, trials: int) -> Any:
    from codesign.config import parse_spec
    from codesign.search import StudySpec

    data = spec.to_dict()
    data.update(name=f"fidelity_{name}_{seed}", seed=seed, confirm={"seeds": 0}, multi_fidelity=MULTI_FIDELITY)
    data["budget"] = {"trials": trials}
    if name == "nested":
        data["multi_fidelity"] = None
    elif name in ("joint", "random"):
        data.update(strategy="joint", multi_fidelity=None)
        if name == "random":
            data["sampler"] = {"name": "random"}
    elif name in ("sequential", "hardware_first"):  # the baselines of benchmarks/premise.py
        data.update(strategy=name, multi_fidelity=None)
    elif name != "multi_fidelity":
        raise ValueError(name)
    return parse_spec(StudySpec, data)


def evaluations(study: Any) -> list[dict[str, Any]]:
    """Every evaluation a run made, in the order it was told: (time, CPU seconds, the design
    points it added to the study, which only full-budget completions do)."""
    from optuna.trial import TrialState

    from codesign.search import record_of, record_points

    events = []
    for t in study.get_trials(deepcopy=False):
        record = record_of(t.user_attrs)
        rungs = t.user_attrs.get("codesign.rungs", [])
        for r in rungs[:-1] if t.state == TrialState.COMPLETE and rungs else rungs:
            events.append({"at": r["told_at"], "cpu_s": r["cpu_time_s"], "points": []})
        if record is None or (rungs and t.state != TrialState.COMPLETE):
            continue
        at = t.datetime_complete.timestamp() if t.datetime_complete else 0.0
        points = record_points(t.number, record) if t.state == TrialState.COMPLETE else []
        cpu = rungs[-1]["cpu_time_s"] if rungs else record.cpu_time_s
        events.append({"at": at, "cpu_s": cpu, "points": points})
    return sorted(events, key=lambda e: e["at"])


#: A fixed reference point, so that hypervolumes of different runs compare (the quickstart's
#: own, until it let the data set it: its points above the floor, widened by 10 %).
HV_REFERENCE = {"accuracy": 0.0, "energy_uj": 50.0, "latency_ms": 100.0}
#: The same reference for a CTC study's quality objective: a network that gets every word wrong.
WORST_WER = 1.0


def fixed_reference(spec: Any) -> dict[str, float]:
    """The reference point fixed for a study (not placed by its runs): per objective, the study's
    own ``reference:`` value, else :data:`HV_REFERENCE`'s (``wer`` at :data:`WORST_WER`).

    Raises:
        ValueError: an objective has no fixed reference value (give the study a ``reference:``).
    """
    known = {**HV_REFERENCE, "wer": WORST_WER, **spec.reference}
    missing = [name for name in spec.objectives if name not in known]
    if missing:
        raise ValueError(f"no fixed reference value for objective(s) {', '.join(missing)}: give the study a "
                         "`reference:`")
    return {name: known[name] for name in spec.objectives}


def hv_at(events: list[dict[str, Any]], cpu_s: float, spec: Any, reference: dict[str, float] | None = None) -> float:
    """Hypervolume of the design points told before the run had spent ``cpu_s`` CPU seconds
    (reference: ``reference``, else :func:`fixed_reference`)."""
    from codesign.search import study_hypervolume

    spent, points = 0.0, []
    for e in events:
        spent += e["cpu_s"]
        if spent > cpu_s:
            break
        points.extend(e["points"])
    return study_hypervolume(points, spec.objectives, reference or fixed_reference(spec))


def run_variant(spec: Any, name: str, seed: int, trials: int, runs_dir: Path) -> dict[str, Any]:
    """One run of the study by strategy ``name`` (:func:`_variant`): its evaluations (time, CPU
    seconds, design points), trial counts, final hypervolume, total CPU and wall seconds."""
    from codesign.search import load_stored_study, run_study

    variant = _variant(spec, name, seed, trials)
    start = time.perf_counter()
    outcome = run_study(variant, runs_dir=runs_dir, progress=False)
    events = evaluations(load_stored_study(variant.name, outcome.storage_url))
    run = {"seed": seed, "trials": trials, "events": events, "counts": outcome.counts,
           "final_hypervolume": outcome.hypervolume, "cpu_s": sum(e["cpu_s"] for e in events),
           "wall_s": time.perf_counter() - start}
    print(f"{name} seed {seed}: hypervolume {outcome.hypervolume:.4g}, cpu {run['cpu_s']:.0f} s, {outcome.counts}",
          file=sys.stderr, flush=True)
    return run


def hv_at_equal_cpu(spec: Any, strategies: list[str], seeds: list[int], trials: dict[str, int],
                    cpu_budget_s: float | None) -> dict[str, Any]:
    """Each strategy's runs (trial budgets ``trials``), then the hypervolume each had reached after
    the same CPU time: ``cpu_budget_s``, or the least total CPU any run spent. CPU time is
    measured per evaluation (``TrialRecord.cpu_time_s``), so the comparison holds on a busy
    machine, where wall time would not."""
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in strategies:
            for seed in seeds:
                runs.setdefault(name, []).append(run_variant(spec, name, seed, trials[name], Path(tmp) / name))
    budget = cpu_budget_s or min(r["cpu_s"] for rs in runs.values() for r in rs)
    results: dict[str, Any] = {"cpu_budget_s": budget}
    for name, rs in runs.items():
        values = [hv_at(r["events"], budget, spec) for r in rs]
        results[name] = {
            "mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values,
            "runs": [{k: v for k, v in r.items() if k != "events"} for r in rs],
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=24)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cpu-budget", type=float, default=None,
                        help="CPU seconds at which hypervolumes are compared (default: the least any run spent)")
    parser.add_argument("--trials", nargs="+", default=["multi_fidelity=24", "nested=8", "joint=12", "random=12"],
                        help="trial budget of each strategy's runs, NAME=N")
    parser.add_argument("--strategies", nargs="+", default=["multi_fidelity", "nested", "joint", "random"])
    parser.add_argument("--skip-ranks", action="store_true")
    args = parser.parse_args()

    from codesign.config import parse_spec
    from codesign.search import StudySpec, load_study

    data = load_study(QUICKSTART).to_dict()
    data["multi_fidelity"] = MULTI_FIDELITY  # the rungs whose rank fidelity is measured
    spec = parse_spec(StudySpec, data)
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {"study": "studies/quickstart.yaml", "workers": spec.execution.workers}
    if not args.skip_ranks:
        ranks = rank_fidelity(spec, args.networks, seed=0, workers=spec.execution.workers)
        figures.update({k: v for k, v in ranks.items() if k.startswith("spearman")})
        details["rank_fidelity"] = ranks
        print({k: v for k, v in ranks.items() if k != "runs"}, file=sys.stderr, flush=True)
    trials = {k: int(v) for k, v in (t.split("=") for t in args.trials)}
    hv = hv_at_equal_cpu(spec, args.strategies, args.seeds, trials, args.cpu_budget)
    figures["hv_at_equal_cpu"] = {k: {"mean": v["mean"], "std": v["std"]} for k, v in hv.items() if k in args.strategies}
    figures["cpu_budget_s"] = hv["cpu_budget_s"]
    figures["best_strategy"] = max(args.strategies, key=lambda k: hv[k]["mean"])
    details["hv_runs"] = hv
    print(write_result("fidelity", figures, details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
