"""The Ray ask/tell driver against a real local Ray cluster and real SQLite/journal files."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from codesign.search import (
    INTERRUPTED_ATTR,
    RUNS_ATTR,
    SPEC_ATTR,
    load_stored_study,
    record_of,
    resume_study,
    run_study,
    stored_spec,
)

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def test_study_completes_with_records_and_stored_spec(toy, tmp_path: Path) -> None:
    spec = toy.spec(sampler={"name": "nsga2", "population_size": 4})
    outcome = run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)

    assert outcome.counts["complete"] == 6 and outcome.counts["fail"] == 0
    assert outcome.storage_url == f"sqlite:///{tmp_path.resolve()}/toy/study.db"
    assert (tmp_path / "toy" / "study.db").is_file()
    study = load_stored_study("toy", outcome.storage_url)
    assert stored_spec(study) == spec  # resumable / reportable from name + storage alone
    for trial in study.trials:
        record = record_of(trial.user_attrs)
        assert record is not None and record.error is None
        assert record.worker_host == socket.gethostname()
        assert list(trial.values) == [record.objectives["wer"], record.objectives["energy_uj"]]
        # the sampler saw the constraint values the record holds
        assert trial.constraints == record.constraints == {"area_mm2 <= 0.8": pytest.approx(record.metrics["area_mm2"] - 0.8)}
        # conditional parameter only when its condition holds; fixed ones recorded
        assert ("snn.levels" in trial.params) == (trial.params["snn.neuron"] == "imls")
        assert record.params["snn.family"] == "spikeformer"
    assert outcome.front and all(p.feasible for p in outcome.front)


def test_journal_storage_and_continuing_the_same_study(toy, tmp_path: Path) -> None:
    url = f"journal:///{tmp_path}/j.log"
    spec = toy.spec(budget={"trials": 3})
    first = run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path, storage=url, progress=False)
    assert first.counts["complete"] == 3
    more = run_study(toy.spec(budget={"trials": 5}), evaluate=toy.quadratic, runs_dir=tmp_path,
                     storage=url, progress=False)
    assert (more.told, more.counts["complete"]) == (2, 5)


def test_raise_nan_dead_worker_and_timeout_each_end_as_specified(toy, tmp_path: Path) -> None:
    spec = toy.spec(budget={"trials": 8}, execution={"workers": 2, "trial_cpu_s": 3, "trial_stall_s": 6,
                                                     "retries": 1})
    outcome = run_study(spec, evaluate=toy.misbehaving, runs_dir=tmp_path, progress=False)

    study = load_stored_study("toy", outcome.storage_url)
    by_number = {t.number: t for t in study.trials}
    records = {n: record_of(t.user_attrs) for n, t in by_number.items()}
    assert by_number[1].state == TrialState.FAIL and "RuntimeError: boom in trial 1" in records[1].error
    assert by_number[2].state == TrialState.FAIL and records[2].error == "objective 'wer' is nan"
    assert by_number[3].state == TrialState.FAIL and records[3].attempts == 2
    assert records[3].error.count("worker process died") == 2
    assert by_number[4].state == TrialState.COMPLETE and records[4].attempts == 2  # retried once, then fine
    # the limits follow the trial's own CPU time, not the time since it was submitted: a trial
    # queued behind others, or a worker restarting slowly on a loaded machine, is not charged
    assert by_number[6].state == TrialState.FAIL and "over the per-trial limit of 3 (execution.trial_cpu_s)" \
        in records[6].error
    assert by_number[7].state == TrialState.FAIL and "stalled: no CPU progress for 6 s" in records[7].error
    assert by_number[5].state == TrialState.FAIL
    assert records[5].error == "invalid trial parameters: key 'snn.heads': expected a divisor of snn.width, got 3"
    assert by_number[0].state == TrialState.COMPLETE
    assert outcome.counts == {"complete": 2, "fail": 6, "running": 0, "waiting": 0, "pruned": 0, "interrupted": 0,
                              "duplicate": 0, "stopped": 0}
    assert outcome.told == 8
    # a failure never carries values
    assert all(t.values is None for t in study.trials if t.state == TrialState.FAIL)


def test_the_same_study_on_an_idle_machine_and_beside_a_load_that_doubles_wall_time(toy, tmp_path: Path) -> None:
    """The per-trial limit counts the trial's CPU seconds and the look-ahead schedule is fixed, so
    a load that stretches every trial's wall time (and reorders their completions) changes no
    trial: the same parameters, states and values, trial by trial, the same trial over the limit."""
    spec = toy.spec(sampler={"name": "tpe", "n_startup_trials": 3}, budget={"trials": 6},
                    execution={"workers": 2, "lookahead": 1, "trial_cpu_s": 1.0, "trial_stall_s": 60})
    runs = []
    for name, evaluate in (("idle", toy.steady), ("loaded", toy.steady_loaded)):
        outcome = run_study(spec, evaluate=evaluate, runs_dir=tmp_path / name, progress=False)
        study = load_stored_study("toy", outcome.storage_url)
        runs.append((outcome, [(t.number, t.state, t.params, t.values) for t in study.trials],
                     {t.number: record_of(t.user_attrs) for t in study.trials}))
        # the run's schedule figures are stored with the study (benchmarks read them from there)
        assert study.user_attrs[RUNS_ATTR][-1]["worker_utilisation"] == outcome.worker_utilisation
    (idle, idle_trials, idle_records), (loaded, loaded_trials, loaded_records) = runs
    assert idle_trials == loaded_trials
    over = [n for n, state, params, _ in idle_trials if params["train.learning_rate"] > 0.75]
    assert over  # a trial computing forever is stopped by its CPU time, on both machines
    for records in (idle_records, loaded_records):
        assert all("over the per-trial limit of 1 (execution.trial_cpu_s)" in records[n].error for n in over)
        # no other trial failed, though a queued one waited for a worker longer than 1 s
        assert [n for n, r in records.items() if r.error is not None] == over
    for outcome in (idle, loaded):
        assert outcome.told == 6 and outcome.worker_utilisation is not None
        assert 0.0 < outcome.worker_utilisation <= 1.0 and outcome.busy_s > 0.0


def test_no_more_trials_run_at_once_than_workers_whatever_the_look_ahead(toy, tmp_path: Path) -> None:
    """Asked trials wait in the driver, not in Ray's queue: a queued Ray task would start while a
    running one blocks in ray.get (as reading the store does), and trials would share the CPUs."""
    spec = toy.spec(budget={"trials": 4}, execution={"workers": 1, "lookahead": 2})
    outcome = run_study(spec, evaluate=toy.blocking, runs_dir=tmp_path, progress=False)
    study = load_stored_study("toy", outcome.storage_url)
    spans = sorted((t.user_attrs["codesign.record"]["metrics"]["started"],
                    t.user_attrs["codesign.record"]["metrics"]["ended"]) for t in study.trials)
    assert len(spans) == 4
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))


def _toy_driver(runs_dir: Path, address: str, trials: int, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **env_extra}
    return subprocess.Popen(
        [sys.executable, str(HERE / "_toy.py"), "--runs-dir", str(runs_dir), "--address", address,
         "--trials", str(trials), "--evaluator", "sleepy"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_killed_driver_resumes_keeping_every_completed_trial(toy, ray_cluster: str, tmp_path: Path) -> None:
    proc = _toy_driver(tmp_path, ray_cluster, trials=8, env_extra={"TOY_SLEEP_S": "0.7"})
    url = f"sqlite:///{tmp_path.resolve()}/toy/study.db"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.3)
            if proc.poll() is not None:
                pytest.fail("driver ended before it could be killed:\n" + proc.stdout.read())
            # the write-ahead log appears with the driver's first write after creating the
            # tables: opening the file earlier would race the driver's schema set-up
            if not (tmp_path / "toy" / "study.db-wal").exists():
                continue
            try:
                states = [t.state for t in optuna.load_study(study_name="toy", storage=url).trials]
            except KeyError:  # the driver has not created the study yet
                continue
            if states.count(TrialState.COMPLETE) >= 2 and TrialState.RUNNING in states:
                break
        else:
            pytest.fail("no progress within 60 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    before = optuna.load_study(study_name="toy", storage=url).trials
    completed = {t.number: t.values for t in before if t.state == TrialState.COMPLETE}
    stale = {t.number: t.params for t in before if t.state == TrialState.RUNNING}
    assert stale and len(completed) >= 2

    outcome = resume_study("toy", runs_dir=tmp_path, evaluate=toy.quadratic, progress=False)

    after = load_stored_study("toy", url).trials
    for number, values in completed.items():  # no completed trial lost or changed
        assert after[number].state == TrialState.COMPLETE and after[number].values == values
    for number, params in stale.items():  # failed as interrupted, and asked again
        assert after[number].state == TrialState.FAIL and after[number].user_attrs[INTERRUPTED_ATTR]
        assert any(t.params == params and t.state == TrialState.COMPLETE for t in after[len(before):])
    assert outcome.counts["complete"] == 8  # interrupted trials do not eat the budget
    assert outcome.counts["fail"] == outcome.counts["interrupted"] == len(stale)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_joins_a_separately_started_head_through_address(toy, tmp_path: Path) -> None:
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        proc = _toy_driver(tmp_path, f"127.0.0.1:{port}", trials=3, env_extra={"TOY_SLEEP_S": "0"})
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        assert "'complete': 3" in out
        study = optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path.resolve()}/toy/study.db")
        assert SPEC_ATTR in study.user_attrs and len(study.trials) == 3
    finally:
        # --block keeps `ray start` in the foreground; ending it stops the processes it started
        # (never `ray stop`, which would stop every Ray cluster on this shared machine).
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


def test_a_local_cluster_gets_a_private_token_and_no_warning(toy, tmp_path: Path) -> None:
    """Token authentication is configured, not warned about: the cluster a driver starts gets a
    fresh token only that process holds, and nothing is written to ~/.ray."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(HOME=str(tmp_path / "home"), PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    (tmp_path / "home").mkdir()
    run = subprocess.run([sys.executable, str(HERE / "_toy.py"), "--runs-dir", str(tmp_path / "runs"),
                          "--trials", "2", "--evaluator", "quadratic"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "COUNTS" in run.stdout, run.stdout + run.stderr
    assert "Token authentication" not in run.stdout + run.stderr
    assert not (tmp_path / "home" / ".ray").exists()
