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
import types
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args, get_origin

import pydantic
from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, TypeAdapter, model_serializer

from codesign.config._errors import ConfigError
from codesign.config._yaml import load_yaml

S = TypeVar("S", bound="Spec")
T = TypeVar("T")


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


class OmitAtDefault(Spec):
    """A spec whose options added after its dumped form keyed caches (corpora, trained
    networks) leave that form, and so every cache key and config hash, unchanged while they
    keep their defaults: a config that does not use an option is the same config as before the
    option existed, and keeps its cache entries. ``_omit_at_default`` names those options."""

    _omit_at_default: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        fields = type(self).model_fields
        for name in self._omit_at_default:
            if getattr(self, name) == fields[name].default:
                data.pop(name, None)
        return data


#: The largest seed a spec takes: numpy's generators take 0 .. 2**32 - 1, and a study derives
#: further seeds from its own (the confirmation's seed + i, per-trial seeds), so half of that.
SEED_MAX = 2**31 - 1
#: The longest name of a study (it names a folder, ``runs/<name>/``, and files in it).
NAME_MAX = 100
#: A name that is safe as one path component on every platform: letters, digits, ``_.-``.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

#: The config of a Spec that holds measurements rather than user input (records, traces):
#: ``inf`` may be a true figure there.
MEASURED = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=True)


def _refuse_bool_numbers(cls: type[BaseModel], data: dict[str, Any], file: str | Path | None, prefix: str) -> None:
    """``true``/``false`` where a Spec reads a number (``cores: yes``) is refused: pydantic
    would take it as 1 or 0. Checked in the mapping and in the nested Specs' mappings."""
    for key, value in data.items():
        field = cls.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            continue
        where = f"{prefix}.{key}" if prefix else key
        if isinstance(value, bool) and _number_not_bool(field.annotation):
            raise ConfigError(file, where, "a number, not true/false", got=value)
        nested = _spec_class(field.annotation)
        if isinstance(value, dict) and nested is not None:
            _refuse_bool_numbers(nested, value, file, where)


def _spec_class(annotation: object) -> type[BaseModel] | None:
    """The model class a field's annotation is exactly, else None."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _number_not_bool(annotation: object) -> bool:
    """Whether a field's type reads numbers (int or float, possibly optional) and no bool."""
    args = get_args(annotation) if get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    return bool({int, float} & set(args)) and bool not in args


def stable_hash(data: object) -> str:
    """Hash of ``data``'s canonical JSON (sorted keys), 16 hex digits."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_spec(
    cls: type[S], data: object, file: str | Path | None = None, key_prefix: str = ""
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
    _refuse_bool_numbers(cls, data, file, key_prefix)
    try:
        return cls.model_validate(data)
    except pydantic.ValidationError as err:
        raise _to_config_error(cls, err, file, key_prefix) from None


def parse_typed(
    adapter: TypeAdapter[T], data: object, file: str | Path | None = None, key_prefix: str = ""
) -> T:
    """Validate ``data`` into a type that is not one class, such as a discriminated union of
    Specs (``codesign.snn.ModelConfig``); errors as :func:`parse_spec`'s.

    Raises:
        ConfigError: the first problem found, with its key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(file, key_prefix, "a mapping", got=data)
    try:
        return adapter.validate_python(data)
    except pydantic.ValidationError as err:
        # the adapter's annotation, to name keys through it (None: keys as pydantic gives them)
        raise _to_config_error(getattr(adapter, "_type", None), err, file, key_prefix) from None


def load_spec(cls: type[S], path: str | Path) -> S:
    """Read a YAML file and validate it into ``cls``."""
    return parse_spec(cls, load_yaml(path), file=path)


def _to_config_error(
    cls: object, err: pydantic.ValidationError, file: str | Path | None, key_prefix: str
) -> ConfigError:
    first = err.errors(include_url=False)[0]
    # pydantic puts validator names and the tag of a discriminated union's member in loc;
    # keep field names only
    loc, model, siblings = _walk([str(part) for part in first["loc"]], cls)
    key = ".".join(p for p in [key_prefix, *loc] if p)
    kind = first["type"]
    if kind == "extra_forbidden":
        return _unknown_key(file, key, loc[-1], model, siblings)
    if kind == "missing":
        return ConfigError(file, key, "this required key to be set")
    if kind == "union_tag_invalid":
        return _unknown_tag(file, key, first.get("ctx", {}))
    got = first.get("input")
    return ConfigError(file, key, _expected(first["msg"], kind), got=got if not isinstance(got, dict) else None)


