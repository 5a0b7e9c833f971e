"""Which data split a task metric was measured on, said in its name for people.

A search stores the task metric it selects on under its plain name (``accuracy``, ``wer``,
``cer``): measured on the validation split (``codesign.search._evaluate``); ``test_*`` is the
held-out test split, ``validation_*`` the validation split again. Every output that shows a
task metric names its split through :func:`split_named`, so "accuracy" never means one split
in one command and another in the next.
"""

from __future__ import annotations

#: Task metrics stored under their plain name: measured on the validation split.
VALIDATION_METRICS = ("accuracy", "wer", "cer")


def split_named(name: str) -> str:
    """A task metric with its split said: ``accuracy`` -> ``validation accuracy``,
    ``test_accuracy`` -> ``test accuracy``; any other name unchanged."""
    if name in VALIDATION_METRICS:
        return f"validation {name}"
    head, _, rest = name.partition("_")
    if head in ("test", "validation") and rest in VALIDATION_METRICS:
        return f"{head} {rest}"
    return name
