"""Speech corpora: eSpeak NG synthesis, augmentation, log-mel features, speaker splits, cache, loaders.

Owns turning a :class:`CorpusConfig` (or a real dataset on disk) into a :class:`Corpus` of
normalised feature tensors with speaker-disjoint train/validation/test splits. Knows
nothing about models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codesign._lazy import lazy_exports

# Names are imported on first use (PEP 562), so that reading a study's CorpusConfig does not
# import torch (the corpus loaders do).
if TYPE_CHECKING:
    from codesign.data._augment import SpecAugment, spec_augment
    from codesign.data._cache import default_cache_root
    from codesign.data._config import (
        DIFFICULTY_PRESETS,
        CorpusConfig,
        Difficulty,
        FeatureConfig,
        SplitFractions,
    )
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

_EXPORTS: dict[str, str] = {
    "SpecAugment": "_augment",
    "spec_augment": "_augment",
    "default_cache_root": "_cache",
    "DIFFICULTY_PRESETS": "_config",
    "CorpusConfig": "_config",
    "Difficulty": "_config",
    "FeatureConfig": "_config",
    "SplitFractions": "_config",
    "SPLITS": "_corpus",
    "Corpus": "_corpus",
    "CorpusSplit": "_corpus",
    "log_mel": "_features",
    "mel_filterbank": "_features",
    "LIBRISPEECH_TOKENS": "_real",
    "load_librispeech": "_real",
    "load_shd": "_real",
    "load_speech_commands": "_real",
    "read_audio": "_real",
    "load_corpus": "_synthetic",
    "load_waveforms": "_synthetic",
    "plan_corpus": "_synthetic",
    "COMMAND_CLASSES": "_vocabulary",
    "DIGIT_TOKENS": "_vocabulary",
    "UNKNOWN": "_vocabulary",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "COMMAND_CLASSES",
    "DIFFICULTY_PRESETS",
    "DIGIT_TOKENS",
    "LIBRISPEECH_TOKENS",
    "SPLITS",
    "UNKNOWN",
    "Corpus",
    "CorpusConfig",
    "CorpusSplit",
    "Difficulty",
    "FeatureConfig",
    "SpecAugment",
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
    "spec_augment",
]