def _unknown_key(file: str | Path | None, key: str, name: str, model: type[BaseModel] | None,
                 siblings: dict[str, type[BaseModel]]) -> ConfigError:
    """A key the model does not have: the close match, or the union member that has it."""
    allowed = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else None
    owners = [tag for tag, other in siblings.items() if name in other.model_fields]
    if owners and model is not None:
        field = _tag_field(model)
        hint = f"'{name}' is a field of {field} {' and '.join(repr(o) for o in owners)}, not of {field} {_tag(model)!r}"
    return ConfigError(file, key, "one of the known keys: " + ", ".join(sorted(allowed)), hint=hint)


def _unknown_tag(file: str | Path | None, key: str, ctx: dict[str, object]) -> ConfigError:
    """A discriminated union's tag that names no member."""
    name = str(ctx.get("discriminator", "")).strip("'")
    return ConfigError(file, ".".join(p for p in [key, name] if p), "one of " + str(ctx.get("expected_tags")),
                       got=ctx.get("tag"))


def _expected(message: str, kind: str) -> str:
    """pydantic's message as what was expected (``input should be a valid integer`` -> ``a valid integer``)."""
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    expected = message[0].lower() + message[1:] if message else kind
    for prefix in ("input should be ", "input "):
        if expected.startswith(prefix):
            return expected[len(prefix) :]
    return expected


def _walk(loc: list[str], annotation: object) -> tuple[list[str], type[BaseModel] | None, dict[str, type[BaseModel]]]:
    """Follow an error's ``loc`` through the specs: the field names in it (validator names and
    union tags dropped), the model that holds its last part, and, when that model is one member
    of a tagged union, the other members by tag."""
    kept: list[str] = []
    current: object = annotation
    holder: type[BaseModel] | None = None
    siblings: dict[str, type[BaseModel]] = {}
    for part in loc:
        if part.startswith(("function-", "tagged-union[")):
            continue
        members = _models_in(current)
        tags = _tagged(members)
        if part in tags:  # a union member's tag: the member, and the others beside it
            siblings = {t: m for t, m in tags.items() if t != part}
            current = tags[part]
            continue
        holder = members[0] if len(members) == 1 else None
        kept.append(part)
        current, siblings = _field_or_element(holder, part, current, siblings)
    return kept, _last_model(kept, current, holder), siblings


def _tagged(members: list[type[BaseModel]]) -> dict[str, type[BaseModel]]:
    """The members of a tagged union by tag (empty for one model)."""
    return {tag: m for m in members if len(members) > 1 and (tag := _tag(m)) is not None}


def _field_or_element(holder: type[BaseModel] | None, part: str, current: object,
                      siblings: dict[str, type[BaseModel]]) -> tuple[object, dict[str, type[BaseModel]]]:
    """The annotation ``part`` leads to: the holder's field, else the container's element type."""
    if holder is not None and part in holder.model_fields:
        return holder.model_fields[part].annotation, {}
    return _element_type(current), siblings


def _last_model(kept: list[str], current: object, holder: type[BaseModel] | None) -> type[BaseModel] | None:
    """The one model that holds the last field of ``kept`` (the annotation's own when empty)."""
    last = _models_in(current) if not kept else ([holder] if holder is not None else [])
    return last[0] if len(last) == 1 else None


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation may hold (through Annotated, unions and Optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin is not None and origin not in (dict, list, tuple, set, frozenset):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def _element_type(annotation: object) -> object:
    """The value type inside a container annotation (dict values, list/tuple items), else None."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _element_type(get_args(annotation)[0])
    args = get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (list, tuple, set, frozenset) and args:
        return args[0]
    if origin is not None:  # a union: the one container among its members
        return _union_element(args)
    return None


def _union_element(members: tuple[object, ...]) -> object:
    """The element type of the one container among a union's members, else None."""
    inner = [_element_type(a) for a in members if get_origin(a) is not None]
    return inner[0] if len(inner) == 1 else None


def _tag(model: type[BaseModel]) -> str | None:
    """The value of a model's one-value ``Literal`` field (its tag in a discriminated union)."""
    name = _tag_field(model)
    return str(get_args(model.model_fields[name].annotation)[0]) if name is not None else None


def _tag_field(model: type[BaseModel]) -> str | None:
    """The name of a model's one-value ``Literal`` field (a discriminated union's discriminator)."""
    for name, field in model.model_fields.items():
        if get_origin(field.annotation) is Literal and len(get_args(field.annotation)) == 1:
            return name
    return None
