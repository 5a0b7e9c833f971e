"""The short training run and its metrics (accuracy, WER, CER).

Owns training a given ModelConfig on a corpus under a budget; never chooses hyperparameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codesign._lazy import lazy_exports

# Names are imported on first use (PEP 562), so that reading a config (ModelConfig, TrainConfig)
# does not import torch: `codesign --help` and `codesign study status` start in well under 1.5 s.
if TYPE_CHECKING:
    from codesign.train._config import (
        QAT_DISTIL_TEMPERATURE,
        QAT_DISTIL_WEIGHT,
        QAT_FEATURE_DISTIL_WEIGHT,
        QAT_FINETUNE_FRACTION,
        QAT_FINETUNE_LR_FRACTION,
        QAT_SCHEME,
        QAT_TERNARY_LR_FRACTION,
        TrainConfig,
        qat_distils,
        qat_finetune_lr_fraction,
    )
    from codesign.train._files import (
        load_checkpoint,
        load_network,
        load_trained_model,
        save_checkpoint,
        save_train_result,
    )
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
        distillation_loss,
        feature_distillation_loss,
        finetune,
        finetune_control,
        lr_factor,
        magnitude_masks,
        prune_schedule,
        resolve_device,
        score_at_precision,
        score_split,
        score_splits,
        train,
        weight_sparsity,
    )

_EXPORTS: dict[str, str] = {
    "TrainConfig": "_config",
    "QAT_DISTIL_TEMPERATURE": "_config",
    "QAT_DISTIL_WEIGHT": "_config",
    "QAT_FEATURE_DISTIL_WEIGHT": "_config",
    "QAT_FINETUNE_FRACTION": "_config",
    "QAT_FINETUNE_LR_FRACTION": "_config",
    "QAT_SCHEME": "_config",
    "QAT_TERNARY_LR_FRACTION": "_config",
    "qat_distils": "_config",
    "qat_finetune_lr_fraction": "_config",
    "accuracy": "_metrics",
    "char_error_rate": "_metrics",
    "ctc_greedy_decode": "_metrics",
    "edit_distance": "_metrics",
    "word_error_rate": "_metrics",
    "CALIBRATION_UTTERANCES": "_train",
    "TrainCheckpoint": "_train",
    "TrainingDiverged": "_train",
    "TrainResult": "_train",
    "score_split": "_train",
    "score_at_precision": "_train",
    "load_checkpoint": "_files",
    "load_network": "_files",
    "load_trained_model": "_files",
    "distillation_loss": "_train",
    "feature_distillation_loss": "_train",
    "finetune": "_train",
    "finetune_control": "_train",
    "lr_factor": "_train",
    "magnitude_masks": "_train",
    "prune_schedule": "_train",
    "resolve_device": "_train",
    "save_checkpoint": "_files",
    "save_train_result": "_files",
    "score_splits": "_train",
    "train": "_train",
    "weight_sparsity": "_train",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "CALIBRATION_UTTERANCES",
    "QAT_DISTIL_TEMPERATURE",
    "QAT_DISTIL_WEIGHT",
    "QAT_FEATURE_DISTIL_WEIGHT",
    "QAT_FINETUNE_FRACTION",
    "QAT_FINETUNE_LR_FRACTION",
    "QAT_SCHEME",
    "QAT_TERNARY_LR_FRACTION",
    "TrainCheckpoint",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "accuracy",
    "char_error_rate",
    "ctc_greedy_decode",
    "distillation_loss",
    "edit_distance",
    "feature_distillation_loss",
    "finetune",
    "finetune_control",
    "load_checkpoint",
    "load_network",
    "load_trained_model",
    "lr_factor",
    "magnitude_masks",
    "prune_schedule",
    "qat_distils",
    "qat_finetune_lr_fraction",
    "resolve_device",
    "save_checkpoint",
    "save_train_result",
    "score_at_precision",
    "score_split",
    "score_splits",
    "train",
    "weight_sparsity",
    "word_error_rate",
]
