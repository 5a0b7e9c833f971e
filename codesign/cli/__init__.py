"""The ``codesign`` command: thin sub-commands over the package, no logic of their own.

Each ``codesign.cli._<name>`` module exposes ``register(subparsers)``. Bad input
(:class:`codesign.config.ConfigError`) prints one message on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from codesign import __version__
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``codesign`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except ConfigError as err:
        print(f"codesign: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codesign: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
