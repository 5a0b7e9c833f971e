"""The artifact store: where a study's artifacts and the training cache live.

One root, a local folder (the runs directory, by default; :class:`LocalArtifactStore`) or any
URL that ``pyarrow.fs`` understands (``s3://bucket/runs``, ``gs://…``, ``hdfs://…``,
``file:///shared/runs``) or, through fsspec, any fsspec protocol (:class:`UrlArtifactStore`).
Both implement one interface, :class:`ArtifactStore`; a store of another kind implements it
too and is passed in (``run_study(artifact_store=...)``) or registered for its URL scheme
(:func:`register_store_scheme`). Under the root::

    <study>/trials/<n>/…       a trial's own files (cost report, …)
    _train_cache/<key>/…       trained networks, their scores and traces, shared by studies

Only the driver writes to the store (``codesign.search._driver``): a Ray worker never reads or
writes a path on the driver's disk. It reads through a :class:`StoreReader` (the store itself
when its root is a URL every node reaches, else :class:`DriverStoreReader`, a Ray actor on the
driver's node that serves the driver's store) and returns what it made as bytes in a
:class:`~codesign.search._task.TrialResult`.

Paths inside the store are POSIX strings relative to the root. Cache entries are immutable
once published: :meth:`ArtifactStore.publish` writes a whole entry or nothing, and a second
writer of the same entry leaves the first one's files as they are.
"""

from __future__ import annotations

import abc
import hashlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from codesign._io import write_atomic

#: The training cache's folder under the store root.
TRAIN_CACHE_DIR = "_train_cache"


@runtime_checkable
class StoreReader(Protocol):
    """Read access to an artifact store (what a worker gets)."""

    def exists(self, rel: str) -> bool: ...

    def read(self, rel: str) -> bytes: ...

    def list(self, rel: str) -> list[str]: ...


def is_url(root: str | Path) -> bool:
    """True for ``scheme://…`` (a remote or fsspec store), False for a local folder."""
    return "://" in str(root)


