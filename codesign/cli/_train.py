"""``codesign train``: one short training run, its workload trace and energy summary, written to disk."""

from __future__ import annotations

import argparse
import difflib
import sys
from typing import TYPE_CHECKING, Any, get_args

from codesign.cli._args import positive_float, positive_int
from codesign.config import check_output_dir

if TYPE_CHECKING:
    from codesign.data import CorpusConfig
    from codesign.snn import ModelConfig
    from codesign.train import TrainConfig


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from codesign.snn._config import Family

    parser = subparsers.add_parser(
        "train",
        help="train one model on a synthetic task, record its workload trace, print metrics and energy",
        description="Train one model briefly, record its workload trace on a fixed test batch, and write "
        "result.json, trace.npz and weights.safetensors to --out.",
    )
    parser.add_argument("--model", required=True, choices=get_args(Family), help="model family")
    parser.add_argument("--task", required=True, choices=("commands", "digits"), help="synthetic task")
    parser.add_argument("--variant", help="family variant (default: spiking)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a ModelConfig or TrainConfig field, e.g. --set levels=2 (repeatable)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=positive_int, help="training budget in epochs (default: TrainConfig's)")
    budget.add_argument("--seconds", type=positive_float, help="training budget in wall-clock seconds")
    parser.add_argument("--size", type=positive_int, help="corpus utterances over all splits (default: CorpusConfig's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus and of training (default 0)")
    parser.add_argument("--out", help="output directory (default: runs/train/<model>-<task>-seed<seed>)")
    parser.add_argument("--cache-dir", help="corpus cache directory (default: the data package's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)




def build_configs(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig, CorpusConfig]:
    """(ModelConfig, TrainConfig, CorpusConfig) from the arguments; bad input raises ConfigError."""
    from codesign.config import parse_set_args, parse_spec
    from codesign.data import CorpusConfig
    from codesign.snn import MODEL_FIELDS, parse_model_config
    from codesign.train import TrainConfig

    overrides = parse_set_args(args.set)
    model_fields, train_fields = set(MODEL_FIELDS), set(TrainConfig.model_fields)
    for key in overrides:
        _check_set_key(key, model_fields | train_fields)
    model_data = {k: v for k, v in overrides.items() if k in model_fields}
    model_data["family"] = args.model
    if args.variant is not None:
        model_data["variant"] = args.variant
    model = parse_model_config(model_data, key_prefix="")
    budget = parse_spec(TrainConfig, _budget_data(args, {k: v for k, v in overrides.items() if k in train_fields}),
                        key_prefix="")
    corpus_data: dict[str, Any] = {"task": args.task, "seed": args.seed}
    if args.size is not None:
        corpus_data["size"] = args.size
    corpus = parse_spec(CorpusConfig, corpus_data, key_prefix="")
    return model, budget, corpus


def _check_set_key(key: str, fields: set[str]) -> None:
    """A ``--set`` key names a ModelConfig or TrainConfig field other than family and variant
    (they have their own options); else a ConfigError with the closest field."""
    from codesign.config import ConfigError

    if key in fields and key not in ("family", "variant"):
        return
    allowed = sorted(fields - {"family", "variant"})
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else "family and variant have their own options"
    raise ConfigError(None, f"--set {key}", "a ModelConfig or TrainConfig field", hint=hint)


def _budget_data(args: argparse.Namespace, train_data: dict[str, Any]) -> dict[str, Any]:
    """The training fields of ``--set`` with ``--epochs`` or ``--seconds`` as the budget."""
    if args.epochs is not None:
        train_data.update(epochs=args.epochs, seconds=None)
    elif args.seconds is not None:
        train_data.update(epochs=None, seconds=args.seconds)
    return train_data


def _run(args: argparse.Namespace) -> int:
    model_cfg, budget, corpus_cfg = build_configs(args)
    from codesign._io import write_json_atomic
    from codesign.data import load_corpus
    from codesign.trace import save_trace, trace_metrics, trace_split
    from codesign.train import TrainingDiverged, save_train_result, train

    progress = not args.no_progress
    # where the results go, checked before the corpus is made or anything trained
    out = check_output_dir(args.out or f"runs/train/{args.model}-{args.task}-seed{args.seed}", "--out",
                           "a folder for the training results")
    if args.cache_dir is not None:
        check_output_dir(args.cache_dir, "--cache-dir", "a corpus cache folder")
    corpus = load_corpus(corpus_cfg, cache_dir=args.cache_dir, progress=progress)
    try:
        result = train(model_cfg, corpus, budget, seed=args.seed, progress=progress)
    except TrainingDiverged as err:
        print(f"codesign: training diverged: {err}", file=sys.stderr)
        return 1
    trace = trace_split(result.model, corpus.test, model_cfg)
    energy = trace_metrics(trace)
    paths = save_train_result(result, out)
    paths["trace"] = save_trace(trace, out / "trace.npz")
    summary = {**result.to_dict(), "trace_metrics": energy.to_dict(), "corpus_config": corpus_cfg.to_dict()}
    write_json_atomic(out / "result.json", summary)

    print(f"{model_cfg.family}/{model_cfg.variant} on {args.task} (seed {args.seed}, "
          f"{result.metrics['epochs_completed']:.2f} epochs, {result.metrics['wall_time_s']:.1f} s)")
    for key, value in result.metrics.items():
        print(f"  {key:<22} {value:.4g}")
    print(f"energy per inference (theoretical, 45 nm; trace of {trace.meta.batch_size} test utterances)")
    for key, value in energy.to_dict().items():
        print(f"  {key:<30} {value:.4g}")
    for name, path in paths.items():
        print(f"wrote {name}: {path}")
    return 0
