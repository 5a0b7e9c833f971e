"""``codesign study run|resume|list|status|confirm|front|points|delete``: thin commands over
:mod:`codesign.search` (the design-point tables are :mod:`codesign.cli._table`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.cli._args import positive_float, positive_int
from codesign.cli._table import (
    MAX_PARAMS,
    MAX_WIDTH,
    aligned,
    cell,
    check_columns,
    machine_text,
    objective_cell,
    objective_legend,
    sort_rows,
    width_of,
)
from codesign.config import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import optuna

    from codesign.search import DesignPoint, Lease, Recommendation, StudyOutcome, StudySpec, StudyView


def masked_url(url: str) -> str:
    """A storage URL with its password masked (``codesign.search.masked_url``, loaded on use:
    this module imports no Optuna before a command needs it)."""
    from codesign.search._storage import masked_url as mask

    return mask(url)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
                         help="every front member (default) or the recommendation's candidates (confirm.k designs "
                              "nearest the knee)")
    confirm.add_argument("--points", metavar="IDS",
                         help="comma-separated design ids to confirm instead of a scope, e.g. 12.3,4.1")
    confirm.add_argument("--workers", type=positive_int, help="evaluations in flight (default: the study's)")
    confirm.set_defaults(func=_confirm)

    front = sub.add_parser(
        "front", help="print a study's Pareto front (id, objectives, precision, the parameters that matter most)",
        description="One row per design on the front; the recommended design is marked *. By default the id, "
        "the objectives (mean±std where confirmed), the chip precision and at most 6 parameters, the most "
        "important first, within 120 columns.")
    front.add_argument("name")
    _where_args(front)
    front.add_argument("--wide", action="store_true", help="every column of the design-point table")
    front.add_argument("--columns", help="comma-separated columns (e.g. id,accuracy,energy_uj,hw.cores or width)")
    front.add_argument("--sort", help="sort by a column; --sort=-NAME sorts descending (default: the first objective, best first)")
    front.add_argument("--format", default="table", choices=("table", "csv", "json", "markdown"),
                       help="table (default), csv, json or markdown")
    front.set_defaults(func=_front)

    points = sub.add_parser(
        "points", help="every design point (network x chip) with every parameter, objective, constraint, "
        "precision and confirmation as columns",
        description="One row per design point, on the front or not. --filter takes the pick grammar's conditions, "
        "e.g. --filter \"accuracy >= 0.5 and hw.weight_bits <= 4\" or --filter \"accuracy in top 5\".")
    points.add_argument("name")
    _where_args(points)
    points.add_argument("--format", default="csv", choices=("csv", "parquet", "json"),
                        help="csv (default), parquet (needs --out) or json")
    points.add_argument("--filter", help="conditions 'NAME OP NUMBER [and ...]' (the --pick grammar after 'where')")
    points.add_argument("--sort", help="sort by a column; --sort=-NAME sorts descending")
    points.add_argument("--columns", help="comma-separated columns to keep (default: all)")
    points.add_argument("--out", help="output file (default: stdout; required for parquet)")
    points.set_defaults(func=_points)

    delete = sub.add_parser("delete", help="delete a stored study (asks first) and its artifacts folder")
    delete.add_argument("name")
    _where_args(delete)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.add_argument("--force", action="store_true",
                        help="stop the drivers running the study on this machine first (else a running study is refused)")
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
    confirm_error = None
    if spec.confirm.seeds and outcome.front and outcome.failure() is None:
        try:
            _confirm_at_end(outcome, spec)
        except RuntimeError as err:  # the study itself is stored and reported; the confirmation is not
            confirm_error = f"the confirmation failed: {err}"
    _print_outcome(outcome, spec, args.runs_dir)
    if confirm_error is not None:
        import sys

        print(f"error: {confirm_error}", file=sys.stderr)
        return 1
    return _exit_status(outcome)


def _exit_status(outcome: StudyOutcome) -> int:
    """1 with a one-line summary on stderr when the run failed as a whole (every trial failed,
    or one failed for a reason every trial shares), else 0."""
    import sys

    failure = outcome.failure()
    if failure is None:
        return 0
    print(f"error: {failure}", file=sys.stderr)
    return 1


def _recommendation(study: optuna.Study, view: StudyView | None = None) -> tuple[Recommendation | None, bool]:
    """The stored recommendation, else one computed now (read-only): (recommendation or None,
    stored)."""
    from codesign.search import recommend, recommendation_of, study_view

    stored = recommendation_of(study)
    if stored is not None:
        return stored, True
    return recommend(view if view is not None else study_view(study)), False


def _confirm_at_end(outcome: StudyOutcome, spec: StudySpec) -> None:
    """The main job's own confirmation: the spec's scope, with its seeds."""
    from codesign.search import confirm_study, load_stored_study, recommendation_candidates, study_view

    study = load_stored_study(outcome.name, outcome.storage_url, writable=True)
    if spec.confirm.scope != "front" and not recommendation_candidates(study_view(study)):
        # nothing meets the recommendation policy: there is nothing to confirm, and the
        # outcome below says why there is no recommendation
        print("\nnothing to confirm: no design meets the recommendation policy", flush=True)
        return
    what = "front" if spec.confirm.scope == "front" else f"recommendation's candidates (up to {spec.confirm.k})"
    print(f"\nconfirming the {what} with {spec.confirm.seeds} seeds at full fidelity ...", flush=True)
    confirm_study(study, spec.confirm.seeds, spec.confirm.scope, progress=lambda line: print("  " + line, flush=True))


def _confirm(args: argparse.Namespace) -> int:
    from codesign.config import ConfigError
    from codesign.search import confirm_study, default_storage_url, load_stored_study

    url = args.storage or default_storage_url(args.name, args.runs_dir)
    ids = _point_ids(args.points, args.name, url)
    study = load_stored_study(args.name, url, writable=True)
    try:
        confirmed = confirm_study(study, args.seeds, args.scope, workers=args.workers,
                                  progress=lambda line: print(line, flush=True), ids=ids)
    except ValueError as err:
        raise ConfigError(None, "--seeds" if "seeds" in str(err) else args.name,
                          "a study with a feasible front and at least 2 seeds", hint=str(err)) from None
    except RuntimeError as err:  # an evaluation failed: nothing was stored
        import sys

        print(f"error: the confirmation of '{args.name}' failed: {err}", file=sys.stderr)
        return 1
    print(f"confirmed {len(confirmed)} design point(s) of '{args.name}' with {args.seeds} seeds "
          f"(stored in {masked_url(url)}); `codesign study front {args.name}` shows mean and spread")
    rec, _ = _recommendation(load_stored_study(args.name, url))
    if rec is not None:
        print(f"recommended: {rec.short()}\n  {rec.rationale}")
    return 0


def _point_ids(points: str | None, name: str, url: str) -> list[str] | None:
    """The design ids ``--points`` names (None: not given), each checked against the stored
    study before its storage is opened for writing."""
    ids = [i for i in points.split(",") if i.strip()] if points else None
    if ids:
        from codesign.search import load_stored_study, study_view

        view = study_view(load_stored_study(name, url))
        for i in ids:
            view.point_by_id(i)
    return ids


def _write_report(outcome: StudyOutcome, runs_dir: str) -> Path:
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
    return _exit_status(outcome)


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
            print(f"{summary.study_name:<24} {summary.n_trials:>6} trials   {masked_url(url)}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from codesign.search import stored_spec, study_counts, study_hypervolume, study_points
    from codesign.search._progress import best_per_objective

    study, url = _load(args)
    spec = stored_spec(study)
    counts = study_counts(study)
    floor = spec.floor_condition()
    points = study_points(study.get_trials(deepcopy=False), floor)
    print(f"study {spec.name}  ({spec.strategy}, sampler {spec.sampler.name}, storage {masked_url(url)})")
    print("trials: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    if spec.budget.trials:
        print(f"budget: {spec.budget.trials} trials")
    best = best_per_objective(points, spec.objectives)
    for name, direction in spec.objectives.items():
        shown = f"{best[name]:.6g}" if name in best else "-"
        print(f"best {name} ({direction}): {shown}")
    print(_points_line(points, floor) + f"; hypervolume {study_hypervolume(points, spec.objectives, spec.reference):.6g}")
    _print_recommendation(study)
    return 0


def _points_line(points: list[DesignPoint], floor: object) -> str:
    """``design points: N (F feasible; off the front: B below the floor …, D degenerate)``."""
    feasible = sum(p.feasible for p in points)
    below = sum(p.feasible and p.below_floor for p in points)
    degenerate = sum(p.feasible and p.degenerate for p in points)
    return (f"design points: {len(points)} ({feasible} feasible; off the front: {below} below the floor "
            f"{floor if floor is not None else '(none)'}, {degenerate} degenerate)")


def _print_recommendation(study: optuna.Study) -> None:
    """The stored recommendation (or the one computed now, said so) and its rationale, or why
    there is none."""
    from codesign.search import no_recommendation_reason, study_view

    view = study_view(study)
    rec, stored = _recommendation(study, view)
    if rec is not None:
        print(f"recommended: {rec.short()}" + ("" if stored else " (computed now; not stored yet)"))
        print(f"  {rec.rationale}")
    else:
        print(f"recommended: none; {no_recommendation_reason(view)}")


def _front(args: argparse.Namespace) -> int:
    from codesign.search import open_study, stored_spec, study_view

    study = open_study(args.name, args.storage or default_url(args))
    view = study_view(study)
    rec, _ = _recommendation(study, view)
    try:
        spec = stored_spec(study)
    except ConfigError:  # a study written by other tools: no parameter order of its own
        spec = None
    text = front_text(view, spec, rec, study=study, wide=args.wide, columns=args.columns,
                      sort=args.sort, fmt=args.format)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _points(args: argparse.Namespace) -> int:
    import sys

    from codesign.search import design_rows, open_study, study_view

    study = open_study(args.name, args.storage or default_url(args))
    view = study_view(study)
    rec, _ = _recommendation(study, view)
    rows = design_rows(view, rec.point_id if rec is not None else None)
    available = _columns_of(rows, view)
    if args.filter:
        rows = _filtered(rows, view, args.filter)
    rows = sort_rows(rows, args.sort, available)
    columns = check_columns(args.columns.split(","), available) if args.columns else available
    if args.format == "parquet":
        _write_parquet(rows, columns, args.out)
        return 0
    text = machine_text(rows, columns, args.format)
    if args.out:
        from codesign._io import write_text_atomic

        write_text_atomic(args.out, text)
        print(f"wrote {len(rows)} design points to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _filtered(rows: list[dict[str, Any]], view: StudyView, expression: str) -> list[dict[str, Any]]:
    """The rows of the design points ``--filter`` keeps."""
    from codesign.search import filter_points, parse_filter

    kept = {p.point_id for p in filter_points(view.points, parse_filter(expression), view.objectives, view.name)}
    return [r for r in rows if r["id"] in kept]


def _write_parquet(rows: list[dict[str, Any]], columns: list[str], out: str | None) -> None:
    """``columns`` of ``rows`` as a parquet file (written atomically); a column mixing types
    (int here, str there) is written as text."""
    import sys

    if not out:
        raise ConfigError(None, "--out", "an output file for parquet (a binary format)")
    import pandas as pd

    from codesign._io import write_atomic

    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    for col in frame.columns:  # a column mixing types (int here, str there) as text
        if frame[col].dtype == object and frame[col].map(type).nunique() > 1:
            frame[col] = frame[col].map(lambda v: None if v is None else str(v))
    write_atomic(out, lambda tmp: frame.to_parquet(tmp, index=False))
    print(f"wrote {len(rows)} design points to {out}", file=sys.stderr)


def _columns_of(rows: list[dict[str, Any]], view: StudyView) -> list[str]:
    """Every column of ``rows`` in first-seen order (the objectives' when there is no row)."""
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    return list(columns) or ["id", *view.objective_names]


def _stop_live_drivers(study: optuna.Study, name: str, force: bool, wait_s: float = 120.0) -> None:
    """A study a driver (or a confirmation) holds is not deleted under it: refused, or with
    ``--force`` its drivers on this machine are stopped (SIGTERM: they fail their unfinished
    trials and release their leases) and waited for.

    Raises:
        ConfigError: a live driver and no ``--force``; one on another machine; one that did not
            stop within ``wait_s``.
    """
    import time

    from codesign.config import ConfigError
    from codesign.search import live_drivers

    live = live_drivers(study)
    if not live:
        return
    who = ", ".join(f"{d} (since {lease.since_text})" for d, lease in sorted(live.items()))
    if not force:
        raise ConfigError(None, name, "a study no driver is running",
                          hint=f"driver {who} holds it; stop it first, or pass --force to stop it")
    _refuse_remote(live)
    _terminate(live.values())
    deadline = time.monotonic() + wait_s
    while live and time.monotonic() < deadline:
        time.sleep(0.5)
        live = live_drivers(study)  # (read from storage each time)
    if live:
        raise ConfigError(None, "--force", f"drivers that stop within {wait_s:g} s", got=", ".join(sorted(live)))


def _refuse_remote(live: dict[str, Lease]) -> None:
    """--force stops drivers on this machine only: a ConfigError names those elsewhere."""
    import socket

    from codesign.config import ConfigError

    here = socket.gethostname()
    remote = [d for d, lease in live.items() if lease.host != here]
    if remote:
        raise ConfigError(None, "--force", "drivers on this machine (a driver elsewhere is stopped there)",
                          got=", ".join(sorted(remote)))


def _terminate(leases: Iterable[Lease]) -> None:
    """SIGTERM to each driver process holding a lease (never this process)."""
    import contextlib
    import os
    import signal

    for lease in leases:
        if lease.pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(lease.pid, signal.SIGTERM)
            print(f"stopping driver {lease.driver} (SIGTERM) ...", flush=True)


def _delete(args: argparse.Namespace) -> int:
    import shutil

    import optuna

    from codesign.search import open_storage, study_counts
    from codesign.search._storage import storage_file

    study, url = _load(args)  # read-only: a missing storage or study is refused before anything is written
    _stop_live_drivers(study, args.name, force=args.force)
    storage = open_storage(url, create=True)  # deleting writes; the file exists, as _load checked
    n_trials = sum(study_counts(study).values())
    artifact_dir, remote = _artifact_folder(study)
    remove_dir = artifact_dir is not None and _removable_folder(artifact_dir, args.name, storage_file(url), storage)
    what = f"study '{args.name}' ({n_trials} trials) from {masked_url(url)}"
    if remove_dir:
        what += f" and its artifacts folder {artifact_dir}"
    elif remote is not None:  # an object store: its files are the user's to remove
        what += f" (its artifacts in {remote} are left as they are)"
    if not args.yes and not _user_agrees(f"Delete {what}? [y/N] "):
        print("nothing deleted")
        return 1
    optuna.delete_study(study_name=args.name, storage=storage)
    if remove_dir and artifact_dir is not None:
        shutil.rmtree(artifact_dir)
    print(f"deleted {what}")
    return 0


def _artifact_folder(study: optuna.Study) -> tuple[Path | None, str | None]:
    """The study's artifacts: (its local folder, else None; its object-store URL, else None)."""
    from codesign.search import ARTIFACT_DIR_ATTR
    from codesign.search._store import is_url

    artifacts = study.user_attrs.get(ARTIFACT_DIR_ATTR)
    if not artifacts:
        return None, None
    if is_url(artifacts):
        return None, str(artifacts)
    return Path(artifacts), None


def _removable_folder(artifact_dir: Path, name: str, db: Path | None,
                      storage: optuna.storages.BaseStorage | str) -> bool:
    """Only a folder named after the study (runs/NAME, the driver's default) is removed with
    it, and only once its storage (a file in that folder) holds no other study."""
    import optuna

    others = [n for n in optuna.get_all_study_names(storage) if n != name]
    shared = db is not None and db.resolve().parent == artifact_dir.resolve() and bool(others)
    return artifact_dir.name == name and artifact_dir.is_dir() and not shared


def _user_agrees(question: str) -> bool:
    """Ask ``question`` on the terminal; only ``y`` or ``yes`` agrees (end of input does not)."""
    try:
        answer = input(question)
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _load(args: argparse.Namespace) -> tuple[optuna.Study, str]:
    from codesign.search import default_storage_url, load_stored_study

    url = args.storage or default_storage_url(args.name, args.runs_dir)
    return load_stored_study(args.name, url), url


def default_url(args: argparse.Namespace) -> str:
    from codesign.search import default_storage_url

    return str(default_storage_url(args.name, args.runs_dir))


#: Parameter namespaces a design's columns come from.
PARAM_PREFIXES = ("snn.", "train.", "hw.")


def front_params(rows: list[dict[str, Any]], spec: StudySpec | None, study: optuna.Study | None = None,
                 view: StudyView | None = None) -> list[str]:
    """The parameters that differ between front designs, the most important first
    (``codesign.search.importance_infos`` over the study's trials where it has enough, then
    the search space's order); the chip's bits are the precision column, so left out."""
    params = [k for k in rows[0] if k.startswith(PARAM_PREFIXES)
              and k not in ("hw.weight_bits", "hw.state_bits", "hw.wide_weight_bits", "hw.tap_scales")]
    varying = [k for k in params if len({repr(r.get(k)) for r in rows}) > 1]
    order = _space_order(spec)
    importance = _importance(study, view) if study is not None and view is not None else {}
    return sorted(varying, key=lambda k: (-importance.get(k, -1.0), order.get(k, len(order)), k))


def _space_order(spec: StudySpec | None) -> dict[str, int]:
    """Parameter -> its position in the study's search space (empty without a spec)."""
    return {k: i for i, k in enumerate(spec.search_space().parameters)} if spec is not None else {}


def _importance(study: optuna.Study, view: StudyView) -> dict[str, float]:
    """Parameter -> importance over the study's trials; empty for a degenerate sample."""
    from codesign.search import combined_importance, importance_infos

    try:
        return combined_importance(importance_infos(study, view))
    except (ValueError, RuntimeError):  # a degenerate sample: rank by the space's order
        return {}


def front_text(view: StudyView, spec: StudySpec | None, rec: Recommendation | None = None, *,
               study: optuna.Study | None = None, wide: bool = False,
               columns: str | None = None, sort: str | None = None, fmt: str = "table") -> str:
    """The Pareto front as text: an aligned table within :data:`MAX_WIDTH` columns (id with the
    recommended design marked ``*``, objectives with ``mean±std`` where confirmed, precision,
    at most :data:`MAX_PARAMS` parameters by importance), or csv/json/markdown of the same
    columns; ``wide`` takes every column, ``columns`` names them."""
    import dataclasses

    from codesign.search import design_rows, pareto_front

    front = pareto_front(view.points, view.objectives)
    note = _off_front_note(view)
    if not front:
        return _no_front_text(note)
    rows = design_rows(dataclasses.replace(view, points=tuple(front)), rec.point_id if rec is not None else None)
    available = _columns_of(rows, view)
    rows = sort_rows(rows, sort, available)
    objectives = list(view.objective_names)
    confirmed = _any_confirmed(rows, objectives)
    chosen = _front_columns(rows, available, view, spec, study, wide=wide, columns=columns)
    if fmt != "table":
        return machine_text(rows, _machine_columns(chosen, available, objectives, confirmed=confirmed, wide=wide,
                                                   named=bool(columns)), fmt)
    heads, body = _fitted_table(view, rows, chosen, wide=wide, columns=columns)
    lines = aligned(heads, body)
    if rec is not None:
        lines.append(f"* recommended: {rec.short()}")
    if confirmed:
        lines.append("mean±std: over the confirmation seeds (codesign study confirm); others: one seed")
    lines.extend(objective_legend(objectives))
    lines.extend(measured_on_text(view))
    if note:
        lines.append(note)
    if not wide and not columns:
        lines.append("more: --wide (every column), --columns a,b,c, --sort NAME, --format csv|json|markdown")
    return "\n".join(lines)


def _no_front_text(note: str) -> str:
    return "(no design point on the front yet: none is feasible above the accuracy floor)" + ("\n" + note if note else "")


def _off_front_note(view: StudyView) -> str:
    """How many feasible designs the floor or degeneracy kept off the front ("" for none)."""
    off = [p for p in view.points if p.feasible and not p.eligible]
    if not off:
        return ""
    return (f"{len(off)} feasible design(s) kept off the front: below the floor ({view.floor}) or degenerate; "
            f"codesign study points {view.name} lists them")


def _any_confirmed(rows: list[dict[str, Any]], objectives: list[str]) -> bool:
    """Whether a row has a confirmed mean of an objective."""
    return any(r.get(f"{n}.mean") is not None for r in rows for n in objectives)


def _front_columns(rows: list[dict[str, Any]], available: list[str], view: StudyView, spec: StudySpec | None,
                   study: optuna.Study | None, *, wide: bool, columns: str | None) -> list[str]:
    """The columns asked for (checked), every column (``wide``), or the default: id, the
    objectives, the precision and the most important parameters that differ."""
    if columns:
        return check_columns(columns.split(","), available)
    if wide:
        return available
    return ["id", *view.objective_names, "precision", *front_params(rows, spec, study, view)[:MAX_PARAMS]]


def _machine_columns(chosen: list[str], available: list[str], objectives: list[str], *, confirmed: bool,
                     wide: bool, named: bool) -> list[str]:
    """csv/json/markdown columns: each objective with its confirmed mean and std (where
    ``confirmed``, unless ``wide`` took every column), and, unless the columns were ``named``,
    whether a design is recommended and what its task metrics were measured on."""
    if confirmed and not wide:
        chosen = _with_spread(chosen, objectives)
    if "recommended" not in chosen and not named:
        chosen.insert(1, "recommended")
    if not named:  # what the task metrics were measured on (the table says it under itself)
        chosen += [c for c in available if c.startswith("measured_on.") and c not in chosen]
    return chosen


def _with_spread(chosen: list[str], objectives: list[str]) -> list[str]:
    """``accuracy`` -> ``accuracy``, ``accuracy.mean``, ``accuracy.std`` for each objective."""
    return [c2 for c in chosen for c2 in ([c, f"{c}.mean", f"{c}.std"] if c in objectives else [c])]


def _fitted_table(view: StudyView, rows: list[dict[str, Any]], chosen: list[str], *, wide: bool,
                  columns: str | None) -> tuple[list[str], list[list[str]]]:
    """Headings and cells of ``chosen``; for the default columns (not ``wide``, no ``columns``
    named), the least important parameters dropped until the table is at most
    :data:`MAX_WIDTH` wide."""
    while True:
        heads = [_front_header(view, chosen, c) for c in chosen]
        body = _front_body(view, rows, chosen)
        params = [c for c in chosen if c.startswith(PARAM_PREFIXES)]
        if wide or columns or width_of(heads, body) <= MAX_WIDTH or not params:
            return heads, body
        chosen.remove(params[-1])


def _front_header(view: StudyView, chosen: list[str], c: str) -> str:
    """An objective with its direction; a parameter without its prefix unless two chosen
    parameters would then read the same."""
    if c in view.objectives:
        return f"{c} ({view.objectives[c]})"
    short = c.split(".", 1)[1] if c.startswith(PARAM_PREFIXES) else c
    clash = sum(1 for o in chosen if o.startswith(PARAM_PREFIXES) and o.split(".", 1)[1] == short) > 1
    return c if clash else short


def _front_cells(view: StudyView, rows: list[dict[str, Any]], c: str) -> list[str]:
    if c == "id":
        return [r["id"] + ("*" if r["recommended"] else "") for r in rows]
    if c in view.objectives:
        return [objective_cell(r, c) for r in rows]
    return [cell(r.get(c)) for r in rows]


def _front_body(view: StudyView, rows: list[dict[str, Any]], chosen: list[str]) -> list[list[str]]:
    table = {c: _front_cells(view, rows, c) for c in chosen}
    return [[table[c][i] for c in chosen] for i in range(len(rows))]


def measured_on_text(view: StudyView) -> list[str]:
    """What the study's task metrics were measured on, from its records (one line per split),
    and a warning when trials disagree; nothing for records that predate it."""
    from codesign.search import measured_on_lines

    lines = [f"measured on the {line}" for line in measured_on_lines(view.measured_on)]
    if lines and view.measured_on_varies:
        lines.append("(trials were measured on different engines or voices: the measured_on.* columns of "
                     f"codesign study points {view.name} say which)")
    return lines


def _print_recommended(outcome: StudyOutcome) -> None:
    """The design the study recommends, with its rationale and how to export it."""
    rec = outcome.recommendation
    from codesign.search import load_stored_study, recommendation_of

    stored = recommendation_of(load_stored_study(outcome.name, outcome.storage_url))
    rec = stored if stored is not None else rec
    if rec is None:
        from codesign.search import no_recommendation_reason, study_view

        view = study_view(load_stored_study(outcome.name, outcome.storage_url))
        print(f"\nno recommendation: {no_recommendation_reason(view)}")
        return
    print(f"\nrecommended design: {rec.short()}")
    print(f"  {rec.rationale}")
    if not rec.confirmed:
        print(f"  (confirm it: codesign study confirm {outcome.name} --scope recommended)")
    print(f"  export it: codesign export {outcome.name} --recommended --out {outcome.name}_recommended/")


def _print_outcome(outcome: StudyOutcome, spec: StudySpec, runs_dir: str) -> None:
    counts = outcome.counts
    print()
    print(f"Pareto front of '{outcome.name}': {len(outcome.front)} design points "
          f"({counts['complete']} complete, {counts['pruned'] - counts.get('stopped', 0)} pruned before training "
          f"(infeasible chip), {counts.get('stopped', 0)} stopped early by successive halving, "
          f"{counts['fail'] - counts['interrupted'] - counts.get('duplicate', 0)} failed trials; "
          f"hypervolume {outcome.hypervolume:.4f})")
    from codesign.search import load_stored_study, study_view

    study = load_stored_study(outcome.name, outcome.storage_url)
    view = study_view(study)
    rec, _ = _recommendation(study, view)
    print(front_text(view, spec, rec, study=study))
    _print_recommended(outcome)
    print()
    print(f"report:    {_write_report(outcome, runs_dir)}")
    print(f"storage:   {masked_url(outcome.storage_url)}")
    print(f"artifacts: {outcome.artifact_dir}")
    if getattr(outcome, "worker_utilisation", None) is not None:
        print(f"workers:   busy {outcome.worker_utilisation:.0%} of the search ({outcome.busy_s:.0f} worker-s "
              f"of {spec.execution.workers} x {outcome.search_s:.0f} s)")
    print(f"status:    codesign study status {outcome.name}"
          + ("" if outcome.storage_url.endswith(f"{outcome.name}/study.db") else f" --storage {masked_url(outcome.storage_url)}"))
    print(f"dashboard: optuna-dashboard {masked_url(outcome.storage_url)}")
