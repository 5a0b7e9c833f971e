"""``codesign evaluate DIR``: check a bundle, rebuild and re-score it, compare with its stored figures."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="re-evaluate an exported bundle and compare with its stored figures",
        description=(
            "Checks every bundle file against manifest.json, rebuilds the network from "
            "config.yaml with its weights, re-scores it on the test split of its corpus "
            "(regenerated or read from the cache), re-runs the chip model, and prints stored "
            "and new figures side by side. Exit status 1 when a figure differs beyond its "
            "tolerance, 2 for a damaged bundle."
        ),
    )
    p.add_argument("bundle", metavar="DIR", help="bundle directory written by codesign export")
    p.add_argument("--cache-dir", help="corpus cache root (default: codesign's)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress lines on stderr (and no bar while a corpus is built)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codesign.cli._progress import stderr_steps
    from codesign.export import evaluate_bundle

    report = evaluate_bundle(args.bundle, cache_dir=args.cache_dir, progress=not args.no_progress,
                             say=stderr_steps(not args.no_progress))
    prov = report.config.study
    print(f"bundle {report.bundle}: study {prov.name}, trial {prov.trial}"
          + (f" chip {prov.chip_index}" if prov.chip_index is not None else ""))
    print("task metric re-measured on the held-out test split (test_*); the search selected on the validation split"
          + _selected_on(report.config.metrics))
    print(report.table())
    from codesign.search import measured_on_lines

    for line in measured_on_lines({"test": report.measured_on}):
        print(f"re-scored on the {line}")
    if report.measured_on_differs:
        print(f"the test split here is NOT the one the stored figures were measured on ({report.measured_on_differs}): "
              "an engine or voice installed here differs from the machine that ran the study")
    print("all figures agree" if report.ok else "some figures DIFFER from the stored ones")
    return 0 if report.ok else 1


def _selected_on(metrics: dict[str, float]) -> str:
    """``: validation accuracy 0.91``: the validation figures the search selected on, if stored."""
    selected = {k: v for k, v in metrics.items() if k in ("validation_accuracy", "validation_wer")}
    return (": " + ", ".join(f"{k.replace('_', ' ', 1)} {v:.4g}" for k, v in selected.items())) if selected else ""
