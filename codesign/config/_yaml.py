"""Safe YAML reading with file-level errors (missing, empty, duplicate key, syntax) and limits.

Limits, checked on the event stream before anything is built (so a hostile file costs
neither memory nor a Python recursion): :data:`MAX_BYTES` of text, :data:`MAX_DEPTH` levels
of nesting, and :data:`MAX_NODES` values once every alias is expanded (an alias "bomb" of
nested aliases is a few lines that expand to billions of values).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from codesign.config._errors import ConfigError

#: Largest YAML text read (a study or chip file is a few KB).
MAX_BYTES = 1 << 20
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 64
#: Most values (scalars and collections) after alias expansion.
MAX_NODES = 100_000


#: A value ``yaml.safe_load`` builds: JSON's, with any scalar as a mapping key, and YAML's
#: timestamps, binary and sets.
YamlValue: TypeAlias = (
    "dict[Any, YamlValue] | list[YamlValue] | str | int | float | bool | bytes | datetime.date | set[Any] | None"
)


class YamlLimitError(Exception):
    """The text breaks one of the limits; ``str()`` says which, without the offending value."""


def check_limits(text: str) -> None:
    """Check ``text`` against :data:`MAX_BYTES`, :data:`MAX_DEPTH` and :data:`MAX_NODES`.

    Raises:
        YamlLimitError: a limit is broken.
        yaml.YAMLError: the text is not YAML.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise YamlLimitError(f"at most {MAX_BYTES} bytes of YAML, got {size}")
    anchors: dict[str, int] = {}
    stack: list[list[Any]] = [[None, 0]]  # [anchor, expanded values so far]
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            _open_collection(stack, event)
            continue
        counted = _values(event, stack, anchors)
        if counted is None:  # not a value (stream and document events)
            continue
        anchor, added = counted
        if anchor is not None:
            anchors[anchor] = added
        stack[-1][1] += added
        if stack[-1][1] > MAX_NODES:
            raise YamlLimitError(f"at most {MAX_NODES} values after alias expansion (aliases expand to more)")


def _open_collection(stack: list[list[Any]], event: yaml.CollectionStartEvent) -> None:
    """A mapping or sequence starts: one level deeper, refused past :data:`MAX_DEPTH`."""
    stack.append([event.anchor, 0])
    if len(stack) - 1 > MAX_DEPTH:
        line = event.start_mark.line + 1 if event.start_mark else "?"
        raise YamlLimitError(f"at most {MAX_DEPTH} levels of nesting (line {line} is deeper)")


def _values(event: yaml.Event, stack: list[list[Any]], anchors: dict[str, int]) -> tuple[str | None, int] | None:
    """(the anchor it defines, the values it expands to) of a value's event, else None: a
    closed collection counts itself and what it held, an alias what its anchor expands to."""
    if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
        anchor, count = stack.pop()
        return anchor, count + 1
    if isinstance(event, yaml.ScalarEvent):
        return event.anchor, 1
    if isinstance(event, yaml.AliasEvent):
        return None, anchors.get(event.anchor or "", 1)
    return None


def safe_load_text(text: str) -> YamlValue:
    """``yaml.safe_load`` within the limits above, refusing duplicate keys.

    Raises:
        YamlLimitError, yaml.YAMLError, _DuplicateKey.
    """
    check_limits(text)
    return _safe_load_unique(text)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one, and keys
    that are not single values (a list or mapping as a key fails inside PyYAML as TypeError)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # ``{[a]: 1}``: a key Python cannot hash
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found a key that is a list or a mapping (keys are single values)", key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(str(key), key_node.start_mark.line + 1, seen[key])
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first_line: int) -> None:
        self.key, self.line, self.first_line = key, line, first_line


def _safe_load_unique(text: str) -> YamlValue:
    """``yaml.safe_load`` that also refuses duplicate keys (the loader is a SafeLoader)."""
    loader = _UniqueKeyLoader(text)
    try:
        value: YamlValue = loader.get_single_data()
        return value
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML file that must hold a mapping.

    Raises:
        ConfigError: the file is missing, unreadable, empty, not YAML, has a duplicate key,
            or does not hold a mapping at its top level.
    """
    path = Path(path)
    data = _parsed(_text_of(path), path)
    if data is None:
        raise ConfigError(path, "", "a YAML mapping", hint="the file holds no data")
    if not isinstance(data, dict):
        raise ConfigError(path, "", "a YAML mapping at the top level", got=type(data).__name__)
    return data


def _text_of(path: Path) -> str:
    """The file's text: it exists, is within :data:`MAX_BYTES`, UTF-8 and not blank."""
    if not path.is_file():
        raise ConfigError(path, "", "an existing YAML file", hint="file not found")
    if path.stat().st_size > MAX_BYTES:
        raise ConfigError(path, "", "a YAML file within codesign's limits",
                          hint=f"at most {MAX_BYTES} bytes, got {path.stat().st_size}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, "", "a readable UTF-8 YAML file", hint=str(err)) from err
    if not text.strip():
        raise ConfigError(path, "", "a YAML mapping", hint="the file is empty")
    return text


def _parsed(text: str, path: Path) -> YamlValue:
    """``text`` loaded, each way it can fail as one ConfigError naming ``path``."""
    try:
        return safe_load_text(text)
    except YamlLimitError as err:
        raise ConfigError(path, "", "a YAML file within codesign's limits", hint=str(err)) from None
    except _DuplicateKey as dup:
        raise ConfigError(
            path,
            dup.key,
            "each key once",
            hint=f"duplicate key on line {dup.line}, first given on line {dup.first_line}",
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(path, "", "valid YAML", hint=f"{where}{problem}") from None
