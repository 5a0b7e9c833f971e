"""``codesign study run|resume|list|status|front``: thin commands over :mod:`codesign.search`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from codesign.cli._args import positive_float, positive_int


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("study", help="run, resume and inspect co-design studies")
    sub = parser.add_subparsers(dest="study_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="run a study from its YAML file (continues a stored one of the same name)")
    run.add_argument("spec", help="study file, e.g. studies/quickstart.yaml")
    _execution_args(run)
    run.add_argument("--seconds", type=positive_float, help="wall-clock budget of this run")
    run.set_defaults(func=_run)

    resume = sub.add_parser("resume", help="continue a stored study (its spec is stored with it)")
    resume.add_argument("name")
    _execution_args(resume)
    resume.set_defaults(func=_resume)

    lst = sub.add_parser("list", help="list the studies in a storage (default: every runs/*/study.db)")
    _where_args(lst)
    lst.set_defaults(func=_list)

    status = sub.add_parser("status", help="trial counts, best values and hypervolume of a study")
    status.add_argument("name")
    _where_args(status)
    status.set_defaults(func=_status)

    confirm = sub.add_parser(
        "confirm", help="re-train front members at full fidelity with several seeds; store mean and spread")
    confirm.add_argument("name")
    _where_args(confirm)
    confirm.add_argument("--seeds", type=positive_int, default=3, help="seeds per design (>= 2; default 3)")
    confirm.add_argument("--scope", choices=("front", "recommended"), default="front",
                         help="every front member (default) or the recommended design")
    confirm.add_argument("--workers", type=positive_int, help="evaluations in flight (default: the study's)")
    confirm.set_defaults(func=_confirm)

    front = sub.add_parser("front", help="print a study's Pareto front")
    front.add_argument("name")
    _where_args(front)
    front.set_defaults(func=_front)

    # The trial table is the report package's; `codesign study table` is where users look for it.
    from codesign.cli._report import add_table_parser

    add_table_parser(sub)


def _where_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", help="Optuna storage URL (default: sqlite:///RUNS_DIR/NAME/study.db)")
    parser.add_argument("--runs-dir", default="runs", help="runs directory (default: ./runs)")


def _execution_args(parser: argparse.ArgumentParser) -> None:
    _where_args(parser)
    parser.add_argument("--workers", type=positive_int, help="trials in flight at once")
    parser.add_argument("--trials", type=positive_int,
                        help="total finished trials the study should reach (not trials to add); "
                             "resume applies it to this run only, the stored budget is kept")
    parser.add_argument("--address", help="Ray cluster to join (default: start a local one)")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")
    parser.add_argument("--verbose", action="store_true", help="forward worker output to this terminal")




def _run(args: argparse.Namespace) -> int:
    from codesign.search import load_study, run_study, with_overrides

    spec = load_study(args.spec)
    spec = with_overrides(spec, workers=args.workers, trials=args.trials, address=args.address,
                          seconds=args.seconds)
    outcome = run_study(spec, runs_dir=args.runs_dir, storage=args.storage, progress=not args.no_progress,
                        log_to_driver=args.verbose)
    if spec.confirm.seeds and outcome.front:
        _confirm_at_end(outcome, spec)
    _print_outcome(outcome, spec)
    return 0


def _confirm_at_end(outcome: Any, spec: Any) -> None:
    """The main job's own confirmation: the spec's scope, with its seeds."""
    from codesign.search import confirm_study, load_stored_study

    print(f"\nconfirming the {'front' if spec.confirm.scope == 'front' else 'recommended design'} "
          f"with {spec.confirm.seeds} seeds at full fidelity ...", flush=True)
    confirm_study(load_stored_study(outcome.name, outcome.storage_url, writable=True), spec.confirm.seeds,
                  spec.confirm.scope, progress=lambda line: print("  " + line, flush=True))


def _confirm(args: argparse.Namespace) -> int:
    from codesign.config import ConfigError
    from codesign.search import confirm_study, default_storage_url, load_stored_study

    url = args.storage or default_storage_url(args.name, args.runs_dir)
    study = load_stored_study(args.name, url, writable=True)
    try:
        confirmed = confirm_study(study, args.seeds, args.scope, workers=args.workers,
                                  progress=lambda line: print(line, flush=True))
    except ValueError as err:
        raise ConfigError(None, "--seeds" if "seeds" in str(err) else args.name,
                          "a study with a feasible front and at least 2 seeds", hint=str(err)) from None
    print(f"confirmed {len(confirmed)} design point(s) of '{args.name}' with {args.seeds} seeds "
          f"(stored in {url}); `codesign study front {args.name}` shows mean and spread")
    return 0


def _write_report(outcome: Any) -> Path:
    """The study's report page, next to its artifacts (``codesign.report``)."""
    from codesign.report import write_report
    from codesign.search import load_stored_study

    out = Path(outcome.artifact_dir) / "report.html"
    write_report(load_stored_study(outcome.name, outcome.storage_url), out, outcome.artifact_dir)
    return out


