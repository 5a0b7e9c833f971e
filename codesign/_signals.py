"""Ctrl-C and SIGTERM that a command cannot lose.

Python runs a signal handler between bytecodes of the main thread, wherever it is, including
inside a weakref callback or a ``__del__`` run by the garbage collector; an exception raised
there is printed as "Exception ignored" and dropped, so a Ctrl-C landing in such a callback
would be lost and a study would run on. Python would also print that dropped interrupt as a
traceback ("Exception ignored in ..."). This module owns the record of the signals a command
received: :func:`codesign.cli.main` installs :func:`handle` for SIGINT and SIGTERM, which notes
the signal before raising (:class:`KeyboardInterrupt`, or :class:`Terminated` for SIGTERM),
and a long loop (the study driver's) calls :func:`raise_if_signalled` each time round, which
raises it again if it was swallowed; :func:`quiet_unraisable`, installed as
``sys.unraisablehook`` while a command runs, keeps such a dropped interrupt off the terminal (it
is not lost: the loop raises it again). Lowest layer: imports nothing of codesign.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

_RECEIVED: list[int] = []  # the signals received while the current command ran


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that a command
    cleans up the same way (a driver fails its unfinished trials as interrupted, releases its
    lease and stops Ray) and ends with status 143."""


def reset() -> None:
    """Forget the signals of an earlier command (a command starts with none)."""
    _RECEIVED.clear()


def received() -> int | None:
    """The last signal received while the command ran (``signal.SIGINT``/``SIGTERM``), or None."""
    return _RECEIVED[-1] if _RECEIVED else None


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def handle(signum: int, frame: object) -> None:
    """The handler of SIGINT and SIGTERM while a command runs: note the signal, then raise."""
    _RECEIVED.append(signum)
    raise _interrupt(signum)


def raise_if_signalled() -> None:
    """Raise again the interrupt of a signal already received, in case the garbage collector
    swallowed the first one (a loop that must stop on Ctrl-C calls this each time round)."""
    if _RECEIVED:
        raise _interrupt(_RECEIVED[-1])


_Hook = Callable[["sys.UnraisableHookArgs"], object]


def quiet_unraisable(previous: _Hook) -> _Hook:
    """A ``sys.unraisablehook`` that drops, silently, the interrupt of a signal already noted
    (it is raised again by :func:`raise_if_signalled`) and hands everything else to ``previous``."""
    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if _RECEIVED and isinstance(unraisable.exc_value, KeyboardInterrupt):
            return
        previous(unraisable)

    return hook

