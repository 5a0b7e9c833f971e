"""``codesign report NAME --out report.html`` and ``codesign report table NAME --format csv``."""

from __future__ import annotations

import argparse
import sys

from codesign.config import ConfigError, check_output_file


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a study's interactive report page, or its trial table",
        description=(
            "codesign report NAME --storage URL --out report.html: one offline HTML page with the "
            "Pareto front, hypervolume, parameters and the front members' costs.\n"
            "codesign report table NAME --storage URL --format csv|parquet|json [--front-only] "
            "[--out FILE]: one row per trial."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="study name (or 'table' followed by the study name)")
    p.add_argument("table_name", nargs="?", metavar="STUDY", help=argparse.SUPPRESS)
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///RUNS_DIR/NAME/study.db)")
    p.add_argument("--runs-dir", default="runs", help="runs directory (default: ./runs)")
    p.add_argument("--out", help="output file (report: required; table: default stdout)")
    p.add_argument("--artifacts", help="directory the trials' artifact paths are relative to")
    p.add_argument("--format", default="csv", help="table format: csv, parquet or json")
    p.add_argument("--front-only", action="store_true", help="table: only Pareto-front members")
    p.set_defaults(func=run)


def add_table_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str = "table"
) -> argparse.ArgumentParser:
    """Register ``<group> table NAME --format ... [--front-only] [--out FILE]`` on any command group.

    ``codesign study`` can offer the table with one line:
    ``add_table_parser(sub)`` in ``codesign/cli/_study.py``'s ``register``.
    """
    p = subparsers.add_parser(name, help="one row per trial: params, objectives, constraints, metrics")
    p.add_argument("table_name", metavar="NAME", help="study name")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///RUNS_DIR/NAME/study.db)")
    p.add_argument("--runs-dir", default="runs", help="runs directory (default: ./runs)")
    p.add_argument("--artifacts", help="directory the trials' artifact paths are relative to")
    p.add_argument("--format", default="csv", help="csv, parquet or json")
    p.add_argument("--front-only", action="store_true", help="only Pareto-front members")
    p.add_argument("--out", help="output file (default: stdout; required for parquet)")
    p.set_defaults(func=run_table)
    return p


def run_table(args: argparse.Namespace) -> int:
    """Write the trial table of ``args.table_name``."""
    import optuna

    from codesign.report import load_study, study_view, trials_dataframe, write_table
    from codesign.search import default_storage_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.out:
        check_output_file(args.out, "--out", "a table file to write")
    study = load_study(args.table_name, args.storage or default_storage_url(args.table_name, args.runs_dir))
    frame = trials_dataframe(study_view(study, args.artifacts), front_only=args.front_only)
    text = write_table(frame, args.format, args.out)
    if text is not None:
        sys.stdout.write(text)
    else:
        print(f"wrote {len(frame)} rows to {args.out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    import optuna

    from codesign.report import load_study, write_report
    from codesign.search import default_storage_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.name == "table" and args.table_name is not None:
        return run_table(args)
    if args.table_name is not None:
        raise ConfigError(None, "NAME", "one study name (or: table NAME)", got=f"{args.name} {args.table_name}")
    if not args.out:
        raise ConfigError(None, "--out", "the report file to write (e.g. --out report.html)")
    check_output_file(args.out, "--out", "a report file to write (.html)")
    study = load_study(args.name, args.storage or default_storage_url(args.name, args.runs_dir))
    data = write_report(study, args.out, artifact_dir=args.artifacts)
    print(
        f"wrote {args.out}: {len(data.view.trials)} trials, {len(data.pareto.front)} on the front, "
        f"{data.n_figures} plots",
        file=sys.stderr,
    )
    return 0
