"""``score_split`` counts how many different answers a network gives: 1 is a degenerate network."""

from __future__ import annotations

import torch
from torch import nn

from codesign.data import CorpusSplit
from codesign.search import is_degenerate
from codesign.train._train import score_split


class _Fixed(nn.Module):
    """Answers from a fixed table, one row per utterance in order (the features' first value)."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = features[:, 0, 0].long()
        rows = self.out[index]
        steps = torch.full((len(index),), rows.shape[1] if rows.ndim == 3 else 1, dtype=torch.long)
        return rows, steps


def _split(n: int, targets: torch.Tensor, target_lengths: torch.Tensor) -> CorpusSplit:
    features = torch.zeros(n, 3, 2)
    features[:, 0, 0] = torch.arange(n, dtype=torch.float32)
    return CorpusSplit(features, torch.full((n,), 3), targets, target_lengths, tuple("s" for _ in range(n)))


def test_a_constant_classifier_is_degenerate_a_varied_one_is_not() -> None:
    targets = torch.tensor([0, 1, 2, 1])
    split = _split(4, targets, torch.ones(4, dtype=torch.long))
    constant = torch.zeros(4, 3)
    constant[:, 1] = 1.0  # class 1 for every utterance: right twice, says one thing
    metrics = score_split(_Fixed(constant), split, "classify", ("a", "b", "c"))
    assert metrics == {"accuracy": 0.5, "distinct_outputs": 1.0}
    assert is_degenerate(metrics)
    varied = torch.eye(3)[torch.tensor([0, 1, 2, 2])]
    metrics = score_split(_Fixed(varied), split, "classify", ("a", "b", "c"))
    assert metrics["distinct_outputs"] == 3.0 and not is_degenerate(metrics)


def test_a_silent_ctc_network_is_degenerate() -> None:
    targets = torch.tensor([[1, 2], [2, 0], [1, 0]])
    split = _split(3, targets, torch.tensor([2, 1, 1]))
    silent = torch.full((3, 4, 3), -10.0)
    silent[:, :, 0] = 0.0  # the blank everywhere: an empty transcript for every utterance
    metrics = score_split(_Fixed(silent.log_softmax(-1)), split, "ctc", ("<blank>", "one", "two"))
    assert metrics["wer"] == 1.0 and metrics["distinct_outputs"] == 1.0 and is_degenerate(metrics)
    speaks = silent.clone()
    speaks[0, 1, 1], speaks[1, 1, 2] = 5.0, 5.0
    metrics = score_split(_Fixed(speaks.log_softmax(-1)), split, "ctc", ("<blank>", "one", "two"))
    assert metrics["distinct_outputs"] == 3.0 and not is_degenerate(metrics)
