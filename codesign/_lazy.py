"""Names of a package loaded on first use (PEP 562), shared by ``codesign.snn``, ``codesign.train``,
``codesign.data`` and ``codesign.hardware``.

Reading a config must not import torch, so those packages export their torch-backed names
lazily: :func:`lazy_exports` gives a package the module-level ``__getattr__`` and ``__dir__``
that import ``<package>.<module>`` when one of its names is first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps a name to the private module
    that defines it; a loaded name is cached in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
