"""benchmarks/shipped_studies.py reads a trial's ``unknown`` recall under the names training
stores it (it read a plain ``unknown_recall`` that no record holds, so every trial showed none),
and counts the ``unknown`` words a split holds beside the recall measured on them."""

from __future__ import annotations

import dataclasses

import torch
from _benchmarks import benchmarks_on_path, load_benchmark

from codesign.data import UNKNOWN, Corpus
from codesign.train import score_splits


class _Always(torch.nn.Module):
    """Answers one class for every utterance."""

    def __init__(self, cls: int, n: int) -> None:
        super().__init__()
        self.cls, self.n = cls, n

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.nn.functional.one_hot(torch.full((x.shape[0],), self.cls), self.n).float(), lengths


def _with_unknown_words(corpus: Corpus, unknown: int) -> Corpus:
    """``corpus`` with the first two utterances of validation and test labelled ``unknown`` (the
    tiny corpus may draw none there)."""
    def relabel(split: str) -> object:
        old = corpus.split(split)
        targets = old.targets.clone()
        targets[:2] = unknown
        return dataclasses.replace(old, targets=targets)

    return dataclasses.replace(corpus, validation=relabel("validation"), test=relabel("test"))


def test_a_trials_unknown_recall_is_read_from_what_training_stores(commands_corpus: Corpus) -> None:
    bench = load_benchmark("shipped_studies")
    vocab = tuple(commands_corpus.vocabulary)
    unknown = vocab.index(UNKNOWN)
    commands_corpus = _with_unknown_words(commands_corpus, unknown)
    counts = bench.unknown_utterances(commands_corpus)
    assert counts == {s: int((commands_corpus.split(s).targets == unknown).sum()) for s in ("validation", "test")}
    assert all(n >= 2 for n in counts.values())
    # a nested record's metrics are the training run's own (score_splits' names)
    says_unknown = score_splits(_Always(unknown, len(vocab)), commands_corpus, "classify", ("validation", "test"))
    says_other = score_splits(_Always(0 if unknown else 1, len(vocab)), commands_corpus, "classify",
                              ("validation", "test"))
    assert bench.trial_unknown_recall(says_unknown) == {"float_validation_unknown_recall": 1.0,
                                                        "float_test_unknown_recall": 1.0}
    assert bench.trial_unknown_recall(says_other) == {"float_validation_unknown_recall": 0.0,
                                                      "float_test_unknown_recall": 0.0}
    # a joint record keeps the float network's figures beside the chip's
    joint = {"validation_unknown_recall": 0.0, "float_validation_unknown_recall": 0.5}
    assert bench.trial_unknown_recall(joint)["float_validation_unknown_recall"] == 0.5


def test_the_cnn_reference_is_transfer_pys_conv_net_per_seed_and_budget(commands_corpus: Corpus) -> None:
    bench = load_benchmark("shipped_studies")
    with benchmarks_on_path():  # transfer.py and its corpus_learnability.py
        ref = bench.cnn_reference(commands_corpus, [1, 2], [0, 1])
        again = bench.cnn_reference(commands_corpus, [2], [1])
    assert ref["seeds"] == [0, 1] and list(ref["epochs"]) == ["1", "2"]
    for entry in ref["epochs"].values():
        runs = entry["validation_accuracy"]
        assert len(runs) == 2 and all(0.0 <= a <= 1.0 for a in runs)
        assert entry["mean"] == sum(runs) / 2
    assert ref["best_mean"] == max(e["mean"] for e in ref["epochs"].values())
    assert again["epochs"]["2"]["validation_accuracy"] == ref["epochs"]["2"]["validation_accuracy"][1:]  # seeded
