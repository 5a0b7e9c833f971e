"""Which data split a task metric was measured on, said in its name for people, and what
that split held.

A search stores the task metric it selects on under its plain name (``accuracy``, ``wer``,
``cer``, ``unknown_recall``): measured on the validation split (``codesign.search._evaluate``);
``test_*`` is the held-out test split, ``validation_*`` the validation split again. When the
test split holds only speakers of synthesis engines never heard in training (the corpus's
``engines.heldout``, the default), its task metrics are also stored as
``heldout_engine_<metric>`` (:func:`heldout_engine_metrics`): a study can take those as an
objective, a constraint or its floor. Every output that shows a task metric names its split
through :func:`split_named`, so "accuracy" never means one split in one command and another
in the next, and says what each split held through :func:`measured_on_lines` (the engines and
voices a record's ``measured_on`` names, from ``codesign.data.Corpus.measured_on``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Task metrics stored under their plain name: measured on the validation split.
VALIDATION_METRICS = ("accuracy", "wer", "cer")
#: Every task metric a split is scored on (``codesign.train.score_splits``).
TASK_METRIC_NAMES = ("accuracy", "unknown_recall", "wer", "cer")
#: Prefix of a task metric measured on the held-out-engine split (``heldout_engine_accuracy``).
HELDOUT_ENGINE = "heldout_engine_"


def split_named(name: str) -> str:
    """A task metric with its split said: ``accuracy`` -> ``validation accuracy``,
    ``test_accuracy`` -> ``test accuracy``, ``heldout_engine_accuracy`` -> ``held-out-engine
    accuracy``; any other name unchanged."""
    if name in VALIDATION_METRICS:
        return f"validation {name}"
    if name.startswith(HELDOUT_ENGINE) and name[len(HELDOUT_ENGINE):] in TASK_METRIC_NAMES:
        return f"held-out-engine {name[len(HELDOUT_ENGINE):]}"
    head, _, rest = name.partition("_")
    if head in ("test", "validation") and rest in VALIDATION_METRICS:
        return f"{head} {rest}"
    return name


def is_heldout_engine_split(measured: Mapping[str, Any]) -> bool:
    """Whether a split (``Corpus.measured_on(split)``) holds only engines never heard in
    training (and at least one)."""
    engines = list(measured.get("engines") or ())
    return bool(engines) and set(engines) == set(measured.get("heldout_engines") or ())


def heldout_engine_metrics(metrics: Mapping[str, float], test: Mapping[str, Any]) -> dict[str, float]:
    """The test split's task metrics (``test_accuracy``...) as ``heldout_engine_<metric>``,
    when the test split (``test``: ``Corpus.measured_on("test")``) holds only held-out
    engines; empty otherwise (no engine held out, one missing on this machine, or recorded
    speech)."""
    if not is_heldout_engine_split(test):
        return {}
    return {f"{HELDOUT_ENGINE}{m}": float(metrics[f"test_{m}"]) for m in TASK_METRIC_NAMES
            if f"test_{m}" in metrics}


def split_of_metric(name: str) -> str | None:
    """The split a stored task metric was measured on (``validation`` or ``test``), else None."""
    if name in TASK_METRIC_NAMES or name.startswith("validation_"):
        return "validation"
    if name.startswith(("test_", HELDOUT_ENGINE)):
        return "test"
    return None


def measured_on_lines(measured_on: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What each scored split held, one line per split, for people: ``validation split:
    engines espeak, flite; 6 voices: espeak:en+m1, ...`` and the test split's, said to be the
    held-out-engine split when it is one. Empty when nothing is known (an older record)."""
    lines = []
    for split in ("validation", "test"):
        m = measured_on.get(split)
        if m is None:
            continue
        lines.append(_split_line(split, m))
    return lines


def _split_line(split: str, m: Mapping[str, Any]) -> str:
    """One line of :func:`measured_on_lines`: the split, then its engines and voices, or the
    recorded speech's source."""
    engines = list(m.get("engines") or ())
    voices = list(m.get("voices") or ())
    what = _split_label(split, m, engines)
    if engines:
        return f"{what}: {', '.join(engines)}; {len(voices)} voice(s): {', '.join(voices)}"
    return f"{what}: recorded speech ({m.get('source') or 'source not recorded'})"


def _split_label(split: str, m: Mapping[str, Any], engines: list[str]) -> str:
    """What the split is to people: held-out-engine test, test, or validation split."""
    if split == "test" and is_heldout_engine_split(m):
        return "held-out-engine (test) split, engines never heard in training"
    if split == "test":
        return "test split, engines also heard in training" if engines else "test split"
    return "validation split, unseen speakers of the training engines" if engines else "validation split"
