"""The YAML codesign ships (chip presets and technology constants, search spaces, studies): the one
place that finds it, in a checkout or in an installed wheel.

In the repository the files live in the top-level folders ``hw_models/``, ``search_spaces/`` and
``studies/``; the wheel installs the same folders inside the package as
``codesign/_shipped/<folder>/`` (``[tool.setuptools.package-dir]`` in ``pyproject.toml``), found
here through :mod:`importlib.resources`, so a node with only the wheel (no checkout, any working
folder) reads the same constants. A path on disk that exists always wins: :func:`shipped_or_path`
falls back to the shipped copy only when the path given does not exist and names a shipped file
(``studies/quickstart.yaml``, ``../hw_models/edge_kws.yaml``).

Like :mod:`codesign._io`, this module sits below every package and imports none of them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

Folder = Literal["hw_models", "search_spaces", "studies"]
FOLDERS: tuple[Folder, ...] = ("hw_models", "search_spaces", "studies")

_PACKAGE_ROOT = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The repository this package runs from (editable install or ``PYTHONPATH``), else None
    (an installed wheel: its parent folder is site-packages, never a checkout)."""
    root = _PACKAGE_ROOT.parent
    if (root / "pyproject.toml").is_file() and (root / "hw_models").is_dir():
        return root
    return None


def shipped_dir(folder: Folder) -> Path:
    """The folder of shipped YAML files of this kind: the installed package data when codesign
    runs from a wheel, else the checkout's top-level folder."""
    try:
        installed = resources.files("codesign").joinpath("_shipped", folder)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - codesign is always importable here
        installed = None
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    root = checkout_root()
    return (root if root is not None else _PACKAGE_ROOT.parent) / folder


def shipped_file(folder: Folder, name: str) -> Path:
    """``<shipped folder>/<name>`` (it may not exist: the caller's check names it)."""
    return shipped_dir(folder) / name


def shipped_or_path(path: str | Path, folder: Folder) -> Path:
    """``path`` when it exists; otherwise the shipped file it names, when its folder is ``folder``
    (``studies/quickstart.yaml`` from any working folder) or it is a bare name (``quickstart``);
    otherwise ``path`` unchanged, for the caller's "not found" error."""
    given = Path(path)
    if given.exists():
        return given
    candidates = []
    if given.parent.name == folder or (given.parent == Path(".") and not given.suffix):
        name = given.name if given.suffix else f"{given.name}.yaml"
        candidates.append(shipped_file(folder, name))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return given
