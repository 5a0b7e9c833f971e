"""Output paths checked where they enter, before any work: a folder that is a file, a file
that is a folder, a place this process may not write. One message naming the flag.
"""

from __future__ import annotations

import os
from pathlib import Path

from codesign.config._errors import ConfigError


def _nearest_existing(path: Path) -> Path:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def check_output_dir(path: str | Path, key: str, what: str = "a folder") -> Path:
    """``path`` as a folder codesign may create or write into.

    Raises:
        ConfigError: naming ``key``: it (or a folder above it) is a file, or the nearest
            existing folder is read-only for this user.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(None, key, what, got=str(folder), hint="it is a file")
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise ConfigError(None, key, what, got=str(folder), hint=f"{existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(None, key, f"{what} this process may write", got=str(folder),
                          hint=f"{existing} is read-only for this user")
    return folder


def check_output_file(path: str | Path, key: str, what: str = "a file to write") -> Path:
    """``path`` as a file codesign may create or replace.

    Raises:
        ConfigError: naming ``key``: it is a folder, a folder above it is a file, or its folder
            is read-only for this user.
    """
    file = Path(path)
    if file.is_dir():
        raise ConfigError(None, key, what, got=str(file), hint="it is a folder; name a file in it")
    check_output_dir(file.parent if str(file.parent) else Path("."), key, f"{what} in a writable folder")
    if file.exists() and not os.access(file, os.W_OK):
        raise ConfigError(None, key, f"{what} this process may replace", got=str(file), hint="it is read-only")
    return file
