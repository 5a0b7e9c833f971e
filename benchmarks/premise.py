"""The premise, measured: does co-design beat designing the network first and the chip second?

A study (``--study``, default the quickstart, studies/quickstart.yaml: its corpus, spaces,
chip, objectives and constraints, with ``--set`` overrides) is searched by six strategies over
``--seeds`` seeds, each run with a network budget of ``--networks``:

- ``nested``: co-design, each network costed on the quickstart's hardware sweep (the default);
- ``multi_fidelity``: nested + MO-ASHA (rungs 2/6 of 12 epochs, eta 3);
- ``joint``: co-design, NSGA-II sampling network and chip together;
- ``random``: joint with the random sampler;
- ``sequential``: the network first (searched for accuracy alone, no chip), then the
  quickstart's hardware sweep for the ``k`` (3) most accurate networks at their precisions;
- ``hardware_first``: the chip first: the quickstart's chip preset (hw_models/edge_kws.yaml)
  as it is, networks searched for it.

Trials per run (so that each spends about the same CPU time): ``networks`` for nested and
hardware_first; ``networks`` in all for sequential, ``networks - k`` searched and ``k`` swept
(a sweep reuses its trained network, so sequential is the cheapest run and has its designs
before the common budget; it has none before its sweeps); ``1.5 x networks`` for joint and
random (some of their trials are pruned before training); ``3 x networks`` for MO-ASHA (most of
its trials stop at 2 epochs).

Every evaluation records its CPU seconds, so the hypervolume each run had reached after the
same CPU time is read off its history (``benchmarks/fidelity.py``'s method and reference
point: accuracy 0 or WER 1, 50 uJ, 100 ms; the study's constraints for all): robust to a busy
machine, where wall time is not. Figures per strategy: ``hv_mean``/``hv_std`` over seeds at
``cpu_budget_s``, ``hv_curve``, [CPU seconds, mean
hypervolume over seeds] up to the most CPU any of that strategy's runs spent (a run that ended
counts with its final hypervolume past its end), and ``final_hv_mean`` with
``cpu_s_mean``, the hypervolume each run ended with and the CPU it spent.

``cpu_budget_s`` is the CPU time by which every run of the cheapest strategy had ended (the
least, over strategies, of the most CPU any of its runs spent); a run that ended below it
counts with its final hypervolume. (fidelity.py's budget, the least CPU any run spent, would
compare a sequential run that needed a few CPU seconds more than another before its sweeps,
and so before its first design, at zero.) The ratios
``nested_over_sequential`` and ``nested_over_hardware_first`` (best co-design mean over each
baseline's) answer the premise (the goal is 1.2).

The fixed reference lies 20-40x past the quickstart's fronts in energy and latency, so that
hypervolume mostly measures the best accuracy found. ``figures.pooled_reference`` repeats
every figure at one reference near the fronts: the nadir of all runs' design points above
the study's floor, widened by 10 % (how a study sets its own), the same for every strategy.
``details.runs`` keeps each evaluation's CPU seconds and its eligible points' objective values.
``--from-studies DIR`` recomputes everything from copies of the studies a run made.

Writes benchmarks/results/premise.json after every (strategy, seed) run, so an interrupted
run leaves what it measured; runs go seed by seed for nested, sequential and hardware_first
first, then for the others (:func:`run_order`).

    PYTHONPATH=$PWD python benchmarks/premise.py [--networks 24] [--seeds 0 1 2]
        [--strategies nested multi_fidelity joint random sequential hardware_first]
    PYTHONPATH=$PWD python benchmarks/premise.py --table   # the curves as a markdown table
    # the digits SRNN study, one (strategy, seed) run per process, assembled from their studies:
    PYTHONPATH=$PWD python benchmarks/premise.py --study studies/digits_srnn_nested.yaml \
        --set corpus.size=1500 --networks 12 --strategies nested --seeds 0 --runs-dir DIR --out premise_digits
    PYTHONPATH=$PWD python benchmarks/premise.py --study studies/digits_srnn_nested.yaml \
        --set corpus.size=1500 --networks 12 --from-studies FLAT_DIR --out premise_digits
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from fidelity import MULTI_FIDELITY, QUICKSTART, evaluations, fixed_reference, hv_at, run_variant
from spikeformer_common import write_result

STRATEGIES = ["nested", "multi_fidelity", "joint", "random", "sequential", "hardware_first"]
#: Trials of a run per network of the budget (see the module docstring).
TRIALS_PER_NETWORK = {"nested": 1.0, "multi_fidelity": 3.0, "joint": 1.5, "random": 1.5, "sequential": 1.0,
                      "hardware_first": 1.0}
#: Points of each hypervolume curve.
CURVE_POINTS = 40
CO_DESIGN = ("nested", "multi_fidelity")
PREMISE = ("nested", "sequential", "hardware_first")


def run_order(strategies: list[str], seeds: list[int]) -> list[tuple[int, str]]:
    """Seed by seed, first for the premise's three (nested and the two baselines), then for the
    others: a run stopped early leaves whole seeds of the comparison that matters most."""
    first = [n for n in strategies if n in PREMISE]
    rest = [n for n in strategies if n not in PREMISE]
    return [(seed, n) for group in (first, rest) for seed in seeds for n in group]


def trials_for(name: str, networks: int) -> int:
    return round(networks * TRIALS_PER_NETWORK[name])


def _curve(runs: list[dict[str, Any]], spec: Any, until_s: float,
           reference: dict[str, float] | None = None) -> list[list[float]]:
    """[CPU seconds, mean hypervolume over the runs] at ``CURVE_POINTS`` even steps to ``until_s``."""
    steps = [until_s * (i + 1) / CURVE_POINTS for i in range(CURVE_POINTS - 1)] + [until_s]
    return [[s, statistics.fmean(hv_at(r["events"], s, spec, reference) for r in runs)] for s in steps]


def pooled_reference(runs: dict[str, list[dict[str, Any]]], spec: Any) -> dict[str, float] | None:
    """The reference point of every run's design points together, as a study sets its own (the
    nadir of the points above the floor, feasible and not degenerate, widened by 10 % of their
    range; ``codesign.search.hypervolume_reference``): one point for all, near the fronts."""
    from codesign.search import as_minimisation, hypervolume_reference, minimisation_signs

    eligible = [p for rs in runs.values() for r in rs for e in r["events"] for p in e["points"] if p.eligible]
    if not eligible:
        return None  # no run has a design above the floor yet: there is nothing to place a reference by
    losses = as_minimisation(eligible, spec.objectives)
    ref = hypervolume_reference(losses, spec.objectives) * minimisation_signs(spec.objectives)
    return {name: float(v) for name, v in zip(spec.objectives, ref, strict=True)}


def _figures(runs: dict[str, list[dict[str, Any]]], spec: Any, budget: float,
             reference: dict[str, float] | None) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, rs in runs.items():
        values = [hv_at(r["events"], budget, spec, reference) for r in rs]
        figures[name] = {
            "hv_mean": statistics.fmean(values),
            "hv_std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "hv_values": values,
            "seeds": [r["seed"] for r in rs],
            "final_hv_mean": statistics.fmean(hv_at(r["events"], math.inf, spec, reference) for r in rs),
            "cpu_s_mean": statistics.fmean(r["cpu_s"] for r in rs),
            "hv_curve": _curve(rs, spec, max(r["cpu_s"] for r in rs), reference),
        }
    co = [figures[n]["hv_mean"] for n in CO_DESIGN if n in figures]
    for baseline in ("sequential", "hardware_first"):
        if co and baseline in figures and figures[baseline]["hv_mean"] > 0:
            figures[f"nested_over_{baseline}"] = max(co) / figures[baseline]["hv_mean"]
    return figures


#: Network counts at which :func:`top_k_share` reads the front of the k most accurate networks.
TOP_K = (1, 2, 3, 5, 8)
#: Energy caps for :func:`top_k_share`, as quantiles of the energies of all eligible points.
ENERGY_CAP_QUANTILES = (0.1, 0.25, 0.5)


def quality_objective(spec: Any) -> tuple[str, float]:
    """The study's objective that measures the network (``accuracy``, ``wer``, ...: a task
    metric), and +1 if more is better, -1 if less is."""
    from codesign.search import registered_metrics

    measured = {m.name for m in registered_metrics() if m.tasks is not None and m.selectable}
    for name, direction in spec.objectives.items():
        if name in measured:
            return name, 1.0 if direction == "max" else -1.0
    raise ValueError(f"no task metric among the study's objectives ({', '.join(spec.objectives)})")


def top_k_share(runs: list[dict[str, Any]], spec: Any, reference: dict[str, float]) -> dict[str, Any]:
    """When co-design pays, read off co-design's own runs: how much of each run's final front the
    ``k`` most accurate networks (by :func:`quality_objective`) it trained carry, had only their chips been swept (what
    ``sequential`` keeps of the same networks).

    Per run: every eligible design point, grouped by network (its trial); networks ranked by the
    best accuracy any of their chips gives. ``hv_fraction[k]`` is the hypervolume (at
    ``reference``) of the top-k networks' points over that of all points, mean over runs;
    ``front_from_outside_top3`` the share of the run's non-dominated points whose network is not
    among the 3 most accurate. Under an energy cap (a quantile of all points' energies),
    ``best_accuracy_all``/``best_accuracy_top3`` are the best accuracy (or WER, ...) reachable with
    any network or with the top 3 only (the fixed reference's value, accuracy 0 or WER 1, where
    none fits). A fraction near 1 and equal accuracies mean the chip choice does not
    depend on the network, and network-first loses nothing; a gap is what co-design can win."""
    from codesign.search import pareto_front, study_hypervolume

    quality, sign = quality_objective(spec)
    worst = fixed_reference(spec)[quality]  # where no top-3 network fits under a cap

    def score(p: Any) -> float:  # higher is better
        return sign * float(p.values_of([quality])[0])

    fractions: dict[int, list[float]] = {k: [] for k in TOP_K}
    outside: list[float] = []
    caps: dict[float, dict[str, list[float]]] = {q: {"all": [], "top3": []} for q in ENERGY_CAP_QUANTILES}
    for run in runs:
        points = [p for e in run["events"] for p in e["points"] if p.eligible]
        if not points:
            continue
        by_net: dict[int, list[Any]] = {}
        for p in points:
            by_net.setdefault(p.trial, []).append(p)
        ranked = sorted(by_net, key=lambda t: -max(score(q) for q in by_net[t]))
        total = study_hypervolume(points, spec.objectives, reference)
        for k in TOP_K:
            kept = [p for t in ranked[:k] for p in by_net[t]]
            fractions[k].append(study_hypervolume(kept, spec.objectives, reference) / total if total > 0 else 0.0)
        front = pareto_front(points, spec.objectives)
        top3 = set(ranked[:3])
        outside.append(sum(p.trial not in top3 for p in front) / len(front))
        energies = sorted(p.values_of(["energy_uj"])[0] for p in points)
        for q in ENERGY_CAP_QUANTILES:
            cap = energies[min(int(q * len(energies)), len(energies) - 1)]
            under = [p for p in points if p.values_of(["energy_uj"])[0] <= cap]
            caps[q]["all"].append(sign * max(score(p) for p in under))
            top = [p for p in under if p.trial in top3]
            caps[q]["top3"].append(sign * max((score(p) for p in top), default=sign * worst))
    return {
        "hv_fraction": {str(k): statistics.fmean(v) for k, v in fractions.items() if v},
        "front_from_outside_top3": statistics.fmean(outside) if outside else None,
        "energy_caps": {str(q): {"best_accuracy_all": statistics.fmean(c["all"]),
                                 "best_accuracy_top3": statistics.fmean(c["top3"])}
                        for q, c in caps.items() if c["all"]},
        "runs": len(outside),
    }


def summarise(runs: dict[str, list[dict[str, Any]]], spec: Any, cpu_budget_s: float | None = None) -> dict[str, Any]:
    """The figures of the runs so far (strategies with at least one run): at the fixed reference
    (:func:`fidelity.fixed_reference`, design points not marked against the floor, as
    fidelity.py measures), and under ``pooled_reference`` at the pooled reference (points
    marked against the study's floor)."""
    from codesign.search import mark_points

    # every run of one strategy ended (or the budget given, to compare with another result's)
    budget = cpu_budget_s or min(max(r["cpu_s"] for r in rs) for rs in runs.values())
    figures: dict[str, Any] = {"cpu_budget_s": budget, "reference": fixed_reference(spec),
                               **_figures(runs, spec, budget, None)}
    floor = spec.floor_condition()
    marked = {n: [{**r, "events": [{**e, "points": mark_points(e["points"], floor)} for e in r["events"]]}
                  for r in rs] for n, rs in runs.items()}
    reference = pooled_reference(marked, spec)
    if reference is None:
        figures["pooled_reference"] = None
        return figures
    figures["pooled_reference"] = {"reference": reference, **_figures(marked, spec, budget, reference)}
    if "nested" in marked:
        figures["when_it_pays"] = top_k_share(marked["nested"], spec, reference)
    return figures


def _details_of(runs: dict[str, list[dict[str, Any]]], spec: Any) -> dict[str, Any]:
    """Each run without its design points, but with each evaluation's CPU seconds and the
    objective values of the eligible points it added (enough to recompute any hypervolume)."""
    return {n: [{k: v for k, v in r.items() if k != "events"}
                | {"evaluations": [{"cpu_s": e["cpu_s"], "points": [p.values_of(spec.objectives) for p in e["points"]
                                                                     if p.eligible]} for e in r["events"]]}
                for r in rs] for n, rs in runs.items()}


def from_studies(folder: Path, spec: Any) -> dict[str, list[dict[str, Any]]]:
    """The runs of copies of the studies a run made (``fidelity_<strategy>_<seed>.db``, SQLite),
    read exactly as the run reads them."""
    from codesign.search import load_stored_study, study_counts

    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("fidelity_*_*.db")):
        name, seed = path.stem.removeprefix("fidelity_").rsplit("_", 1)
        study = load_stored_study(path.stem, f"sqlite:///{path}")
        counts = study_counts(study)
        if counts["running"] or counts["waiting"] or counts["interrupted"]:
            print(f"{path.name}: an unfinished run, left out ({counts})", file=sys.stderr)
            continue
        events = evaluations(study)
        runs.setdefault(name, []).append({
            "seed": int(seed), "trials": len(study.trials), "events": events, "counts": counts,
            "cpu_s": sum(e["cpu_s"] for e in events)})
    return {n: sorted(runs[n], key=lambda r: r["seed"]) for n in STRATEGIES if n in runs}


def curve_table(figures: dict[str, Any], rows: int = 8) -> str:
    """Hypervolume curves (``figures`` of a written result, or its ``pooled_reference``) as a
    markdown table (docs/benchmarks.md): one row per CPU budget (``cpu_budget_s`` among them),
    one column per strategy (mean over its seeds at the last curve point at or below that
    budget; blank past the most CPU any of its runs spent)."""
    names = [n for n in STRATEGIES if n in figures]
    until = max(figures[n]["hv_curve"][-1][0] for n in names)
    steps = sorted({until * (i + 1) / rows for i in range(rows)} | {figures["cpu_budget_s"]})
    lines = ["| CPU-s | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for step in steps:
        cells = []
        for n in names:
            curve = figures[n]["hv_curve"]
            below = [hv for cpu, hv in curve if cpu <= step + 1e-9]
            cells.append(f"{below[-1]:.0f}" if below and step <= curve[-1][0] + 1e-9 else "")
        lines.append(f"| {round(step, 1):g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(figures: dict[str, Any], study: str = "studies/quickstart.yaml") -> str:
    """The hypervolume curves at the pooled reference as an SVG chart (docs/img/premise.svg):
    one step curve per strategy, starting at (0, 0), its seeds named in the legend, with the
    common CPU budget marked."""
    from svg_chart import line_chart

    pooled = figures["pooled_reference"]
    series = {}
    for name in STRATEGIES:
        if name in pooled:
            seeds = pooled[name]["seeds"]
            label = f"{name} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})"
            series[label] = [(0.0, 0.0), *((float(c), float(h)) for c, h in pooled[name]["hv_curve"])]
    return line_chart(series, title=f"Hypervolume against CPU seconds ({Path(study).stem}, mean over seeds)",
                      x_label="CPU seconds spent by the run", y_label="hypervolume (pooled reference)",
                      marker_x=float(figures["cpu_budget_s"]), marker_label="common budget")


def _shown(path: Path) -> str:
    """``path`` relative to the checkout where it lies in it (as results name their inputs)."""
    resolved = path.resolve()
    root = Path(__file__).resolve().parents[1]
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=QUICKSTART,
                        help="the study searched (its corpus, spaces, chip, objectives, constraints and "
                        "epochs; default: studies/quickstart.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the study (repeatable), as `codesign study run --set` does, "
                        "e.g. --set corpus.size=1500")
    parser.add_argument("--networks", type=int, default=24, help="network budget of each run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES, choices=STRATEGIES)
    parser.add_argument("--k", type=int, default=3, help="networks the sequential strategy sweeps")
    parser.add_argument("--out", default="premise", help="result name (benchmarks/results/<out>.json)")
    parser.add_argument("--table", action="store_true", help="print the written result's curves as markdown")
    parser.add_argument("--energy-cap-uj", type=float, default=None,
                        help="add the constraint energy_uj <= this to the study's (when co-design pays: an "
                        "energy budget that only some networks meet); write to --out premise_energy_cap")
    parser.add_argument("--plot", type=Path, default=None,
                        help="write the written result's curves (pooled reference) as an SVG chart to this path")
    parser.add_argument("--from-studies", type=Path, default=None,
                        help="recompute the figures from copies of the studies a run made (study databases "
                        "fidelity_<strategy>_<seed>.db in this folder) instead of running")
    parser.add_argument("--cpu-budget-s", type=float, default=None,
                        help="with --from-studies: read every strategy at this CPU budget instead of the default one")
    parser.add_argument("--measured-by", default=None, help="with --from-studies: the command that made them")
    parser.add_argument("--runs-dir", type=Path, default=None,
                        help="keep the runs' studies here (default: a temporary folder, deleted at the end)")
    args = parser.parse_args()
    if args.plot is not None:
        import json

        result = json.loads((Path(__file__).parent / "results" / f"{args.out}.json").read_text())
        args.plot.write_text(plot(result["figures"], result["details"]["study"]))
        print(f"wrote {args.plot}", file=sys.stderr)
        return 0
    if args.table:
        import json

        figures = json.loads((Path(__file__).parent / "results" / f"{args.out}.json").read_text())["figures"]
        def ref(r: dict[str, float]) -> str:
            return ", ".join(f"{k} {v:.3g}" for k, v in r.items())

        pooled = {**figures["pooled_reference"], "cpu_budget_s": figures["cpu_budget_s"]}
        print(f"Fixed reference ({ref(figures['reference'])}):\n\n{curve_table(figures)}\n")
        print(f"Pooled reference ({ref(pooled['reference'])}):\n\n{curve_table(pooled)}")
        return 0

    from codesign.config import ConfigError, parse_set_args, parse_spec
    from codesign.search import StudySpec, load_study

    try:
        data = load_study(args.study, parse_set_args(args.overrides)).to_dict()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if "multi_fidelity" in args.strategies:
        data["multi_fidelity"] = MULTI_FIDELITY  # fidelity._variant drops it for all but multi_fidelity
    data["sequential"] = {"k": args.k}
    if args.energy_cap_uj is not None:
        data["constraints"] = [*data.get("constraints", []), f"energy_uj <= {args.energy_cap_uj:g}"]
    spec = parse_spec(StudySpec, data)
    trials = {name: trials_for(name, args.networks) for name in args.strategies}
    if "sequential" in trials and trials["sequential"] <= args.k:
        parser.error(f"--networks above --k ({args.k}): sequential searches networks - k and sweeps k")
    details: dict[str, Any] = {
        "study": _shown(args.study), "overrides": args.overrides, "networks": args.networks, "seeds": args.seeds,
        "strategies": args.strategies, "trials": trials, "sequential_k": args.k,
        "workers": spec.execution.workers, "hardware_first_chip": spec.chip_preset,
        "constraints": list(data["constraints"]),
        "order": "seed by seed for nested, sequential, hardware_first; then seed by seed for the others",
    }
    runs: dict[str, list[dict[str, Any]]]
    if args.from_studies is not None:
        runs = from_studies(args.from_studies, spec)
        details.update(strategies=list(runs), seeds=sorted({r["seed"] for rs in runs.values() for r in rs}),
                       measured_by=args.measured_by, runs=_details_of(runs, spec))
        print(write_result(args.out, summarise(runs, spec, args.cpu_budget_s), details), file=sys.stderr, flush=True)
        return 0
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.runs_dir or scratch
        for seed, name in run_order(args.strategies, args.seeds):
            run = run_variant(spec, name, seed, trials[name], Path(tmp) / name)
            runs.setdefault(name, []).append(run)
            details["runs"] = _details_of(runs, spec)
            print(write_result(args.out, summarise(runs, spec), details), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