def _resume(args: argparse.Namespace) -> int:
    import sys

    from codesign.search import resume_study, stored_spec

    if args.trials is not None:
        from codesign.search import study_counts

        study, _ = _load(args)
        c = study_counts(study)
        done = c["complete"] + c["pruned"] + c["fail"] - c["interrupted"] - c["duplicate"]
        stored = stored_spec(study).budget.trials
        print(f"--trials {args.trials} is the study's total: {done} finished, "
              f"{max(args.trials - done, 0)} more in this run (stored budget {stored} unchanged)",
              file=sys.stderr)
    outcome = resume_study(args.name, storage=args.storage, runs_dir=args.runs_dir, workers=args.workers,
                           trials=args.trials, address=args.address, progress=not args.no_progress,
                           log_to_driver=args.verbose)
    from codesign.search import load_stored_study

    _print_outcome(outcome, stored_spec(load_stored_study(args.name, outcome.storage_url)))
    return 0


def _list(args: argparse.Namespace) -> int:
    import optuna

    from codesign.search import default_storage_url, open_storage

    if args.storage:
        urls = [args.storage]
    else:
        runs = Path(args.runs_dir)
        urls = [default_storage_url(p.parent.name, runs) for p in sorted(runs.glob("*/study.db"))]
        if not urls:
            print(f"no studies under {runs.resolve()}")
            return 0
    for url in urls:
        for summary in optuna.get_all_study_summaries(open_storage(url, create=False), include_best_trial=False):
            print(f"{summary.study_name:<24} {summary.n_trials:>6} trials   {url}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from codesign.search import stored_spec, study_counts, study_hypervolume, study_points
    from codesign.search._progress import best_per_objective

    study, url = _load(args)
    spec = stored_spec(study)
    counts = study_counts(study)
    points = study_points(study.get_trials(deepcopy=False))
    print(f"study {spec.name}  ({spec.strategy}, sampler {spec.sampler.name}, storage {url})")
    print("trials: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    if spec.budget.trials:
        print(f"budget: {spec.budget.trials} trials")
    best = best_per_objective(points, spec.objectives)
    for name, direction in spec.objectives.items():
        shown = f"{best[name]:.6g}" if name in best else "-"
        print(f"best {name} ({direction}): {shown}")
    feasible = sum(1 for p in points if p.feasible)
    print(f"design points: {len(points)} ({feasible} feasible); "
          f"hypervolume {study_hypervolume(points, spec.objectives, spec.reference):.6g}")
    return 0


def _front(args: argparse.Namespace) -> int:
    from codesign.search import pareto_front, stored_spec, study_points

    study, _ = _load(args)
    spec = stored_spec(study)
    points = study_points(study.get_trials(deepcopy=False))
    print(format_front(pareto_front(points, spec.objectives), spec))
    return 0


def _load(args: argparse.Namespace) -> tuple[Any, str]:
    from codesign.search import default_storage_url, load_stored_study

    url = args.storage or default_storage_url(args.name, args.runs_dir)
    return load_stored_study(args.name, url), url


def format_front(front: list[Any], spec: Any, max_params: int = 8) -> str:
    """The Pareto table: trial, objectives, then (up to ``max_params``) searched parameters
    that differ between front members, in the space's order."""
    if not front:
        return "(no feasible completed design point yet)"
    names = list(spec.objectives)
    order = [n for n in spec.search_space().parameters]
    varying = [k for k in order if len({repr(p.params.get(k)) for p in front}) > 1][:max_params]
    header = ["trial", *(f"{n} ({spec.objectives[n]})" for n in names), *varying]
    rows = [
        [str(p.trial), *(f"{p.objectives[n]:.4g}" for n in names), *(_short(p.params.get(k)) for k in varying)]
        for p in front
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _print_recommended(outcome: Any, spec: Any) -> None:
    """The design the study recommends, with its confirmed spread when it has one."""
    from codesign.search import confirmed_for, load_stored_study, recommended_point

    best = recommended_point(outcome.front, spec)
    if best is None:
        return
    study = load_stored_study(outcome.name, outcome.storage_url)
    confirmed = confirmed_for(study, best)
    hw = {k: v for k, v in best.params.items() if k.startswith("hw.")}
    print(f"\nrecommended design: trial {best.trial} (best {next(iter(spec.objectives))}); chip "
          + ", ".join(f"{k[3:]}={_short(v)}" for k, v in hw.items()))
    for name in spec.objectives:
        line = f"  {name:<12} {best.objectives[name]:.4g}"
        if confirmed is not None and name in confirmed.mean:
            line += (f"   confirmed over seeds {list(confirmed.seeds)}: {confirmed.mean[name]:.4g} "
                     f"± {confirmed.std[name]:.2g}")
        print(line)
    if confirmed is None:
        print(f"  (not confirmed: codesign study confirm {outcome.name} --scope recommended)")
    print(f"confirm the whole front: codesign study confirm {outcome.name} --seeds 3")


def _print_outcome(outcome: Any, spec: Any) -> None:
    counts = outcome.counts
    print()
    print(f"Pareto front of '{outcome.name}': {len(outcome.front)} design points "
          f"({counts['complete']} complete, {counts['pruned']} pruned before training (infeasible chip), "
          f"{counts['fail'] - counts['interrupted'] - counts.get('duplicate', 0)} failed trials; "
          f"hypervolume {outcome.hypervolume:.4f})")
    print(format_front(outcome.front, spec))
    _print_recommended(outcome, spec)
    print()
    print(f"report:    {_write_report(outcome)}")
    print(f"storage:   {outcome.storage_url}")
    print(f"artifacts: {outcome.artifact_dir}")
    print(f"status:    codesign study status {outcome.name}"
          + ("" if outcome.storage_url.endswith(f"{outcome.name}/study.db") else f" --storage {outcome.storage_url}"))
    print(f"dashboard: optuna-dashboard {outcome.storage_url}")
