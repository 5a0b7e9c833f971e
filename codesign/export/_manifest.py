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
    for name, entry in files.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                and isinstance(entry.get("bytes"), int) and not isinstance(entry.get("bytes"), bool)):
            raise ConfigError(path, f"files.{name}", "an entry {sha256: <hex>, bytes: <int>}",
                              got=entry if not isinstance(entry, dict) else None,
                              hint=None if not isinstance(entry, dict) else
                              f"it has {', '.join(f'{k}={type(v).__name__}' for k, v in entry.items()) or 'nothing'}")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ConfigError(path, f"files.{name}", "a path inside the bundle")
    unlisted = [n for n in required if n not in files]
    if unlisted:
        raise ConfigError(path, "files", "every core bundle file listed: " + ", ".join(required),
                          hint=f"{', '.join(unlisted)} not listed")
    problems = []
    inside = bundle.resolve()
    links = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_symlink())
    if links:  # verification would follow them out of the bundle
        raise ConfigError(bundle, links[0], "a bundle that holds its files itself (no symbolic links)",
                          hint=f"symbolic links: {', '.join(links[:5])}")
    for name, entry in files.items():
        target = bundle / name
        if not target.resolve().is_relative_to(inside):
            problems.append(f"{name}: outside the bundle")
            continue
        if not target.is_file():
            problems.append(f"{name}: missing")
            continue
        size = target.stat().st_size
        if size != entry["bytes"]:
            how = "truncated" if size < entry["bytes"] else "grown"
            problems.append(f"{name}: {how} ({size} bytes, manifest says {entry['bytes']})")
        elif sha256_file(target) != entry["sha256"]:
            problems.append(f"{name}: edited (sha256 differs from the manifest)")
    if problems:
        raise ConfigError(
            bundle, "", "every bundle file as exported", hint="; ".join(problems)
        )
    return manifest
