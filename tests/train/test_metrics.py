"""Metrics: edit distance, WER/CER, CTC greedy decoding and accuracy on hand-checked cases."""

from __future__ import annotations

import math

import pytest
import torch

from codesign.train import accuracy, char_error_rate, ctc_greedy_decode, edit_distance, word_error_rate


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("abc", "", 3),
        ("same", "same", 0),
        ([1, 2, 3], [1, 3], 1),
        (["one", "two"], ["two", "one"], 2),
        ("flaw", "lawn", 2),
    ],
)
def test_edit_distance_matches_hand_counts(ref: object, hyp: object, expected: int) -> None:
    assert edit_distance(ref, hyp) == expected  # type: ignore[arg-type]


def test_edit_distance_is_symmetric_and_bounded() -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        a = torch.randint(0, 4, (int(torch.randint(0, 8, (1,), generator=gen)),), generator=gen).tolist()
        b = torch.randint(0, 4, (int(torch.randint(0, 8, (1,), generator=gen)),), generator=gen).tolist()
        d = edit_distance(a, b)
        assert d == edit_distance(b, a)
        assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))


def test_word_error_rate_is_total_edits_over_total_reference_words() -> None:
    refs = [["one", "two", "three"], ["four"]]
    hyps = [["one", "three"], ["four", "five"]]
    # one deletion + one insertion over four reference words
    assert word_error_rate(refs, hyps) == pytest.approx(0.5)
    assert word_error_rate(["the cat sat"], ["the cat sat"]) == 0.0
    assert word_error_rate([[1, 2]], [[3, 4, 5, 6]]) == pytest.approx(2.0)


def test_error_rates_refuse_mismatched_or_empty_input() -> None:
    with pytest.raises(ValueError, match="pair up"):
        word_error_rate([["a"]], [])
    with pytest.raises(ValueError, match="no words"):
        word_error_rate([[]], [["a"]])
    with pytest.raises(ValueError, match="no characters"):
        char_error_rate([""], ["a"])


def test_char_error_rate() -> None:
    assert char_error_rate(["kitten", "ab"], ["sitting", "ab"]) == pytest.approx(3 / 8)


def test_ctc_greedy_decode_merges_repeats_drops_blanks_and_honours_lengths() -> None:
    # frames' argmax: [1, 1, 0, 1, 2, 2, 0, 3]; utterance 2 only uses its first 3 frames
    path = [1, 1, 0, 1, 2, 2, 0, 3]
    log_probs = torch.full((2, len(path), 4), -10.0)
    for t, c in enumerate(path):
        log_probs[:, t, c] = 0.0
    out = ctc_greedy_decode(log_probs, torch.tensor([8, 3]))
    assert out == [[1, 1, 2, 3], [1]]
    assert ctc_greedy_decode(log_probs, torch.tensor([0, 8])) == [[], [1, 1, 2, 3]]
    # a different blank index
    assert ctc_greedy_decode(log_probs, torch.tensor([8, 8]), blank=1)[0] == [0, 2, 0, 3]
    with pytest.raises(ValueError, match="lengths"):
        ctc_greedy_decode(log_probs, torch.tensor([8]))


def test_accuracy() -> None:
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(logits, torch.tensor([1, 0, 0, 0])) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        accuracy(logits, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    assert math.isfinite(accuracy(logits, torch.tensor([1, 1, 1, 1])))


def test_class_recall_counts_only_that_classes_rows() -> None:
    from codesign.train._metrics import class_recall

    logits = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # predicts 1, 0, 1, 0
    targets = torch.tensor([1, 1, 0, 1])
    assert class_recall(logits, targets, 1) == pytest.approx(1 / 3)
    assert class_recall(logits, targets, 0) == 0.0
    assert class_recall(logits, torch.tensor([0, 0, 0, 0]), 1) is None  # no row of the class


def test_commands_scores_report_the_unknown_class_recall(commands_corpus) -> None:
    from codesign.data import UNKNOWN
    from codesign.train._train import score_split

    class Always(torch.nn.Module):  # answers one class for every utterance
        def __init__(self, cls: int, n: int) -> None:
            super().__init__()
            self.cls, self.n = cls, n

        def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.nn.functional.one_hot(torch.full((x.shape[0],), self.cls), self.n).float(), lengths

    vocab = tuple(commands_corpus.vocabulary)
    unknown = vocab.index(UNKNOWN)
    split = next(s for s in (commands_corpus.validation, commands_corpus.test, commands_corpus.train)
                 if (s.targets == unknown).any())
    scores = score_split(Always(unknown, len(vocab)), split, "classify", vocab)
    assert scores["unknown_recall"] == 1.0
    assert scores["accuracy"] == pytest.approx(float((split.targets == unknown).float().mean()))
    assert score_split(Always(0 if unknown else 1, len(vocab)), split, "classify", vocab)["unknown_recall"] == 0.0
