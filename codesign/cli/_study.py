"""``codesign study run|resume|list|status|front|delete``: thin commands over :mod:`codesign.search`."""

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
    run.add_argument("--artifact-store", metavar="URL",
                     help="where trial files and the training cache go: a folder, or a URL pyarrow.fs or fsspec "
                          "understands (s3://bucket/runs) for a cluster without a shared disk "
                          "(default: the runs directory)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="any study-spec field, validated like the file and stored with the study, e.g. "
                          "--set corpus.size=1000 --set budget.trials=12 --set name=qs_small (repeatable)")
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

    delete = sub.add_parser("delete", help="delete a stored study (asks first) and its artifacts folder")
    delete.add_argument("name")
    _where_args(delete)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=_delete)

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
    parser.add_argument("--address", help="Ray cluster to join, or 'auto' for the one RAY_ADDRESS names "
                        "(default: start a local one)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no live progress bar: one line per finished trial instead")
    parser.add_argument("--verbose", action="store_true", help="forward worker output to this terminal")




def _run(args: argparse.Namespace) -> int:
    from codesign.config import parse_set_args
    from codesign.search import load_study, run_study, with_overrides

    spec = load_study(args.spec, parse_set_args(args.set))
    spec = with_overrides(spec, workers=args.workers, trials=args.trials, address=args.address,
                          seconds=args.seconds, artifacts=args.artifact_store)
    outcome = run_study(spec, runs_dir=args.runs_dir, storage=args.storage, progress=not args.no_progress,
                        log_to_driver=args.verbose)
    if spec.confirm.seeds and outcome.front:
        _confirm_at_end(outcome, spec)
    _print_outcome(outcome, spec, args.runs_dir)
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


def _write_report(outcome: Any, runs_dir: str) -> Path:
    """The study's report page (``codesign.report``): next to its artifacts, or, when they are
    in a URL store (``s3://…``), in the runs folder (``<runs>/<name>/report.html``, beside the
    default storage), where a browser can open it."""
    from codesign.report import write_report
    from codesign.search import load_stored_study
    from codesign.search._store import is_url

    out = Path(runs_dir if is_url(outcome.artifact_dir) else outcome.artifact_dir)
    out = out / outcome.name / "report.html" if is_url(outcome.artifact_dir) else out / "report.html"
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

    _print_outcome(outcome, stored_spec(load_stored_study(args.name, outcome.storage_url)), args.runs_dir)
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
    trials = study.get_trials(deepcopy=False)
    points = study_points(trials)
    front = pareto_front(points, spec.objectives)
    print(format_front(front, spec, _confirmed(study, front)))
    return 0


