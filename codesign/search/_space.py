"""Search spaces: ``search_spaces/*.yaml`` parsed, in this one place, into Optuna distributions.

A space is an ordered mapping of parameter name to definition. Names are namespaced:
``snn.<field>`` is a field of the network's :data:`~codesign.snn.ModelConfig` (of its family:
``snn.family`` picks it), ``train.<field>`` a :class:`~codesign.train.TrainConfig` field and
``hw.<field>`` a :class:`~codesign.hardware.ChipConfig` field. A definition is one of::

    snn.width:   {type: int, low: 32, high: 128, step: 32}
    train.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    snn.neuron:  {type: categorical, choices: [lif, imls]}
    snn.family:  spikeformer                       # a bare value: fixed
    snn.levels:  {type: int, low: 1, high: 8, when: {snn.neuron: imls}}

``when`` makes a parameter conditional: it exists only when every named parameter (defined
earlier in the space) has the given value, or one of the given values when a list is given.
Optuna is define-by-run, so a conditional parameter is simply not suggested when its
condition fails. A field of one family (``snn.heads``: Spikeformer) in a space whose
``snn.family`` may be another needs ``when: {snn.family: spikeformer}``.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from pydantic import Field, model_validator

from codesign._resources import shipped_or_path
from codesign.config import ConfigError, Spec, load_yaml, parse_spec

if TYPE_CHECKING:
    from codesign.hardware import ChipConfig

Scalar = bool | int | float | str | None
#: Parameter namespaces: the network, its training run, the chip.
NAMESPACES = ("snn", "train", "hw")
_OWNERS = {"snn": "ModelConfig", "train": "TrainConfig", "hw": "ChipConfig"}


class _Param(Spec):
    when: dict[str, Scalar | list[Scalar]] | None = Field(
        None, description="condition: parameter -> required value (or list of values)"
    )

    def distribution(self) -> BaseDistribution | None:
        """The Optuna distribution, or None for a fixed value (never suggested)."""
        raise NotImplementedError

    def active(self, params: Mapping[str, Any]) -> bool:
        """Whether the condition holds for the parameters chosen so far."""
        if not self.when:
            return True
        for name, wanted in self.when.items():
            if name not in params:
                return False
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if params[name] not in allowed:
                return False
        return True


class FloatParam(_Param):
    """A real parameter in ``[low, high]``; ``log`` samples its logarithm uniformly."""

    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0.0)

    @model_validator(mode="after")
    def _check(self) -> FloatParam:
        _check_range(self.low, self.high, self.log)
        if self.log and self.step is not None:
            raise ValueError("either log or step, not both (Optuna cannot sample a stepped log range)")
        if self.step is not None and self.high > self.low and self.step > self.high - self.low:
            raise ValueError(f"a step of at most high - low = {self.high - self.low:g}")
        return self

    def distribution(self) -> FloatDistribution:
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)


class IntParam(_Param):
    """An integer parameter in ``[low, high]`` with ``step``; ``log`` needs step 1."""

    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> IntParam:
        _check_range(self.low, self.high, self.log)
        if self.log and self.step != 1:
            raise ValueError("step 1 with log (Optuna cannot sample a stepped log range)")
        if self.high > self.low and self.step > self.high - self.low:
            raise ValueError(f"a step of at most high - low = {self.high - self.low}")
        return self

    def distribution(self) -> IntDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)


class CategoricalParam(_Param):
    """One of ``choices`` (bools, numbers, strings or null)."""

    type: Literal["categorical"]
    choices: tuple[Scalar, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> CategoricalParam:
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise ValueError("choices without repeats")
        if len(set(self.choices)) != len(self.choices):  # true == 1 == 1.0 in Python and in Optuna
            raise ValueError("choices that differ as values (true and 1, or 1 and 1.0, are one value)")
        return self

    def distribution(self) -> CategoricalDistribution:
        return CategoricalDistribution(self.choices)


class FixedParam(_Param):
    """A value that is set but never searched (recorded with every trial)."""

    type: Literal["fixed"]
    value: Scalar

    def distribution(self) -> None:
        return None


Param = Annotated[FloatParam | IntParam | CategoricalParam | FixedParam, Field(discriminator="type")]
_PARAM_TYPES: dict[str, type[_Param]] = {
    "float": FloatParam, "int": IntParam, "categorical": CategoricalParam, "fixed": FixedParam,
}


def _check_range(low: float, high: float, log: bool) -> None:
    if not low <= high:
        raise ValueError(f"low <= high, got low={low} high={high}")
    if log and low <= 0:
        raise ValueError(f"low > 0 with log: true, got low={low}")


class SearchSpace(Spec):
    """An ordered set of parameters (order matters: a condition names earlier parameters)."""

    description: str = ""
    parameters: dict[str, Param] = Field(min_length=1)

    def distributions(self) -> dict[str, BaseDistribution]:
        """Every searched (non-fixed) parameter's Optuna distribution, in order."""
        return {
            name: dist for name, p in self.parameters.items() if (dist := p.distribution()) is not None
        }

    def names(self, namespace: str | None = None) -> list[str]:
        return [n for n in self.parameters if namespace is None or n.startswith(namespace + ".")]

    def subspace(self, *namespaces: str) -> SearchSpace:
        """The parameters of the given namespaces (``snn``, ``train``, ``hw``), conditions kept."""
        return SearchSpace(
            description=self.description,
            parameters={n: p for n, p in self.parameters.items() if n.partition(".")[0] in namespaces},
        )


