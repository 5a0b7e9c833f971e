"""``--set key=value`` overrides from the command line, applied to plain dicts before validation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from codesign.config._errors import ConfigError
from codesign.config._yaml import YamlLimitError, _DuplicateKey, safe_load_text


def parse_set_args(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["levels=4", "decay_gamma_min=0.5"]`` into ``{"levels": 4, ...}``.

    Values are parsed as YAML scalars (so ``4`` is an int, ``true`` a bool, ``[1,2]`` a list).

    Raises:
        ConfigError: an item has no ``=`` or an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(None, "--set", "key=value", got=item)
        try:
            value = safe_load_text(raw) if raw.strip() else ""
        except YamlLimitError as err:
            raise ConfigError(None, f"--set {key.strip()}", "a value within codesign's YAML limits",
                              hint=str(err)) from None
        except (yaml.YAMLError, _DuplicateKey):
            value = raw
        out[key.strip()] = value
    return out


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key ``overrides`` set (``a.b=1`` sets data['a']['b'])."""
    result = _deep_copy(data)
    for dotted, value in overrides.items():
        node = result
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return result


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}
