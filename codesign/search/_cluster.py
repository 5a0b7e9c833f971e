"""Ray start-up for the driver and the confirmation: joining a cluster or starting a local one.

Owns, in one place:

- checking an ``execution.address`` answers (:func:`check_reachable`) and that the cluster has
  a node that can run one trial (:func:`check_resources`), each one error before any work;
- joining ``execution.address`` or starting a local cluster (:func:`ensure_ray`), with the
  cluster's token when joining, a fresh random token for a local cluster (``_own_token``) and
  the local cluster bound to the loopback address (``_loopback_only``), Python's SIGTERM
  handler kept;
- which Ray errors mean a worker or its node died, not the evaluation
  (:func:`worker_died_errors`), so the task runs again elsewhere.

Imports Ray only inside its functions, so a study reader never loads it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

from codesign.config import ConfigError
from codesign.search._spec import StudySpec

#: How long the driver waits for an ``--address`` to accept a connection before it says so
#: (a head started a moment ago may not listen yet: refused connections are retried until then).
CONNECT_TIMEOUT_S = 15.0


def check_reachable(spec: StudySpec) -> None:
    """An ``execution.address`` where nothing accepts a connection is one error within
    ``CONNECT_TIMEOUT_S`` (``ray.init`` would retry for minutes).

    Raises:
        ConfigError: nothing listens at the address (``auto``: the one ``RAY_ADDRESS`` or the
            latest local ``ray start`` names).
    """
    address = spec.execution.address
    if not address:
        return
    target: str | None = address
    if address == "auto":
        target = os.environ.get("RAY_ADDRESS") or None
        if target is None:
            try:  # what ray.init("auto") reads: the cluster `ray start` last started here
                from ray._private.services import get_ray_address_from_environment

                target = get_ray_address_from_environment("auto", None)
            except Exception:  # none: ray.init says so itself, at once
                return
    if not target or target in ("auto", "local"):
        return
    hostport = target.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    try:
        port_number = int(port)
    except ValueError:
        raise ConfigError(None, "execution.address", "host:port of a Ray cluster's head (or auto)",
                          got=address) from None
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            left = max(0.5, deadline - time.monotonic())
            socket.create_connection((host.strip("[]") or "127.0.0.1", port_number), timeout=left).close()
            return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise ConfigError(None, "execution.address", "the address of a running Ray cluster", got=address,
                                  hint=f"nothing accepted a connection at {host}:{port_number} within "
                                  f"{CONNECT_TIMEOUT_S:g} s ({err.strerror or type(err).__name__}); start one "
                                  "with `ray start --head` or fix --address / RAY_ADDRESS") from None
        time.sleep(0.5)


def check_resources(spec: StudySpec) -> None:
    """The cluster has a node that can run one trial (its CPUs and GPUs), checked once before
    the study starts: a trial no node can take would wait until its timeout, and so would every
    other.

    Raises:
        ConfigError: no live node has ``execution.cpus_per_trial`` CPUs and
            ``gpus_per_trial`` GPUs.
    """
    import ray

    need_cpu, need_gpu = spec.execution.cpus_per_trial, spec.execution.gpus_per_trial
    nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]  # Ray leaves it unannotated

    def has(node: dict[str, Any], name: str, amount: float) -> bool:
        return float(node.get("Resources", {}).get(name, 0.0)) >= amount

    if any(has(n, "CPU", need_cpu) and has(n, "GPU", need_gpu) for n in nodes):
        return
    seen = "; ".join(f"{n.get('NodeManagerAddress', '?')}: {n.get('Resources', {}).get('CPU', 0):g} CPU, "
                     f"{n.get('Resources', {}).get('GPU', 0):g} GPU" for n in nodes) or "no live node"
    if need_gpu and not any(has(n, "GPU", need_gpu) for n in nodes):
        raise ConfigError(None, "execution.gpus_per_trial", f"at most the GPUs of one node of the cluster "
                          f"({need_gpu:g} asked)", hint=f"the cluster has {seen}; set gpus_per_trial: 0 to train "
                          "on CPUs")
    raise ConfigError(None, "execution.cpus_per_trial", f"at most the CPUs of one node of the cluster "
                      f"({need_cpu:g} asked)", hint=f"the cluster has {seen}; add a node with CPUs, or lower "
                      "cpus_per_trial")


def ensure_ray(spec: StudySpec, log_to_driver: bool) -> bool:
    """Join ``execution.address`` or start a local cluster; True when this run started Ray.

    ``auto`` joins the cluster ``RAY_ADDRESS`` names, else the one ``ray start`` last started on
    this machine. Authentication: joining, the driver presents the token the cluster was given
    (``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``, see docs/cluster.md); a local cluster gets
    token authentication with a fresh random token that only this process and its workers
    hold, so nothing is written to ``~/.ray`` and Ray's start-up warning does not apply.

    Raises:
        ConfigError: ``--address`` names no reachable Ray cluster.
    """
    import ray

    if ray.is_initialized():
        return False
    with _python_sigterm_kept():
        _init_ray(spec, log_to_driver)
    return True


@contextlib.contextmanager
def _python_sigterm_kept() -> Iterator[None]:
    """Ray's core worker installs a SIGTERM handler of its own in the driver that logs a stack
    and aborts the process (status -6, no cleanup). The handler Python had (the CLI's, which
    raises so the driver fails its unfinished trials and releases its lease) is put back."""
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        yield
    finally:
        if main_thread and before is not None:
            signal.signal(signal.SIGTERM, before)


def _init_ray(spec: StudySpec, log_to_driver: bool) -> None:
    """``ray.init`` for :func:`ensure_ray`."""
    import ray

    if spec.execution.address:
        address = spec.execution.address
        if address == "auto" and os.environ.get("RAY_ADDRESS"):
            address = os.environ["RAY_ADDRESS"]
        from ray.exceptions import AuthenticationError

        try:
            # Ray may set RAY_AUTH_MODE in this process while joining (a token file found); put
            # it back after, so that a later local cluster here still gets its own token
            with _restored_env("RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
                _forget_cached_token()
                ray.init(address=address, include_dashboard=False, log_to_driver=log_to_driver,
                         logging_level=logging.WARNING)
        except AuthenticationError as err:
            raise ConfigError(None, "execution.address", "the token of the Ray cluster at this address",
                              got=address, hint=f"{first_sentence(err)}; export RAY_AUTH_MODE=token and "
                              "RAY_AUTH_TOKEN as on the cluster's nodes (docs/cluster.md)") from None
        except (ConnectionError, RuntimeError, TimeoutError) as err:
            raise ConfigError(None, "execution.address", "the address of a running Ray cluster this machine "
                              "is a node of", got=address,
                              hint=f"{first_sentence(err)}; start one with `ray start --head`, join this "
                              "machine with `ray start --address`, or set RAY_ADDRESS and pass --address auto"
                              ) from None
    else:
        cpus = max(1, math.ceil(spec.execution.workers * spec.execution.cpus_per_trial))
        # address="local": a new cluster, never one another process on this machine started
        # (a bare ray.init() would join the machine's latest cluster). A small object store:
        # trials exchange parameters, records and their files (a few MB); the corpus is put once.
        with _loopback_only(), _own_token():
            _forget_cached_token()
            ray.init(address="local", num_cpus=cpus, object_store_memory=512 * 1024 * 1024,
                     _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=log_to_driver,
                     logging_level=logging.WARNING)


def _forget_cached_token() -> None:
    """Make Ray read ``RAY_AUTH_MODE`` and the token again: it caches both for the whole
    process, so a process that ran a local cluster (its own token) and then joins another must
    present that cluster's (Ray's own ``_enable_token_auth`` refreshes the same way)."""
    try:
        # Ray's compiled module has no type stubs for these two
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]
    except ImportError:  # a Ray without token authentication
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def first_sentence(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text.split(". ")[0][:300]


@contextlib.contextmanager
def _restored_env(*names: str) -> Iterator[None]:
    old = {n: os.environ.get(n) for n in names}
    try:
        yield
    finally:
        for n, v in old.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


@contextlib.contextmanager
def _own_token() -> Iterator[None]:
    """While a local cluster starts: token authentication with a fresh random token, unless the
    user configured Ray's authentication (``RAY_AUTH_MODE``) themselves. The GCS, raylet and
    workers inherit it at start; the variables are put back after."""
    import secrets

    if "RAY_AUTH_MODE" in os.environ:
        yield
        return
    with _restored_env("RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
        yield


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """While a local cluster starts: bind it to 127.0.0.1, so that it serves this machine only.

    Ray on Linux turns ``_node_ip_address="127.0.0.1"`` into the machine's routable address
    (``services.resolve_ip_for_localhost``) unless its cluster mode is off, a module constant
    read from ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` at import. Both are set for the start (the
    variable is inherited by the GCS, raylet and workers) and put back after, so that a later
    ``--address`` join in this process is unaffected.
    """
    from ray._private import ray_constants

    var = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    old_flag = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    with _restored_env(var):
        os.environ[var] = "0"
        ray_constants.ENABLE_RAY_CLUSTER = False
        try:
            yield
        finally:
            if old_flag is not None:
                ray_constants.ENABLE_RAY_CLUSTER = old_flag


def worker_died_errors() -> tuple[type[BaseException], ...]:
    """The Ray errors that mean the worker or its node died, not the evaluation: the task is
    run again elsewhere (``execution.retries`` times) by the driver and by the confirmation."""
    from ray import exceptions as rex

    return (rex.WorkerCrashedError, rex.NodeDiedError, rex.LocalRayletDiedError, rex.OutOfMemoryError,
            rex.ObjectLostError, rex.OwnerDiedError)


__all__ = [
    "CONNECT_TIMEOUT_S",
    "check_reachable",
    "check_resources",
    "ensure_ray",
    "first_sentence",
    "worker_died_errors",
]