# --------------------------------------------------------------------------------------------
# Loading and validation


def parse_space(data: object, file: str | Path | None = None, key_prefix: str = "") -> SearchSpace:
    """Validate a space mapping (``{description?, parameters}``) into a :class:`SearchSpace`.

    A bare scalar as a parameter definition means ``{type: fixed, value: <scalar>}``.

    Raises:
        ConfigError: bad structure, a bad range, an unknown parameter name (with a close
            match), or a condition on a parameter that is not defined earlier.
    """
    if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
        params = {}
        for name, d in data["parameters"].items():
            key = _join(key_prefix, f"parameters.{name}")
            if not isinstance(d, dict):
                d = {"type": "fixed", "value": d}
            cls = _PARAM_TYPES.get(d.get("type"))  # type: ignore[arg-type]
            if cls is None:
                raise ConfigError(file, f"{key}.type", "one of " + ", ".join(repr(t) for t in _PARAM_TYPES),
                                  got=d.get("type"))
            params[name] = parse_spec(cls, d, file=file, key_prefix=key)
        data = {**data, "parameters": params}
    space = parse_spec(SearchSpace, data, file=file, key_prefix=key_prefix)
    _check_names_and_conditions(space, file, _join(key_prefix, "parameters"))
    return space


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate one ``search_spaces/*.yaml`` file (a file on disk wins; else a space
    shipped with codesign: ``search_spaces/accelerator.yaml`` from any working folder)."""
    path = shipped_or_path(path, "search_spaces")
    return parse_space(load_yaml(path), file=path)


def merge_spaces(spaces: Iterable[tuple[SearchSpace, str | Path | None]]) -> SearchSpace:
    """Concatenate spaces in order; a parameter defined twice is an error naming both files."""
    merged: dict[str, Any] = {}
    origin: dict[str, str | Path | None] = {}
    descriptions = []
    for space, file in spaces:
        if space.description:
            descriptions.append(space.description)
        for name, param in space.parameters.items():
            if name in merged:
                raise ConfigError(
                    file,
                    f"parameters.{name}",
                    "each parameter defined in one space file only",
                    hint=f"also defined in {origin[name]}",
                )
            merged[name] = param
            origin[name] = file
    return SearchSpace(description="; ".join(descriptions), parameters=merged)


def known_fields() -> dict[str, tuple[str, ...]]:
    """Field names each namespace accepts: ``snn`` every family's ModelConfig fields, ``train``
    TrainConfig's, ``hw`` ChipConfig's."""
    from codesign.hardware import ChipConfig
    from codesign.snn import MODEL_FIELDS
    from codesign.train import TrainConfig

    return {"snn": tuple(MODEL_FIELDS), "train": tuple(TrainConfig.model_fields), "hw": tuple(ChipConfig.model_fields)}


def _check_names_and_conditions(space: SearchSpace, file: str | Path | None, prefix: str) -> None:
    fields = known_fields()
    seen: dict[str, Param] = {}
    for name, param in space.parameters.items():
        key = _join(prefix, name)
        _check_name(name, fields, file, key)
        _check_conditions(param, seen, file, key)
        seen[name] = param
    if "snn.family" in space.parameters:
        check_families(space, None, file, prefix)


def _check_conditions(param: Param, seen: Mapping[str, Param], file: str | Path | None, key: str) -> None:
    """Each condition of ``param`` (at ``key``) is on a parameter defined earlier (``seen``)
    and asks for values it can take."""
    for cond_name, wanted in (param.when or {}).items():
        ckey = f"{key}.when.{cond_name}"
        if cond_name not in seen:
            raise ConfigError(
                file,
                ckey,
                "a condition on a parameter defined earlier in the space",
                hint="move the parameter below the one it depends on",
            )
        domain = space_domain(seen[cond_name])
        values = wanted if isinstance(wanted, list) else [wanted]
        if domain is not None:
            for value in values:
                if value not in domain:
                    raise ConfigError(
                        file, ckey, f"one of the values {cond_name} can take: {list(domain)}", got=value
                    )


def _check_name(name: str, fields: dict[str, tuple[str, ...]], file: str | Path | None, key: str) -> None:
    namespace, _, field = name.partition(".")
    if namespace not in NAMESPACES or not field:
        raise ConfigError(
            file, key, "a name 'snn.<field>', 'train.<field>' or 'hw.<field>'", hint="parameters are namespaced"
        )
    allowed = fields[namespace]
    if field in allowed:
        return
    if namespace == "snn" and field in fields["train"]:
        raise ConfigError(file, key, "a network (ModelConfig) field after 'snn.'", got=field,
                          hint=f"training parameters have their own namespace: use 'train.{field}'")
    close = difflib.get_close_matches(field, list(allowed), n=1, cutoff=0.6)
    raise ConfigError(
        file,
        key,
        f"a {_OWNERS[namespace]} field name after '{namespace}.'",
        got=field,
        hint=f"did you mean '{namespace}.{close[0]}'?" if close else None,
    )


def check_families(space: SearchSpace, base_family: str | None, file: str | Path | None, prefix: str) -> None:
    """Every ``snn.*`` parameter is a field of each family it can be active with.

    The families a space can build are ``snn.family``'s values, else ``base_family`` (the
    study's base model); a ``when`` on ``snn.family`` narrows them for one parameter.

    Raises:
        ConfigError: a field of another family, naming the parameter and how to fix it.
    """
    from codesign.snn import MODEL_FIELDS

    families = _space_families(space, base_family)
    if families is None:
        return
    for name, param in space.parameters.items():
        namespace, _, field = name.partition(".")
        if namespace != "snn" or field not in MODEL_FIELDS:
            continue
        wrong = _families_without(field, _active_families(param, families))
        if wrong:
            raise _family_error(file, _join(prefix, name), field, wrong, families)


def _space_families(space: SearchSpace, base_family: str | None) -> list[str] | None:
    """The families ``space`` can build: ``snn.family``'s values, else ``base_family``; None
    when neither says (nothing to check)."""
    family_param = space.parameters.get("snn.family")
    if family_param is None:
        return None if base_family is None else [str(base_family)]
    domain = space_domain(family_param)
    return [str(f) for f in domain] if domain is not None else [str(base_family)]


def _active_families(param: Param, families: list[str]) -> list[str]:
    """The ``families`` a parameter is active with (its ``when`` on ``snn.family`` narrows them)."""
    wanted = (param.when or {}).get("snn.family")
    if wanted is None:
        return families
    allowed = wanted if isinstance(wanted, list) else [wanted]
    return [f for f in families if f in allowed]


def _families_without(field: str, families: list[str]) -> list[str]:
    """The registered ``families`` whose ModelConfig has no ``field``."""
    from codesign.snn import FAMILY_CONFIGS

    return [f for f in families if f in FAMILY_CONFIGS and field not in FAMILY_CONFIGS[f].model_fields]


def _family_error(file: str | Path | None, key: str, field: str, wrong: list[str], families: list[str]) -> ConfigError:
    """A network field set for families it is not a field of, with the ``when`` that fixes it."""
    from codesign.snn import MODEL_FIELDS

    owners = list(MODEL_FIELDS[field])
    return ConfigError(
        file, key, f"a field of family {' and '.join(repr(f) for f in wrong)}", got=field,
        hint=f"'{field}' is a field of family {' and '.join(repr(o) for o in owners)} only"
        + (f"; add when: {{snn.family: {owners[0] if len(owners) == 1 else owners}}}" if len(families) > 1 else ""),
    )


def space_domain(param: FloatParam | IntParam | CategoricalParam | FixedParam) -> list[Any] | None:
    """The finite set of values a parameter takes, or None for a continuous range."""
    if isinstance(param, FixedParam):
        return [param.value]
    if isinstance(param, CategoricalParam):
        return list(param.choices)
    if isinstance(param, IntParam) and not param.log:
        return list(range(param.low, param.high + 1, param.step))
    if isinstance(param, IntParam):
        return list(range(param.low, param.high + 1))
    if isinstance(param, FloatParam) and param.step is not None:
        n = math.floor((param.high - param.low) / param.step + 1e-9) + 1
        return [param.low + i * param.step for i in range(n)]
    return None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


# --------------------------------------------------------------------------------------------
# Sampling


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Ask ``trial`` for every active parameter of ``space``, in order (define-by-run).

    Returns:
        All active parameters, fixed ones included, by name.
    """
    params: dict[str, Any] = {}
    for name, param in space.parameters.items():
        if not param.active(params):
            continue
        dist = param.distribution()
        if isinstance(param, FixedParam):
            params[name] = param.value
        elif isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
        else:
            assert isinstance(dist, CategoricalDistribution)
            params[name] = trial.suggest_categorical(name, dist.choices)
    return params


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Split trial parameters into (ModelConfig, TrainConfig, ChipConfig) field overrides, by
    namespace (``snn``, ``train``, ``hw``).

    Raises:
        ConfigError: a name outside the namespaces, or a training field under ``snn.`` (its
            namespace is ``train.`` since the training parameters got their own).
    """
    groups: dict[str, dict[str, Any]] = {namespace: {} for namespace in NAMESPACES}
    train_fields: tuple[str, ...] | None = None
    for name, value in params.items():
        namespace, _, field = name.partition(".")
        if namespace not in groups or not field:
            raise ConfigError(None, name, "a parameter name 'snn.<field>', 'train.<field>' or 'hw.<field>'")
        if namespace == "snn":
            train_fields = train_fields if train_fields is not None else known_fields()["train"]
            if field in train_fields:
                raise ConfigError(None, name, "a network (ModelConfig) field after 'snn.'", got=field,
                                  hint=f"training parameters have their own namespace: use 'train.{field}'")
        groups[namespace][field] = value
    return groups["snn"], groups["train"], groups["hw"]


def sample_points(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """Up to ``n`` distinct points of ``space`` for an exhaustive or sampled sweep.

    When every parameter has a finite domain and the full grid has at most ``n`` points, the
    grid is returned (conditions applied, duplicates removed); otherwise ``n`` points are drawn
    uniformly (log-uniformly for ``log`` parameters) with ``seed``.
    """
    grid = _small_grid(space, n)
    if grid is not None:
        return grid
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        drawn = {name: _draw(p, rng) for name, p in space.parameters.items()}
        out.append(_apply_conditions(space, drawn))
    return out


def _small_grid(space: SearchSpace, n: int) -> list[dict[str, Any]] | None:
    """The full grid of ``space`` (conditions applied, duplicates removed) when every parameter
    has a finite domain and the grid has at most ``n`` points; else None."""
    domains = {name: space_domain(p) for name, p in space.parameters.items()}
    if not all(d is not None for d in domains.values()):
        return None
    if math.prod(len(d) for d in domains.values() if d is not None) > n:
        return None
    points: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*domains.values()):  # type: ignore[arg-type]
        point = _apply_conditions(space, dict(zip(domains, combo, strict=True)))
        points.setdefault(repr(sorted(point.items())), point)
    return list(points.values())


def chip_columns(points: Sequence[Mapping[str, Any]], base: ChipConfig) -> dict[str, np.ndarray]:
    """The ``hw.*`` values of ``points`` as chip columns for ``codesign.hardware.estimate_cost_batch``
    (one array per chip field any point sets; ``base``'s value where a point leaves it out).
    Both the nested strategy's sweep and ``codesign hw sweep --space`` build their chips here."""
    defaults = base.to_dict()  # a field left out of the dumped form at its default (OmitAtDefault): read it
    fields = sorted({name.partition(".")[2] for point in points for name in point if name.startswith("hw.")})
    return {f: np.array([point.get(f"hw.{f}", defaults[f] if f in defaults else getattr(base, f)) for point in points])
            for f in fields}


def _apply_conditions(space: SearchSpace, values: dict[str, Any]) -> dict[str, Any]:
    point: dict[str, Any] = {}
    for name, param in space.parameters.items():
        if param.active(point):
            point[name] = values[name]
    return point


def _draw(param: FloatParam | IntParam | CategoricalParam | FixedParam, rng: np.random.Generator) -> object:
    if isinstance(param, FixedParam):
        return param.value
    if isinstance(param, CategoricalParam):
        return param.choices[int(rng.integers(len(param.choices)))]
    domain = space_domain(param)
    if domain is not None and not param.log:
        value = domain[int(rng.integers(len(domain)))]
        return int(value) if isinstance(param, IntParam) else float(value)
    if param.log:
        x = float(np.exp(rng.uniform(math.log(param.low), math.log(param.high))))
    else:
        x = float(rng.uniform(param.low, param.high))
    if isinstance(param, IntParam):
        return int(min(param.high, max(param.low, round(x))))
    return x
