"""Shared set-up of the Mamba and SRNN benchmarks (not a benchmark itself).

One corpus, one budget and one way to measure a trained model, so the mamba_* and srnn_*
scripts compare like with like: the ``digits`` task (connected digit strings, CTC, WER),
trained with ``codesign.train.train`` under the same budget and seed, measured on
validation utterances one at a time (trimmed, so padding is never counted).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codesign._io import write_text_atomic
from codesign.data import CorpusConfig, load_corpus
from codesign.snn import ModelConfig
from codesign.trace import record_trace, trace_metrics
from codesign.train import TrainConfig, train

RESULTS = Path(__file__).parent / "results"

#: Kept small because the machine (2 cores) is shared by six engineers: 1500 utterances of
#: 1-4 digits, 4x frame subsampling.
CORPUS = CorpusConfig(task="digits", size=1500, max_digits=4, seed=0)
MEASURE_UTTERANCES = 64


def budget(epochs: int, learning_rate: float) -> TrainConfig:
    """The training budget every compared model of one benchmark gets."""
    return TrainConfig(epochs=epochs, batch_size=32, learning_rate=learning_rate, threads=1)


def corpus():
    """The benchmark corpus (synthesised once, then read from the on-disk cache)."""
    return load_corpus(CORPUS, progress=False)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def block_activation_sparsity(model: nn.Module, split, utterances: int = MEASURE_UTTERANCES) -> float:
    """Fraction of exactly-zero outputs of the model's activation modules (``act_*``).

    These are the activations a variant replaces (SiLU, FATReLU or spiking neurons);
    measured on ``utterances`` validation utterances, each trimmed to its length.
    """
    counts = {"zeros": 0, "total": 0}

    def hook(_module: nn.Module, _inputs: Any, out: torch.Tensor) -> None:
        counts["zeros"] += int((out == 0).sum())
        counts["total"] += out.numel()

    handles = [
        m.register_forward_hook(hook)
        for name, m in model.named_modules()
        if name.rsplit(".", 1)[-1].startswith("act_") and not isinstance(m, nn.Identity)
    ]
    model.eval()
    try:
        for i in range(min(utterances, len(split))):
            length = int(split.feature_lengths[i])
            model(split.features[i : i + 1, :length], split.feature_lengths[i : i + 1])
    finally:
        for h in handles:
            h.remove()
    zeros, total = counts["zeros"], counts["total"]
    if total == 0:
        raise ValueError("the model has no act_* activation modules to measure")
    return zeros / total


def run(cfg: ModelConfig, epochs: int, learning_rate: float, seed: int = 0) -> dict[str, Any]:
    """Train ``cfg`` on the benchmark corpus and measure it; returns plain figures and the trace."""
    data = corpus()
    start = time.perf_counter()
    result = train(cfg, data, budget(epochs, learning_rate), seed=seed, progress=True)
    split = data.validation
    n = min(MEASURE_UTTERANCES, len(split))
    trace = record_trace(result.model, split.features[:n], split.feature_lengths[:n], cfg, sample_spikes=False)
    metrics = trace_metrics(trace).to_dict()
    figures: dict[str, Any] = {
        "model": cfg.to_dict(),
        "parameters": parameter_count(result.model),
        "validation_wer": result.metrics["validation_wer"],
        "test_wer": result.metrics["test_wer"],
        "test_cer": result.metrics["test_cer"],
        "final_loss": result.metrics["final_loss"],
        "train_wall_s": result.metrics["wall_time_s"],
        "run_wall_s": time.perf_counter() - start,
        "trace_metrics": metrics,
        "train_config": budget(epochs, learning_rate).to_dict(),
    }
    if any(name.rsplit(".", 1)[-1].startswith("act_") for name, _ in result.model.named_modules()):
        figures["block_activation_sparsity"] = block_activation_sparsity(result.model, split)
    return {"figures": figures, "trace": trace, "model": result.model}


def write(name: str, result: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically, with the command that produced it."""
    result = {
        "command": "PYTHONPATH=$PWD python " + " ".join(shlex.quote(a) for a in sys.argv),
        "corpus": CORPUS.to_dict(),
        "note": "CPU, 1 thread per run, shared 2-core machine (other engineers' jobs running)",
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    return write_text_atomic(path, json.dumps(result, indent=2, default=float) + "\n")
