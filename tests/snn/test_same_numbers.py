"""Every family computes exactly the numbers it computed before the neurons became step functions.

``same_numbers.json`` was written by this file (``python tests/snn/test_same_numbers.py
--write``) from the code before the refactor of issue #28 item 4 (neurons as step functions,
observers outside, one synaptic-layer decision). For a handful of networks (every family, LIF
and IMLS, every variant kind) on a tiny fixed input it holds: the float forward output, the
trace of the network as a ``w4s8`` chip holds it (every counted field of every layer), the
scores and overflow rate at that precision, and the loss curve and firing rate of a one-epoch
training run (one with quantisation-aware training). The comparison is exact: a refactor that
moves any of these numbers by one rounding step fails here. The QAT entry
(``spikeformer_lif_fatrelu_qat``) was re-recorded deliberately when QAT became the float run
followed by a fine-tune on the grid (issue #24 item 6); every float entry stayed as recorded.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from codesign.data import Corpus, CorpusSplit
from codesign.snn import (
    MambaConfig,
    ModelConfig,
    Precision,
    SpikeformerConfig,
    SRNNConfig,
    build_model,
    firing_rates,
)
from codesign.trace import record_trace
from codesign.train import TrainConfig, score_at_precision, train

GOLDEN = Path(__file__).with_name("same_numbers.json")
N_FEATURES, FRAMES, CLASSES = 8, 16, 4

#: name -> (config, corpus head, training budget)
CASES: dict[str, tuple[ModelConfig, str, TrainConfig]] = {
    "spikeformer_imls": (
        SpikeformerConfig(width=16, heads=2, depth=1, timesteps=2), "classification", TrainConfig(epochs=1, batch_size=6),
    ),
    "spikeformer_lif_fatrelu_qat": (
        SpikeformerConfig(width=16, heads=2, depth=1, timesteps=2, neuron="lif", ffn_activation="fatrelu"),
        "classification", TrainConfig(epochs=2, batch_size=6, qat_weight_bits=4),
    ),
    "spikeformer_ann_ctc": (
        SpikeformerConfig(width=16, heads=2, depth=1, variant="ann", subsample=1), "ctc", TrainConfig(epochs=1, batch_size=6),
    ),
    "mamba_lif": (
        MambaConfig(width=16, depth=1, timesteps=2, neuron="lif", activity_target=0.2), "classification",
        TrainConfig(epochs=1, batch_size=6),
    ),
    "mamba_event": (MambaConfig(width=16, depth=1, variant="event"), "classification", TrainConfig(epochs=1, batch_size=6)),
    "srnn_level": (SRNNConfig(width=16, depth=2, activity_target=0.2), "classification", TrainConfig(epochs=1, batch_size=6)),
    "srnn_delta_ctc": (
        SRNNConfig(width=16, depth=1, quant_input_coding="delta", subsample=1), "ctc", TrainConfig(epochs=1, batch_size=6),
    ),
    "srnn_gru": (SRNNConfig(width=16, depth=1, variant="gru"), "classification", TrainConfig(epochs=1, batch_size=6)),
}


def _split(generator: torch.Generator, n: int, kind: str) -> CorpusSplit:
    features = torch.randn(n, FRAMES, N_FEATURES, generator=generator)
    lengths = torch.randint(FRAMES // 2, FRAMES + 1, (n,), generator=generator)
    for i, length in enumerate(lengths):
        features[i, int(length):] = 0.0
    if kind == "classification":
        targets = torch.randint(0, CLASSES, (n,), generator=generator)
        target_lengths = torch.ones(n, dtype=torch.int64)
    else:
        targets = torch.randint(1, CLASSES, (n, 3), generator=generator)
        target_lengths = torch.full((n,), 3, dtype=torch.int64)
    return CorpusSplit(features, lengths, targets, target_lengths, tuple(f"s{i}" for i in range(n)))


def tiny_corpus(kind: str) -> Corpus:
    """12/6/6 random utterances of 8 features (seeded): small enough to train in a second."""
    generator = torch.Generator().manual_seed(7)
    return Corpus(
        task="commands" if kind == "classification" else "digits",
        kind=kind,  # type: ignore[arg-type]  # one of the two CorpusKind literals, from CASES
        vocabulary=("_", "a", "b", "c") if kind == "ctc" else ("a", "b", "c", "d"),
        n_features=N_FEATURES, frame_ms=10.0,
        train=_split(generator, 12, kind), validation=_split(generator, 6, kind), test=_split(generator, 6, kind),
        feature_mean=torch.zeros(N_FEATURES), feature_std=torch.ones(N_FEATURES), source="test:tiny",
    )


def numbers(name: str) -> dict[str, Any]:
    """What case ``name`` computes: forward outputs, trace, scores at w4s8 and training figures."""
    cfg, kind, budget = CASES[name]
    corpus = tiny_corpus(kind)
    head = "ctc" if kind == "ctc" else "classify"
    torch.manual_seed(0)
    net = build_model(cfg, N_FEATURES, len(corpus.vocabulary), head)  # type: ignore[arg-type]  # head literal
    net.train()
    out, _ = net(corpus.train.features[:4], corpus.train.feature_lengths[:4])
    rates = [float(r.detach()) for r in firing_rates(net)]
    net.eval()
    with torch.no_grad():
        out_eval, out_lengths = net(corpus.train.features[:4], corpus.train.feature_lengths[:4])
    result = train(cfg, corpus, budget, seed=1)
    precision = Precision(weight_bits=4, state_bits=8 if cfg.variant not in ("gru", "lstm") else 32)
    metrics, on_chip = score_at_precision(result.model, corpus, head, precision, calibration_utterances=8)
    trace = record_trace(on_chip, corpus.test.features[:3], corpus.test.feature_lengths[:3], cfg)
    return {
        "forward_train": out.detach().flatten().tolist(),
        "train_rates": rates,
        "forward_eval": out_eval.flatten().tolist(),
        "out_lengths": out_lengths.tolist(),
        "loss_curve": list(result.loss_curve),
        "train_metrics": {k: v for k, v in result.metrics.items() if "time" not in k},
        "chip_metrics": metrics,
        "trace": [layer.model_dump(mode="json") for layer in trace.meta.layers],
        "trace_model": trace.meta.model.model_dump(mode="json"),
        "spike_samples": {k: int(v.astype("int64").sum()) for k, v in trace.spike_samples.items()},
    }


def _same(got: object, expected: object) -> bool:
    """Equal, floats within a relative 1e-6 (1e-9 absolute): a refactor that changes what a
    network computes moves them far more, while another CPU's kernels may round the last bits
    of a sum differently. Integers, strings and structure compare exactly."""
    if isinstance(expected, float) and isinstance(got, int | float) and not isinstance(got, bool):
        return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(_same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(_same(g, e) for g, e in zip(got, expected, strict=True))
    return got == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_family_computes_the_recorded_numbers(name: str) -> None:
    expected = json.loads(GOLDEN.read_text())[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the golden file was written
    try:
        got = json.loads(json.dumps(numbers(name)))
    finally:
        torch.set_num_threads(threads)
    for key in expected:
        assert _same(got[key], expected[key]), f"{name}: {key} changed"
    assert set(got) == set(expected)


if __name__ == "__main__":  # pragma: no cover - writes the golden file (only before a refactor)
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/snn/test_same_numbers.py --write")
    torch.set_num_threads(1)
    GOLDEN.write_text(json.dumps({name: numbers(name) for name in sorted(CASES)}, indent=1) + "\n")
