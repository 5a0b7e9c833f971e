"""Configuration layer: safe YAML, typed frozen specs, and one clear error per bad input.

Owns reading and validating; never computes anything. Each domain defines its own Spec
subclasses next to the code that uses them (``codesign.snn.ModelConfig``,
``codesign.hardware.ChipConfig``, ...) and validates through :func:`parse_spec`.
"""

from __future__ import annotations

from codesign.config._errors import ConfigError
from codesign.config._json import (
    MAX_JSON_DEPTH,
    JsonValue,
    check_json_limits,
    load_json,
    load_json_object,
    load_json_text,
)
from codesign.config._overrides import apply_overrides, parse_set_args
from codesign.config._paths import check_output_dir, check_output_file
from codesign.config._spec import (
    MEASURED,
    NAME_MAX,
    NAME_PATTERN,
    SEED_MAX,
    OmitAtDefault,
    Spec,
    load_spec,
    parse_spec,
    parse_typed,
    stable_hash,
)
from codesign.config._yaml import load_yaml

__all__ = [
    "MAX_JSON_DEPTH",
    "MEASURED",
    "NAME_MAX",
    "NAME_PATTERN",
    "SEED_MAX",
    "ConfigError",
    "JsonValue",
    "OmitAtDefault",
    "Spec",
    "apply_overrides",
    "check_json_limits",
    "check_output_dir",
    "check_output_file",
    "load_json",
    "load_json_object",
    "load_json_text",
    "load_spec",
    "load_yaml",
    "parse_set_args",
    "parse_spec",
    "parse_typed",
    "stable_hash",
]
