"""The one error type for bad user input."""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """Bad user input: one clear message naming the file, the key path and what was expected.

    The CLI turns it into that message on stderr and exit status 2, having written nothing.

    Args:
        file: the file the input came from, or None for command-line values.
        key: dotted key path inside the file (``space.snn.levels``); ``""`` for the whole file.
        expected: what would have been accepted, in words.
        got: the offending value, if there is one to show.
        hint: an optional suggestion, for example a close match for an unknown key.
    """

    def __init__(
        self,
        file: str | Path | None,
        key: str,
        expected: str,
        got: object = None,
        hint: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.expected = expected
        self.got = got
        self.hint = hint
        super().__init__(self._message())

    def __reduce__(self) -> tuple[type[ConfigError], tuple[object, ...]]:
        # Rebuilt from its fields, so it survives pickling (Ray sends a worker's exception
        # back to the driver) as itself, with the same message.
        return (type(self), (self.file, self.key, self.expected, self.got, self.hint))

    def _message(self) -> str:
        where = self.file if self.file is not None else "<command line>"
        parts = [f"{where}: "]
        if self.key:
            parts.append(f"key '{self.key}': ")
        parts.append(f"expected {self.expected}")
        if self.got is not None:
            shown = repr(self.got)
            if len(shown) > 80:  # both ends: the start says what it is, the end (a file name) which
                shown = shown[:38] + "..." + shown[-39:]
            parts.append(f", got {shown}")
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts)
