"""The on-disk corpus cache: one directory per corpus, a JSON manifest and plain-tensor files.

A directory appears only complete: it is written under a temporary name in the same parent
and renamed into place, so an interrupted run leaves no half cache behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from codesign._io import publish_directory, staged_directory
from codesign.config import ConfigError

MANIFEST = "manifest.json"
ENV_VAR = "CODESIGN_CACHE_DIR"


def default_cache_root() -> Path:
    """``$CODESIGN_CACHE_DIR/corpus`` if that is set, else ``~/.cache/codesign/corpus``."""
    env = os.environ.get(ENV_VAR)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "codesign"
    return base / "corpus"


def write_entry(
    root: Path, key: str, manifest: dict[str, Any], tensors: dict[str, dict[str, torch.Tensor]]
) -> Path:
    """Write ``manifest`` and one ``<name>.pt`` per entry of ``tensors`` as ``root/key``, atomically.

    If another process finished the same entry first, that one is kept.
    """
    final = root / key
    with staged_directory(final) as tmp:
        for name, group in tensors.items():
            torch.save({k: v.contiguous() for k, v in group.items()}, tmp / f"{name}.pt")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        # a concurrent writer that finished first wins (same content), unless its entry is broken
        if not publish_directory(tmp, final) and not (final / MANIFEST).is_file():
            raise FileExistsError(f"{final} exists without a {MANIFEST}; delete it to rebuild the entry")
    return final


def read_manifest(entry: Path) -> dict[str, Any]:
    """The manifest of a cache entry.

    Raises:
        ConfigError: it is missing or not valid JSON.
    """
    path = entry / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, "", "a corpus cache manifest", hint="file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(
            path, "", "a readable JSON corpus manifest", hint=f"{err}; delete {entry} to rebuild it"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            path, "", "a JSON object", got=type(data).__name__, hint=f"delete {entry} to rebuild it"
        )
    return data


def read_tensors(entry: Path, name: str, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Load ``entry/<name>.pt`` with ``weights_only=True`` and check it holds ``keys``.

    Raises:
        ConfigError: the file is missing, unreadable or lacks a key.
    """
    path = entry / f"{name}.pt"
    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise ConfigError(
            path, "", "a corpus cache tensor file", hint=f"file not found; delete {entry} to rebuild it"
        ) from None
    except Exception as err:  # torch raises many types for a damaged file
        raise ConfigError(
            path,
            "",
            "a readable corpus cache tensor file",
            hint=f"{type(err).__name__}; delete {entry} to rebuild it",
        ) from None
    missing = [k for k in keys if not isinstance(data, dict) or not isinstance(data.get(k), torch.Tensor)]
    if missing:
        raise ConfigError(
            path, ", ".join(missing), "tensors under these keys", hint=f"delete {entry} to rebuild it"
        )
    tensors: dict[str, torch.Tensor] = data  # checked just above: a dict with a tensor per key
    return tensors


def list_entries(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every complete cache entry under ``root`` with its manifest, oldest first; unreadable ones skipped."""
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or not (entry / MANIFEST).is_file():
            continue
        try:
            found.append((entry, read_manifest(entry)))
        except ConfigError:
            continue
    found.sort(key=lambda item: str(item[1].get("created_utc", "")))
    return found
