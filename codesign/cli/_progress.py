"""Progress lines of the long single commands (``evaluate``, ``hw evaluate``, ``hw sweep``):
one line on stderr per step, with the seconds since the command started, so a command that
works for a minute never looks hung and its stdout stays the result alone."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def stderr_steps(enabled: bool = True, prefix: str = "codesign") -> Callable[[str], None] | None:
    """A ``say(message)`` that prints ``[  12.3 s] message`` to stderr; None when not ``enabled``."""
    if not enabled:
        return None
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"{prefix} [{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    return say
