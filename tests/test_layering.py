"""The one-way data flow, enforced: no package imports one further down the chain, and no
module takes part in an import cycle.

Every import statement counts as a dependency, wherever it stands: at module level, under
``if TYPE_CHECKING:`` and inside a function body. An import moved into a function (or under
``TYPE_CHECKING``) still makes the importing module depend on the imported one, so a cycle it
hides is still a cycle; function-body imports remain allowed for laziness (torch, Ray, Plotly,
or a lower package that a command may not need), never to break a cycle. A package's
``__init__`` counts as the module ``codesign.<package>``: a module that imports its own
package's names (``from codesign.search import ...`` inside ``codesign/search/``) closes a cycle
through it.
"""

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


def modules_of(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` (a source folder) by dotted name, a package's ``__init__``
    under the package's name."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = modules_of()


def _imported_modules(name: str, source: str, is_package: bool = False,
                      modules: dict[str, Path] = MODULES) -> set[str]:
    """The codesign modules module ``name`` (its ``source``) imports, by any import statement
    anywhere in it; ``from X import y`` is module ``X.y`` when that is a module, else ``X``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return {m for m in found if m in modules and m != name}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the same source tree it imports (benchmarks/code_structure.py
    counts cycles with it too)."""
    modules = modules_of(package)
    return {name: _imported_modules(name, path.read_text(encoding="utf-8"), path.name == "__init__.py", modules)
            for name, path in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected group of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while not group or v not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for group in groups:  # the shortest way from the group's first module back to itself
        start = min(group)
        paths = {start: [start]}
        queue = [start]
        while queue:
            v = queue.pop(0)
            for w in sorted(graph[v] & group):
                if w == start:
                    queue = []
                    cycles.append([*paths[v], start])
                    break
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    queue.append(w)
    return sorted(cycles)


def test_the_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c", "a"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_function_body_and_type_checking_imports_are_dependencies() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "if TYPE_CHECKING:\n"
        "    from codesign.search._spec import StudySpec\n"
        "def f():\n"
        "    from codesign.search import _record\n"
        "    from . import _store\n"
        "    from .._io import write_atomic\n"
    )
    assert _imported_modules("codesign.search._toy", source) == {
        "codesign.search._spec", "codesign.search._record", "codesign.search._store", "codesign._io"}
    assert _imported_modules("codesign.search", "from codesign.search._front import DesignPoint\n",
                             is_package=True) == {"codesign.search._front"}


def test_no_import_cycle_between_modules() -> None:
    cycles = [" -> ".join(cycle) for cycle in import_cycles(import_graph())]
    assert not cycles, (f"{cycles}: an import inside a function or under TYPE_CHECKING counts too; move what "
                        "both modules need into a module below them (docs/ARCHITECTURE.md, 'Extending codesign')")


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
