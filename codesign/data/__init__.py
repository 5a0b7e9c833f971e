"""Speech corpora: eSpeak NG synthesis, augmentation, log-mel features, speaker splits, cache, loaders.

Owns turning a :class:`CorpusConfig` (or a real dataset on disk) into a :class:`Corpus` of
normalised feature tensors with speaker-disjoint train/validation/test splits. Knows
nothing about models.
"""

from __future__ import annotations

from codesign.data._cache import default_cache_root
from codesign.data._config import DIFFICULTY_PRESETS, CorpusConfig, Difficulty, SplitFractions
from codesign.data._corpus import SPLITS, Corpus, CorpusSplit
from codesign.data._features import log_mel, mel_filterbank
from codesign.data._synthetic import load_corpus, load_waveforms, plan_corpus
from codesign.data._vocabulary import COMMAND_CLASSES, DIGIT_TOKENS

__all__ = [
    "COMMAND_CLASSES",
    "DIFFICULTY_PRESETS",
    "DIGIT_TOKENS",
    "SPLITS",
    "Corpus",
    "CorpusConfig",
    "CorpusSplit",
    "Difficulty",
    "SplitFractions",
    "default_cache_root",
    "load_corpus",
    "load_waveforms",
    "log_mel",
    "mel_filterbank",
    "plan_corpus",
]
