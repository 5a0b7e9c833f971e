"""JSON read where input enters (trace metadata, bundle manifests, cost reports, training
summaries): one size and nesting limit, checked before the text is decoded, and one error.

``json.loads`` recurses once per level of nesting: a document nested 100,000 deep ends in a
RecursionError (a traceback, not a message). :func:`load_json_text` counts the depth first, in
one pass that skips string contents, and refuses it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TypeAlias

from codesign.config._errors import ConfigError

#: A decoded JSON value (what :func:`load_json` returns): a reader narrows it to the shape it
#: expects (``isinstance(data, dict)``) before it reads keys.
JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"

#: The deepest nesting a JSON input may have (codesign writes at most 6 levels).
MAX_JSON_DEPTH = 64
#: The largest JSON input codesign reads (a cost report or a trace's metadata is a few MB at most).
MAX_JSON_BYTES = 64 * 1024 * 1024


#: A JSON string (to its closing quote, or to the end of an unterminated one), or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


def json_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting of ``text`` outside strings (no decoding; it stops
    counting once past :data:`MAX_JSON_DEPTH`)."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        kind = token.group()[0]  # a string token starts with its quote
        if kind in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
        elif kind in "]}":
            depth -= 1
    return deepest


def check_json_limits(text: str, file: str | Path | None, key: str = "", what: str = "JSON") -> None:
    """Refuse ``text`` larger than ``MAX_JSON_BYTES`` or nested deeper than ``MAX_JSON_DEPTH``,
    before anything decodes it.

    Raises:
        ConfigError: naming ``file`` and ``key``.
    """
    if len(text) > MAX_JSON_BYTES:
        raise ConfigError(file, key, f"{what} of at most {MAX_JSON_BYTES} bytes", hint=f"got {len(text)}")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ConfigError(file, key, f"{what} nested at most {MAX_JSON_DEPTH} levels deep",
                          hint=f"it is nested deeper than {MAX_JSON_DEPTH}")


def load_json_text(text: str, file: str | Path | None, key: str = "", what: str = "JSON") -> JsonValue:
    """Decode ``text`` within the limits above.

    Raises:
        ConfigError: larger than ``MAX_JSON_BYTES``, nested deeper than ``MAX_JSON_DEPTH``,
            or not JSON; naming ``file`` and ``key``.
    """
    check_json_limits(text, file, key, what)
    try:
        value: JsonValue = json.loads(text)
        return value
    except ValueError as err:  # JSONDecodeError, and a number too long to convert
        raise ConfigError(file, key, what, hint=str(err)[:200]) from None


def load_json(path: str | Path, what: str = "JSON") -> JsonValue:
    """Read a JSON file within the limits above.

    Raises:
        ConfigError: missing, unreadable, too large, too deep or not JSON.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ConfigError(path, "", f"{what} of at most {MAX_JSON_BYTES} bytes", hint=f"got {size}")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, "", f"a readable {what} file", hint=str(err)) from None
    return load_json_text(text, path, what=what)


def load_json_object(path: str | Path, what: str = "a JSON object") -> dict[str, JsonValue]:
    """Read a JSON file that must hold an object (a cost report, a training summary).

    Raises:
        ConfigError: as :func:`load_json`, or the file holds another JSON value.
    """
    data = load_json(path, what)
    if not isinstance(data, dict):
        raise ConfigError(path, "", what, hint=f"a JSON object, got {type(data).__name__}")
    return data
