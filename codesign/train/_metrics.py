"""Recognition metrics: accuracy, edit distance, word and character error rates, CTC decoding.

Pure functions over plain sequences and tensors; every trainer, evaluator and benchmark
scores with these so that figures are comparable across the project.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch


def edit_distance(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions turning ``ref`` into ``hyp``.

    Args:
        ref: the reference sequence (words, characters or token ids).
        hyp: the hypothesis sequence.

    Returns:
        The number of edits, ``0`` when the sequences are equal.
    """
    ref = list(ref)
    hyp = list(hyp)
    if not ref:
        return len(hyp)
    if not hyp:
        return len(ref)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (r != h),  # substitution or match
            )
        previous = current
    return previous[-1]


def _as_words(item: Sequence[Hashable] | str) -> list[Hashable]:
    # A bare string is a sentence, not a sequence of one-character words.
    return list(item.split()) if isinstance(item, str) else list(item)


def _error_rate(refs: Sequence[Sequence[Hashable]], hyps: Sequence[Sequence[Hashable]], unit: str) -> float:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses; they must pair up")
    edits = sum(edit_distance(r, h) for r, h in zip(refs, hyps, strict=True))
    total = sum(len(r) for r in refs)
    if total == 0:
        raise ValueError(f"the references hold no {unit}; the error rate is undefined")
    return edits / total


def word_error_rate(
    refs: Sequence[Sequence[str | int] | str], hyps: Sequence[Sequence[str | int] | str]
) -> float:
    """Corpus-level word error rate: total edits over total reference words.

    Args:
        refs: one reference per utterance, each a sequence of words or token ids (a plain
            string is split on whitespace).
        hyps: one hypothesis per utterance, in the same form.

    Returns:
        The WER as a fraction (``0.25`` is 25 %); it can exceed 1 with many insertions.

    Raises:
        ValueError: the lists differ in length, or the references hold no words.
    """
    return _error_rate([_as_words(r) for r in refs], [_as_words(h) for h in hyps], "words")


def char_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus-level character error rate: total character edits over total reference characters.

    Raises:
        ValueError: the lists differ in length, or the references are all empty.
    """
    return _error_rate([list(r) for r in refs], [list(h) for h in hyps], "characters")


def ctc_greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best-path CTC decoding: argmax per frame, merge repeats, drop blanks.

    Args:
        log_probs: ``[N, T, C]`` per-frame scores (log-probabilities or logits; only the
            argmax matters).
        lengths: ``[N]`` valid frames per utterance; frames beyond are ignored.
        blank: the blank token index.

    Returns:
        One list of token indices per utterance.

    Raises:
        ValueError: the shapes do not match.
    """
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs must be [N, T, C], got shape {tuple(log_probs.shape)}")
    if lengths.ndim != 1 or lengths.shape[0] != log_probs.shape[0]:
        raise ValueError(f"lengths must be [N={log_probs.shape[0]}], got shape {tuple(lengths.shape)}")
    best = log_probs.argmax(dim=-1).cpu()
    out: list[list[int]] = []
    for row, length in zip(best, lengths.cpu().tolist(), strict=True):
        path = row[: int(length)]
        if path.numel() == 0:
            out.append([])
            continue
        keep = torch.ones_like(path, dtype=torch.bool)
        keep[1:] = path[1:] != path[:-1]
        collapsed = path[keep]
        out.append(collapsed[collapsed != blank].tolist())
    return out


def class_recall(logits: torch.Tensor, targets: torch.Tensor, cls: int) -> float | None:
    """Fraction of the rows of class ``cls`` whose highest-scoring class is ``cls`` (None when
    no row is of that class)."""
    mask = targets == cls
    if not bool(mask.any()):
        return None
    return float((logits[mask].argmax(dim=-1) == cls).float().mean().item())


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose highest-scoring class is the target.

    Args:
        logits: ``[N, C]`` class scores.
        targets: ``[N]`` class indices.

    Raises:
        ValueError: the shapes do not match or there are no rows.
    """
    if logits.ndim != 2 or targets.ndim != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(
            f"need logits [N, C] and targets [N], got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if targets.shape[0] == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return float((logits.argmax(dim=-1) == targets).float().mean().item())
