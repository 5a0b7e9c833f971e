"""Where studies live: storage URLs, the runs directory layout, and reading a study back.

Layout under the runs directory (``runs/`` in the current directory unless told otherwise)::

    runs/<study>/study.db            default storage (SQLite), written by the driver only
    runs/<study>/trials/<n>/         per-trial artifacts (cost report, ...)
    runs/_train_cache/<hash>/        trained networks and traces, shared by studies

The artifacts and the training cache form the artifact store (``codesign.search._store``):
the runs directory by default, or a URL (``StudySpec.artifacts``) for a cluster without a
shared disk.

Storage URLs are Optuna's (``sqlite:///path.db``, ``postgresql://...``) plus
``journal:///path/study.log`` for Optuna's journal file backend (like SQLite URLs, three
slashes then a relative path, four for an absolute one).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import optuna

from codesign.config import ConfigError, parse_spec
from codesign.search._record import SPEC_ATTR
from codesign.search._spec import StudySpec

if TYPE_CHECKING:
    import sqlite3

JOURNAL_PREFIX = "journal:///"

_LOG = logging.getLogger("codesign.search")

_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*:)([^@/?#]*)(@)")


def masked_url(url: str) -> str:
    """``url`` as it may be printed: a password in it (``postgresql://user:secret@host/db``)
    replaced by ``***``, in messages, the run summary and ``study status``."""
    return _PASSWORD.sub(r"\1***\3", url)


def default_storage_url(name: str, runs_dir: str | Path = "runs") -> str:
    """``sqlite:///<abs runs_dir>/<name>/study.db``."""
    return f"sqlite:///{(Path(runs_dir) / name / 'study.db').resolve()}"


def study_artifact_dir(name: str, runs_dir: str | Path = "runs") -> Path:
    """The study's folder in a local artifact store rooted at ``runs_dir``."""
    return (Path(runs_dir) / name).resolve()


def storage_label(storage: str | optuna.storages.BaseStorage) -> str:
    """How a storage is named in the run summary and messages: its URL, or, for a storage
    object passed in, its database URL (SQL) or its kind."""
    if isinstance(storage, str):
        return storage
    if isinstance(storage, optuna.storages.RDBStorage):
        return str(storage.url)
    return f"<{type(storage).__name__}>"


def storage_file(url: str) -> Path | None:
    """The local file behind a SQLite or journal URL, else None."""
    if url.startswith(JOURNAL_PREFIX):
        return Path(url[len(JOURNAL_PREFIX) :])
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///") :].split("?", 1)[0]
        return Path(rest) if rest and rest != ":memory:" else None
    return None


def open_storage(
    url: str, create: bool, *, file: str | Path | None = None, key: str = "--storage"
) -> optuna.storages.BaseStorage:
    """The Optuna storage for ``url``.

    Args:
        url: an Optuna storage URL or ``journal:///path``.
        create: open for the driver (writing; a missing local file is created). When False the
            storage is opened read-only: a missing file, or a file that is not an Optuna
            storage (a foreign SQLite database, a damaged journal), is an error and is left
            byte-identical (SQLite is opened with ``mode=ro``, tables are never created).
        file, key: where the URL came from, for messages (``--storage`` on the command line,
            or a study file's ``storage`` key).

    Raises:
        ConfigError: a local storage file does not exist and ``create`` is False, it is not
            an Optuna storage, or the URL is not understood.
    """
    path = storage_file(url)
    if path is not None:
        _check_storage_file(url, path, create, file, key)
    if url.startswith(JOURNAL_PREFIX):
        assert path is not None
        return _open_journal(path, file, key)
    if "://" not in url:
        raise ConfigError(file, key, "an Optuna storage URL (sqlite:///file.db, postgresql://..., "
                          "journal:///file.log)", got=masked_url(url))
    return _open_rdb(_with_installed_driver(url), path, create, file, key)


def _check_storage_file(url: str, path: Path, create: bool, file: str | Path | None, key: str) -> None:
    """A local storage file exists (or, for the driver, its folder is made), is a file, and
    (SQLite) is an Optuna storage."""
    if not path.exists():
        if not create:
            raise ConfigError(file, key, "an existing storage file", got=str(path),
                              hint="run the study first, or pass --storage / --runs-dir")
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.is_file():
        raise ConfigError(file, key, "a storage file", got=str(path), hint="it is a directory")
    elif url.startswith("sqlite"):
        _check_sqlite_file(path, file, key)


def _open_journal(path: Path, file: str | Path | None, key: str) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend

    try:
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except Exception as err:  # a log line that is not Optuna's JSON
        raise ConfigError(file, key, "an Optuna journal file (one JSON operation per line)",
                          got=str(path), hint=f"{type(err).__name__}: {err}") from None


def _open_rdb(url: str, path: Path | None, create: bool, file: str | Path | None,
              key: str) -> optuna.storages.BaseStorage:
    """An SQL storage: created with its tables (and SQLite's pragmas) for the driver, else
    read-only and refused when it holds no Optuna tables."""
    try:
        if create:
            storage = _create_rdb_storage(url)
        else:
            storage = optuna.storages.RDBStorage(_read_only_url(url, path), skip_table_creation=True)
            optuna.get_all_study_names(storage)  # a server database without Optuna's tables fails here
    except Exception as err:  # SQLAlchemy raises many types for a bad URL or driver
        raise ConfigError(file, key, "a reachable Optuna storage URL", got=masked_url(url),
                          hint=_first_line(err).replace(url, masked_url(url))) from None
    if url.startswith("sqlite") and create:
        _fast_sqlite(storage)
    return storage


def _create_rdb_storage(url: str, attempts: int = 4) -> optuna.storages.RDBStorage:
    """``RDBStorage(url)``, creating Optuna's tables if needed. Two drivers starting at once on
    an empty PostgreSQL database both create the tables, and the slower one's ``CREATE`` fails
    with a unique violation; the tables are there by then, so it opens them again."""
    import time

    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = f"{type(err).__name__}: {text[0] if text else ''}"
    if isinstance(err, ImportError) and err.__cause__ is not None:
        line += f" ({err.__cause__}; for PostgreSQL: pip install 'codesign[postgres]')"
    return line[:300]


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` with psycopg2 when psycopg (3), SQLAlchemy's default, is absent:
    codesign's ``postgres`` extra installs psycopg2-binary."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def _read_only_url(url: str, path: Path | None) -> str:
    """SQLite opened ``mode=ro`` (nothing written, no table created); other URLs as given."""
    if path is None or not url.startswith("sqlite:///"):
        return url
    return f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_sqlite_file(path: Path, file: str | Path | None, key: str) -> None:
    """Refuse a file that is not an Optuna SQLite storage without changing it: an empty file,
    a file that is not SQLite, or a SQLite database without Optuna's tables."""
    import sqlite3

    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        what = "an empty file" if not head else "not a SQLite database"
        raise ConfigError(file, key, "an Optuna storage (a SQLite file written by codesign or Optuna)",
                          got=str(path), hint=what)
    def tables(query: str) -> set[str]:
        con = sqlite3.connect(f"file:{path.resolve()}?{query}", uri=True)
        try:
            return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()

    try:
        # read-only, through the write-ahead log: a driver that stopped without a checkpoint
        # (killed, a full disk) may have left the newest pages, even the tables, only there
        found = tables("mode=ro")
    except sqlite3.OperationalError:
        # a folder this process cannot write (no -shm can be made): the file alone, unlocked
        try:
            found = tables("mode=ro&immutable=1")
        except sqlite3.DatabaseError as err:
            raise ConfigError(file, key, "an Optuna storage", got=str(path),
                              hint=f"unreadable SQLite: {err}") from None
    except sqlite3.DatabaseError as err:
        raise ConfigError(file, key, "an Optuna storage", got=str(path), hint=f"unreadable SQLite: {err}") from None
    if not {"studies", "trials", "version_info"} <= found:
        raise ConfigError(file, key, "an Optuna storage", got=str(path),
                          hint="a SQLite database without Optuna's tables; it was left unchanged")


def checkpoint(url: str) -> None:
    """Fold a SQLite storage's write-ahead log into the database file (``wal_checkpoint
    (TRUNCATE)``), so that ``study.db`` alone holds every trial (a copy of it without its
    ``-wal`` file is whole). Other storages: nothing to do. Never raises: a busy reader or a
    full disk leaves the log for the next writer."""
    import sqlite3

    path = storage_file(url)
    if path is None or not url.startswith("sqlite") or not path.is_file():
        return
    try:
        con = sqlite3.connect(str(path), timeout=10)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
    except sqlite3.Error as err:
        _LOG.warning("could not checkpoint %s: %s", path, err)


def _fast_sqlite(storage: optuna.storages.RDBStorage) -> None:
    """Write-ahead log, and sync at checkpoints rather than at every commit.

    The driver commits several times per trial; with SQLite's defaults each commit waits for
    the disk, which on a busy machine cost ~250 ms per trial (benchmarks/search_overhead.py).
    WAL with ``synchronous=NORMAL`` keeps the database consistent after a crash of the
    driver (only a power loss can drop the last commits) and lets readers (a report, the
    dashboard) read while the driver writes.
    """
    from sqlalchemy import event

    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", _on_connect)
    storage.engine.dispose()  # connections opened while creating the tables lack the pragmas


def load_stored_study(
    name: str, url: str, sampler: optuna.samplers.BaseSampler | None = None, *, writable: bool = False
) -> optuna.Study:
    """Open an existing study by name, read-only unless ``writable`` (a command that adds to a
    stored study, such as ``study confirm``; the storage and the study must exist either way).

    Raises:
        ConfigError: no storage there, or no study of that name in it (names the ones there).
    """
    if writable:
        load_stored_study(name, url)  # the same checks, read-only: nothing is created for a bad name
    storage = open_storage(url, create=writable)
    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except (KeyError, ValueError):  # Optuna raises either for an unknown name
        names = optuna.get_all_study_names(storage)
        raise ConfigError(None, "NAME", f"a study in {masked_url(url)}", got=name,
                          hint=f"studies there: {', '.join(names) or 'none'}") from None


def stored_spec(study: optuna.Study) -> StudySpec:
    """The spec stored with a study (self-contained: spaces and chip inlined).

    Raises:
        ConfigError: the study was not created by codesign.
    """
    raw: object = study.user_attrs.get(SPEC_ATTR)
    if raw is None:
        raise ConfigError(None, study.study_name, "a study created by codesign (it has no stored spec)")
    return parse_spec(StudySpec, raw, file=None, key_prefix=SPEC_ATTR)