def join_url(root: str, rel: str) -> str:
    """``rel`` under a store URL, keeping its query (``s3://b/runs?endpoint_override=h:9000``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(root)
    path = posixpath.join(parts.path, rel) if rel else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def split_study_dir(artifact_dir: str | Path) -> tuple[str, str]:
    """(store root, study name) of a study's folder as the study records it (``<root>/<name>``,
    a path or a URL): the one place that split is made."""
    text = str(artifact_dir)
    if is_url(text):
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(text)
        head, name = posixpath.split(parts.path.rstrip("/"))
        return urlunsplit((parts.scheme, parts.netloc, head, parts.query, parts.fragment)), name
    path = Path(text)
    return str(path.parent), path.name


class ArtifactStore(abc.ABC):
    """An artifact store (see the module docstring): the interface the driver, its workers'
    reader and every study reader use, with one implementation per kind of root.

    ``ArtifactStore(root)`` opens the store a root names: a URL whose scheme was registered
    (:func:`register_store_scheme`) with that class, any other URL with
    :class:`UrlArtifactStore` (``pyarrow.fs``, else fsspec), a folder with
    :class:`LocalArtifactStore`. A store of another kind is a subclass that implements the
    abstract methods, passed to ``run_study(artifact_store=...)`` or registered for its scheme.
    """

    #: Where the store lives (a resolved folder, or a URL).
    root: str

    def __new__(cls, *args: object, **kwargs: object) -> ArtifactStore:
        # ArtifactStore(root) is chosen by the root, as pathlib.Path(...) chooses its flavour
        chosen = _store_class(str(args[0] if args else kwargs["root"])) if cls is ArtifactStore else cls
        return super().__new__(chosen)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    @property
    def is_local(self) -> bool:
        """The root is a folder on this machine, which workers elsewhere cannot read (they read
        it through the driver, :func:`serve_store`). False for a store every node reaches."""
        return False

    def url(self, rel: str = "") -> str:
        """The full path or URL of ``rel``."""
        rel = _clean(rel)
        return join_url(self.root, rel) if rel else self.root

    # --- reading ----------------------------------------------------------------------------

    @abc.abstractmethod
    def exists(self, rel: str) -> bool: ...

    @abc.abstractmethod
    def read(self, rel: str) -> bytes:
        """The file's bytes.

        Raises:
            FileNotFoundError: no such file in the store.
        """

    @abc.abstractmethod
    def list(self, rel: str) -> list[str]:
        """Names directly inside folder ``rel`` (sorted; empty when it does not exist)."""

    def local_file(self, rel: str) -> Path:
        """A local file with the contents of ``rel``: a copy in a per-user cache
        (``$XDG_CACHE_HOME/codesign/artifacts``), downloaded once for the immutable training
        cache and again on every call for a trial's own files (which a later run may replace).

        Raises:
            FileNotFoundError: no such file.
        """
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "codesign" / "artifacts"
        target = cache / hashlib.sha256(self.root.encode()).hexdigest()[:16] / _clean(rel)
        immutable = _clean(rel).startswith(TRAIN_CACHE_DIR + "/")
        if not (immutable and target.is_file()):
            data = self.read(rel)
            write_atomic(target, lambda tmp: tmp.write_bytes(data))
        return target

    def check(self) -> None:
        """Write, read back and delete a marker, so that a store the driver cannot use fails
        before any trial trains (not after each one).

        Raises:
            OSError or an error of the storage library: the store cannot be written or read.
        """
        import uuid

        rel = f".codesign-check-{uuid.uuid4().hex}"
        self.write(rel, b"ok")
        try:
            if self.read(rel) != b"ok":
                raise OSError(f"{self.url(rel)} read back different bytes")
        finally:
            self.delete(rel)

    # --- writing (the driver only) -----------------------------------------------------------

    @abc.abstractmethod
    def write(self, rel: str, data: bytes) -> None:
        """Write (or replace) one file; a reader never sees part of it."""

    @abc.abstractmethod
    def delete(self, rel: str) -> None:
        """Remove one file (nothing when it is not there)."""

    def publish(self, rel: str, files: Mapping[str, bytes]) -> bool:
        """Publish an immutable entry (folder ``rel`` with ``files``, names relative to it).

        Written file by file in the order given, so the caller puts last the file whose
        presence readers take to mean the entry is whole. An entry already there wins: it is
        left as it is and False is returned.
        """
        last = list(files)[-1] if files else ""
        if last and self.exists(posixpath.join(rel, last)):
            return False
        for name, data in files.items():
            self.write(posixpath.join(rel, name), data)
        return True


class LocalArtifactStore(ArtifactStore):
    """A store in a folder of this machine."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(Path(root).resolve())

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (LocalArtifactStore, (self.root,))

    @property
    def is_local(self) -> bool:
        return True

    def url(self, rel: str = "") -> str:
        rel = _clean(rel)
        return str(Path(self.root) / rel) if rel else self.root

    def _file(self, rel: str) -> Path:
        return Path(self.root) / _clean(rel)

    def exists(self, rel: str) -> bool:
        return self._file(rel).exists()

    def read(self, rel: str) -> bytes:
        return self._file(rel).read_bytes()

    def list(self, rel: str) -> list[str]:
        folder = self._file(rel)
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def local_file(self, rel: str) -> Path:
        """The file itself."""
        return self._file(rel)

    def write(self, rel: str, data: bytes) -> None:
        write_atomic(self._file(rel), lambda tmp: tmp.write_bytes(data))

    def delete(self, rel: str) -> None:
        self._file(rel).unlink(missing_ok=True)

    def publish(self, rel: str, files: Mapping[str, bytes]) -> bool:
        """Written into a private folder and renamed into place: whole or not at all."""
        entry = self._file(rel)
        if entry.exists():
            return False
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".publish.", dir=entry.parent))
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        try:
            tmp.rename(entry)
        except OSError:  # another driver published it first
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        return True


