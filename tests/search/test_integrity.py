"""Study integrity with real Ray and real storages: resuming continues the search, drivers
never fail each other's live trials (SQLite refuses a second driver; journal and PostgreSQL
share), and Ctrl-C while asking leaves no RUNNING trial behind."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from codesign.cli import main
from codesign.search import (
    DUPLICATE_ATTR,
    INTERRUPTED_ATTR,
    LEASE_PREFIX,
    OWNER_ATTR,
    RECORD_ATTR,
    StudyInUse,
    load_stored_study,
    open_storage,
    resume_study,
    run_study,
    stored_spec,
)
from codesign.search._driver import _requeue_stale
from codesign.search._lease import DriverLease, Lease

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def _points(study: optuna.Study) -> list[tuple]:
    """The searched points of trials that ran (not interrupted, not redrawn duplicates)."""
    return [tuple(sorted(t.params.items())) for t in study.trials
            if t.state.is_finished() and not t.user_attrs.get(INTERRUPTED_ATTR) and DUPLICATE_ATTR not in t.user_attrs]


def test_resuming_twice_continues_the_search_without_repeating_a_point(toy, tmp_path: Path) -> None:
    spec = toy.spec(budget={"trials": 3})
    run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)
    resume_study("toy", runs_dir=tmp_path, evaluate=toy.quadratic, trials=6, progress=False)
    outcome = resume_study("toy", runs_dir=tmp_path, evaluate=toy.quadratic, trials=9, progress=False)

    study = load_stored_study("toy", outcome.storage_url)
    points = _points(study)
    assert len(points) == 9 and len(set(points)) == 9
    assert outcome.counts["duplicate"] == 0  # the reseeded sampler drew new points by itself
    # --trials is this run's total; the stored budget is not rewritten by a resume
    assert stored_spec(study).budget.trials == 3


def test_a_small_discrete_space_is_searched_without_repeats(toy, tmp_path: Path) -> None:
    space = {"parameters": {
        "train.learning_rate": {"type": "categorical", "choices": [0.1, 0.2, 0.3]},
        "snn.dropout": {"type": "categorical", "choices": [0.0, 0.2]},
        "snn.family": "spikeformer",
    }}
    spec = toy.spec(space=[space], budget={"trials": 6}, execution={"workers": 1, "trial_cpu_s": 300})
    outcome = run_study(spec, evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)
    points = _points(load_stored_study("toy", outcome.storage_url))
    assert len(points) == 6 and len(set(points)) == 6  # every one of the 6 points, once
    assert outcome.counts["complete"] == 6


@pytest.mark.parametrize("where", ["ask", "suggest"])
def test_ctrl_c_while_asking_leaves_no_running_trial(toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     where: str) -> None:
    import codesign.search._driver as driver

    calls = {"n": 0}
    if where == "ask":
        real_ask = optuna.Study.ask

        def ask(self, *args, **kwargs):
            trial = real_ask(self, *args, **kwargs)  # the trial exists, RUNNING, in storage
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
            return trial

        monkeypatch.setattr(optuna.Study, "ask", ask)
    else:
        real_suggest = driver.suggest

        def suggest(trial, space):
            calls["n"] += 1
            if calls["n"] == 4:
                trial.suggest_float("train.learning_rate", 0.001, 0.9)  # part-way through
                raise KeyboardInterrupt
            return real_suggest(trial, space)

        monkeypatch.setattr(driver, "suggest", suggest)
    spec = toy.spec(budget={"trials": 6})
    with pytest.raises(KeyboardInterrupt):
        run_study(spec, evaluate=toy.sleepy, runs_dir=tmp_path, progress=False)

    url = f"sqlite:///{tmp_path.resolve()}/toy/study.db"
    trials = load_stored_study("toy", url).trials
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    third = trials[3]  # the fourth ask
    assert third.state == TrialState.FAIL and third.user_attrs[INTERRUPTED_ATTR]
    assert "interrupted" in third.user_attrs[RECORD_ATTR]["error"]
    monkeypatch.undo()
    outcome = resume_study("toy", runs_dir=tmp_path, evaluate=toy.quadratic, progress=False)
    assert outcome.counts["complete"] + outcome.counts["pruned"] == 6 and outcome.counts["running"] == 0


def test_lease_rules_decide_which_running_trials_are_interrupted(tmp_path: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=open_storage(f"journal:///{tmp_path}/s.log", create=True))
    me = DriverLease.acquire(study, "share", ttl_s=30)
    now = time.time()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    fake = {
        "far:1": Lease("far:1", "far", 1, now - 5, now, 30.0),              # live, another machine
        "far:2": Lease("far:2", "far", 2, now - 100, now - 60, 30.0),      # no heartbeat for 60 s
        "far:3": Lease("far:3", "far", 3, now - 5, now, 30.0, released=True),
        f"{host}:{dead.pid}": Lease(f"{host}:{dead.pid}", host, dead.pid, now - 5, now, 30.0),  # process gone
    }
    for driver, lease in fake.items():
        study.set_user_attr(LEASE_PREFIX + driver, lease.__dict__)
    owners = [*fake, None, me.driver]
    for owner in owners:
        trial = study.ask()
        if owner is not None:
            trial.set_user_attr(OWNER_ATTR, owner)

    _requeue_stale(study, me)

    states = {owners[t.number]: t.state for t in study.get_trials() if t.number < len(owners)}
    assert states == {
        "far:1": TrialState.RUNNING, "far:2": TrialState.FAIL, "far:3": TrialState.FAIL,
        f"{host}:{dead.pid}": TrialState.FAIL,
        None: TrialState.RUNNING,  # no driver named yet, young, and another driver is alive
        me.driver: TrialState.RUNNING,
    }
    with pytest.raises(StudyInUse, match=r"study s is being run by driver far:1 since \d{4}-\d\d-\d\d "):
        DriverLease.acquire(study, "refuse", ttl_s=30)
    me.release()
    assert study.user_attrs[LEASE_PREFIX + me.driver]["released"] is True


def _toy_driver(runs_dir: Path, address: str, trials: int, storage: str | None = None,
                sleep_s: str = "0.7") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TOY_SLEEP_S": sleep_s}
    cmd = [sys.executable, str(HERE / "_toy.py"), "--runs-dir", str(runs_dir), "--address", address,
           "--trials", str(trials), "--evaluator", "sleepy"]
    if storage:
        cmd += ["--storage", storage]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_until_running(driver: subprocess.Popen, url: str, who: str, limit_s: float = 240.0) -> None:
    """Wait until the driver process has a RUNNING trial in the toy study at ``url`` (the limit
    is generous: a loaded machine starts Ray slowly); fail if it ends or never gets there."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if driver.poll() is not None:
            pytest.fail(f"{who} ended early:\n" + driver.stdout.read())
        try:
            if any(t.state == TrialState.RUNNING for t in load_stored_study("toy", url).trials):
                return
        except Exception:  # no storage or study yet
            continue
    pytest.fail(f"{who} ran no trial within {limit_s:g} s")


