"""Bundle manifests: the sha256 and size of every file, so an edited or truncated file is named."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from codesign.config import ConfigError, check_json_limits

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(bundle: Path) -> dict[str, Any]:
    """Record every file under ``bundle`` (but the manifest) in ``bundle/manifest.json``."""
    files = {
        p.relative_to(bundle).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(bundle.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {"version": MANIFEST_VERSION, "files": files}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def verify_bundle(bundle: str | Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check every file the manifest lists against its size and sha256, and that it lists
    every file of ``required`` (an exported bundle's ``codesign.export._bundle.REQUIRED_FILES``).

    Returns:
        The manifest.

    Raises:
        ConfigError: no bundle or manifest there, or a file missing, truncated or edited
            (the message names each such file).
    """
    bundle = Path(bundle)
    path = bundle / MANIFEST
    if not bundle.is_dir():
        raise ConfigError(bundle, "", "an exported bundle directory", hint="not found")
    manifest = _read_manifest(path)
    files: dict[str, Any] = manifest["files"]
    for name, entry in files.items():
        _check_entry(path, name, entry)
    _check_listed(path, files, required)
    _refuse_links(bundle)
    inside = bundle.resolve()
    problems = [problem for name, entry in files.items() if (problem := _file_problem(bundle, inside, name, entry))]
    if problems:
        raise ConfigError(
            bundle, "", "every bundle file as exported", hint="; ".join(problems)
        )
    return manifest


def _read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a known version, with its ``files`` mapping.

    Raises:
        ConfigError: no such file, too large or deep, not JSON, or another version.
    """
    if not path.is_file():
        raise ConfigError(path, "", "a bundle manifest (manifest.json)", hint="file not found; not a codesign bundle?")
    try:
        text = path.read_text(encoding="utf-8")
        check_json_limits(text, path, what="a bundle manifest (JSON)")
        manifest = json.loads(text)
        files = manifest["files"] if isinstance(manifest, dict) else None
        if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION \
                or not isinstance(files, dict):
            raise ValueError("unknown manifest version")
    except ConfigError:  # too deep or too large: its own message
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise ConfigError(path, "", f"a bundle manifest of version {MANIFEST_VERSION}", hint=str(err)) from None
    return manifest


def _check_listed(path: Path, files: dict[str, Any], required: tuple[str, ...]) -> None:
    unlisted = [n for n in required if n not in files]
    if unlisted:
        raise ConfigError(path, "files", "every core bundle file listed: " + ", ".join(required),
                          hint=f"{', '.join(unlisted)} not listed")


def _refuse_links(bundle: Path) -> None:
    """Verification would follow a symbolic link out of the bundle."""
    links = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_symlink())
    if links:
        raise ConfigError(bundle, links[0], "a bundle that holds its files itself (no symbolic links)",
                          hint=f"symbolic links: {', '.join(links[:5])}")


def _is_entry(entry: object) -> bool:
    """``{sha256: <str>, bytes: <int, not bool>}``."""
    if not isinstance(entry, dict):
        return False
    size = entry.get("bytes")
    return isinstance(entry.get("sha256"), str) and isinstance(size, int) and not isinstance(size, bool)


def _check_entry(path: Path, name: str, entry: object) -> None:
    """A manifest entry is ``{sha256: <hex>, bytes: <int>}`` for a path inside the bundle."""
    if not _is_entry(entry):
        raise ConfigError(path, f"files.{name}", "an entry {sha256: <hex>, bytes: <int>}",
                          got=entry if not isinstance(entry, dict) else None,
                          hint=None if not isinstance(entry, dict) else
                          f"it has {', '.join(f'{k}={type(v).__name__}' for k, v in entry.items()) or 'nothing'}")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ConfigError(path, f"files.{name}", "a path inside the bundle")


def _file_problem(bundle: Path, inside: Path, name: str, entry: dict[str, Any]) -> str | None:
    """What is wrong with one listed file (outside, missing, truncated, grown, edited), or None."""
    target = bundle / name
    if not target.resolve().is_relative_to(inside):
        return f"{name}: outside the bundle"
    if not target.is_file():
        return f"{name}: missing"
    size = target.stat().st_size
    if size != entry["bytes"]:
        how = "truncated" if size < entry["bytes"] else "grown"
        return f"{name}: {how} ({size} bytes, manifest says {entry['bytes']})"
    if sha256_file(target) != entry["sha256"]:
        return f"{name}: edited (sha256 differs from the manifest)"
    return None
