"""Spiking neurons, blocks and model builders, and their ANN twins.

Owns the network side; never knows about chips or Optuna.
"""

from __future__ import annotations

from codesign.snn._config import VARIANTS, ModelConfig

__all__ = ["VARIANTS", "ModelConfig"]