def test_a_second_driver_on_a_sqlite_study_is_refused_and_the_first_is_unharmed(
    toy, ray_cluster: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _toy_driver(tmp_path, ray_cluster, trials=6)
    url = f"sqlite:///{tmp_path.resolve()}/toy/study.db"
    try:
        _wait_until_running(first, url, "the first driver")

        status = main(["study", "resume", "toy", "--runs-dir", str(tmp_path), "--no-progress"])
        err = capsys.readouterr().err
        assert status == 2
        assert re.search(rf"study toy is being run by driver {re.escape(socket.gethostname())}:{first.pid} "
                         r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", err), err
        out, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out
    study = load_stored_study("toy", url)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    assert not any(t.user_attrs.get(INTERRUPTED_ATTR) for t in study.trials)


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_two_drivers_share_one_study(toy, ray_cluster: str, tmp_path: Path, request: pytest.FixtureRequest,
                                     kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"journal:///{tmp_path}/toy.log" if kind == "journal" else request.getfixturevalue("postgres_url")
    # the other driver's trials are slow (1.5 s), this one's instant: this one joins while the
    # other still has most of the budget ahead, even on a loaded machine
    other = _toy_driver(tmp_path, ray_cluster, trials=8, storage=url, sleep_s="1.5")
    try:
        _wait_until_running(other, url, "the other driver")  # join once it runs a trial
        mine = run_study(toy.spec(budget={"trials": 8}), evaluate=toy.quadratic, runs_dir=tmp_path,
                         storage=url, progress=False)
        out, _ = other.communicate(timeout=120)
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert other.returncode == 0, out
    study = load_stored_study("toy", url)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials), [(t.number, t.state, t.user_attrs) for t in trials]
    # the budget is the study's: each driver counts the other's trials (at most one round of
    # in-flight trials over it, when both ask at the same moment)
    assert 8 <= len(trials) <= 10 and mine.told >= 1, out
    owners = {t.user_attrs[OWNER_ATTR] for t in trials}
    assert len(owners) == 2 and f"{socket.gethostname()}:{other.pid}" in owners, out
    assert len(set(_points(study))) == len(trials)
    # and a read-only command reads the shared study
    capsys.readouterr()
    assert main(["study", "status", "toy", "--storage", url]) == 0
    assert "complete" in capsys.readouterr().out


def test_a_local_cluster_the_driver_starts_binds_to_loopback(toy, monkeypatch: pytest.MonkeyPatch) -> None:
    import ray
    from ray._private import ray_constants

    from codesign.search._driver import _ensure_ray

    seen: dict = {}

    def init(**kwargs):
        seen.update(kwargs, cluster_mode=ray_constants.ENABLE_RAY_CLUSTER,
                    env=os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"))

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    before = ray_constants.ENABLE_RAY_CLUSTER
    assert _ensure_ray(toy.spec(), log_to_driver=False) is True
    assert seen["address"] == "local" and seen["_node_ip_address"] == "127.0.0.1"
    assert seen["cluster_mode"] is False and seen["env"] == "0"  # 127.0.0.1 is not re-resolved
    assert ray_constants.ENABLE_RAY_CLUSTER == before  # put back for later --address joins


def test_a_changed_budget_from_the_study_file_is_stored_and_said(toy, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    run_study(toy.spec(budget={"trials": 2}), evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)
    with caplog.at_level("WARNING", logger="codesign.search"):
        outcome = run_study(toy.spec(budget={"trials": 3}), evaluate=toy.quadratic, runs_dir=tmp_path,
                            progress=False)
    assert "stored budget 2 trials changed to 3 trials" in caplog.text
    assert stored_spec(load_stored_study("toy", outcome.storage_url)).budget.trials == 3


def test_resume_says_trials_is_the_total_and_keeps_the_stored_budget(
    toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import codesign.cli._study as study_cli
    import codesign.search._driver as driver
    import codesign.search._evaluate as real_evaluation

    run_study(toy.spec(budget={"trials": 2}), evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)
    monkeypatch.setattr(driver, "default_evaluate", lambda: toy.quadratic)
    monkeypatch.setattr(real_evaluation, "prepare_study", lambda spec, progress: None)  # no corpus
    monkeypatch.setattr(study_cli, "_write_report", lambda outcome, runs_dir: "(not drawn)")
    capsys.readouterr()
    assert main(["study", "resume", "toy", "--runs-dir", str(tmp_path), "--trials", "3", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "--trials 3 is the study's total: 2 finished, 1 more in this run (stored budget 2 unchanged)" in err
    study = load_stored_study("toy", f"sqlite:///{tmp_path.resolve()}/toy/study.db")
    assert len(study.trials) == 3 and stored_spec(study).budget.trials == 2
