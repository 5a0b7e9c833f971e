"""Loads a script of ``benchmarks/`` as a module, so that a test can call its functions.

The benchmarks are scripts, not a package: each is loaded from its file with ``benchmarks/`` on
``sys.path`` for as long as it imports its own helpers (fidelity, spikeformer_common); a function
that imports another script when called runs inside ``benchmarks_on_path()``."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@contextlib.contextmanager
def benchmarks_on_path() -> Iterator[None]:
    """``benchmarks/`` first on ``sys.path`` within the block."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield
    finally:
        sys.path.remove(str(BENCHMARKS))


def load_benchmark(name: str) -> ModuleType:
    """The module of ``benchmarks/<name>.py``."""
    with benchmarks_on_path():
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
