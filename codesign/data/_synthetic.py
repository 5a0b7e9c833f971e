"""The synthetic corpus: plan utterances from the seed, render them in worker processes, featurise, cache.

``load_corpus`` is the entry point. The plan (speakers, split membership, words, per-utterance
seeds) is drawn in the calling process from ``cfg.seed`` alone; rendering is split into fixed
shards of consecutive utterances, each rendered by a fresh eSpeak in one process, so the
result is the same whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from codesign import __version__
from codesign.config import ConfigError
from codesign.data._cache import default_cache_root, read_manifest, read_tensors, write_entry
from codesign.data._config import GENERATOR_VERSION, CorpusConfig
from codesign.data._corpus import SPLITS, Corpus, CorpusKind, CorpusSplit, assemble_split, feature_statistics
from codesign.data._engines import engine_inventory, engine_status
from codesign.data._espeak import available_voices
from codesign.data._features import log_mel
from codesign.data._render import RenderSettings, UtterancePlan, render_shard
from codesign.data._speakers import Speaker, draw_speakers
from codesign.data._vocabulary import (
    BABBLE_WORDS,
    COMMAND_CLASSES,
    DIGIT_TOKENS,
    DIGIT_WORDS,
    OH,
    SILENCE,
    UNKNOWN,
    UNKNOWN_WORDS,
)

#: Utterances per shard: one fresh eSpeak renders each shard in order. Part of the generator's
#: definition (changing it changes the audio), hence fixed.
SHARD_SIZE = 64
_TENSOR_KEYS = ("features", "feature_lengths", "targets", "target_lengths", "speaker_index")


@dataclass(frozen=True)
class PlannedUtterance:
    """One utterance of the plan: where it goes, what it says, and how it is labelled."""

    split: str
    render: UtterancePlan
    target: int | tuple[int, ...]


@dataclass(frozen=True)
class CorpusPlan:
    """The whole corpus before any audio exists.

    ``missing_engines`` maps each configured engine that is not installed to its role
    (``train`` or ``heldout``), the reason and the splits it would have spoken; ``notes``
    says the same in sentences (printed when the corpus is generated, kept in the manifest).
    """

    utterances: tuple[PlannedUtterance, ...]
    speakers: dict[str, tuple[Speaker, ...]]
    vocabulary: tuple[str, ...]
    missing_engines: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _missing_engine(name: str, role: str, reason: str | None) -> tuple[dict[str, Any], str]:
    """What the manifest records of a missing engine, and the note that says what it costs."""
    affects = ["train", "validation"] if role == "train" else ["test"]
    note = (
        f"engine {name} ({'training' if role == 'train' else 'held out'}) is missing: "
        f"{reason}; the {' and '.join(affects)} split{'s' if len(affects) > 1 else ''} "
        f"{'have' if len(affects) > 1 else 'has'} no {name} speakers"
    )
    return {"role": role, "reason": reason, "affects": affects}, note


def _resolve_engines(
    cfg: CorpusConfig,
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], dict[str, dict[str, Any]], list[str]]:
    """The installed training and held-out engines with their voices, the missing ones, and notes."""
    missing: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    train: dict[str, tuple[str, ...]] = {}
    heldout: dict[str, tuple[str, ...]] = {}
    for role, names, found in (
        ("train", cfg.engines.train, train),
        ("heldout", cfg.engines.heldout, heldout),
    ):
        for name in names:
            status = engine_status(name)
            if status.available:
                found[name] = status.voices
                continue
            missing[name], note = _missing_engine(name, role, status.missing_reason)
            notes.append(note)
    if not train:
        raise ConfigError(
            None,
            "engines.train",
            "at least one installed training engine",
            got=list(cfg.engines.train),
            hint="; ".join(notes),
        )
    if cfg.engines.heldout and not heldout:
        notes.append(
            "no held-out engine is installed, so the test split holds unseen speakers of the training "
            f"engines ({', '.join(train)}) and measures no transfer to another engine"
        )
    return train, heldout, missing, notes


def plan_corpus(cfg: CorpusConfig) -> CorpusPlan:
    """Draw speakers, split them, and choose every utterance's words, label and seed from ``cfg.seed``.

    Training-engine speakers form the train and validation splits (validation: speakers not
    in train); held-out-engine speakers form the test split. Without an installed held-out
    engine the test split takes unseen training-engine speakers, as the notes say.
    """
    rng = np.random.default_rng(cfg.seed)
    train_engines, heldout_engines, missing, notes = _resolve_engines(cfg)
    fractions = cfg.split
    n_total = cfg.speaker_count
    n_val_spk = max(1, round(n_total * fractions.validation))
    n_test_spk = max(1, round(n_total * fractions.test))
    try:
        if heldout_engines:
            known = draw_speakers(rng, n_total - n_test_spk, cfg.difficulty, train_engines)
            test_speakers = draw_speakers(rng, n_test_spk, cfg.difficulty, heldout_engines)
        else:
            known = draw_speakers(rng, n_total, cfg.difficulty, train_engines)
            known, test_speakers = known[: n_total - n_test_spk], known[n_total - n_test_spk :]
    except ValueError as err:
        raise ConfigError(
            None,
            "n_speakers",
            "a speaker count the engines' voices and rates can give",
            got=n_total,
            hint=str(err),
        ) from None
    by_split = {
        "train": tuple(known[: len(known) - n_val_spk]),
        "validation": tuple(known[len(known) - n_val_spk :]),
        "test": tuple(test_speakers),
    }
    n_val = max(1, round(cfg.size * fractions.validation))
    n_test = max(1, round(cfg.size * fractions.test))
    counts = {"train": cfg.size - n_val - n_test, "validation": n_val, "test": n_test}
    vocabulary = COMMAND_CLASSES if cfg.task == "commands" else DIGIT_TOKENS

    utterances: list[PlannedUtterance] = []
    for split in SPLITS:
        pool = by_split[split]
        # Every speaker of a split says about the same number of utterances.
        order = np.concatenate([rng.permutation(len(pool)) for _ in range(-(-counts[split] // len(pool)))])
        for i in range(counts[split]):
            words, target = _draw_words(rng, cfg)
            plan = UtterancePlan(
                index=len(utterances), speaker=pool[order[i]], words=words, seed=int(rng.integers(2**63))
            )
            utterances.append(PlannedUtterance(split, plan, target))
    return CorpusPlan(tuple(utterances), by_split, vocabulary, missing, tuple(notes))


def _draw_words(rng: np.random.Generator, cfg: CorpusConfig) -> tuple[tuple[str, ...], int | tuple[int, ...]]:
    if cfg.task == "commands":
        label = int(rng.integers(len(COMMAND_CLASSES)))
        name = COMMAND_CLASSES[label]
        if name == SILENCE:
            return (), label
        if name == UNKNOWN:
            return (str(rng.choice(UNKNOWN_WORDS)),), label
        return (name,), label
    n_digits = int(rng.integers(cfg.min_digits, cfg.max_digits + 1))
    digits = rng.integers(0, 10, size=n_digits)
    ohs = rng.random(n_digits) < cfg.oh_probability
    words = tuple(OH if d == 0 and oh else DIGIT_WORDS[d] for d, oh in zip(digits, ohs, strict=True))
    return words, tuple(DIGIT_TOKENS.index(w) for w in words)


def render_settings(cfg: CorpusConfig) -> RenderSettings:
    accents, variants = available_voices()
    return RenderSettings(
        sample_rate=cfg.features.sample_rate,
        clip_s=cfg.clip_s if cfg.task == "commands" else None,
        difficulty=cfg.difficulty,
        accents=accents,
        variants=variants,
        babble_words=BABBLE_WORDS,
    )


def _render_job(
    job: tuple[int, list[UtterancePlan]], settings: RenderSettings, seed: int
) -> tuple[int, list[np.ndarray]]:
    shard, plans = job
    shard_seed = int(np.random.default_rng([seed, shard]).integers(2**31))
    return shard, render_shard(plans, settings, shard_seed)


def _render_all(
    cfg: CorpusConfig, plan: CorpusPlan, workers: int, progress: bool, desc: str
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Yield ``(first index, waveforms)`` per shard, in plan order."""
    renders = [u.render for u in plan.utterances]
    jobs = [
        (s, renders[s * SHARD_SIZE : (s + 1) * SHARD_SIZE]) for s in range(-(-len(renders) // SHARD_SIZE))
    ]
    work = partial(_render_job, settings=render_settings(cfg), seed=cfg.seed)
    bar = tqdm(total=len(renders), desc=desc, unit="utt", disable=not progress, leave=False)
    try:
        # A daemonic process (a multiprocessing pool worker) may not start children.
        if workers <= 1 or len(jobs) <= 1 or mp.current_process().daemon:
            for job in jobs:
                shard, waves = work(job)
                bar.update(len(waves))
                yield shard * SHARD_SIZE, waves
            return
        # fork: workers need only numpy, scipy and a private eSpeak, never torch's thread pools.
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        with mp.get_context(method).Pool(min(workers, len(jobs)), initializer=_worker_signals) as pool:
            for shard, waves in pool.imap(work, jobs):
                bar.update(len(waves))
                yield shard * SHARD_SIZE, waves
    finally:
        bar.close()


def _worker_signals() -> None:
    """A forked worker takes the default signal dispositions, not its parent's: the pool ends
    its workers with SIGTERM, and a command's SIGTERM handler (``codesign.cli``, which raises
    in the main thread to clean up) inherited by a worker made it linger, waiting on the pool's
    lock while the parent waited for it. Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _featurise(cfg: CorpusConfig, waves: Sequence[np.ndarray], warps: Sequence[float]) -> list[torch.Tensor]:
    return log_mel(waves, cfg.features, warps)


#: Mixed into an utterance's seed for its VTLP factor: a stream of its own, so turning VTLP on
#: leaves every other random choice of the corpus as it was.
_VTLP_STREAM = 0x7715


def vtlp_warps(cfg: CorpusConfig, plan: CorpusPlan) -> list[float]:
    """Each planned utterance's VTLP factor: drawn from ``difficulty.vtlp_warp`` for the
    training split, 1 for validation and test (an augmentation of what the network learns
    from, never of what it is scored on)."""
    low, high = cfg.difficulty.vtlp_warp
    return [
        float(np.random.default_rng([u.render.seed, _VTLP_STREAM]).uniform(low, high))
        if u.split == "train" and (low, high) != (1.0, 1.0)
        else 1.0
        for u in plan.utterances
    ]


def default_workers() -> int:
    """Generation processes: two, or fewer if the machine has fewer cores."""
    return max(1, min(2, os.cpu_count() or 1))


def load_corpus(
    cfg: CorpusConfig, cache_dir: Path | str | None = None, progress: bool = True, workers: int | None = None
) -> Corpus:
    """Return the synthetic corpus ``cfg`` describes, from the cache or generated (then cached).

    Args:
        cfg: the corpus configuration.
        cache_dir: the cache root; entries live in ``<cache_dir>/<cfg.cache_key()>/``.
            ``None``: :func:`default_cache_root`.
        progress: show a tqdm bar while generating.
        workers: generation processes (default :func:`default_workers`); the result does not
            depend on it.

    Raises:
        ConfigError: the cache entry exists but a file in it is damaged (the message names it).
    """
    if cfg.imported is not None:
        return _read_imported(cfg)
    root = Path(cache_dir) if cache_dir is not None else default_cache_root()
    entry = root / cfg.cache_key()
    if (entry / "manifest.json").is_file():
        return _read_corpus(entry, cache_hit=True)
    started = time.perf_counter()
    manifest, tensors = _generate(cfg, workers if workers is not None else default_workers(), progress)
    manifest["generation_seconds"] = round(time.perf_counter() - started, 3)
    entry = write_entry(root, cfg.cache_key(), manifest, tensors)
    return _read_corpus(entry, cache_hit=False)


def _generate(
    cfg: CorpusConfig, workers: int, progress: bool
) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    plan = plan_corpus(cfg)
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    features: list[torch.Tensor] = []
    warps = vtlp_warps(cfg, plan)
    for first, waves in _render_all(cfg, plan, workers, progress, desc=f"synthesising {cfg.task}"):
        assert first == len(features)  # imap keeps plan order
        features.extend(_featurise(cfg, waves, warps[first : first + len(waves)]))
    kind: CorpusKind = "classification" if cfg.task == "commands" else "ctc"
    train_features = [f for f, u in zip(features, plan.utterances, strict=True) if u.split == "train"]
    mean, std = feature_statistics(train_features)
    tensors: dict[str, dict[str, torch.Tensor]] = {"statistics": {"mean": mean, "std": std}}
    speaker_ids: dict[str, list[str]] = {}
    for split in SPLITS:
        tensors[split], speaker_ids[split] = _split_tensors(plan, split, features, mean, std, kind)
    return _synthetic_manifest(cfg, plan, kind, tensors, speaker_ids), tensors


def _split_tensors(plan: CorpusPlan, split: str, features: list[torch.Tensor], mean: torch.Tensor,
                   std: torch.Tensor, kind: CorpusKind) -> tuple[dict[str, torch.Tensor], list[str]]:
    """One split's tensors (normalised with the training statistics) and its speakers' ids."""
    members = [i for i, u in enumerate(plan.utterances) if u.split == split]
    ids = [s.id for s in plan.speakers[split]]
    index_of = {sid: k for k, sid in enumerate(ids)}
    spk = [plan.utterances[i].render.speaker.id for i in members]
    built = assemble_split(
        [features[i] for i in members], [plan.utterances[i].target for i in members], spk, mean, std, kind
    )
    return {
        "features": built.features,
        "feature_lengths": built.feature_lengths,
        "targets": built.targets,
        "target_lengths": built.target_lengths,
        "speaker_index": torch.tensor([index_of[s] for s in spk], dtype=torch.int64),
    }, ids


def _synthetic_manifest(cfg: CorpusConfig, plan: CorpusPlan, kind: CorpusKind,
                        tensors: dict[str, dict[str, torch.Tensor]], speaker_ids: dict[str, list[str]]) -> dict[str, Any]:
    """The synthetic corpus entry's manifest."""
    return {
        "kind": "codesign-corpus",
        "task": cfg.task,
        "corpus_kind": kind,
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "config_hash": cfg.config_hash(),
        "cache_key": cfg.cache_key(),
        "generator_version": GENERATOR_VERSION,
        "codesign_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "vocabulary": list(plan.vocabulary),
        "n_features": cfg.features.n_mels,
        "frame_ms": cfg.features.frame_ms,
        "sizes": {s: int(tensors[s]["targets"].shape[0]) for s in SPLITS},
        "frames": {s: int(tensors[s]["features"].shape[1]) for s in SPLITS},
        "speakers": speaker_ids,
        "engines": {s: sorted({sp.engine for sp in plan.speakers[s]}) for s in SPLITS},
        "voices": {s: sorted({f"{sp.engine}:{sp.voice}" for sp in plan.speakers[s]}) for s in SPLITS},
        "engine_inventory": engine_inventory(cfg.engines.train + cfg.engines.heldout),
        "missing_engines": plan.missing_engines,
        "notes": list(plan.notes),
    }


def _read_imported(cfg: CorpusConfig) -> Corpus:
    """The corpus of a folder written by ``codesign data import``, checked against ``cfg.task``."""
    assert cfg.imported is not None
    entry = Path(cfg.imported).expanduser()
    if not (entry / "manifest.json").is_file():
        raise ConfigError(
            None,
            "corpus.imported",
            "a folder written by `codesign data import`",
            got=str(entry),
            hint="it has no manifest.json",
        )
    corpus = read_corpus_folder(entry, cache_hit=True)
    if corpus.task != cfg.task:
        raise ConfigError(
            entry / "manifest.json", "task", f"the corpus config's task {cfg.task!r}", got=corpus.task
        )
    # the folder's features were computed at import: a network trained on normalised features
    # and scored on unnormalised ones (or the reverse) would be scored on the wrong inputs
    imported_features = (corpus.manifest.get("imported") or {}).get("features") or {}
    norm = str(imported_features.get("utterance_normalisation", "none"))
    if norm != cfg.features.utterance_normalisation:
        raise ConfigError(
            None,
            "corpus.features.utterance_normalisation",
            f"the imported folder's {norm!r} ({entry} was imported with it)",
            got=cfg.features.utterance_normalisation,
            hint="name the same in the corpus config, or import again with "
            f"`codesign data import --utterance-normalisation {cfg.features.utterance_normalisation}`",
        )
    # the key the driver computed travels with the corpus: a worker never re-reads the folder
    corpus.manifest.setdefault("cache_key", cfg.cache_key())
    return corpus


def read_corpus_folder(entry: Path, cache_hit: bool) -> Corpus:
    """A corpus folder (a cache entry or an imported dataset) as a :class:`Corpus`."""
    return _read_corpus(entry, cache_hit)


def _read_corpus(entry: Path, cache_hit: bool) -> Corpus:
    manifest = read_manifest(entry)
    try:
        vocabulary = tuple(str(v) for v in manifest["vocabulary"])
        token_unit = manifest.get("token_unit", "word")
        if token_unit not in ("word", "character"):
            raise ValueError(f"token_unit {token_unit!r}")
        speakers = {s: tuple(str(x) for x in manifest["speakers"][s]) for s in SPLITS}
        task, kind = str(manifest["task"]), manifest["corpus_kind"]
        n_features, frame_ms = int(manifest["n_features"]), float(manifest["frame_ms"])
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            entry / "manifest.json",
            str(err),
            "a complete corpus manifest",
            hint=f"delete {entry} to rebuild it",
        ) from None
    stats = read_tensors(entry, "statistics", ("mean", "std"))
    splits = {split: _read_split(entry, split, speakers[split]) for split in SPLITS}
    return Corpus(
        task=task,
        kind=kind,
        vocabulary=vocabulary,
        n_features=n_features,
        frame_ms=frame_ms,
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        feature_mean=stats["mean"],
        feature_std=stats["std"],
        source=str(manifest["source"]) if "imported" in manifest else f"synthetic:{entry.name}",
        token_unit=token_unit,
        cache_path=entry,
        cache_hit=cache_hit,
        manifest=manifest,
    )


def _read_split(entry: Path, split: str, speakers: tuple[str, ...]) -> CorpusSplit:
    """One split's tensors, its speaker indices checked against the manifest's speakers."""
    t = read_tensors(entry, split, _TENSOR_KEYS)
    idx = t["speaker_index"].tolist()
    if idx and (min(idx) < 0 or max(idx) >= len(speakers)):
        raise ConfigError(entry / f"{split}.pt", "speaker_index", "indices into the manifest's speakers")
    return CorpusSplit(
        t["features"], t["feature_lengths"], t["targets"], t["target_lengths"],
        tuple(speakers[i] for i in idx),
    )  # fmt: skip


def load_waveforms(cfg: CorpusConfig, split: str, indices: Sequence[int] | None = None) -> list[np.ndarray]:
    """Re-render the raw audio (float32 at ``cfg.features.sample_rate``) of utterances of one split.

    The audio is exactly what the cached features were computed from; it is rendered again
    (not cached) because waveforms are ~40x larger than features.

    Args:
        cfg: the corpus configuration.
        split: ``train``, ``validation`` or ``test``.
        indices: row indices within the split (default: all of it).
    """
    if split not in SPLITS:
        raise ConfigError(None, "split", f"one of {', '.join(SPLITS)}", got=split)
    if cfg.imported is not None:
        raise ConfigError(
            None,
            "imported",
            "a synthetic corpus config (an imported corpus keeps no audio)",
            got=cfg.imported,
        )
    plan = plan_corpus(cfg)
    members = [i for i, u in enumerate(plan.utterances) if u.split == split]
    wanted = [members[i] for i in _rows(len(members), indices, split)]
    by_index = _rendered(wanted, [u.render for u in plan.utterances], render_settings(cfg), cfg.seed)
    return [by_index[g] for g in wanted]


def _rendered(wanted: list[int], renders: list[UtterancePlan], settings: RenderSettings, seed: int) -> dict[int, np.ndarray]:
    """The audio of the utterances ``wanted`` (plan indices): each shard they fall in replayed
    from its start, up to the last one wanted."""
    by_index: dict[int, np.ndarray] = {}
    for shard in sorted({g // SHARD_SIZE for g in wanted}):
        start = shard * SHARD_SIZE
        last = max(g for g in wanted if g // SHARD_SIZE == shard)
        # A shard's audio depends on what its eSpeak spoke before, so replay from its start.
        _, waves = _render_job((shard, renders[start : last + 1]), settings, seed)
        for offset, wave in enumerate(waves):
            by_index[start + offset] = wave
    return by_index


def _rows(n: int, indices: Sequence[int] | None, split: str) -> list[int]:
    """``indices`` (default: all ``n`` rows), each a row of the split."""
    chosen = list(range(n)) if indices is None else list(indices)
    for i in chosen:
        if not 0 <= i < n:
            raise ConfigError(None, "indices", f"row indices in [0, {n}) of split {split}", got=i)
    return chosen
