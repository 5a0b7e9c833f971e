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
from codesign.train._train import (
    CALIBRATION_UTTERANCES,
    TrainCheckpoint,
    TrainingDiverged,
    TrainResult,
    evaluate,
    evaluate_at_precision,
    load_checkpoint,
    load_trained_model,
    lr_factor,
    magnitude_masks,
    prune_schedule,
    resolve_device,
    save_checkpoint,
    save_train_result,
    train,
    weight_sparsity,
)

__all__ = [
    "CALIBRATION_UTTERANCES",
    "TrainCheckpoint",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "accuracy",
    "char_error_rate",
    "ctc_greedy_decode",
    "edit_distance",
    "evaluate",
    "evaluate_at_precision",
    "load_checkpoint",
    "load_trained_model",
    "lr_factor",
    "magnitude_masks",
    "prune_schedule",
    "resolve_device",
    "save_checkpoint",
    "save_train_result",
    "train",
    "weight_sparsity",
    "word_error_rate",
]
