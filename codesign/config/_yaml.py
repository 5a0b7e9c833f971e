"""Safe YAML reading with file-level errors (missing, empty, duplicate key, syntax)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codesign.config._errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise _DuplicateKey(str(key), key_node.start_mark.line + 1, seen[key])
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first_line: int) -> None:
        self.key, self.line, self.first_line = key, line, first_line


def _safe_load_unique(text: str) -> Any:
    """``yaml.safe_load`` that also refuses duplicate keys (the loader is a SafeLoader)."""
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML file that must hold a mapping.

    Raises:
        ConfigError: the file is missing, unreadable, empty, not YAML, has a duplicate key,
            or does not hold a mapping at its top level.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "", "an existing YAML file", hint="file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, "", "a readable UTF-8 YAML file", hint=str(err)) from err
    if not text.strip():
        raise ConfigError(path, "", "a YAML mapping", hint="the file is empty")
    try:
        data = _safe_load_unique(text)
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
    if data is None:
        raise ConfigError(path, "", "a YAML mapping", hint="the file holds no data")
    if not isinstance(data, dict):
        raise ConfigError(path, "", "a YAML mapping at the top level", got=type(data).__name__)
    return data
