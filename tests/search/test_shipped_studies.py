"""Every study in ``studies/`` runs as shipped: its own space, chip, strategy and sampler, on a
tiny corpus for one epoch and two trials, with no trial FAILed."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from codesign.search import load_stored_study, load_study, record_of, run_study

ROOT = Path(__file__).resolve().parents[2]
STUDIES = sorted((ROOT / "studies").glob("*.yaml"))
#: Only the size of the run changes (as `codesign study run --set ...` would).
SHRINK = {"corpus.size": 60, "corpus.n_speakers": 10, "fidelity.epochs": 1, "budget.trials": 2,
          "nested.hw_points": 16, "confirm.seeds": 0, "trace_batch": 4, "execution.workers": 2}


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_every_shipped_study_runs_without_a_failed_trial(toy, path: Path, tmp_path: Path) -> None:
    spec = load_study(path, SHRINK)
    outcome = run_study(spec, runs_dir=tmp_path, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    records = {t.number: record_of(t.user_attrs) for t in study.trials}
    failed = {n: r.error for n, r in records.items() if r is not None and r.error is not None}
    assert outcome.counts["fail"] == 0 and not failed, failed
    assert outcome.counts["complete"] + outcome.counts["pruned"] == 2
    for trial in study.trials:  # a pruned trial says why (an infeasible or invalid chip)
        assert trial.state != TrialState.PRUNED or records[trial.number].pruned
