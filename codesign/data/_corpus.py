"""The Corpus and CorpusSplit types every model and trainer consumes, and how splits are assembled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from codesign.data._speakers import engine_of

SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: What a corpus's targets are: one class index per utterance, or a CTC token sequence.
CorpusKind = Literal["classification", "ctc"]
#: What a CTC token is: a word (digits) or a character (LibriSpeech, ``" "`` between words).
TokenUnit = Literal["word", "character"]


@dataclass(frozen=True, eq=False)
class CorpusSplit:
    """One split's tensors; row ``i`` of each is utterance ``i``.

    Attributes:
        features: float32 ``[N, frames, n_features]``, normalised with training statistics,
            zero after each utterance's ``feature_lengths``.
        feature_lengths: int64 ``[N]`` valid frames.
        targets: int64 ``[N]`` class indices, or ``[N, L]`` token indices padded with 0.
        target_lengths: int64 ``[N]`` (all 1 for classification).
        speakers: one speaker id per utterance.
    """

    features: torch.Tensor
    feature_lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor
    speakers: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def engines(self) -> tuple[str, ...]:
        """The synthesis engine of each utterance (``""`` for recorded speech), from its speaker id."""
        return tuple(engine_of(s) for s in self.speakers)


@dataclass(frozen=True, eq=False)
class Corpus:
    """A speech task ready for training: vocabulary, feature size and three speaker-disjoint splits.

    Attributes:
        task: ``"commands"`` or ``"digits"`` for the synthetic tasks and Speech Commands;
            ``"shd"`` and ``"librispeech"`` for those loaders.
        kind: ``"classification"`` (targets ``[N]``, metric accuracy) or ``"ctc"`` (targets
            ``[N, L]``, blank index 0, metric WER).
        vocabulary: class names, or CTC tokens with ``vocabulary[0]`` the blank.
        n_features: feature size per frame (``n_mels``, or input units for SHD).
        frame_ms: time between frames in milliseconds.
        feature_mean, feature_std: ``[n_features]`` training statistics used to normalise.
        source: where it came from (``synthetic:<key>`` or a dataset path).
        token_unit: what a CTC token is: ``"word"`` (digits) or ``"character"`` (LibriSpeech,
            where ``" "`` separates words); see :meth:`to_words`.
        cache_path: the cache directory it was read from or written to, if any.
        cache_hit: True when it was read from an existing cache.
        manifest: the manifest describing it (config, sizes, speakers per split, ...).
    """

    task: str
    kind: CorpusKind
    vocabulary: tuple[str, ...]
    n_features: int
    frame_ms: float
    train: CorpusSplit
    validation: CorpusSplit
    test: CorpusSplit
    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    source: str
    token_unit: TokenUnit = "word"
    cache_path: Path | None = None
    cache_hit: bool = False
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def metric(self) -> Literal["accuracy", "wer"]:
        """The task's headline metric: ``accuracy`` for classification, ``wer`` for CTC."""
        return "accuracy" if self.kind == "classification" else "wer"

    @property
    def n_classes(self) -> int:
        """Output units a model needs: classes, or CTC tokens including the blank."""
        return len(self.vocabulary)

    def to_words(self, tokens: Sequence[int]) -> list[str]:
        """The words a CTC token sequence spells (blanks dropped), for word error rates.

        Word tokens map one to one; character tokens are joined and split on spaces.
        """
        names = [self.vocabulary[t] for t in tokens if t != 0]
        if self.token_unit == "word":
            return names
        return "".join(names).split()

    def engines_of(self, split: str) -> tuple[str, ...]:
        """The synthesis engines whose speakers a split holds (e.g. ``("festival",)`` for the
        test split of the default corpus); ``()`` for recorded corpora."""
        self.split(split)
        return tuple(str(e) for e in self.manifest.get("engines", {}).get(split, ()))

    def voices_of(self, split: str) -> tuple[str, ...]:
        """The ``engine:voice`` names a split's speakers use; ``()`` for recorded corpora."""
        self.split(split)
        return tuple(str(v) for v in self.manifest.get("voices", {}).get(split, ()))

    @property
    def heldout_engines(self) -> tuple[str, ...]:
        """Engines of the test split that no training speaker uses: what the test score transfers to."""
        return tuple(e for e in self.engines_of("test") if e not in self.engines_of("train"))

    def measured_on(self, split: str) -> dict[str, Any]:
        """What a score on ``split`` was measured on, for records and reports: the corpus
        source, the split, its engines and voices, and whether they were heard in training."""
        engines = self.engines_of(split)
        return {
            "source": self.source,
            "split": split,
            "engines": list(engines),
            "voices": list(self.voices_of(split)),
            "heldout_engines": [e for e in engines if e not in self.engines_of("train")],
        }

    def split(self, name: str) -> CorpusSplit:
        """The split called ``name`` (``train``, ``validation`` or ``test``)."""
        if name not in SPLITS:
            raise KeyError(f"no split {name!r}; splits are {', '.join(SPLITS)}")
        split: CorpusSplit = getattr(self, name)
        return split


def feature_statistics(features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and standard deviation over all frames of ``features`` (float64 sums)."""
    if not features:
        raise ValueError("no training utterances to compute feature statistics from")
    total = torch.zeros(features[0].shape[-1], dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    count = 0
    for f in features:
        f64 = f.to(torch.float64)
        total += f64.sum(0)
        total_sq += f64.square().sum(0)
        count += f.shape[0]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0.0).sqrt().clamp_min(1e-5)
    return mean.float(), std.float()


def assemble_split(
    features: Sequence[torch.Tensor],
    targets: Sequence[int | Sequence[int]],
    speakers: Sequence[str],
    mean: torch.Tensor,
    std: torch.Tensor,
    kind: CorpusKind,
) -> CorpusSplit:
    """Normalise with ``mean``/``std``, zero-pad to the longest utterance and stack."""
    n = len(features)
    n_features = int(mean.shape[0])
    lengths = torch.tensor([f.shape[0] for f in features], dtype=torch.int64)
    frames = int(lengths.max()) if n else 0
    out = torch.zeros(n, frames, n_features, dtype=torch.float32)
    for i, f in enumerate(features):
        out[i, : f.shape[0]] = (f - mean) / std
    if kind == "classification":
        target_tensor = torch.tensor(list(targets), dtype=torch.int64).reshape(n)
        target_lengths = torch.ones(n, dtype=torch.int64)
    else:
        seqs = [_token_sequence(t) for t in targets]
        target_lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
        width = int(target_lengths.max()) if n else 0
        target_tensor = torch.zeros(n, width, dtype=torch.int64)
        for i, s in enumerate(seqs):
            target_tensor[i, : len(s)] = torch.tensor(s, dtype=torch.int64)
    return CorpusSplit(out, lengths, target_tensor, target_lengths, tuple(speakers))


def _token_sequence(target: int | Sequence[int]) -> list[int]:
    """A CTC target as a list of token indices.

    Raises:
        TypeError: ``target`` is one class index, not a sequence.
    """
    if isinstance(target, int):
        raise TypeError(f"a CTC target is a sequence of token indices, not the class index {target}")
    return list(target)
