"""Loaders for real corpora already on disk: Google Speech Commands v2, LibriSpeech, Spiking Heidelberg Digits.

Each returns the same :class:`Corpus` as the synthetic generator, with features normalised
by training-set statistics. Nothing is downloaded: the user points at a folder in the
dataset's own layout. A missing or unreadable file raises :class:`ConfigError` naming it.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from math import gcd
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from codesign.config import ConfigError
from codesign.data._config import FeatureConfig
from codesign.data._corpus import (
    SPLITS,
    Corpus,
    CorpusKind,
    CorpusSplit,
    TokenUnit,
    assemble_split,
    feature_statistics,
)
from codesign.data._features import log_mel
from codesign.data._vocabulary import BLANK, UNKNOWN

#: LibriSpeech CTC tokens: blank, word separator, apostrophe, a-z (its transcripts use no others).
LIBRISPEECH_TOKENS: tuple[str, ...] = (BLANK, " ", "'", *string.ascii_lowercase)

_SC_EXPECTED = (
    "a Speech Commands v2 folder: one folder of .wav files per word, validation_list.txt, testing_list.txt"
)


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Read a wav/flac file as mono float32 at ``sample_rate`` (resampled if it differs).

    Raises:
        ConfigError: the file is missing or not readable audio.
    """
    import soundfile
    from scipy.signal import resample_poly

    if not path.is_file():
        raise ConfigError(path, "", "an audio file", hint="file not found")
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        raise ConfigError(path, "", "a readable wav or flac file", hint=str(err).strip()) from None
    mono: np.ndarray = audio.mean(axis=1)
    if rate != sample_rate:
        g = gcd(int(rate), sample_rate)
        mono = resample_poly(mono, sample_rate // g, int(rate) // g).astype(np.float32)
    return mono


def _build(
    task: str,
    kind: CorpusKind,
    vocabulary: Sequence[str],
    items: Mapping[str, Sequence[tuple[torch.Tensor, Any, str]]],
    frame_ms: float,
    source: str,
    token_unit: TokenUnit = "word",
    normalise: bool = True,
    extra_manifest: Mapping[str, Any] | None = None,
) -> Corpus:
    """Assemble a Corpus from per-split (features, target, speaker) triples."""
    for split in SPLITS:
        if not items[split]:
            raise ConfigError(
                source, split, "at least one utterance in every split", hint=f"the {split} split is empty"
            )
    n_features = int(items["train"][0][0].shape[1])
    if normalise:
        mean, std = feature_statistics([f for f, _, _ in items["train"]])
    else:
        mean, std = torch.zeros(n_features), torch.ones(n_features)
    splits: dict[str, CorpusSplit] = {}
    for split in SPLITS:
        feats, targets, speakers = zip(*items[split], strict=True)
        splits[split] = assemble_split(list(feats), list(targets), list(speakers), mean, std, kind)
    manifest = {
        "kind": "codesign-corpus",
        "task": task,
        "corpus_kind": kind,
        "source": source,
        "vocabulary": list(vocabulary),
        "n_features": n_features,
        "frame_ms": frame_ms,
        "sizes": {s: len(splits[s]) for s in SPLITS},
        "speakers": {s: sorted(set(splits[s].speakers)) for s in SPLITS},
        **(extra_manifest or {}),
    }
    return Corpus(
        task=task,
        kind=kind,
        vocabulary=tuple(vocabulary),
        n_features=n_features,
        frame_ms=frame_ms,
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        feature_mean=mean,
        feature_std=std,
        source=source,
        token_unit=token_unit,
        manifest=manifest,
    )


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad or centre-crop to ``length`` samples (Speech Commands clips are at most 1 s)."""
    if len(audio) >= length:
        start = (len(audio) - length) // 2
        return audio[start : start + length]
    out = np.zeros(length, dtype=np.float32)
    out[: len(audio)] = audio
    return out


def load_speech_commands(
    root: str | Path,
    features: FeatureConfig | None = None,
    keywords: Sequence[str] | None = None,
    clip_s: float = 1.0,
    progress: bool = True,
) -> Corpus:
    """Load Google Speech Commands v2 from its own folder layout.

    Args:
        root: the folder holding one sub-folder of ``.wav`` files per word (``_background_noise_``
            and other ``_``-folders are skipped), ``validation_list.txt`` and ``testing_list.txt``
            (paths relative to ``root``); every other file is training data.
        features: log-mel settings (default :class:`FeatureConfig`).
        keywords: if given, these words are classes and every other word is ``unknown``
            (vocabulary ``keywords + ["unknown"]``); otherwise each word folder is a class.
        clip_s: clips are zero-padded or centre-cropped to this length.
        progress: show a tqdm bar while reading.

    Returns:
        A ``commands`` classification Corpus; speakers are the file-name prefix before
        ``_nohash_`` (the dataset's lists keep speakers apart).

    Raises:
        ConfigError: the folder, a list file, a listed file or a keyword folder is missing,
            or an audio file is unreadable.
    """
    features = features or FeatureConfig()
    root = Path(root)
    words = _sc_words(root)
    vocabulary = _sc_vocabulary(root, words, keywords)
    listed = _sc_lists(root)
    files = sorted(f"{w}/{p.name}" for w in words for p in (root / w).glob("*.wav"))
    items: dict[str, list[tuple[torch.Tensor, Any, str]]] = {s: [] for s in SPLITS}
    length = round(clip_s * features.sample_rate)
    batch: list[tuple[str, str]] = []

    def flush() -> None:
        waves = [_fit(read_audio(root / rel, features.sample_rate), length) for rel, _ in batch]
        for (rel, split), feat in zip(batch, log_mel(waves, features), strict=True):
            word, name = rel.split("/", 1)
            label = vocabulary.index(word) if word in vocabulary else vocabulary.index(UNKNOWN)
            items[split].append((feat, label, name.split("_nohash_", 1)[0]))
        batch.clear()

    for rel in tqdm(files, desc="reading Speech Commands", unit="wav", disable=not progress, leave=False):
        split = "validation" if rel in listed["validation"] else "test" if rel in listed["test"] else "train"
        batch.append((rel, split))
        if len(batch) == 256:
            flush()
    flush()
    return _build("commands", "classification", vocabulary, items, features.frame_ms, str(root))


def _sc_words(root: Path) -> list[str]:
    """The word folders of a Speech Commands folder (``_``-folders skipped)."""
    if not root.is_dir():
        raise ConfigError(root, "", _SC_EXPECTED, hint="directory not found")
    words = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    if not words:
        raise ConfigError(root, "", _SC_EXPECTED, hint="no word folders found")
    return words


def _sc_vocabulary(root: Path, words: list[str], keywords: Sequence[str] | None) -> tuple[str, ...]:
    """Each word a class, or the keywords and ``unknown`` (every keyword a word folder)."""
    if keywords is None:
        return tuple(words)
    missing = [k for k in keywords if k not in words]
    if missing:
        raise ConfigError(root, "keywords", f"keywords that are word folders of {root}", got=missing)
    return (*keywords, UNKNOWN)


def _sc_lists(root: Path) -> dict[str, set[str]]:
    """The validation and test lists: split -> the files listed (each one there)."""
    listed: dict[str, set[str]] = {}
    for split, name in (("validation", "validation_list.txt"), ("test", "testing_list.txt")):
        path = root / name
        if not path.is_file():
            raise ConfigError(
                path, "", "the Speech Commands list of " + split + " files", hint="file not found"
            )
        entries = {line.strip() for line in path.read_text().splitlines() if line.strip()}
        missing = next((entry for entry in sorted(entries) if not (root / entry).is_file()), None)
        if missing is not None:
            raise ConfigError(root / missing, "", f"an audio file (listed in {name})", hint="file not found")
        listed[split] = entries
    return listed


def load_librispeech(
    root: str | Path,
    subsets: Mapping[str, str] | None = None,
    features: FeatureConfig | None = None,
    max_utterances: int | None = None,
    progress: bool = True,
) -> Corpus:
    """Load LibriSpeech from its own layout for character-level CTC.

    Args:
        root: the folder holding the subsets (``train-clean-100/<speaker>/<chapter>/`` with
            ``<speaker>-<chapter>.trans.txt`` and one ``.flac`` per transcript line).
        subsets: which subset feeds each split; default ``train-clean-100``, ``dev-clean``,
            ``test-clean`` (LibriSpeech's subsets do not share speakers).
        features: log-mel settings (default :class:`FeatureConfig`).
        max_utterances: keep at most this many per split (first in sorted order); the
            padded feature tensors of a full subset do not fit in memory.
        progress: show a tqdm bar while reading.

    Returns:
        A ``librispeech`` CTC Corpus over :data:`LIBRISPEECH_TOKENS` (``token_unit`` is
        ``"character"``; use :meth:`Corpus.to_words` before word error rates).

    Raises:
        ConfigError: a subset folder, a transcript's audio file is missing, a transcript line
            is malformed or holds a character outside the token set, or audio is unreadable.
    """
    features = features or FeatureConfig()
    root = Path(root)
    subsets = dict(subsets or {"train": "train-clean-100", "validation": "dev-clean", "test": "test-clean"})
    if set(subsets) != set(SPLITS):
        raise ConfigError(
            None, "subsets", "a subset for each of train, validation and test", got=sorted(subsets)
        )
    items = {split: _librispeech_split(root / subsets[split], split, features, max_utterances, progress)
             for split in SPLITS}
    return _build(
        "librispeech", "ctc", LIBRISPEECH_TOKENS, items, features.frame_ms, str(root), token_unit="character",
        extra_manifest={"subsets": subsets},
    )  # fmt: skip


def _librispeech_split(folder: Path, split: str, features: FeatureConfig, max_utterances: int | None,
                       progress: bool) -> list[tuple[torch.Tensor, Any, str]]:
    """One split's utterances from its subset folder: (features, tokens, speaker)."""
    if not folder.is_dir():
        raise ConfigError(
            folder, "", f"a LibriSpeech subset folder for the {split} split", hint="directory not found"
        )
    entries = [entry for transcript in sorted(folder.glob("*/*/*.trans.txt"))
               for entry in _librispeech_entries(transcript)]
    if max_utterances is not None:
        entries = entries[:max_utterances]
    items: list[tuple[torch.Tensor, Any, str]] = []
    for start in tqdm(
        range(0, len(entries), 64), desc=f"reading LibriSpeech {split}", disable=not progress, leave=False
    ):
        chunk = entries[start : start + 64]
        waves = [read_audio(path, features.sample_rate) for path, _, _ in chunk]
        for (_, tokens, speaker), feat in zip(chunk, log_mel(waves, features), strict=True):
            items.append((feat, tokens, speaker))
    return items


def _librispeech_entries(transcript: Path) -> list[tuple[Path, tuple[int, ...], str]]:
    """(audio file, character tokens, speaker) of each line of one chapter's transcript.

    Raises:
        ConfigError: a line that is not ``<utterance-id> <TRANSCRIPT>`` over the token set.
    """
    entries: list[tuple[Path, tuple[int, ...], str]] = []
    for number, line in enumerate(transcript.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        utt_id, _, text = line.strip().partition(" ")
        bad = sorted({c for c in text.lower() if c not in LIBRISPEECH_TOKENS[1:]})
        if not text or bad:
            raise ConfigError(
                transcript, f"line {number}", "'<utterance-id> <TRANSCRIPT>' in upper-case letters, apostrophes and spaces",
                got=line.strip(),
            )  # fmt: skip
        tokens = tuple(LIBRISPEECH_TOKENS.index(c) for c in " ".join(text.lower().split()))
        entries.append((transcript.parent / f"{utt_id}.flac", tokens, utt_id.split("-", 1)[0]))
    return entries


def _read_shd_file(h5py: ModuleType, path: Path) -> dict[str, Any]:
    """One SHD file's spike trains, labels and speakers (and its class names, if it has them).

    Raises:
        ConfigError: the file is missing, unreadable, lacks a dataset, or its datasets disagree
            in length.
    """
    if not path.is_file():
        raise ConfigError(path, "", "an SHD HDF5 file", hint="file not found")
    try:
        with h5py.File(path, "r") as f:
            data: dict[str, Any] = {}
            for key in ("spikes/times", "spikes/units", "labels", "extra/speaker"):
                if key not in f:
                    raise ConfigError(path, key, "this SHD dataset in the file")
                data[key] = (
                    [np.asarray(x) for x in f[key]] if key.startswith("spikes") else np.asarray(f[key])
                )
            data["keys"] = _shd_keys(f)
    except OSError as err:
        raise ConfigError(path, "", "a readable SHD HDF5 file", hint=str(err)) from None
    if (
        not len(data["labels"])
        == len(data["spikes/times"])
        == len(data["spikes/units"])
        == len(data["extra/speaker"])
    ):
        raise ConfigError(path, "labels", "as many labels, speakers and spike trains as utterances")
    return data


def _shd_keys(f: Mapping[str, Any]) -> list[str] | None:
    """The file's class names (``extra/keys``), or None."""
    if "extra/keys" not in f:
        return None
    return [k.decode() if isinstance(k, bytes) else str(k) for k in f["extra/keys"]]


def _shd_vocabulary(loaded: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """The training file's class names when it names every class, else ``"0"``, ``"1"``, ..."""
    n_classes = int(max(int(d["labels"].max()) for d in loaded.values())) + 1
    keys = loaded["train"]["keys"]
    return tuple(keys) if keys and len(keys) >= n_classes else tuple(str(i) for i in range(n_classes))


def _shd_validation_speakers(train: dict[str, Any], root: Path, fraction: float, seed: int) -> set[int]:
    """The training speakers held out as validation (at least one), drawn with ``seed``."""
    speakers = sorted({int(s) for s in train["extra/speaker"]})
    if len(speakers) < 2:
        raise ConfigError(
            root / "shd_train.h5",
            "extra/speaker",
            "at least two training speakers to hold one out for validation",
        )
    order = np.random.default_rng(seed).permutation(speakers)
    return {int(s) for s in order[: max(1, round(fraction * len(speakers)))]}


def _shd_split(file: str, speaker: int, held_out: set[int]) -> str:
    if file == "test":
        return "test"
    return "validation" if speaker in held_out else "train"


def load_shd(
    root: str | Path,
    bin_ms: float = 10.0,
    unit_pool: int = 1,
    validation_fraction: float = 0.1,
    normalise: bool = True,
    seed: int = 0,
) -> Corpus:
    """Load the Spiking Heidelberg Digits (``shd_train.h5``, ``shd_test.h5``) as binned spike counts.

    Each frame counts the spikes of each input unit (700 cochlea channels, or groups of
    ``unit_pool`` neighbouring channels) in ``bin_ms``. Needs the optional ``h5py`` package.

    Args:
        root: the folder holding ``shd_train.h5`` and ``shd_test.h5``.
        bin_ms: frame length.
        unit_pool: channels summed into one feature (1 keeps all 700).
        validation_fraction: share of the training speakers held out as validation (SHD has
            no validation split); at least one speaker.
        normalise: normalise counts with training statistics (the Corpus contract); False
            keeps raw counts for spiking inputs (mean 0, std 1 recorded).
        seed: chooses the validation speakers.

    Returns:
        An ``shd`` classification Corpus; the vocabulary is the file's ``extra/keys`` or
        ``"0"``..``"19"``. The official test split is kept as-is.

    Raises:
        ConfigError: h5py is missing, a file is missing or corrupt, or lacks a dataset.
    """
    try:
        import h5py
    except ImportError:
        raise ConfigError(
            None, "h5py", "the optional h5py package to read SHD", hint="pip install 'codesign[shd]'"
        ) from None
    if bin_ms <= 0 or unit_pool < 1 or not 0 < validation_fraction < 1:
        raise ConfigError(None, "bin_ms/unit_pool/validation_fraction", "bin_ms > 0, unit_pool >= 1, 0 < validation_fraction < 1",
                          got=(bin_ms, unit_pool, validation_fraction))  # fmt: skip
    root = Path(root)
    loaded: dict[str, dict[str, Any]] = {}
    for name in ("train", "test"):
        loaded[name] = _read_shd_file(h5py, root / f"shd_{name}.h5")
    vocabulary = _shd_vocabulary(loaded)
    n_units = 700
    n_features = math.ceil(n_units / unit_pool)
    held_out = _shd_validation_speakers(loaded["train"], root, validation_fraction, seed)

    items: dict[str, list[tuple[torch.Tensor, Any, str]]] = {s: [] for s in SPLITS}
    for name, data in loaded.items():
        for times, units, label, speaker in zip(
            data["spikes/times"], data["spikes/units"], data["labels"], data["extra/speaker"], strict=True
        ):
            frames = max(1, math.ceil(float(times.max(initial=0.0)) * 1000 / bin_ms + 1e-9))
            counts = torch.zeros(frames, n_features)
            t_idx = np.minimum((times * 1000 / bin_ms).astype(np.int64), frames - 1)
            u_idx = np.clip(units.astype(np.int64), 0, n_units - 1) // unit_pool
            counts.index_put_(
                (torch.from_numpy(t_idx), torch.from_numpy(u_idx)), torch.ones(len(t_idx)), accumulate=True
            )
            items[_shd_split(name, int(speaker), held_out)].append((counts, int(label), f"shd-{int(speaker)}"))
    return _build("shd", "classification", vocabulary, items, bin_ms, str(root), normalise=normalise,
                  extra_manifest={"bin_ms": bin_ms, "unit_pool": unit_pool})  # fmt: skip
