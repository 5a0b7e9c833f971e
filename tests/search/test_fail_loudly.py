"""A study fails loudly, never silently: a run whose trials all failed, or one that failed for a
reason every trial shares, ends non-zero with one line; a cluster that cannot run a trial or is
not there is one error before the study is created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from codesign.cli._study import _exit_status
from codesign.config import ConfigError
from codesign.search import run_study

ROOT = Path(__file__).resolve().parents[2]


def _stored_names(url: str) -> list[str]:
    return optuna.get_all_study_names(url)


def test_a_run_whose_every_trial_failed_exits_1_with_one_line(toy, tmp_path: Path, capsys) -> None:
    outcome = run_study(toy.spec(budget={"trials": 3}), evaluate=toy.broken, runs_dir=tmp_path, progress=False)
    assert (outcome.told, outcome.failed, outcome.fatal) == (3, 3, None)
    assert _exit_status(outcome) == 1
    line = capsys.readouterr().err.strip()
    assert line.count("\n") == 0 and "all 3 trial(s) of this run failed" in line and "RuntimeError: broken" in line


def test_a_run_with_some_failures_exits_0(toy, tmp_path: Path) -> None:
    outcome = run_study(toy.spec(budget={"trials": 8}, execution={"workers": 2, "trial_timeout_s": 30, "retries": 1}),
                        evaluate=toy.misbehaving, runs_dir=tmp_path, progress=False)
    assert 0 < outcome.failed < outcome.told and outcome.failure() is None and _exit_status(outcome) == 0


def test_a_failure_every_trial_shares_stops_the_run(toy, tmp_path: Path, capsys) -> None:
    spec = toy.spec(budget={"trials": 8}, execution={"workers": 2, "trial_timeout_s": 300})
    outcome = run_study(spec, evaluate=toy.misconfigured, runs_dir=tmp_path, progress=False)
    assert outcome.fatal is not None and "ConfigError" in outcome.fatal and "technology.yaml" in outcome.fatal
    assert outcome.told < 8  # no trial was started after it
    assert _exit_status(outcome) == 1
    assert "stopped: a trial failed for a reason every trial would share" in capsys.readouterr().err


@pytest.mark.parametrize(("execution", "key"), [
    ({"workers": 1, "gpus_per_trial": 1}, "execution.gpus_per_trial"),   # the session cluster has no GPU
    ({"workers": 1, "cpus_per_trial": 3}, "execution.cpus_per_trial"),   # ... and 2 CPUs on one node
])
def test_a_cluster_that_cannot_run_a_trial_is_one_error_before_the_study(toy, tmp_path: Path, execution, key) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(ConfigError) as err:
        run_study(toy.spec(execution=execution), evaluate=toy.quadratic, runs_dir=tmp_path, storage=url,
                  progress=False)
    assert err.value.key == key and ": 2 CPU, 0 GPU" in str(err.value)
    assert "toy" not in _stored_names(url)


def test_an_unreachable_address_is_one_error_before_the_study(tmp_path: Path) -> None:
    spec = tmp_path / "toy.yaml"
    import yaml

    sys.path.insert(0, str(Path(__file__).parent))
    import _toy

    spec.write_text(yaml.safe_dump(_toy.TOY_SPEC, sort_keys=False))
    run = subprocess.run([sys.executable, "-m", "codesign", "study", "run", str(spec), "--runs-dir",
                          str(tmp_path / "runs"), "--address", "127.0.0.1:1", "--no-progress"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "execution.address" in run.stderr and "nothing accepted a connection at 127.0.0.1:1" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "runs" / "toy" / "study.db").exists()  # no study created, no lease taken


@pytest.mark.slow
def test_a_zero_cpu_head_with_no_worker_is_one_error_before_the_study(tmp_path: Path) -> None:
    """The KubeRay example's head (num-cpus 0) with its workers gone: no trial could start."""
    import os
    import signal
    import socket

    import yaml

    sys.path.insert(0, str(Path(__file__).parent))
    import _toy

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import secrets

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", f"--port={port}",
         "--node-ip-address=127.0.0.1", "--num-cpus=0", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        (tmp_path / "toy.yaml").write_text(yaml.safe_dump(_toy.TOY_SPEC, sort_keys=False))
        run = subprocess.run([sys.executable, "-m", "codesign", "study", "run", "toy.yaml", "--runs-dir", "runs",
                              "--address", f"127.0.0.1:{port}", "--no-progress"],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    finally:
        head.send_signal(signal.SIGTERM)  # --block: ending it stops what it started (never `ray stop`)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
    assert run.returncode == 2, run.stdout + run.stderr
    assert "execution.cpus_per_trial" in run.stderr and "0 CPU, 0 GPU" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "runs" / "toy" / "study.db").exists()  # no study, no lease, no trial timed out
