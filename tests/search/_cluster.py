"""A two-node Ray cluster on one machine whose nodes see different files (for the cluster test
and ``benchmarks/cluster_overhead.py``).

The head runs on 127.0.0.1 beside the driver. The second node joins it from its own mount
namespace (``unshare --mount``) at 127.0.0.2, where tmpfs folders hide the given folders, the
corpus caches, Ray's session folder and the eSpeak NG package, and HOME and TMPDIR are its own:
a task that runs there reaches nothing of the driver's but Ray. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent
NODE_B_IP = "127.0.0.2"


#: The folders of a checkout that a wheel-installed node must not see.
CHECKOUT_FOLDERS = ("codesign", "hw_models", "search_spaces", "studies")


def checkouts() -> set[Path]:
    """Every codesign checkout this interpreter could read: the one these tests run from, and the
    folder an editable install of codesign points at (its ``direct_url.json``), if any."""
    import importlib.metadata
    import json

    roots = {Path(__file__).resolve().parents[2]}
    with contextlib.suppress(importlib.metadata.PackageNotFoundError, TypeError, ValueError):
        url = json.loads(importlib.metadata.distribution("codesign").read_text("direct_url.json") or "{}")
        if url.get("url", "").startswith("file://"):
            roots.add(Path(url["url"][len("file://"):]))
    return roots


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def namespaces_permitted() -> str | None:
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


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc): Ray's raylet puts its workers in process groups
    of their own, so a process group alone does not reach them."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process, its process group and every process below it, by PID."""
    below = _descendants(proc.pid)
    for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    time.sleep(1.0)  # let the raylet stop its workers itself first
    for pid in [*below, *_descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


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
    raise RuntimeError(f"the cluster at {address} did not reach {count} nodes")


@contextlib.contextmanager
def two_node_cluster(logs: Path, hide: list[str], head_cpus: int = 1,
                     node_b_bin: Path | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head on 127.0.0.1 and a second node (one CPU, resource ``node_b``) in its own mount
    namespace, where ``hide`` and the usual private folders are covered by tmpfs; yields
    (address, environment for processes that join it: the token). Stopped by process group.

    With ``node_b_bin`` (the ``bin`` folder of an environment holding codesign's wheel,
    ``tests/_wheel.py``) the second node runs that environment's Python with no ``PYTHONPATH``,
    and every checkout of codesign (this one, and an editable install's) is hidden from it too:
    its trials see codesign only as its site-packages hold it."""
    import espeakng_loader

    token = secrets.token_hex(32)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--object-store-memory", str(200 * 1024 * 1024), "--disable-usage-stats",
              "--block"]
    head_log, node_b_log = (logs / "head.log").open("wb"), (logs / "node_b.log").open("wb")
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--include-dashboard", "false", *common[2:], "--num-cpus", str(head_cpus)],
        env=env, stdout=head_log, stderr=subprocess.STDOUT, start_new_session=True)
    procs = [head]
    try:
        _wait_for_nodes(address, env, 1)
        hidden = [*hide, "/tmp/ray", os.environ.get("CODESIGN_CACHE_DIR", ""),
                  str(Path.home() / ".cache" / "codesign"), str(Path(espeakng_loader.__file__).parent)]
        ray_cmd = str(BIN / "ray")
        node_b_env = env
        if node_b_bin is not None:
            hidden += [str(root / name) for root in checkouts() for name in CHECKOUT_FOLDERS]
            ray_cmd = f"{node_b_bin / 'python'} -c 'from ray.scripts.scripts import main; main()'"
            node_b_env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        mounts = " && ".join(f"mkdir -p {p} && mount -t tmpfs tmpfs {p}" for p in hidden if p)
        node_b = (f"{mounts} && mkdir -p /tmp/ray/home /tmp/ray/tmp && export HOME=/tmp/ray/home "
                  f"TMPDIR=/tmp/ray/tmp && exec {ray_cmd} start --address {address} --node-ip-address "
                  f"{NODE_B_IP} --resources '{{\"node_b\": 1}}' {' '.join(common)}")
        procs.append(subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", node_b],
            env=node_b_env, stdout=node_b_log, stderr=subprocess.STDOUT, start_new_session=True))
        _wait_for_nodes(address, env, 2)
        yield address, env
    finally:
        for proc in reversed(procs):
            _stop(proc)
        head_log.close()
        node_b_log.close()