def _delete(args: argparse.Namespace) -> int:
    import shutil

    import optuna

    from codesign.search import ARTIFACT_DIR_ATTR, open_storage, study_counts
    from codesign.search._storage import storage_file

    study, url = _load(args)  # read-only: a missing storage or study is refused before anything is written
    storage = open_storage(url, create=True)  # deleting writes; the file exists, as _load checked
    n_trials = sum(study_counts(study).values())
    artifacts = study.user_attrs.get(ARTIFACT_DIR_ATTR)
    from codesign.search._store import is_url

    remote = bool(artifacts) and is_url(artifacts)  # an object store: its files are the user's to remove
    artifact_dir = Path(artifacts) if artifacts and not remote else None
    # Only a folder named after the study (runs/NAME, the driver's default) is removed with it,
    # and only once its storage holds no other study.
    db = storage_file(url)
    others = [n for n in optuna.get_all_study_names(storage) if n != args.name]
    remove_dir = (artifact_dir is not None and artifact_dir.name == args.name and artifact_dir.is_dir()
                  and not (db is not None and db.resolve().parent == artifact_dir.resolve() and others))
    what = f"study '{args.name}' ({n_trials} trials) from {url}"
    if remove_dir:
        what += f" and its artifacts folder {artifact_dir}"
    elif remote:
        what += f" (its artifacts in {artifacts} are left as they are)"
    if not args.yes:
        try:
            answer = input(f"Delete {what}? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    optuna.delete_study(study_name=args.name, storage=storage)
    if remove_dir and artifact_dir is not None:
        shutil.rmtree(artifact_dir)
    print(f"deleted {what}")
    return 0


def _confirmed(study: Any, points: list[Any]) -> dict[tuple[int, int | None], Any]:
    """The confirmed figures of ``points`` (study attributes ``codesign.confirmed.<trial>``)."""
    from codesign.search import confirmed_figures

    out: dict[tuple[int, int | None], Any] = {}
    for p in points:
        figures = confirmed_figures(study.user_attrs, p.trial, p.chip)
        if figures is not None:
            out[(p.trial, p.chip)] = figures
    return out


def _load(args: argparse.Namespace) -> tuple[Any, str]:
    from codesign.search import default_storage_url, load_stored_study

    url = args.storage or default_storage_url(args.name, args.runs_dir)
    return load_stored_study(args.name, url), url


#: Parameter groups of a design, in the order the front shows them.
GROUPS = (("snn", "network"), ("train", "training"), ("hw", "chip"))


def format_front(front: list[Any], spec: Any, confirmed: dict[tuple[int, int | None], Any] | None = None) -> str:
    """The Pareto table, one row per design (a network on a chip).

    Columns: trial, the chip index for a nested study, the objectives (``mean±std`` over the
    confirmation seeds where the point was confirmed), then the parameters that differ between
    front members grouped as network (``snn.*``), training (``train.*``) and chip (``hw.*``), each under its own
    heading. Parameters equal on every member are listed once below the table, so the chip
    is always visible.
    """
    if not front:
        return "(no feasible completed design point yet)"
    confirmed = confirmed or {}
    names = list(spec.objectives)
    order = list(spec.search_space().parameters)
    order += sorted({k for p in front for k in p.params} - set(order))
    nested = any(p.chip is not None for p in front)
    columns: list[tuple[str, str, list[str]]] = []  # (group heading, header, cells)
    columns.append(("", "trial", [str(p.trial) for p in front]))
    if nested:
        columns.append(("", "chip", [str(p.chip) for p in front]))
    for n in names:
        cells = []
        for p in front:
            figures = confirmed.get((p.trial, p.chip))
            spread = figures.spread(n) if figures is not None else None
            cells.append(f"{spread[0]:.4g}±{spread[1]:.2g}" if spread else f"{p.objectives[n]:.4g}")
        columns.append(("objectives", f"{n} ({spec.objectives[n]})", cells))
    same: list[str] = []
    for prefix, heading in GROUPS:
        for k in (k for k in order if k.startswith(prefix + ".")):
            values = [p.params.get(k) for p in front]
            if len({repr(v) for v in values}) > 1:
                columns.append((f"{heading} ({prefix}.*)", k[len(prefix) + 1:], [_short(v) for v in values]))
            elif values[0] is not None:
                same.append(f"{k}={_short(values[0])}")
    widths = [max(len(h), *(len(c) for c in cells)) for _, h, cells in columns]
    groups_line = _group_line([g for g, _, _ in columns], widths)
    header = "  ".join(h.rjust(w) for (_, h, _), w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    rows = ["  ".join(cells[i].rjust(w) for (_, _, cells), w in zip(columns, widths, strict=True))
            for i in range(len(front))]
    lines = [groups_line, header, rule, *rows]
    if same:
        lines.append("same on every design: " + " ".join(same))
    if confirmed and any((p.trial, p.chip) in confirmed for p in front):
        lines.append("mean±std: over the confirmation seeds (codesign study confirm); others: one seed")
    return "\n".join(lines)


def _group_line(groups: list[str], widths: list[int]) -> str:
    """Headings spanning their columns: ``objectives ───  network (snn.*) ───  chip (hw.*) ──``."""
    out: list[str] = []
    i = 0
    while i < len(groups):
        j = i
        while j + 1 < len(groups) and groups[j + 1] == groups[i]:
            j += 1
        span = sum(widths[i : j + 1]) + 2 * (j - i)
        text = groups[i]
        out.append((text + " " + "─" * max(0, span - len(text) - 1)) if text else " " * span)
        i = j + 1
    return "  ".join(out).rstrip()


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


def _print_outcome(outcome: Any, spec: Any, runs_dir: str) -> None:
    counts = outcome.counts
    print()
    print(f"Pareto front of '{outcome.name}': {len(outcome.front)} design points "
          f"({counts['complete']} complete, {counts['pruned'] - counts.get('stopped', 0)} pruned before training "
          f"(infeasible chip), {counts.get('stopped', 0)} stopped early by successive halving, "
          f"{counts['fail'] - counts['interrupted'] - counts.get('duplicate', 0)} failed trials; "
          f"hypervolume {outcome.hypervolume:.4f})")
    from codesign.search import load_stored_study

    print(format_front(outcome.front, spec,
                       _confirmed(load_stored_study(outcome.name, outcome.storage_url), outcome.front)))
    _print_recommended(outcome, spec)
    print()
    print(f"report:    {_write_report(outcome, runs_dir)}")
    print(f"storage:   {outcome.storage_url}")
    print(f"artifacts: {outcome.artifact_dir}")
    if getattr(outcome, "worker_utilisation", None) is not None:
        print(f"workers:   busy {outcome.worker_utilisation:.0%} of the search ({outcome.busy_s:.0f} worker-s "
              f"of {spec.execution.workers} x {outcome.search_s:.0f} s)")
    print(f"status:    codesign study status {outcome.name}"
          + ("" if outcome.storage_url.endswith(f"{outcome.name}/study.db") else f" --storage {outcome.storage_url}"))
    print(f"dashboard: optuna-dashboard {outcome.storage_url}")