class UrlArtifactStore(ArtifactStore):
    """A store at a URL every node reaches, through ``pyarrow.fs`` (s3, gs, hdfs, file, …) or
    fsspec. Picklable (it pickles as its root), so it is handed to workers as it is."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(root)
        self._fs, self._base = _filesystem(self.root)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (UrlArtifactStore, (self.root,))

    def _path(self, rel: str) -> str:
        rel = _clean(rel)
        return posixpath.join(self._base, rel) if rel else self._base

    def exists(self, rel: str) -> bool:
        import pyarrow.fs as pafs

        return bool(self._fs.get_file_info(self._path(rel)).type != pafs.FileType.NotFound)

    def read(self, rel: str) -> bytes:
        if not self.exists(rel):
            raise FileNotFoundError(self.url(rel))
        with self._fs.open_input_stream(self._path(rel)) as stream:
            return bytes(stream.read())

    def list(self, rel: str) -> list[str]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self._path(rel), allow_not_found=True, recursive=False)
        return sorted(posixpath.basename(info.path) for info in self._fs.get_file_info(selector))

    def write(self, rel: str, data: bytes) -> None:
        import uuid

        final = self._path(rel)
        self._fs.create_dir(posixpath.dirname(final), recursive=True)
        # a private name, then a move: a reader never sees part of a file (an object store's
        # put is whole anyway; a mounted or local filesystem's write is not)
        tmp = f"{final}.tmp-{uuid.uuid4().hex}"
        with self._fs.open_output_stream(tmp) as stream:
            stream.write(data)
        self._fs.move(tmp, final)

    def delete(self, rel: str) -> None:
        if self.exists(rel):
            self._fs.delete_file(self._path(rel))


#: URL scheme -> the store class that opens it (:func:`register_store_scheme`).
_SCHEMES: dict[str, type[ArtifactStore]] = {}


def register_store_scheme(scheme: str, store: type[ArtifactStore]) -> None:
    """Open roots ``<scheme>://…`` with ``store`` (a subclass of :class:`ArtifactStore` taking
    the root), in this process: a study's ``artifacts`` key (or ``--artifact-store``) then
    names a store of a kind codesign does not ship. Workers on other nodes receive the store
    pickled, so they need not register it."""
    _SCHEMES[scheme.lower()] = store


def _store_class(root: str | Path) -> type[ArtifactStore]:
    if not is_url(root):
        return LocalArtifactStore
    return _SCHEMES.get(str(root).split("://", 1)[0].lower(), UrlArtifactStore)


def open_store(root: str | Path) -> ArtifactStore:
    """The store ``root`` names (what ``ArtifactStore(root)`` returns; see there)."""
    return _store_class(root)(root)


def study_store(artifact_dir: str | Path) -> ArtifactStore:
    """The store a study's folder (``<root>/<name>``, as the study records it) lives in."""
    return open_store(split_study_dir(artifact_dir)[0])


def _clean(rel: str) -> str:
    """A store-relative path, refusing anything that would leave the root."""
    norm = posixpath.normpath(str(rel).replace(os.sep, "/")) if rel else ""
    if norm in ("", "."):
        return ""
    if norm.startswith("../") or norm == ".." or norm.startswith("/"):
        raise ValueError(f"a path inside the artifact store, got {rel!r}")
    return norm


def _filesystem(url: str) -> tuple[Any, str]:
    """``pyarrow.fs`` for the URL (s3, gs, hdfs, file, …), else fsspec through pyarrow's handler."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    try:
        fs, base = pafs.FileSystem.from_uri(url)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as arrow_err:
        try:
            import fsspec
        except ImportError:
            raise ValueError(f"pyarrow.fs does not understand {url!r} ({arrow_err}); "
                             "install fsspec for other protocols") from None
        ffs, base = fsspec.core.url_to_fs(url)
        fs = pafs.PyFileSystem(pafs.FSSpecHandler(ffs))
    return fs, str(base).rstrip("/")


class DriverStoreReader:
    """A :class:`StoreReader` for workers on other nodes: reads the driver's store through a Ray
    actor placed on the driver's node (made by :func:`serve_store`)."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def exists(self, rel: str) -> bool:
        import ray

        return bool(ray.get(self._actor.exists.remote(rel)))

    def read(self, rel: str) -> bytes:
        import ray

        return bytes(ray.get(self._actor.read.remote(rel)))

    def list(self, rel: str) -> list[str]:
        import ray

        return list(ray.get(self._actor.list.remote(rel)))


class _StoreServer:
    """The Ray actor behind :class:`DriverStoreReader` (read-only); counts the bytes it serves."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store
        self._served = 0

    def exists(self, rel: str) -> bool:
        return self._store.exists(rel)

    def read(self, rel: str) -> bytes:
        data = self._store.read(rel)
        self._served += len(data)
        return data

    def bytes_served(self) -> int:
        return self._served

    def list(self, rel: str) -> list[str]:
        return self._store.list(rel)


def serve_store(store: ArtifactStore) -> tuple[StoreReader, Any]:
    """What workers read ``store`` through, and the actor to kill when the run ends (None).

    A URL store is read directly from every node. A local one is served by an actor pinned to
    this (the driver's) node, which needs no CPU; Ray moves the bytes.
    """
    if not store.is_local:
        return store, None
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    actor = ray.remote(_StoreServer).options(
        num_cpus=0, max_concurrency=8, max_restarts=-1, max_task_retries=3,  # stateless: restart freely
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False),
    ).remote(store)
    return DriverStoreReader(actor), actor
