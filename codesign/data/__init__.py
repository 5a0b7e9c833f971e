"""Speech corpora: eSpeak NG synthesis, augmentation, log-mel features, speaker splits, cache, loaders.

Owns turning a :class:`CorpusConfig` (or a real dataset on disk) into a :class:`Corpus` of
normalised feature tensors with speaker-disjoint train/validation/test splits. Knows
nothing about models.
"""

from __future__ import annotations

from codesign.data._cache import default_cache_root
from codesign.data._config import DIFFICULTY_PRESETS, CorpusConfig, Difficulty, FeatureConfig, SplitFractions
from codesign.data._corpus import SPLITS, Corpus, CorpusSplit
from codesign.data._features import log_mel, mel_filterbank
from codesign.data._real import (
    LIBRISPEECH_TOKENS,
    load_librispeech,
    load_shd,
    load_speech_commands,
    read_audio,
)
from codesign.data._synthetic import load_corpus, load_waveforms, plan_corpus
from codesign.data._vocabulary import COMMAND_CLASSES, DIGIT_TOKENS

__all__ = [
    "COMMAND_CLASSES",
    "DIFFICULTY_PRESETS",
    "DIGIT_TOKENS",
    "LIBRISPEECH_TOKENS",
    "SPLITS",
    "Corpus",
    "CorpusConfig",
    "CorpusSplit",
    "Difficulty",
    "FeatureConfig",
    "SplitFractions",
    "default_cache_root",
    "load_corpus",
    "load_librispeech",
    "load_shd",
    "load_speech_commands",
    "load_waveforms",
    "log_mel",
    "mel_filterbank",
    "plan_corpus",
    "read_audio",
]
