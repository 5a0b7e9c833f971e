"""A study on a two-node Ray cluster whose nodes see different files.

The head node runs on 127.0.0.1 beside the driver. The second node joins it from its own mount
namespace (``unshare --mount``), where tmpfs folders hide the test's files (the runs folder, the
corpus cache), Ray's session folder and the eSpeak NG package, and HOME and TMPDIR are its own:
a trial that runs there can reach nothing of the driver's but Ray. Its codesign is the wheel,
installed into a fresh environment (``tests/_wheel.py``) outside every hidden folder, and every
checkout of codesign is hidden from it: its trials see only its site-packages. Both nodes have one CPU and
the study runs two trials at a time, so trials land on both.

Needs root (mount namespaces); skips saying so elsewhere. Every process is stopped by its
process group at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from _cluster import NODE_B_IP, checkouts, namespaces_permitted, two_node_cluster
from _tiny import tiny_spec_data
from _wheel import wheel_venv
from optuna.trial import TrialState

from codesign.search import load_stored_study, record_of

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(address, environment for processes that join it)."""
    why = namespaces_permitted()
    if why is not None:
        pytest.skip(why)
    hide = [str(tmp_path_factory.getbasetemp())]
    # the second node's codesign is the wheel, installed outside the folders it cannot see
    wheel_dir = Path(tempfile.mkdtemp(prefix="codesign-wheel-"))
    try:
        node_b_bin = wheel_venv(wheel_dir)
        with two_node_cluster(tmp_path_factory.mktemp("cluster-logs"), hide, node_b_bin=node_b_bin) as (address, env):
            yield address, env
    finally:
        shutil.rmtree(wheel_dir, ignore_errors=True)


def test_the_second_node_sees_codesign_only_as_its_wheel(two_nodes: tuple[str, dict[str, str]],
                                                          tmp_path: Path) -> None:
    address, env = two_nodes
    probe = (
        "import ray, sys\n"
        "ray.init(address=sys.argv[1], logging_level='ERROR')\n"
        "@ray.remote(resources={'node_b': 1}, num_cpus=0)\n"
        "def where():\n"
        "    import os, sys, codesign\n"
        "    from codesign._resources import checkout_root, shipped_dir\n"
        "    return [codesign.__file__, str(checkout_root()), str(shipped_dir('hw_models')),\n"
        "            str(any(os.path.exists(os.path.join(r, 'codesign', '__init__.py')) for r in sys.argv[2:]))]\n"
        "print('\\n'.join(ray.get(where.remote())))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, address, *map(str, checkouts())], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    codesign_file, root, hw_models, sees_checkout = out.stdout.strip().splitlines()[-4:]
    assert "/site-packages/codesign/" in codesign_file and root == "None", out.stdout
    assert hw_models.endswith("site-packages/codesign/_shipped/hw_models"), hw_models
    assert sees_checkout == "False"  # no checkout's codesign/ is readable there


def _codesign(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codesign", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def test_a_study_on_two_nodes_that_share_no_files(two_nodes: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    address, env = two_nodes
    data = tiny_spec_data("joint", trials=4)
    data.update(name="cluster", execution={"workers": 2, "cpus_per_trial": 1, "trial_cpu_s": 600})
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

    # the same study again under another name: every network is in the training cache, which a
    # trial on the second node can only have read through the driver's store actor
    again = _codesign(["study", "run", "cluster.yaml", "--runs-dir", str(runs), "--address", address,
                       "--set", "name=cluster_again", "--no-progress"], env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = load_stored_study("cluster_again", f"sqlite:///{runs / 'cluster_again' / 'study.db'}")
    rerecords = [record_of(t.user_attrs) for t in rerun.trials]
    assert all(r.cache_hit and not r.trained for r in rerecords), [r.error for r in rerecords]
    assert NODE_B_IP in {r.worker_node_ip for r in rerecords}
    assert [r.metrics["accuracy"] for r in rerecords] == [records[n].metrics["accuracy"] for n in sorted(records)]

    from codesign.report._parallel import parallel_coordinates_info
    from codesign.search import study_view

    assert "node" in parallel_coordinates_info(study_view(study)).colour_by  # the report can colour by node

    remote_trial = next(n for n, ip in ips.items() if ip == NODE_B_IP)
    bundle = tmp_path / "bundle"
    export = _codesign(["export", "cluster", "--trial", str(remote_trial), "--runs-dir", str(runs),
                        "--out", str(bundle)], env, tmp_path)
    assert export.returncode == 0, export.stdout + export.stderr
    again = _codesign(["evaluate", str(bundle), "--no-progress"], env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    config = yaml.safe_load((bundle / "config.yaml").read_text())
    assert config["study"]["trial"] == remote_trial
