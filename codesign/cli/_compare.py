"""``codesign study compare A B [C ...]``: several stored studies side by side (thin layer over
``codesign.report``'s comparison): a text table, and with ``--out`` a page with the fronts
overlaid and hypervolume against CPU time.

Registered into the ``study`` command group that ``codesign.cli._study`` creates (this module
is listed after it in the CLI's command table)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    study = subparsers.choices.get("study")
    group = next((a for a in study._actions if isinstance(a, argparse._SubParsersAction)), None) if study else None
    target: Any = group if group is not None else subparsers
    p = target.add_parser(
        "compare",
        help="compare stored studies: fronts, hypervolume against CPU time, best design of each",
        description=("Reads each study through its storage (--storage for all of them, else each study's "
                     "default sqlite:///RUNS_DIR/NAME/study.db) and prints, per study, its trials, design "
                     "points, front, CPU seconds and hypervolume against one reference point for all of "
                     "them (the pooled eligible points' worst values, widened), then its best design per "
                     "objective. --out writes a page with the fronts overlaid and hypervolume against CPU "
                     "time."),
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="two or more study names")
    p.add_argument("--storage", help="Optuna storage URL holding every study (default: each study's own)")
    p.add_argument("--runs-dir", default="runs", help="runs directory (default: ./runs)")
    p.add_argument("--out", help="also write the comparison page (HTML) here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import optuna

    from codesign.config import ConfigError
    from codesign.report import comparison_data, comparison_table, write_comparison
    from codesign.search import default_storage_url, open_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if len(args.names) < 2:
        raise ConfigError(None, "NAME", "two or more study names to compare", got=" ".join(args.names))
    studies = [open_study(n, args.storage or default_storage_url(n, args.runs_dir)) for n in args.names]
    if args.out:
        data = write_comparison(studies, args.out)
        print(f"wrote {args.out}: {len(data.studies)} studies compared", file=sys.stderr)
    else:
        data = comparison_data(studies)
    print(comparison_table(data))
    return 0
