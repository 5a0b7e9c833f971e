"""Where studies live: storage URLs, the runs directory layout, and reading a study back.

Layout under the runs directory (``runs/`` in the current directory unless told otherwise)::

    runs/<study>/study.db            default storage (SQLite), written by the driver only
    runs/<study>/trials/<n>/         per-trial artifacts (trace, cost report, ...)
    runs/_train_cache/<hash>/        trained networks and traces, shared by studies

Storage URLs are Optuna's (``sqlite:///path.db``, ``postgresql://...``) plus
``journal:///path/study.log`` for Optuna's journal file backend (like SQLite URLs, three
slashes then a relative path, four for an absolute one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from codesign.config import ConfigError, parse_spec
from codesign.search._record import SPEC_ATTR
from codesign.search._spec import StudySpec

JOURNAL_PREFIX = "journal:///"
TRAIN_CACHE_DIR = "_train_cache"


def default_storage_url(name: str, runs_dir: str | Path = "runs") -> str:
    """``sqlite:///<abs runs_dir>/<name>/study.db``."""
    return f"sqlite:///{(Path(runs_dir) / name / 'study.db').resolve()}"


def study_artifact_dir(name: str, runs_dir: str | Path = "runs") -> Path:
    return (Path(runs_dir) / name).resolve()


def storage_file(url: str) -> Path | None:
    """The local file behind a SQLite or journal URL, else None."""
    if url.startswith(JOURNAL_PREFIX):
        return Path(url[len(JOURNAL_PREFIX) :])
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///") :].split("?", 1)[0]
        return Path(rest) if rest and rest != ":memory:" else None
    return None


def open_storage(url: str, create: bool) -> optuna.storages.BaseStorage | str:
    """The Optuna storage for ``url``.

    Args:
        url: an Optuna storage URL or ``journal:///path``.
        create: allow creating a new local file; when False a missing file is an error
            (so that reading a study never leaves an empty database behind).

    Raises:
        ConfigError: a local storage file does not exist and ``create`` is False, or the URL
            is not understood.
    """
    path = storage_file(url)
    if path is not None:
        if not path.exists():
            if not create:
                raise ConfigError(None, "--storage", "an existing storage file", got=str(path),
                                  hint="run the study first, or pass --storage / --runs-dir")
            path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith(JOURNAL_PREFIX):
        from optuna.storages.journal import JournalFileBackend

        assert path is not None
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise ConfigError(None, "--storage", "an Optuna storage URL (sqlite:///file.db, postgresql://..., "
                          "journal:///file.log)", got=url)
    try:
        storage = optuna.storages.RDBStorage(url)
    except Exception as err:  # SQLAlchemy raises many types for a bad URL or driver
        raise ConfigError(None, "--storage", "a reachable Optuna storage URL", got=url, hint=str(err)) from None
    if url.startswith("sqlite"):
        _fast_sqlite(storage)
    return storage


def _fast_sqlite(storage: optuna.storages.RDBStorage) -> None:
    """Write-ahead log, and sync at checkpoints rather than at every commit.

    The driver commits several times per trial; with SQLite's defaults each commit waits for
    the disk, which on a busy machine cost ~250 ms per trial (benchmarks/search_overhead.py).
    WAL with ``synchronous=NORMAL`` keeps the database consistent after a crash of the
    driver (only a power loss can drop the last commits) and lets readers (a report, the
    dashboard) read while the driver writes.
    """
    from sqlalchemy import event

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", _on_connect)
    storage.engine.dispose()  # connections opened while creating the tables lack the pragmas


def load_stored_study(name: str, url: str, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """Open an existing study by name.

    Raises:
        ConfigError: no storage there, or no study of that name in it (names the ones there).
    """
    storage = open_storage(url, create=False)
    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise ConfigError(None, "NAME", f"a study in {url}", got=name,
                          hint=f"studies there: {', '.join(names) or 'none'}") from None


def stored_spec(study: optuna.Study) -> StudySpec:
    """The spec stored with a study (self-contained: spaces and chip inlined).

    Raises:
        ConfigError: the study was not created by codesign.
    """
    raw: Any = study.user_attrs.get(SPEC_ATTR)
    if raw is None:
        raise ConfigError(None, study.study_name, "a study created by codesign (it has no stored spec)")
    return parse_spec(StudySpec, raw, file=None, key_prefix=SPEC_ATTR)
