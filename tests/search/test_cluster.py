"""A study on a two-node Ray cluster whose nodes see different files.

The head node runs on 127.0.0.1 beside the driver. The second node joins it from its own mount
namespace (``unshare --mount``), where tmpfs folders hide the test's files (the runs folder, the
corpus cache), Ray's session folder and the eSpeak NG package, and HOME and TMPDIR are its own:
a trial that runs there can reach nothing of the driver's but Ray. Both nodes have one CPU and
the study runs two trials at a time, so trials land on both.

Needs root (mount namespaces); skips saying so elsewhere. Every process is stopped by its
process group at the end.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from _tiny import tiny_spec_data
from optuna.trial import TrialState

from codesign.search import load_stored_study, record_of

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE_B_IP = "127.0.0.2"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _namespaces_permitted() -> str | None:
    """None when this process may make a mount namespace with a tmpfs, else why not."""
    if os.geteuid() != 0:
        return "mount namespaces need root"
    try:
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                "mount -t tmpfs tmpfs /mnt"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "no unshare command (util-linux)"
    if probe.returncode != 0:
        return f"unshare --mount is not permitted here: {probe.stderr.strip()}"
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process and everything it started (its own process group)."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait_s)
            time.sleep(1.0)  # children of the group may outlive the leader by a moment
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_for_nodes(address: str, env: dict[str, str], count: int, timeout_s: float = 120.0) -> None:
    script = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
              "print(sum(1 for n in ray.nodes() if n['Alive']))")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-c", script, address], env=env, capture_output=True, text=True,
                             timeout=120)
        if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(2.0)
    pytest.fail(f"the cluster at {address} did not reach {count} nodes")


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(address, environment for processes that join it)."""
    why = _namespaces_permitted()
    if why is not None:
        pytest.skip(why)
    import espeakng_loader

    token = secrets.token_hex(32)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("cluster-logs")
    common = ["--num-cpus", "1", "--object-store-memory", str(200 * 1024 * 1024), "--disable-usage-stats",
              "--block"]
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--include-dashboard", "false", *common],
        env=env, stdout=(logs / "head.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    procs = [head]
    try:
        _wait_for_nodes(address, env, 1)
        hidden = [str(tmp_path_factory.getbasetemp()), "/tmp/ray", os.environ.get("CODESIGN_CACHE_DIR", ""),
                  str(Path.home() / ".cache" / "codesign"), str(Path(espeakng_loader.__file__).parent)]
        mounts = " && ".join(f"mkdir -p {p} && mount -t tmpfs tmpfs {p}" for p in hidden if p)
        node_b = (f"{mounts} && mkdir -p /tmp/ray/home /tmp/ray/tmp && export HOME=/tmp/ray/home "
                  f"TMPDIR=/tmp/ray/tmp && exec {BIN / 'ray'} start --address {address} --node-ip-address "
                  f"{NODE_B_IP} --resources '{{\"node_b\": 1}}' {' '.join(common)}")
        procs.append(subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", node_b],
            env=env, stdout=(logs / "node_b.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
        _wait_for_nodes(address, env, 2)
        yield address, env
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _codesign(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codesign", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def test_a_study_on_two_nodes_that_share_no_files(two_nodes: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    address, env = two_nodes
    data = tiny_spec_data("joint", trials=4)
    data.update(name="cluster", execution={"workers": 2, "cpus_per_trial": 1, "trial_timeout_s": 600})
    # every chip feasible, so that every trial trains and leaves weights to export
    data["constraints"] = []
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    runs = tmp_path / "runs"
    run = _codesign(["study", "run", "cluster.yaml", "--runs-dir", str(runs), "--address", "auto",
                     "--no-progress"], {**env, "RAY_ADDRESS": address}, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Token authentication" not in run.stderr  # configured, not warned about

    study = load_stored_study("cluster", f"sqlite:///{runs / 'cluster' / 'study.db'}")
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 4, [record_of(t.user_attrs).error for t in study.trials]
    records = {t.number: record_of(t.user_attrs) for t in done}
    ips = {n: r.worker_node_ip for n, r in records.items()}
    assert NODE_B_IP in ips.values() and len({r.worker_node_id for r in records.values()}) == 2, ips
    for record in records.values():  # every file the records name was written on the driver's disk
        for rel in record.artifacts.values():
            assert (runs / "cluster" / rel).is_file(), rel

    remote_trial = next(n for n, ip in ips.items() if ip == NODE_B_IP)
    bundle = tmp_path / "bundle"
    export = _codesign(["export", "cluster", "--trial", str(remote_trial), "--runs-dir", str(runs),
                        "--out", str(bundle)], env, tmp_path)
    assert export.returncode == 0, export.stdout + export.stderr
    again = _codesign(["evaluate", str(bundle), "--no-progress"], env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    config = yaml.safe_load((bundle / "config.yaml").read_text())
    assert config["study"]["trial"] == remote_trial
