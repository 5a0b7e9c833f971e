"""Integrity under faults: a driver killed near its end, a delete under a running driver,
Ctrl-C and SIGTERM, a crash that left the newest pages in SQLite's write-ahead log, and
storage passwords in what codesign prints."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from codesign.cli import main
from codesign.search import live_drivers, load_stored_study, resume_study, run_study
from codesign.search._lease import OWNER_ATTR

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def test_resume_finishes_a_journal_study_whose_queue_holds_re_asked_points(toy, tmp_path: Path) -> None:
    url = f"journal:///{tmp_path}/study.log"
    run_study(toy.spec(budget={"trials": 4}), evaluate=toy.quadratic, runs_dir=tmp_path, storage=url, progress=False)
    # a driver that died near the end left its last trial RUNNING
    study = load_stored_study("toy", url, writable=True)
    trial = study.ask({"train.learning_rate": FloatDistribution(0.001, 0.9),
                       "snn.dropout": FloatDistribution(0.0, 0.5),
                       "snn.neuron": CategoricalDistribution(["lif", "imls"])})
    trial.set_user_attr(OWNER_ATTR, "a-host-that-is-gone:1")

    # resume re-asks its point (a WAITING trial in the queue), and runs it: it is no other
    # driver's trial in flight
    outcome = resume_study("toy", storage=url, runs_dir=tmp_path, trials=5, evaluate=toy.quadratic, progress=False)
    assert outcome.told == 1
    assert (outcome.counts["complete"], outcome.counts["waiting"], outcome.counts["running"]) == (5, 0, 0)
    rerun = [t for t in load_stored_study("toy", url).trials if t.state == TrialState.COMPLETE][-1]
    assert rerun.params["train.learning_rate"] == trial.params["train.learning_rate"]


def _toy_driver(runs_dir: Path, address: str, trials: int, sleep_s: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TOY_SLEEP_S": str(sleep_s)}
    return subprocess.Popen(
        [sys.executable, str(HERE / "_toy.py"), "--runs-dir", str(runs_dir), "--address", address,
         "--trials", str(trials), "--evaluator", "sleepy"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_for_a_running_trial(proc: subprocess.Popen[str], runs_dir: Path) -> str:
    url = f"sqlite:///{runs_dir.resolve()}/toy/study.db"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if proc.poll() is not None:
            pytest.fail("the driver ended early:\n" + (proc.stdout.read() if proc.stdout else ""))
        if not (runs_dir / "toy" / "study.db-wal").exists():
            continue  # (the driver is still setting the tables up)
        try:
            states = [t.state for t in optuna.load_study(study_name="toy", storage=url).trials]
        except KeyError:
            continue
        if TrialState.RUNNING in states:
            return url
    proc.kill()
    pytest.fail("no trial started within 90 s")


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_end_with_their_status_and_nothing_running(
        toy, ray_cluster: str, tmp_path: Path, sig: int, status: int) -> None:
    proc = _toy_driver(tmp_path, ray_cluster, trials=20, sleep_s=3.0)
    try:
        url = _wait_for_a_running_trial(proc, tmp_path)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, out
    assert "Check failed" not in out and "Traceback" not in out, out
    study = load_stored_study("toy", url)
    assert not [t.number for t in study.trials if t.state == TrialState.RUNNING]
    assert any(t.user_attrs.get("codesign.interrupted") for t in study.trials)
    assert not live_drivers(study)


def test_delete_refuses_a_study_a_driver_runs_and_force_stops_it_first(
        toy, ray_cluster: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proc = _toy_driver(tmp_path, ray_cluster, trials=20, sleep_s=3.0)
    try:
        url = _wait_for_a_running_trial(proc, tmp_path)
        assert main(["study", "delete", "toy", "--yes", "--runs-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "a study no driver is running" in err and "--force" in err
        assert "toy" in optuna.get_all_study_names(url)  # nothing deleted
        assert proc.poll() is None  # and the driver runs on

        assert main(["study", "delete", "toy", "--yes", "--force", "--runs-dir", str(tmp_path)]) == 0
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143  # stopped as by SIGTERM: cleaned up, then ended
    assert not (tmp_path / "toy").exists()


def test_study_db_alone_holds_every_trial_after_a_run(toy, tmp_path: Path) -> None:
    outcome = run_study(toy.spec(budget={"trials": 4}), evaluate=toy.quadratic, runs_dir=tmp_path, progress=False)
    wal = tmp_path / "toy" / "study.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed at the end of the run
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy2(tmp_path / "toy" / "study.db", copy / "study.db")  # the database file alone
    trials = load_stored_study("toy", f"sqlite:///{copy}/study.db").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4 and outcome.counts["complete"] == 4


def test_a_read_only_open_reads_what_only_the_write_ahead_log_holds(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    # a writer that stopped without a checkpoint (killed, or on a full disk) with everything,
    # the tables included, still in study.db-wal
    crash = (
        "import os, sqlite3, sys, optuna\n"
        "holder = sqlite3.connect(sys.argv[1]); holder.execute('PRAGMA journal_mode=WAL')\n"
        "holder.execute('PRAGMA wal_autocheckpoint=0')\n"
        "optuna.logging.set_verbosity(optuna.logging.WARNING)\n"
        "study = optuna.create_study(study_name='w', storage='sqlite:///' + sys.argv[1])\n"
        "for x in (1.0, 2.0): study.tell(study.ask(), x)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(db)], check=True, timeout=120)
    assert (tmp_path / "study.db-wal").stat().st_size > 0
    study = load_stored_study("w", f"sqlite:///{db}")  # read-only
    assert [t.value for t in study.trials] == [1.0, 2.0]


def test_storage_passwords_are_masked_in_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from codesign.search import masked_url

    assert masked_url("postgresql+psycopg2://me:s3cret@db.example:5432/studies") == \
        "postgresql+psycopg2://me:***@db.example:5432/studies"
    assert masked_url("sqlite:///runs/a:b@c/study.db") == "sqlite:///runs/a:b@c/study.db"
    # nothing listens on port 1: the error names the URL, without its password
    status = main(["study", "status", "toy", "--storage", "postgresql://me:s3cret@127.0.0.1:1/studies"])
    err = capsys.readouterr().err
    assert status == 2 and "s3cret" not in err and "me:***@127.0.0.1:1" in err, err


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 300 KiB tmpfs (needs root and mount permission; skips saying why otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (mount -t tmpfs: {mounted.stderr.strip() or 'not root'})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_full_disk_is_one_error_and_the_study_stays_readable_and_resumable(
        toy, ray_cluster: str, small_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(HERE / "_toy.py"), "--runs-dir", str(small_disk), "--address",
                          ray_cluster, "--trials", "200", "--evaluator", "quadratic"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "database or disk is full" in run.stderr and "Traceback" not in run.stderr, run.stderr
    url = f"sqlite:///{small_disk}/toy/study.db"
    assert main(["study", "status", "toy", "--storage", url]) == 0  # readable, not "malformed"
    capsys.readouterr()

    subprocess.run(["mount", "-o", "remount,size=20m", str(small_disk)], check=True)  # room made
    outcome = resume_study("toy", storage=url, runs_dir=small_disk, trials=4, evaluate=toy.quadratic,
                           progress=False)
    assert outcome.counts["running"] == 0 and outcome.counts["complete"] >= 4
