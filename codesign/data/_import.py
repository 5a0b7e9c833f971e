"""Importing a real dataset on disk as a study corpus: load it once, write it as a corpus folder.

``import_corpus`` runs one of the real-corpus loaders (:mod:`codesign.data._real`) and
writes the result in the cache's entry layout (``manifest.json``, ``train.pt``,
``validation.pt``, ``test.pt``, ``statistics.pt``). A study then names that folder as
``corpus: {task: commands, imported: <folder>}`` and :func:`codesign.data.load_corpus`
reads it instead of synthesising.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch

from codesign import __version__
from codesign.config import ConfigError, stable_hash
from codesign.data._cache import MANIFEST, default_cache_root, read_manifest, write_entry
from codesign.data._config import FeatureConfig
from codesign.data._corpus import SPLITS, Corpus

ImportFormat = Literal["speech_commands", "librispeech", "shd"]
IMPORT_FORMATS: tuple[str, ...] = ("speech_commands", "librispeech", "shd")


def _options(fmt: str, source: Path, features: FeatureConfig, keywords: Sequence[str] | None,
             max_utterances: int | None) -> dict[str, Any]:
    """What the import was asked (stored in the manifest; its hash names the default folder)."""
    options: dict[str, Any] = {"format": fmt, "root": str(source), "features": features.to_dict()}
    if keywords is not None:
        options["keywords"] = list(keywords)
    if max_utterances is not None:
        options["max_utterances"] = max_utterances
    return options


def _differences(earlier: object, options: dict[str, Any]) -> str:
    """The options an existing import folder was made with that differ from ``options``."""
    if not isinstance(earlier, dict):
        return "a folder that no import made (no 'imported' options in its manifest)"
    flat_earlier, flat_now = _flatten(_with_defaults(earlier)), _flatten(_with_defaults(options))
    keys = sorted(k for k in flat_earlier.keys() | flat_now.keys() if flat_earlier.get(k) != flat_now.get(k))
    return "; ".join(f"{k}: {flat_earlier.get(k, '(default)')} there, {flat_now.get(k, '(default)')} now" for k in keys)


def _with_defaults(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with its feature settings spelt out, those left at their default included."""
    try:
        features = FeatureConfig.model_validate(options.get("features", {}))
    except ValueError:  # a manifest from another version: shown as it is
        return options
    return {**options, "features": {name: getattr(features, name) for name in FeatureConfig.model_fields}}


def _flatten(options: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _load(fmt: str, source: Path, features: FeatureConfig, keywords: Sequence[str] | None,
          max_utterances: int | None, progress: bool) -> Corpus:
    from codesign.data._real import load_librispeech, load_shd, load_speech_commands

    if fmt == "speech_commands":
        return load_speech_commands(source, features=features, keywords=keywords, progress=progress)
    if fmt == "librispeech":
        return load_librispeech(source, features=features, max_utterances=max_utterances)
    return load_shd(source)


def _tensors(corpus: Corpus) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, list[str]]]:
    """The corpus folder's tensors (statistics and each split's) and each split's speakers."""
    tensors: dict[str, dict[str, torch.Tensor]] = {
        "statistics": {"mean": corpus.feature_mean, "std": corpus.feature_std}
    }
    speakers: dict[str, list[str]] = {}
    for split in SPLITS:
        part = corpus.split(split)
        ids = sorted(set(part.speakers))
        index_of = {s: i for i, s in enumerate(ids)}
        speakers[split] = ids
        tensors[split] = {
            "features": part.features,
            "feature_lengths": part.feature_lengths,
            "targets": part.targets,
            "target_lengths": part.target_lengths,
            "speaker_index": torch.tensor([index_of[s] for s in part.speakers], dtype=torch.int64),
        }
    return tensors, speakers


def _manifest(corpus: Corpus, options: dict[str, Any], source: Path, speakers: dict[str, list[str]]) -> dict[str, Any]:
    """The imported corpus folder's manifest."""
    return {
        **corpus.manifest,
        "kind": "codesign-corpus",
        "task": corpus.task,
        "corpus_kind": corpus.kind,
        "token_unit": corpus.token_unit,
        "imported": options,
        "source": str(source),
        "codesign_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "vocabulary": list(corpus.vocabulary),
        "n_features": corpus.n_features,
        "frame_ms": corpus.frame_ms,
        "sizes": {s: len(corpus.split(s)) for s in SPLITS},
        "frames": {s: int(corpus.split(s).features.shape[1]) for s in SPLITS},
        "speakers": speakers,
        # recorded speech: no synthesis engine measured anything here
        "engines": {s: [] for s in SPLITS},
        "voices": {s: [] for s in SPLITS},
    }


def import_corpus(
    fmt: str,
    root: str | Path,
    out: str | Path | None = None,
    features: FeatureConfig | None = None,
    keywords: Sequence[str] | None = None,
    max_utterances: int | None = None,
    progress: bool = True,
) -> tuple[Path, Corpus]:
    """Load the dataset at ``root`` in format ``fmt`` and write it as a corpus folder.

    Args:
        fmt: ``speech_commands``, ``librispeech`` or ``shd``.
        root: the dataset folder, in the dataset's own layout (docs/data.md).
        out: the folder to write; default ``<cache root>/imported/<fmt>-<hash>`` where the
            hash covers the absolute root and the options.
        features: log-mel settings (Speech Commands, LibriSpeech).
        keywords: Speech Commands: keep these words as classes and map the rest to ``unknown``.
        max_utterances: LibriSpeech: at most this many utterances per split.

    Returns:
        The folder written (or found complete already) and the corpus as read back from it.

    Raises:
        ConfigError: an unknown format, a missing folder, or a loader's error naming a file.
    """
    from codesign.data._synthetic import read_corpus_folder

    if fmt not in IMPORT_FORMATS:
        raise ConfigError(None, "--format", f"one of {', '.join(IMPORT_FORMATS)}", got=fmt)
    source = Path(root).expanduser().resolve()
    if not source.is_dir():
        raise ConfigError(source, "", f"a {fmt} dataset folder", hint="folder not found")
    feats = features if features is not None else FeatureConfig()
    options = _options(fmt, source, feats, keywords, max_utterances)
    target = (
        Path(out).expanduser()
        if out is not None
        else default_cache_root() / "imported" / f"{fmt}-{stable_hash(options)}"
    )
    if target.exists() and not (target / MANIFEST).is_file():
        raise ConfigError(
            target, "", "a new or complete corpus folder", hint=f"it exists without a {MANIFEST}"
        )
    if (target / MANIFEST).is_file():
        earlier = read_manifest(target).get("imported")
        if earlier != json.loads(json.dumps(options)):  # as the manifest stores them
            raise ConfigError(
                target / MANIFEST, "imported", "the options of this import", got=_differences(earlier, options),
                hint="that folder holds an import made with other options and is kept as it is; "
                "choose another --out or delete the folder",
            )
        return target, read_corpus_folder(target, cache_hit=True)
    corpus = _load(fmt, source, feats, keywords, max_utterances, progress)
    tensors, speakers = _tensors(corpus)
    manifest = _manifest(corpus, options, source, speakers)
    written = write_entry(target.parent, target.name, manifest, tensors)
    return written, read_corpus_folder(written, cache_hit=False)
