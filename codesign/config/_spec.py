"""Typed, frozen specs validated from plain dicts, with one clear error per bad input.

Every user-facing input type (study, search space, chip preset, corpus, model, training)
derives from :class:`Spec`. Validation is pydantic's; this module turns its first error
into a :class:`ConfigError` naming the file, the dotted key path and what was expected,
and adds a close-match suggestion for unknown keys.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import pydantic
from pydantic import BaseModel, ConfigDict

from codesign.config._errors import ConfigError
from codesign.config._yaml import load_yaml

S = TypeVar("S", bound="Spec")


class Spec(BaseModel):
    """Base of every typed config: frozen, unknown keys refused, defaults filled, and no
    infinite or NaN number (``.inf`` in YAML, ``1e999``) accepted where a number is read.
    Measured records, which may legitimately hold ``inf``, opt back in."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (tuples as lists), the inverse of :func:`parse_spec`."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """Stable 16-hex-digit hash of the canonical JSON form; equal configs hash equal."""
        return stable_hash(self.to_dict())


#: The config of a Spec that holds measurements rather than user input (records, traces):
#: ``inf`` may be a true figure there.
MEASURED = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=True)


def stable_hash(data: Any) -> str:
    """Hash of ``data``'s canonical JSON (sorted keys), 16 hex digits."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_spec(
    cls: type[S], data: Any, file: str | Path | None = None, key_prefix: str = ""
) -> S:
    """Validate ``data`` into ``cls``.

    Args:
        cls: the Spec subclass.
        data: a mapping (usually from YAML).
        file: where the data came from, for the message.
        key_prefix: dotted path of ``data`` inside the file.

    Raises:
        ConfigError: the first problem found, with its key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(file, key_prefix, f"a mapping of {cls.__name__} keys", got=data)
    try:
        return cls.model_validate(data)
    except pydantic.ValidationError as err:
        raise _to_config_error(cls, err, file, key_prefix) from None


def load_spec(cls: type[S], path: str | Path) -> S:
    """Read a YAML file and validate it into ``cls``."""
    return parse_spec(cls, load_yaml(path), file=path)


def _to_config_error(
    cls: type[BaseModel], err: pydantic.ValidationError, file: str | Path | None, key_prefix: str
) -> ConfigError:
    first = err.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    # pydantic appends the union member / validator tag to loc for some errors; keep field names.
    loc = [part for part in loc if not part.startswith(("function-", "tagged-union["))]
    key = ".".join(p for p in [key_prefix, *loc] if p)
    kind = first["type"]
    got = first.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(cls, loc[:-1])
        close = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else None
        return ConfigError(
            file, key, "one of the known keys: " + ", ".join(sorted(allowed)), hint=hint
        )
    if kind == "missing":
        return ConfigError(file, key, "this required key to be set")
    message = first["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    expected = message[0].lower() + message[1:] if message else kind
    for prefix in ("input should be ", "input "):
        if expected.startswith(prefix):
            expected = expected[len(prefix) :]
            break
    return ConfigError(file, key, expected, got=got if not isinstance(got, dict) else None)


def _fields_at(cls: type[BaseModel], loc: list[str]) -> list[str]:
    """Field names of the (nested) model at ``loc``; empty if it cannot be resolved."""
    model: Any = cls
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
