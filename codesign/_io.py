"""Atomic writes, shared by every package: a reader never sees a half-written file or folder.

A file is written under a unique temporary name in the destination's own folder (so the
rename never crosses a file system) and then ``os.replace``-d onto its final name, which is
atomic on POSIX and Windows (:func:`write_atomic`). A folder of files (a bundle, a cache
entry) is filled as a private staged folder beside its final name and renamed into place
(:func:`staged_directory`, :func:`publish_directory`). Torch-free and import-free of any ``codesign`` package, so
``codesign.config`` … ``codesign.cli`` can all use it without breaking the one-way flow.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomic(out: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``out``, then rename it onto ``out``.

    The parent folder is created if needed. The file gets the usual permissions (0666 less
    the umask), not mkstemp's 0600. If ``write`` raises, the temporary file is removed and
    ``out`` is left as it was. What ``write`` returns (``Path.write_text``'s count) is ignored.

    Returns:
        ``out`` as a ``Path``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def write_text_atomic(out: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``out`` atomically."""
    return write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(out: str | Path, data: object, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON to ``out`` atomically (``json.dumps(data, indent=indent)``)."""
    return write_text_atomic(out, json.dumps(data, indent=indent))


@contextmanager
def staged_directory(final: str | Path) -> Iterator[Path]:
    """A new private folder beside ``final`` to fill before :func:`publish_directory`; it is
    removed if the block raises (``final`` is then untouched)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield staged
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def publish_directory(staged: str | Path, final: str | Path) -> bool:
    """Rename a filled ``staged`` folder onto ``final`` in one step.

    An empty ``final`` is replaced. When another writer has published a non-empty ``final``
    first, that one is kept and ``staged`` is removed.

    Returns:
        True when ``staged`` became ``final``; False when another writer's copy was kept.

    Raises:
        OSError: the rename failed for another reason (``staged`` is left for the caller).
    """
    staged, final = Path(staged), Path(final)
    if final.is_dir() and not any(final.iterdir()):
        final.rmdir()  # POSIX rename replaces an empty folder, Windows does not
    try:
        os.rename(staged, final)
    except OSError:
        if final.is_dir() and any(final.iterdir()):
            shutil.rmtree(staged, ignore_errors=True)
            return False
        raise
    return True
