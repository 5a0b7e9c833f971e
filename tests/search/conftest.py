"""Fixtures for the search tests: toy evaluators shipped to Ray workers by value."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _toy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def toy(ray_cluster: str):
    """The toy evaluators module, pickled by value so workers need not import the tests."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(_toy)
    return _toy


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway PostgreSQL server on 127.0.0.1 for this session (Debian's ``postgresql``
    binaries, a temporary data directory, trust auth, fsync off); stopped and deleted at the
    end. Skips, saying why, only where that is impossible: no psycopg2, no server binaries,
    or root without a ``postgres`` user to run the server as."""
    import glob
    import os
    import pwd
    import shutil
    import socket
    import subprocess
    import tempfile

    try:
        import psycopg2
    except ImportError:
        pytest.skip("psycopg2 is not installed (pip install -e '.[postgres]', as `make test` does)")
    def find_initdb() -> str | None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
        return bins[0] if bins else shutil.which("initdb")

    initdb = find_initdb()
    if initdb is None and os.geteuid() == 0 and shutil.which("apt-get"):  # as `make postgres` does
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
            if subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode != 0:
                break
        initdb = find_initdb()
    if initdb is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) and they could not be installed "
                    "(not root, or apt-get failed): apt-get install postgresql, as `make test` does")
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="codesign-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, log = root / "data", root / "server.log"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off")
    except (subprocess.CalledProcessError, OSError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server: {detail.strip()[:300]}")
    try:
        con = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        con.autocommit = True
        con.cursor().execute("CREATE DATABASE codesign_test")
        con.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/codesign_test"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
