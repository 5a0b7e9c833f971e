"""Measure: how the package is put together (issue 28's structural figures), now and at a git revision.

Counted on the source of ``codesign/`` with Python's own ``ast`` (no tool to install):

- ``import_cycles``: groups of modules that import one another in a cycle, through any import
  statement (module level, ``if TYPE_CHECKING:``, function bodies): the graph and the cycle
  finder are ``tests/test_layering.py``'s, which fails on any;
- ``bare_any``: annotations that are exactly ``Any`` (a parameter, a return, an annotated
  variable or field), not ``Any`` inside another type (``dict[str, Any]``);
- ``functions_cc_ge_10``: functions and methods whose cyclomatic complexity is 10 or more,
  counted with radon's rules (1, plus 1 for each ``if``/``elif``, conditional expression,
  ``for``/``while`` (and its ``else``), ``except`` handler and ``try``'s ``else``, ``assert``,
  ``match`` case, comprehension ``for`` and its ``if``s, and each extra operand of ``and``/``or``);
  a nested function counts on its own, not in its parent;
- ``function_body_imports``: import statements inside a function body (``codesign_internal``:
  those of a codesign module).

Writes ``benchmarks/results/code_structure.json`` with the figures of the working tree and, for
each ``--rev``, of that revision (``git archive``), and the list of functions with CC >= 10.

    PYTHONPATH=$PWD python benchmarks/code_structure.py [--rev main]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from spikeformer_common import write_result

ROOT = Path(__file__).resolve().parents[1]
CC_LIMIT = 10


def _layering() -> Any:
    """tests/test_layering.py as a module: its import graph and cycle finder."""
    spec = importlib.util.spec_from_file_location("test_layering", ROOT / "tests" / "test_layering.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _decisions(node: ast.AST) -> int:
    """Decision points under ``node`` by radon's rules, not descending into nested functions or classes."""
    n = 0
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(child, ast.If | ast.IfExp | ast.Assert | ast.match_case):
            n += 1
        elif isinstance(child, ast.For | ast.AsyncFor | ast.While):
            n += 1 + bool(child.orelse)
        elif isinstance(child, ast.Try):
            n += len(child.handlers) + bool(child.orelse)
        elif isinstance(child, ast.BoolOp):
            n += len(child.values) - 1
        elif isinstance(child, ast.comprehension):
            n += 1 + len(child.ifs)
        n += _decisions(child)
    return n


def _is_any(annotation: ast.AST | None) -> bool:
    return (isinstance(annotation, ast.Name) and annotation.id == "Any") or (
        isinstance(annotation, ast.Attribute) and annotation.attr == "Any")


def _bare_any(tree: ast.AST) -> int:
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign):
            count += _is_any(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            count += _is_any(node.returns)
    return count


def _function_body_imports(tree: ast.AST) -> tuple[int, int]:
    """(all, codesign's own) import statements whose nearest enclosing scope is a function."""
    total = internal = 0

    def visit(node: ast.AST, in_function: bool) -> None:
        nonlocal total, internal
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                total += 1
                name = (child.module or "") if isinstance(child, ast.ImportFrom) else child.names[0].name
                internal += name.startswith("codesign") or (isinstance(child, ast.ImportFrom) and child.level > 0)
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return total, internal


def measure(package: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The figures of the source tree ``package`` (a ``codesign/`` folder) and its complex functions."""
    layering = _layering()
    cycles = layering.import_cycles(layering.import_graph(package))
    bare = body = body_internal = lines = 0
    complex_functions = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines += text.count("\n")
        tree = ast.parse(text)
        bare += _bare_any(tree)
        all_imports, internal = _function_body_imports(tree)
        body, body_internal = body + all_imports, body_internal + internal
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                cc = 1 + _decisions(node)
                if cc >= CC_LIMIT:
                    complex_functions.append({"where": f"{path.relative_to(package.parent)}:{node.lineno}",
                                              "function": node.name, "cc": cc})
    figures = {
        "import_cycles": len(cycles),
        "bare_any": bare,
        "functions_cc_ge_10": len(complex_functions),
        "function_body_imports": body,
        "function_body_imports_codesign_internal": body_internal,
        "lines": lines,
    }
    return figures, sorted(complex_functions, key=lambda f: -int(f["cc"]))


def _at_revision(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "codesign"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "codesign"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", action="append", default=[], help="also measure this git revision")
    args = parser.parse_args()
    figures, complex_functions = measure(ROOT / "codesign")
    revisions = {}
    for rev in args.rev:
        with tempfile.TemporaryDirectory() as tmp:
            sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], check=True,
                                 capture_output=True, text=True).stdout.strip()
            revisions[rev] = {"commit": sha, **measure(_at_revision(rev, Path(tmp)))[0]}
    for name, value in figures.items():
        print(f"{name}: {value}" + "".join(f"  ({rev}: {r[name]})" for rev, r in revisions.items()))
    path = write_result("code_structure", figures, {"revisions": revisions, "functions_cc_ge_10": complex_functions})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
