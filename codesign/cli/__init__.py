"""The ``codesign`` command: thin sub-commands over the package, no logic of their own.

Each ``codesign.cli._<name>`` module exposes ``register(subparsers)``. Bad input
(:class:`codesign.config.ConfigError`) prints one message on stderr and exits with status 2;
Ctrl-C ends with 130 and SIGTERM with 143, both after the command cleaned up. A closed output
pipe (``codesign study front NAME | head``) ends every command quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import signal
import sys
from collections.abc import Iterator, Sequence

from codesign import __version__
from codesign._signals import handle, quiet_unraisable, received, reset
from codesign.config import ConfigError

#: Command modules, in the order they appear in ``codesign --help``.
#: (``compare`` adds ``codesign study compare`` to the group ``study`` made.)
_COMMANDS = ("data", "train", "hw", "study", "compare", "report", "export", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codesign",
        description="Joint search of spiking-network and neuromorphic-chip parameters for speech.",
    )
    parser.add_argument("--version", action="version", version=f"codesign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        module_name = f"codesign.cli._{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def terminated() -> bool:
    """Whether a SIGTERM interrupted the command (Ray may re-raise the :class:`codesign._signals.Terminated` it
    caught inside a call as a plain KeyboardInterrupt; this tells the two apart)."""
    return received() == signal.SIGTERM


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While a command runs: SIGINT raises KeyboardInterrupt and SIGTERM :class:`codesign._signals.Terminated`,
    each noted first (:mod:`codesign._signals`), so that a loop can raise it again if the
    garbage collector swallowed it (in the main thread only; the previous handlers are put back
    after)."""
    reset()
    try:
        old = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    hook = sys.unraisablehook
    sys.unraisablehook = quiet_unraisable(hook)  # a dropped interrupt is raised again, not printed
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for sig, before in old.items():
            signal.signal(sig, before)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``codesign`` console script; returns the exit status (2 for bad
    input, 130 after Ctrl-C, 143 after SIGTERM)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_as_interrupt():
            status = args.func(args)
    except ConfigError as err:
        print(f"codesign: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # (Terminated among them)
        if terminated():
            print("codesign: terminated", file=sys.stderr)
            return 143
        print("codesign: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()
    return int(status or 0)


def _closed_pipe() -> int:
    """The reader of our output went away (``codesign study front NAME | head``): end quietly.

    Python's own flush at exit would raise again on the closed descriptor, so stdout is
    pointed at /dev/null first; 141 is the shell's status for a death by SIGPIPE.
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing to quiet
        pass
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
