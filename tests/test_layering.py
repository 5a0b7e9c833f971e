"""The one-way data flow, enforced: no package imports one further down the chain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import codesign

#: study spec -> configs -> corpus -> networks -> training -> trace -> chip model -> search
#: -> report / export; the CLI sits on top of everything.
CHAIN = ("config", "data", "snn", "train", "trace", "hardware", "search", "report", "export", "cli")
PACKAGE = Path(codesign.__file__).parent


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "codesign" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", CHAIN)
def test_no_package_reaches_back_up_the_chain(package: str) -> None:
    rank = CHAIN.index(package)
    upward = {
        f"{path.relative_to(PACKAGE.parent)} imports codesign.{other}"
        for path in (PACKAGE / package).rglob("*.py")
        for other in _imported_packages(path)
        if other in CHAIN and CHAIN.index(other) > rank
    }
    assert not upward, sorted(upward)


def test_every_module_says_what_it_owns() -> None:
    missing = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None
    ]
    assert not missing, missing
