"""Driver leases: which drivers are alive on a study, kept in the study's own storage.

A driver holds a *lease* while it runs a study: a study user attribute
``codesign.lease.<driver>`` (driver = ``host:pid``) with the time it started and a heartbeat
it renews every ``ttl_s / 3`` seconds from a background thread. Every trial a driver asks
carries the trial user attribute ``codesign.driver`` naming it. A RUNNING trial is treated as
interrupted (failed, its parameters asked again) only when its driver's lease is gone:

- released (the driver ended, normally or by an exception, and said so);
- expired (no heartbeat for ``ttl_s`` seconds: the driver was killed or its machine lost);
- or held by a process of this machine that no longer exists (a killed local driver is
  known dead at once, without waiting for the expiry).

What a second driver on a study does depends on the storage (:func:`storage_policy`):

- ``refuse`` (SQLite files): one driver per study. A second one exits with status 2 and
  "study X is being run by driver host:pid since ...". SQLite serialises writers on a file
  lock and is not meant for concurrent writers in several processes.
- ``share`` (journal files, PostgreSQL, MySQL, other servers): any number of drivers work on
  one study at once, as Optuna users expect of these storages; each runs its own trials and
  counts the study's budget from the storage.

Lease times are wall-clock (``time.time()``): drivers on several machines need clocks that
agree to well within ``ttl_s`` (NTP is plenty).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import optuna

from codesign.config import ConfigError

#: Study user attribute prefix of a driver's lease (one attribute per driver).
LEASE_PREFIX = "codesign.lease."
#: Trial user attribute naming the driver that asked the trial.
OWNER_ATTR = "codesign.driver"
#: Seconds without a heartbeat after which a lease has expired (``CODESIGN_LEASE_TTL_S``).
DEFAULT_TTL_S = 60.0

Policy = Literal["refuse", "share"]

_LOG = logging.getLogger("codesign.search")
_ACTIVE: set[str] = set()  # drivers of this process that hold a lease now
_ACTIVE_LOCK = threading.Lock()


def storage_policy(storage: str | optuna.storages.BaseStorage) -> Policy:
    """``refuse`` for SQLite (one driver per study), ``share`` for the rest; a storage object
    by its kind (an ``RDBStorage`` by its database), not by how it was named."""
    if isinstance(storage, optuna.storages.RDBStorage):
        storage = str(storage.url)
    return "refuse" if isinstance(storage, str) and storage.startswith("sqlite") else "share"


def lease_ttl_s() -> float:
    """The lease expiry: ``$CODESIGN_LEASE_TTL_S`` or :data:`DEFAULT_TTL_S`.

    Raises:
        ConfigError: the variable is not a finite number >= 1.
    """
    raw = os.environ.get("CODESIGN_LEASE_TTL_S")
    if raw is None:
        return DEFAULT_TTL_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value >= 1.0 and value < float("inf")):
        raise ConfigError(None, "CODESIGN_LEASE_TTL_S", "a number of seconds >= 1", got=raw)
    return value


@dataclass(frozen=True)
class Lease:
    """One driver's lease as stored (see the module docstring)."""

    driver: str
    host: str
    pid: int
    since: float
    heartbeat: float
    ttl_s: float
    released: bool = False

    @property
    def since_text(self) -> str:
        return _dt.datetime.fromtimestamp(self.since, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def alive(self, now: float | None = None) -> bool:
        """Whether the driver still holds the study (see the module docstring)."""
        if self.released:
            return False
        now = time.time() if now is None else now
        if now - self.heartbeat > self.ttl_s:
            return False
        if self.host == socket.gethostname():
            if self.pid == os.getpid():
                with _ACTIVE_LOCK:
                    return self.driver in _ACTIVE
            return _pid_exists(self.pid)
        return True

    @staticmethod
    def parse(raw: object) -> Lease | None:
        try:
            return Lease(**raw) if isinstance(raw, dict) else None
        except TypeError:
            return None


class StudyInUse(ConfigError):
    """A second driver on a study whose storage allows only one (exit status 2)."""

    def __init__(self, study: str, holder: Lease) -> None:
        self.study, self.holder = study, holder
        super().__init__(None, study, "no other driver on this study")

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        return (type(self), (self.study, self.holder))

    def _message(self) -> str:
        return (f"study {self.study} is being run by driver {self.holder.driver} since "
                f"{self.holder.since_text} (its storage, SQLite, takes one driver at a time; "
                f"use a journal or PostgreSQL storage to run several)")


def leases(study: optuna.Study) -> dict[str, Lease]:
    """Every lease stored with ``study`` (live or not), by driver."""
    out: dict[str, Lease] = {}
    for key, raw in study.user_attrs.items():
        if key.startswith(LEASE_PREFIX):
            lease = Lease.parse(raw)
            if lease is not None:
                out[lease.driver] = lease
    return out


def live_drivers(study: optuna.Study, now: float | None = None) -> dict[str, Lease]:
    """The drivers holding ``study`` now."""
    return {d: lease for d, lease in leases(study).items() if lease.alive(now)}


class DriverLease:
    """This driver's lease on one study: taken by :meth:`acquire`, renewed by a background
    thread, given up by :meth:`release` (also on an exception, so others take over at once).
    """

    def __init__(self, study: optuna.Study, driver: str, ttl_s: float, policy: Policy) -> None:
        self.study, self.driver, self.ttl_s, self.policy = study, driver, ttl_s, policy
        self.since = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def acquire(cls, study: optuna.Study, policy: Policy, ttl_s: float | None = None) -> DriverLease:
        """Take a lease on ``study``.

        Raises:
            StudyInUse: ``policy`` is ``refuse`` and another driver holds the study.
        """
        ttl = lease_ttl_s() if ttl_s is None else ttl_s
        lease = cls(study, _new_driver_id(), ttl, policy)
        if policy == "refuse":
            others = live_drivers(study)
            others.pop(lease.driver, None)
            if others:
                _forget(lease.driver)
                raise StudyInUse(study.study_name, min(others.values(), key=lambda x: x.since))
        lease._write()
        if policy == "refuse":
            # Two drivers that checked at the same moment both wrote: the earlier one keeps it.
            mine = (lease.since, lease.driver)
            earlier = [x for x in live_drivers(study).values() if (x.since, x.driver) < mine]
            if earlier:
                lease.release()
                raise StudyInUse(study.study_name, min(earlier, key=lambda x: x.since))
        lease._thread = threading.Thread(target=lease._beat, name=f"codesign-lease-{lease.driver}", daemon=True)
        lease._thread.start()
        return lease

    def others_alive(self) -> bool:
        """Whether another driver holds the study now."""
        return any(d != self.driver for d in live_drivers(self.study))

    def release(self) -> None:
        """Stop the heartbeat and mark the lease released (idempotent, never raises)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            self._write(released=True)
        except Exception as err:  # the storage is gone: the lease expires on its own
            _LOG.warning("could not release the lease of %s: %s", self.driver, err)
        _forget(self.driver)

    def _write(self, released: bool = False) -> None:
        host, _, pid = self.driver.partition(":")
        lease = Lease(self.driver, host, int(pid.split("/")[0]), self.since, time.time(), self.ttl_s, released)
        self.study.set_user_attr(LEASE_PREFIX + self.driver, asdict(lease))

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                self._write()
            except Exception as err:  # keep trying: one failed write does not expire the lease
                _LOG.warning("lease heartbeat of %s failed: %s", self.driver, err)


def _new_driver_id() -> str:
    """``host:pid``, with ``/n`` added when this process already runs another driver."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    with _ACTIVE_LOCK:
        driver, n = base, 1
        while driver in _ACTIVE:
            n += 1
            driver = f"{base}/{n}"
        _ACTIVE.add(driver)
    return driver


def _forget(driver: str) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.discard(driver)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
