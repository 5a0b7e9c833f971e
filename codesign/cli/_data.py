"""``codesign data``: prepare (synthesise and cache) a corpus, import a real dataset, list cached corpora."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from codesign.config import ConfigError, check_output_dir, parse_spec

if TYPE_CHECKING:
    from codesign.data import Corpus, CorpusConfig


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("data", help="synthesise, cache and inspect speech corpora")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    prepare = sub.add_parser("prepare", help="build (or find in the cache) a synthetic corpus")
    prepare.add_argument("--task", required=True, help="commands or digits")
    prepare.add_argument("--size", type=int, default=None, help="utterances in all splits (default 4000)")
    prepare.add_argument("--seed", type=int, default=None, help="corpus seed (default 0)")
    prepare.add_argument("--difficulty", default=None, help="easy, default or hard")
    prepare.add_argument(
        "--train-engines", default=None, help="comma-separated training engines (default espeak,flite)"
    )
    prepare.add_argument(
        "--heldout-engines",
        default=None,
        help="comma-separated held-out engines, '' for none (default festival)",
    )
    prepare.add_argument(
        "--cache-dir", type=Path, default=None, help="cache root (default $CODESIGN_CACHE_DIR/corpus)"
    )
    prepare.add_argument("--workers", type=int, default=None, help="generation processes (default 2)")
    prepare.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    prepare.set_defaults(func=_prepare)

    imp = sub.add_parser("import", help="turn a real dataset folder into a study corpus")
    imp.add_argument("root", type=Path, help="the dataset folder, in its own layout (docs/data.md)")
    imp.add_argument("--format", required=True, help="speech_commands, librispeech or shd")
    imp.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to write (default <cache root>/imported/<format>-<hash>)",
    )
    imp.add_argument(
        "--keywords",
        default=None,
        help="speech_commands: comma-separated words to keep; the rest become unknown",
    )
    imp.add_argument(
        "--max-utterances", type=int, default=None, help="librispeech: at most this many per split"
    )
    imp.add_argument(
        "--utterance-normalisation",
        default="none",
        help="speech_commands, librispeech: per-utterance normalisation of the log-mel features, "
        "none, mean or mean_var (CMVN, the quickstart corpus's); a study reading the folder must name the same",
    )
    imp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    imp.set_defaults(func=_import)

    info = sub.add_parser("info", help="list cached corpora and their manifests")
    info.add_argument("--task", default=None, help="only corpora of this task")
    info.add_argument(
        "--cache-dir", type=Path, default=None, help="cache root (default $CODESIGN_CACHE_DIR/corpus)"
    )
    info.add_argument("--json", action="store_true", help="print the full manifests as JSON")
    info.set_defaults(func=_info)


def _prepare(args: argparse.Namespace) -> int:
    from codesign.data import load_corpus

    cfg = _corpus_config(args)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(None, "--workers", "a positive number of processes", got=args.workers)
    if args.cache_dir is not None:
        check_output_dir(args.cache_dir, "--cache-dir", "a corpus cache folder")
    started = time.perf_counter()
    corpus = load_corpus(cfg, cache_dir=args.cache_dir, progress=not args.no_progress, workers=args.workers)
    _print_corpus(cfg, corpus, time.perf_counter() - started)
    return 0


def _corpus_config(args: argparse.Namespace) -> CorpusConfig:
    """The corpus ``data prepare`` asked for, checked; a bad value names the flag typed."""
    from codesign.data import CorpusConfig

    if args.task not in ("commands", "digits"):
        raise ConfigError(
            None,
            "--task",
            "'commands' or 'digits'",
            got=args.task,
            hint="recorded datasets: codesign data import",
        )
    data: dict[str, Any] = {"task": args.task}
    data.update({key: getattr(args, key) for key in ("size", "seed", "difficulty") if getattr(args, key) is not None})
    engines = {role: _names(value) for role, value in (("train", args.train_engines), ("heldout", args.heldout_engines))
               if value is not None}
    if engines:
        data["engines"] = engines
    try:
        return parse_spec(CorpusConfig, data)
    except ConfigError as err:
        raise ConfigError(None, _flag_of(err.key), err.expected, got=err.got, hint=err.hint) from None


def _names(value: str) -> list[str]:
    """``"espeak, flite"`` -> ``["espeak", "flite"]``."""
    return [e.strip() for e in value.split(",") if e.strip()]


def _flag_of(key: str | None) -> str:
    """The flag the user typed (``--difficulty``) for a config key (``difficulty.preset``)."""
    parts = key.split(".") if key else []
    if parts[:1] == ["engines"]:
        return f"--{parts[1]}-engines" if len(parts) > 1 else "--train-engines/--heldout-engines"
    return "--" + parts[0].replace("_", "-") if parts else ""


def _print_corpus(cfg: CorpusConfig, corpus: Corpus, seconds: float) -> None:
    """What ``data prepare`` made: the corpus, its cache, its splits, its engines and voices."""
    speakers = corpus.manifest["speakers"]
    print(
        f"corpus {cfg.task} ({corpus.kind}, metric {corpus.metric}), seed {cfg.seed}, difficulty {cfg.difficulty.preset}"
    )
    print(f"  cache:    {corpus.cache_path} ({'hit' if corpus.cache_hit else 'miss: generated'})")
    for split in ("train", "validation", "test"):
        part = corpus.split(split)
        print(
            f"  {split:<10} {len(part):>7} utterances  {len(speakers[split]):>4} speakers  "
            f"{part.features.shape[1]:>4} frames max"
        )
    print(
        f"  features: {corpus.n_features} log-mel bins every {corpus.frame_ms:g} ms; {len(corpus.vocabulary)} labels"
    )
    print(f"  time:     {seconds:.2f} s")
    for split in ("train", "validation", "test"):
        voices = corpus.voices_of(split)
        print(f"  {split:<10} engines {', '.join(corpus.engines_of(split)) or '-'}: {len(voices)} voices")
    for note in corpus.manifest.get("notes", []):
        print(f"  note: {note}")


def _import(args: argparse.Namespace) -> int:
    from codesign.data._config import FeatureConfig, UtteranceNormalisation
    from codesign.data._import import IMPORT_FORMATS, import_corpus

    if args.format not in IMPORT_FORMATS:
        raise ConfigError(None, "--format", f"one of {', '.join(IMPORT_FORMATS)}", got=args.format)
    if args.max_utterances is not None and args.max_utterances < 1:
        raise ConfigError(None, "--max-utterances", "a positive number", got=args.max_utterances)
    keywords = None if args.keywords is None else [w.strip() for w in args.keywords.split(",") if w.strip()]
    if args.utterance_normalisation not in get_args(UtteranceNormalisation):
        raise ConfigError(
            None, "--utterance-normalisation", "none, mean or mean_var", got=args.utterance_normalisation
        )
    if args.format == "shd" and args.utterance_normalisation != "none":
        raise ConfigError(None, "--utterance-normalisation", "none for shd (spike input, no log-mel features)",
                          got=args.utterance_normalisation)
    features = FeatureConfig(utterance_normalisation=args.utterance_normalisation)
    started = time.perf_counter()
    path, corpus = import_corpus(
        args.format,
        args.root,
        out=args.out,
        features=features,
        keywords=keywords,
        max_utterances=args.max_utterances,
        progress=not args.no_progress,
    )
    print(
        f"imported {args.format} from {args.root}: task {corpus.task} ({corpus.kind}, metric {corpus.metric})"
    )
    for split in ("train", "validation", "test"):
        print(
            f"  {split:<10} {len(corpus.split(split)):>7} utterances  {len(set(corpus.split(split).speakers)):>4} speakers"
        )
    print(f"  folder:   {path}")
    print(f"  time:     {time.perf_counter() - started:.2f} s")
    norm = features.utterance_normalisation
    named = "" if norm == "none" else f", features: {{utterance_normalisation: {norm}}}"
    print(f"  in a study: corpus: {{task: {corpus.task}, imported: {path}{named}}}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import json

    from codesign.data._cache import list_entries

    root = _cache_root(args)
    entries = [(p, m) for p, m in list_entries(root) if args.task is None or m.get("task") == args.task]
    if args.json:
        print(json.dumps([{"path": str(p), **m} for p, m in entries], indent=2))
        return 0
    if not entries:
        print(f"no cached corpora under {root}")
        return 0
    print(f"{len(entries)} cached corpora under {root}")
    for path, m in entries:
        print("\n".join(_entry_lines(path, m)))
    return 0


def _cache_root(args: argparse.Namespace) -> Path:
    """The cache ``data info`` lists (``--cache-dir``, which must exist, else the default),
    after checking ``--task``."""
    from codesign.data._cache import default_cache_root

    if args.task is not None and args.task not in ("commands", "digits"):
        raise ConfigError(None, "--task", "'commands' or 'digits'", got=args.task)
    root: Path = args.cache_dir if args.cache_dir is not None else default_cache_root()
    if args.cache_dir is not None and not root.is_dir():
        raise ConfigError(None, "--cache-dir", "an existing cache directory", got=str(root))
    return root


def _entry_lines(path: Path, m: dict[str, Any]) -> list[str]:
    """One cached corpus: its task, seed, difficulty, sizes, speakers and making; its engines
    and notes."""
    sizes = m.get("sizes", {})
    speakers = {k: len(v) for k, v in m.get("speakers", {}).items()}
    config = m.get("config", {})
    difficulty = config.get("difficulty", {}).get("preset", "?") if isinstance(config.get("difficulty"), dict) else "?"
    lines = [
        f"  {path.name}  {m.get('task', '?'):<8} seed {m.get('seed', '?'):<5} difficulty {difficulty:<7} "
        f"train/val/test {sizes.get('train', '?')}/{sizes.get('validation', '?')}/{sizes.get('test', '?')} "
        f"utterances, {speakers.get('train', '?')}/{speakers.get('validation', '?')}/{speakers.get('test', '?')} "
        f"speakers, made {m.get('created_utc', '?')} by codesign {m.get('codesign_version', '?')}"
    ]
    lines += _engines_lines(m.get("engines"))
    lines += [f"      note: {note}" for note in m.get("notes", []) or []]
    return lines


def _engines_lines(engines: object) -> list[str]:
    """``      engines: train espeak+flite; heldout festival``, or nothing when none is named."""
    if not isinstance(engines, dict) or not any(engines.values()):
        return []
    listed = "; ".join(f"{k} {'+'.join(v) or '-'}" for k, v in engines.items() if isinstance(v, list))
    return [f"      engines: {listed}"]
