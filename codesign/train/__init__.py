"""The short training run and its metrics (accuracy, WER, CER).

Owns training a given ModelConfig on a corpus under a budget; never chooses hyperparameters.
"""

from __future__ import annotations

from codesign.train._config import TrainConfig
from codesign.train._metrics import (
    accuracy,
    char_error_rate,
    ctc_greedy_decode,
    edit_distance,
    word_error_rate,
)

__all__ = [
    "TrainConfig",
    "accuracy",
    "char_error_rate",
    "ctc_greedy_decode",
    "edit_distance",
    "word_error_rate",
]
