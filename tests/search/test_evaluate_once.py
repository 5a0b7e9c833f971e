"""A trial keeps the trace and figures it made in memory (written once, never read back): they
must be what a later trial reads back from the training cache."""

from __future__ import annotations

from pathlib import Path

from _tiny import tiny_spec_data

from codesign.config import parse_spec
from codesign.search import ArtifactStore, StudySpec, TrialTask
from codesign.search._evaluate import evaluate_trial


def test_a_trial_scored_in_memory_matches_the_same_trial_read_from_the_cache(tmp_path: Path,
                                                                             commands_corpus) -> None:
    spec = parse_spec(StudySpec, tiny_spec_data("joint", trials=1))
    params = {"snn.family": "spikeformer", "snn.variant": "spiking", "snn.width": 32, "snn.depth": 1}
    store = ArtifactStore(tmp_path)
    task = TrialTask(params=params, spec=spec, trial_number=0, store=store, corpus=commands_corpus)
    made = evaluate_trial(task)
    assert made.record.error is None and made.record.pruned is None, made.record
    assert made.record.trained and made.entries  # trained and scored here: nothing read back
    made.save(store)
    again = evaluate_trial(task)
    assert again.record.cache_hit and not again.entries  # read from the cache this time
    assert again.record.metrics == made.record.metrics
    assert again.record.objectives == made.record.objectives
    assert again.files == made.files  # the cost report, byte for byte
