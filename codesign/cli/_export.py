"""``codesign export NAME (--trial N [--chip K] | --point ID | --pick EXPR | --recommended) --out DIR``:
bundle one stored design point."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from codesign.config import check_output_dir

if TYPE_CHECKING:
    from codesign.export import ExportResult
    from codesign.search import StudyView


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a stored design point as a bundle (configs, weights, trace, cost, NIR)",
        description=(
            "Pick a design point of a stored study and write its bundle: --recommended (the study's "
            "recommendation), --point 12.3 (a design id), --trial N [--chip K], or --pick, which takes "
            "'min|max|best NAME [where NAME OP NUMBER | NAME in top K[%] [and ...]]', e.g. "
            "--pick \"min energy_uj where wer <= 0.05\" or --pick \"min energy_uj where accuracy in top 3\"."
        ),
    )
    p.add_argument("name", metavar="NAME", help="study name")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", type=int, help="trial number")
    which.add_argument("--pick", help="pick expression, e.g. \"min energy_uj where wer <= 0.05\"")
    which.add_argument("--point", metavar="ID", help="design id from `codesign study front|points`: 12.3 (trial 12, "
                       "chip 3) or 12 (a joint trial)")
    which.add_argument("--recommended", action="store_true",
                       help="the design the study recommends (codesign study status names it)")
    p.add_argument("--chip", type=int, help="chip index within a nested trial's hardware set")
    p.add_argument("--out", required=True, help="bundle directory to create (new or empty)")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///RUNS_DIR/NAME/study.db)")
    p.add_argument("--runs-dir", default="runs", help="runs directory (default: ./runs)")
    p.add_argument("--artifacts", help="directory the trials' artifact paths are relative to")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import optuna

    from codesign.export import export_bundle, select_point
    from codesign.search import default_storage_url, open_study, split_named, study_view

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_output_dir(args.out, "--out", "a new or empty folder for the bundle")
    url = args.storage or default_storage_url(args.name, args.runs_dir)
    study = open_study(args.name, url)
    view = study_view(study, args.artifacts)
    point = select_point(view, trial=args.trial, chip=args.chip, pick=args.pick, point=args.point,
                         recommended=args.recommended)
    finished = study.get_trials(deepcopy=False)[point.trial].datetime_complete
    result = export_bundle(view, point, args.out, storage=url,
                           datetime_complete=finished.isoformat() if finished else None)
    values = ", ".join(f"{split_named(k)}={v:.4g}" for k, v in result.config.objectives.items())
    print(f"exported design {point.point_id} of study {view.name} ({values}) to {result.path}")
    _print_measured(result)
    if args.recommended:
        _print_recommendation(view)
    _print_precision(result)
    _print_confirmed(result)
    if not point.feasible:
        print(f"note: {point.label} violates a constraint", file=sys.stderr)
    if result.nir.left_out or result.nir.approximated:
        print(f"NIR graph: {len(result.nir.graph.nodes)} nodes, {len(result.nir.approximated)} approximated, "
              f"{len(result.nir.left_out)} modules left out (see docs/nir.md and the graph's metadata)")
    return 0


def _print_measured(result: ExportResult) -> None:
    """The held-out test split's figures, and what each split was measured on."""
    from codesign.search import measured_on_lines

    tested = {k: v for k, v in result.config.metrics.items() if k in ("test_accuracy", "test_wer")}
    if tested:
        print("on the held-out test split: " + ", ".join(f"{k.replace('_', ' ', 1)} {v:.4g}" for k, v in tested.items()))
    for line in measured_on_lines(result.config.measured_on):
        print(f"  measured on the {line}")


def _print_recommendation(view: StudyView) -> None:
    from codesign.search import recommendation_of

    rec = recommendation_of(view)
    if rec is not None:
        print(f"recommended: {rec.short()}\n  {rec.rationale}")


def _print_precision(result: ExportResult) -> None:
    """The precision the design was scored at, as its chip holds it."""
    precision = result.config.precision
    wide = "" if precision.wide_weight_bits is None else f" ({precision.wide_weight_bits}-bit wide layers)"
    print(f"scored as its chip holds it: {precision.weight_bits}-bit weights{wide}, {precision.state_bits}-bit state"
          + ("" if precision.weight_bits == 32 else "; integer weights in weights_int.safetensors"))


def _print_confirmed(result: ExportResult) -> None:
    """The objectives' mean ± std over the confirmation seeds, when the design was confirmed."""
    from codesign.search import split_named

    if result.config.confirmed is not None:
        c = result.config.confirmed
        spread = ", ".join(f"{split_named(k)} {c['mean'][k]:.4g} ± {c['std'][k]:.2g}" for k in result.config.objectives
                           if k in c["mean"])
        print(f"confirmed over seeds {c['seeds']}: {spread}")
