"""A trained network on disk: its summary, its weights, its checkpoint, and rebuilding it.

Owns the file forms of :mod:`codesign.train`: ``result.json`` + ``weights.safetensors``
(:func:`save_train_result`), ``checkpoint.pt`` (:func:`save_checkpoint`), and
:func:`load_network`, the one place a network is rebuilt from its ``ModelConfig`` and a
weights file (the training cache, ``codesign train`` output and exported bundles all use it).
Every file is written atomically (``codesign._io``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codesign._io import write_atomic, write_json_atomic
from codesign.config import ConfigError
from codesign.snn import Head, ModelConfig, build_model, parse_model_config
from codesign.train._train import TrainCheckpoint, TrainResult

#: File names inside a saved training result's folder.
RESULT_FILE = "result.json"
WEIGHTS_FILE = "weights.safetensors"


def save_checkpoint(checkpoint: TrainCheckpoint, path: str | Path) -> Path:
    """Write a checkpoint atomically (``torch.save`` of tensors and plain values only)."""
    return write_atomic(path, lambda tmp: torch.save(checkpoint.state, tmp))


def load_checkpoint(path: str | Path) -> TrainCheckpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only``: no code runs)."""
    return TrainCheckpoint(torch.load(Path(path), weights_only=True))


def save_train_result(result: TrainResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``result.json`` (the summary) and ``weights.safetensors`` (the training-form weights).

    Both files are written atomically, so a crash never leaves a half-written file under the
    final name.

    Returns:
        ``{"train_result": path, "weights": path}``.
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_json_atomic(out / RESULT_FILE, result.to_dict())
    tensors = {k: v.contiguous() for k, v in result.state_dict().items()}
    weights_path = write_atomic(out / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    return {"train_result": json_path, "weights": weights_path}


def load_network(cfg: ModelConfig, n_features: int, n_outputs: int, head: Head, weights: str | Path) -> nn.Module:
    """The network ``cfg`` describes, with the training-form weights of a safetensors file, in eval mode.

    Args:
        cfg: the model config the weights were trained with.
        n_features, n_outputs, head: the corpus side (``codesign.snn.build_model``).
        weights: a ``weights.safetensors`` file (:func:`save_train_result`, a bundle's).

    Raises:
        ConfigError: the file is missing or not safetensors, or its weights do not fit the
            network (names the file).
    """
    from safetensors.torch import load_file

    weights = Path(weights)
    try:
        state = load_file(str(weights))
    except Exception as err:  # safetensors raises its own error types for a damaged file
        raise ConfigError(weights, "", "a safetensors weights file", hint=str(err)) from None
    net = build_model(cfg, n_features, n_outputs, head)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ConfigError(weights, "", "weights that fit the network its config describes",
                          hint=str(err).splitlines()[0]) from None
    return net.eval()


def load_trained_model(out_dir: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved by :func:`save_train_result` (eval mode) and its summary dict."""
    out = Path(out_dir)
    summary = json.loads((out / RESULT_FILE).read_text())
    cfg = parse_model_config(summary["model_config"], file=out / RESULT_FILE, key_prefix="model_config")
    net = load_network(cfg, summary["n_features"], summary["n_outputs"], summary["head"], out / WEIGHTS_FILE)
    return net, summary
