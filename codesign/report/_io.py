"""Atomic file writes: a reader never sees a half-written report, table or bundle file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(out: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``out``, then rename it onto ``out``.

    The file gets the usual permissions (0666 less the umask), not mkstemp's 0600.
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
    return write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
