"""The short training run and its metrics (accuracy, WER, CER).

Owns training a given ModelConfig on a corpus under a budget; never chooses hyperparameters.
"""

from __future__ import annotations

from codesign.train._config import TrainConfig

__all__ = ["TrainConfig"]
