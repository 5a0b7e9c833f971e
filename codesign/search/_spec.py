"""StudySpec: one whole co-design study (``studies/*.yaml``), validated and self-contained.

Paths inside a study file (``space`` files, the ``chip`` preset) are relative to the study
file's own directory. :func:`load_study` reads those files and inlines their contents, so the
spec stored with the study (:data:`~codesign.search.SPEC_ATTR`) needs no file to be resumed,
reported or exported. Run outputs (storage, artifacts, the training cache) go under a runs
directory, ``runs/`` in the current directory by default (see :func:`study_paths`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_serializer, field_validator, model_validator

from codesign._resources import shipped_or_path
from codesign.config import (
    NAME_MAX,
    NAME_PATTERN,
    SEED_MAX,
    ConfigError,
    Spec,
    apply_overrides,
    load_yaml,
    parse_spec,
)
from codesign.data import CorpusConfig  # configs only: the corpus loaders import torch on first use
from codesign.hardware import ChipConfig  # configs only: the cost model loads on first use
from codesign.search._objectives import (
    METRICS,
    Condition,
    Constraint,
    accuracy_floor,
    parse_constraint,
    unmeasured_metric,
)
from codesign.search._pick import parse_pick
from codesign.search._space import (
    FloatParam,
    IntParam,
    Param,
    SearchSpace,
    check_families,
    load_space,
    merge_spaces,
    parse_space,
    space_domain,
)
from codesign.search._splits import HELDOUT_ENGINE
from codesign.search._strategy import STRATEGIES, is_registered, strategy_named
from codesign.snn import (  # configs only: networks load on first use
    FAMILY_CONFIGS,
    ModelConfig,
    default_model_config,
    parse_model_config,
)
from codesign.train import TrainConfig

SamplerName = Literal["nsga2", "tpe", "gp", "random"]


class SamplerSpec(Spec):
    """The Optuna sampler; seeded from the study's ``seed``."""

    name: SamplerName = "nsga2"
    population_size: int | None = Field(None, ge=2, description="NSGA-II population (default 50)")
    n_startup_trials: int | None = Field(None, ge=0, description="TPE/GP random start-up trials")


class BudgetSpec(Spec):
    """When the study stops: total finished trials in the study and/or wall seconds of one run."""

    trials: int | None = Field(20, ge=1)
    seconds: float | None = Field(None, gt=0.0)

    @model_validator(mode="after")
    def _check(self) -> BudgetSpec:
        if self.trials is None and self.seconds is None:
            raise ValueError("a budget: trials or seconds (or both)")
        return self


class ExecutionSpec(Spec):
    """Where and how trials run: Ray tasks with declared resources."""

    workers: int = Field(2, ge=1, description="trials in flight at once")
    cpus_per_trial: float = Field(1.0, gt=0.0)
    gpus_per_trial: float = Field(0.0, ge=0.0)
    address: str | None = Field(None, description="Ray cluster to join; None starts a local one")
    trial_cpu_s: float | None = Field(
        1800.0, gt=0.0, description="a safety limit: a trial whose worker has used more CPU seconds (every thread) "
        "FAILs; CPU time, not wall time, so machine load never decides it; a trial not yet started uses none",
    )
    trial_stall_s: float | None = Field(
        600.0, gt=0.0, description="a trial that has started and whose evaluation thread then makes no CPU progress "
        "(under 0.25 CPU seconds) for this many seconds FAILs as stalled (a hang); a trial only slowed by load "
        "still progresses",
    )
    retries: int = Field(1, ge=0, le=5, description="re-runs of a trial whose worker process died")
    tell_order: Literal["submission", "completion"] = Field(
        "submission",
        description="submission: results are told in the order trials were asked, so a study is reproducible "
        "from its seed on any machine load; completion: as they finish (the sampler's history, and so the "
        "study, depends on timing)",
    )
    lookahead: int = Field(
        1, ge=0, le=16, description="trials asked per worker beyond the one it runs: workers x (1 + lookahead) "
        "trials are asked and not yet told at once, so a worker picks up a queued trial while an older, slower "
        "one runs; a fixed number, so what the sampler has seen at each ask depends only on the seed and the "
        "study's history, never on timing",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        # trial_timeout_s (wall seconds from submission, until 0.x) is now a CPU-time limit:
        # stored studies and study files that name it read as trial_cpu_s
        if isinstance(data, dict) and "trial_timeout_s" in data:
            data = dict(data)
            old = data.pop("trial_timeout_s")
            data.setdefault("trial_cpu_s", old)
        return data

    @property
    def in_flight(self) -> int:
        """Trials asked and not yet told at once: ``workers * (1 + lookahead)``."""
        return self.workers * (1 + self.lookahead)


class NestedSpec(Spec):
    """The ``nested`` strategy's hardware sweep per trained network."""

    hw_points: int = Field(512, ge=1, description="grid size cap / random sample size of the hw space")


class SequentialSpec(Spec):
    """The ``sequential`` strategy (network first, chip second; ``codesign.search._strategy``):
    ``budget.trials - k`` networks are searched for the task metric alone (optionally with a
    hardware-agnostic operation count), then the ``k`` best are each costed on the ``nested``
    hardware sweep, one trial per network."""

    k: int = Field(3, ge=1, le=50, description="best networks of the network search swept over the chip space")
    proxy: Literal["none", "synops"] = Field(
        "none", description="none: the network search sees the task metric alone; synops: also NeuroBench's "
        "effective synaptic operations (MACs + ACs of the float network's trace), minimised in place of every "
        "chip objective",
    )


class MultiFidelitySpec(Spec):
    """Multi-objective asynchronous successive halving (MO-ASHA) over training epochs.

    A new trial trains ``rungs[0]`` epochs; the best ``1/reduction_factor`` of each rung
    (non-dominated sorting, crowding distance) continue from their checkpoints to the next
    rung, and the last rung is ``fidelity.epochs``. The learning-rate schedule always spans
    the full budget, so a promoted trial is the same run as one trained straight through.
    """

    rungs: tuple[int, ...] = Field(min_length=1, description="epochs of the rungs below the full budget, ascending")
    reduction_factor: int = Field(3, ge=2, le=10, description="eta: one in eta trials of a rung is promoted")

    @field_validator("rungs")
    @classmethod
    def _ascending(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(r < 1 for r in value) or list(value) != sorted(set(value)):
            raise ValueError(f"positive epochs in strictly ascending order, got {list(value)}")
        return value


class ConfirmSpec(Spec):
    """What ``study run`` confirms when its search ends (``codesign study confirm`` does the
    same on demand): designs re-trained at full fidelity with several seeds."""

    seeds: int = Field(0, ge=0, le=20, description="seeds per design (0: confirm nothing at the end of a run)")
    scope: Literal["recommended", "front"] = Field(
        "recommended", description="the k candidates of the recommendation (the front designs nearest the knee, "
        "or the pick policy's k best) or the whole front",
    )
    k: int = Field(3, ge=1, le=50, description="candidates of the recommendation confirmed (scope 'recommended')")

    @field_validator("seeds")
    @classmethod
    def _spread(cls, value: int) -> int:
        if value == 1:
            raise ValueError("0 (off) or at least 2 seeds: one seed has no spread")
        return value


class RecommendSpec(Spec):
    """How the study names the design to build (``codesign.search._recommend``)."""

    policy: str = Field(
        "knee", description="knee: the design nearest the utopia point of the front, each objective scaled to the "
        "front's range; or a pick expression, e.g. 'min energy_uj where accuracy in top 3'",
    )

    @field_validator("policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value != "knee":
            try:
                parse_pick(value)
            except ConfigError as err:
                raise ValueError(f"'knee' or a pick expression: {err.hint or err.expected}") from None
        return value


class StudySpec(Spec):
    """A whole study: what to search, how to score it, and how to run it.

    Attributes:
        name: the study's name in storage and its folder under the runs directory.
        corpus: the task and corpus (stored as the keys the study gave).
        model: the base network; ``snn.*`` parameters override its fields. When ``snn.family``
            picks another family, the base fields that family has carry over (see
            :func:`model_for`).
        fidelity: base TrainConfig (the training fidelity: epochs or seconds); ``train.*``
            parameters (e.g. ``train.learning_rate``) override its fields.
        space: the search spaces, inlined (see :func:`load_study`).
        chip: the base chip (the preset, inlined); ``hw.*`` parameters override its fields.
        chip_preset: where the chip preset came from, for people.
        objectives: metric -> ``min`` | ``max``, in order.
        reference: optional hypervolume reference point per objective (else the nadir of the
            eligible points widened by 10 % of their range).
        floor: the accuracy floor a design must clear to be on the front and in the
            hypervolume: ``auto`` (``accuracy >= 2 x chance``, ``wer <= 0.9``), ``none``, or a
            condition such as ``"accuracy >= 0.5"``. Designs below it stay stored, marked.
        recommend: the recommendation policy (:class:`RecommendSpec`).
        constraints: ``"area_mm2 <= 10"``, ``"latency_ms <= 20"``, ``"fits_on_chip"``.
        strategy: what a trial is: ``joint`` (one network on one chip), ``nested`` (one
            network on a hardware sweep), or one of the two baselines co-design is measured
            against: ``sequential`` (networks searched without a chip, then the best ``k``
            swept over the chip space; :class:`SequentialSpec`) and ``hardware_first`` (the
            study's chip fixed, networks searched for it); ``codesign.search._strategy``. A
            strategy of one's own is a :class:`~codesign.search.Strategy` subclass named by
            :func:`~codesign.search.register_strategy`.
        sequential: the ``sequential`` strategy's network count and proxy.
        multi_fidelity: MO-ASHA rungs (see :class:`MultiFidelitySpec`), or None.
        trace_batch: utterances of the fixed evaluation batch (the first validation
            utterances, ``codesign.trace.evaluation_batch``) the trace is recorded on.
        precision: how the chip's ``weight_bits``/``state_bits`` reach the network that is
            scored: ``ptq`` (train in float, score quantised) or ``qat`` (train with weights
            fake-quantised at the chip's bits: the float run, then a fine-tune on the grid).
            ``weight_bits: 32`` on a chip is float (in a ``qat`` study: the same fine-tune in
            float, so every width trains the same epochs).
    """

    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX)
    description: str = ""
    seed: int = Field(0, ge=0, le=SEED_MAX)
    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    model: ModelConfig = Field(default_factory=default_model_config)
    fidelity: TrainConfig = Field(default_factory=TrainConfig)
    space: tuple[SearchSpace, ...] = Field(min_length=1)
    chip: ChipConfig = Field(default_factory=ChipConfig)
    chip_preset: str = ""
    objectives: dict[str, Literal["min", "max"]] = Field(min_length=1)
    reference: dict[str, float] = Field(default_factory=dict)
    floor: str = Field("auto", description="auto (2 x chance accuracy, wer <= 0.9), none, or 'accuracy >= 0.5'")
    recommend: RecommendSpec = Field(default_factory=RecommendSpec)
    constraints: tuple[str, ...] = ()
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    strategy: str = Field("joint", description="joint, nested, sequential, hardware_first, or a name given to "
                          "codesign.search.register_strategy")
    nested: NestedSpec = Field(default_factory=NestedSpec)
    sequential: SequentialSpec = Field(default_factory=SequentialSpec)
    confirm: ConfirmSpec = Field(default_factory=ConfirmSpec)
    multi_fidelity: MultiFidelitySpec | None = Field(
        None, description="MO-ASHA over training epochs; None trains every trial its full budget"
    )
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    storage: str | None = Field(None, description="Optuna storage URL; None: runs/<name>/study.db")
    artifacts: str | None = Field(
        None, description="artifact store root (trial files and the training cache): a folder, or a URL pyarrow.fs "
        "or fsspec understands (s3://bucket/runs) for a cluster without a shared disk; None: the runs directory",
    )
    trace_batch: int = Field(16, ge=1, description="validation utterances in the trace pass (codesign.trace.evaluation_batch)")
    precision: Literal["ptq", "qat"] = Field(
        "ptq", description="ptq: score a float-trained network quantised to the chip; qat: train at the chip's bits"
    )

    @field_serializer("corpus", "chip")
    def _as_given(self, value: CorpusConfig | ChipConfig) -> dict[str, Any]:
        # the keys the study gave (a chip preset: all of them), so the stored spec is the JSON
        # it has always been; defaults fill in again when it is read
        return value.model_dump(mode="json", exclude_unset=True)

    @field_validator("objectives")
    @classmethod
    def _known_objectives(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name not in METRICS:
                close = difflib.get_close_matches(name, list(METRICS), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(f"a measured metric, one of {', '.join(sorted(METRICS))}, got '{name}'{hint}")
        return value

    @field_validator("strategy")
    @classmethod
    def _registered_strategy(cls, value: str) -> str:
        if not is_registered(value):
            close = difflib.get_close_matches(value, list(STRATEGIES), n=1)
            raise ValueError(f"a registered strategy, one of {', '.join(STRATEGIES)}"
                             + (f" (did you mean '{close[0]}'?)" if close else "")
                             + "; a strategy of your own is named by codesign.search.register_strategy first, "
                             "or by an installed package's 'codesign.strategies' entry point")
        return value

    @field_validator("storage")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("an Optuna storage URL (sqlite:///file.db, postgresql://..., journal:///file.log)")
        return value

    @field_validator("floor")
    @classmethod
    def _floor(cls, value: str, info: ValidationInfo) -> str:
        corpus = info.data.get("corpus")
        task = corpus.task if isinstance(corpus, CorpusConfig) else "commands"
        try:
            floor = accuracy_floor(task, value)
        except ValueError as err:
            raise ValueError(f"'auto', 'none' or a condition on the task metric such as 'accuracy >= 0.5' "
                             f"({err})") from None
        bad = unmeasured_metric([floor.name], task) if floor is not None else None
        if bad is not None:
            raise ValueError(f"a floor on the metric the task measures: task '{task}' measures {bad[1]}, "
                             f"not '{bad[0]}'")
        return value

    def floor_condition(self) -> Condition | None:
        """The accuracy floor (:func:`codesign.search.accuracy_floor` of the task and ``floor``)."""
        return accuracy_floor(self.corpus.task, self.floor)

    @field_validator("constraints")
    @classmethod
    def _parse_constraints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        given: dict[str, str] = {}
        for text in value:
            name = parse_constraint(text).name
            if name in given:  # one name, one constraint value stored per trial
                raise ValueError(f"constraints with distinct names: '{given[name]}' and '{text}' are both '{name}'")
            given[name] = text
        return value

    @model_validator(mode="after")
    def _check(self) -> StudySpec:
        self._check_reference()
        self._check_measured()
        self._check_heldout_corpus()
        strategy_named(self.strategy).check(self)
        self._check_rungs()
        return self

    def _check_reference(self) -> None:
        for name in self.reference:
            if name not in self.objectives:
                raise ValueError(f"reference points only for objectives ({', '.join(self.objectives)}), got '{name}'")

    def _check_measured(self) -> None:
        """Objectives and constraints are metrics the study's task measures."""
        task = self.corpus.task
        for what, names in (("objectives", list(self.objectives)),
                            ("constraints", [c.metric for c in self.parsed_constraints()])):
            bad = unmeasured_metric(names, task)
            if bad is not None:
                raise ValueError(f"{what} the task measures: task '{task}' measures {bad[1]}, not '{bad[0]}'")

    def _check_heldout_corpus(self) -> None:
        """A study selecting on held-out-engine metrics has a generated corpus with an engine held out."""
        heldout = self.heldout_engine_metrics_used()
        if heldout and (self.corpus.imported is not None or not self.corpus.engines.heldout):
            raise ValueError(f"a corpus with an engine held out (corpus.engines.heldout) to measure "
                             f"{', '.join(heldout)}: this study's corpus "
                             + ("is imported recorded speech" if self.corpus.imported is not None
                                else "holds no engine out"))

    def _check_rungs(self) -> None:
        """Multi-fidelity rungs are epochs below the fidelity's."""
        if self.multi_fidelity is None:
            return
        if self.fidelity.epochs is None or self.fidelity.seconds is not None:
            raise ValueError("multi_fidelity rungs are epochs: fidelity needs epochs and no seconds")
        if self.multi_fidelity.rungs[-1] >= self.fidelity.epochs:
            raise ValueError(
                f"multi_fidelity rungs below fidelity.epochs ({self.fidelity.epochs}), got "
                f"{list(self.multi_fidelity.rungs)}"
            )

    def model_for(self, overrides: dict[str, Any]) -> ModelConfig:
        """The network of a trial: the base model with ``snn.*`` field overrides (see
        :func:`codesign.search.model_for`)."""
        return model_for(self.model, overrides)

    def chip_for(self, overrides: dict[str, Any]) -> ChipConfig:
        """The chip of a trial: the base chip with ``hw.*`` field overrides.

        Raises:
            ConfigError: overrides that make no valid chip (key ``hw.<field>``).
        """
        return parse_spec(ChipConfig, {**self.chip.to_dict(), **overrides}, key_prefix="hw")

    def train_for(self, overrides: dict[str, Any]) -> TrainConfig:
        """The training run of a trial: the fidelity with ``train.*`` field overrides."""
        return parse_spec(TrainConfig, {**self.fidelity.to_dict(), **overrides}, key_prefix="train")

    def search_space(self) -> SearchSpace:
        """All spaces merged into one (parameter order kept)."""
        return merge_spaces((s, None) for s in self.space)

    def parsed_constraints(self) -> list[Constraint]:
        return [parse_constraint(c) for c in self.constraints]

    def heldout_engine_metrics_used(self) -> list[str]:
        """The ``heldout_engine_*`` metrics the study selects on (objectives, constraints,
        floor): each trial then also scores the test split at a rung, and the corpus must hold
        an engine out."""
        floor = self.floor_condition()
        names = [*self.objectives, *(c.metric for c in self.parsed_constraints()),
                 *((floor.name,) if floor is not None else ())]
        return list(dict.fromkeys(n for n in names if n.startswith(HELDOUT_ENGINE)))

    def directions(self) -> list[Literal["minimize", "maximize"]]:
        """Optuna directions in objective order."""
        return ["minimize" if d == "min" else "maximize" for d in self.objectives.values()]

    def search_identity(self) -> dict[str, Any]:
        """What defines the search (a study can continue only under the same identity)."""
        data = self.to_dict()
        for key in ("budget", "execution", "storage", "artifacts", "description", "confirm", "floor", "recommend"):
            data.pop(key, None)
        return data


def parse_study(data: object, file: str | Path | None = None) -> StudySpec:
    """Validate a study mapping, reading its ``space`` and ``chip`` files relative to ``file``.

    Raises:
        ConfigError: the first problem, with its file and key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(file, "", "a mapping of StudySpec keys", got=data)
    base = Path(file).parent if file is not None else Path.cwd()
    data = dict(data)
    spaces = data.get("space")
    if isinstance(spaces, (str, dict)):
        spaces = [spaces]
    if isinstance(spaces, list):
        resolved: list[tuple[SearchSpace, str | Path | None]] = []
        for i, entry in enumerate(spaces):
            if isinstance(entry, str):
                path = _existing(shipped_or_path(base / entry, "search_spaces"), file, f"space[{i}]",
                                 "search-space file")
                resolved.append((load_space(path), path))
            else:
                resolved.append((parse_space(entry, file=file, key_prefix=f"space[{i}]"), file))
        merge_spaces(resolved)  # a parameter defined in two files is an error naming both
        data["space"] = [s.to_dict() for s, _ in resolved]
        space_files = [where for _, where in resolved]
    else:
        space_files = []
    _resolve_chip(data, base, file)
    spec = parse_spec(StudySpec, data, file=file)
    _check_families(spec, file)
    _check_label_smoothing(spec, file)
    check_chip_space(spec, file, space_files)
    return spec


def _check_label_smoothing(spec: StudySpec, file: str | Path | None) -> None:
    """Label smoothing only where the task classifies: CTC ignores it, so asking for it on a
    CTC task would change the trials' cache keys and nothing else. Checked when a study file
    is read, not when a stored study's spec is (one stored before this check still opens)."""
    if unmeasured_metric(["accuracy"], spec.corpus.task) is None:
        return
    searched = any("train.label_smoothing" in s.names("train") for s in spec.space)
    if spec.fidelity.label_smoothing > 0 or searched:
        raise ConfigError(
            file, "space" if searched else "fidelity.label_smoothing",
            "label smoothing only on a classification task",
            got="train.label_smoothing searched" if searched else spec.fidelity.label_smoothing,
            hint=f"task '{spec.corpus.task}' trains with CTC, which label smoothing does not change",
        )


def _resolve_chip(data: dict[str, Any], base: Path, file: str | Path | None) -> None:
    """Inline the study's chip preset (in place): ``chip: <preset file>``, or
    ``chip: {preset: <preset file>, <field>: <value>, ...}`` (the preset with some fields
    changed, e.g. ``mesh_cols: null`` where the space varies ``hw.cores``)."""
    chip = data.get("chip")
    if isinstance(chip, str):
        data["chip_preset"] = chip
        data["chip"] = load_chip_preset(_existing(shipped_or_path(base / chip, "hw_models"), file, "chip",
                                                  "chip preset file"))
    elif isinstance(chip, dict) and "preset" in chip:
        preset = chip["preset"]
        if not isinstance(preset, str):
            raise ConfigError(file, "chip.preset", "a chip preset file (hw_models/*.yaml)", got=preset)
        data["chip_preset"] = preset
        fields = load_chip_preset(_existing(shipped_or_path(base / preset, "hw_models"), file, "chip.preset",
                                                    "chip preset file"))
        data["chip"] = {**fields, **{k: v for k, v in chip.items() if k != "preset"}}


def check_chip_space(spec: StudySpec, file: str | Path | None = None,
                     space_files: list[str | Path | None] | None = None) -> None:
    """Every value a ``hw.*`` parameter can take makes a valid chip with the study's base chip
    (its preset): a field the preset fixes and the space leaves alone must agree with each
    value the space draws (``mesh_cols: 16`` fixed and ``hw.cores`` drawn from 1..16 do not).
    A pair of varied fields can still make an invalid chip; such a draw is pruned as an
    infeasible chip when the trial runs.

    Raises:
        ConfigError: the space parameter, the value, the preset and its conflicting field.
    """
    base = spec.chip.to_dict()
    for i, space in enumerate(spec.space):
        for name, param in space.parameters.items():
            field = name.partition(".")[2]
            values = _chip_values(name, param)
            for value in values:
                reason = _chip_problem({**base, field: value})
                if reason is not None:
                    raise _chip_space_error(spec, file, space_files, i, name, values, value, reason)


def _chip_values(name: str, param: Param) -> list[Any]:
    """The values of a ``hw.*`` parameter (a chip field) to check: its finite domain, or a
    continuous range's ends; none for another parameter."""
    if not name.startswith("hw.") or name.partition(".")[2] not in ChipConfig.model_fields:
        return []
    domain = space_domain(param)
    if domain is not None:
        return domain
    if isinstance(param, (FloatParam, IntParam)):  # a continuous range: its ends
        return [param.low, param.high]
    return []


def _chip_problem(fields: dict[str, Any]) -> str | None:
    """Why ``fields`` make no valid chip (the first validation message), or None."""
    from pydantic import ValidationError

    try:
        ChipConfig.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        return str(first["msg"]).removeprefix("Value error, ")
    return None


def _chip_space_error(spec: StudySpec, file: str | Path | None, space_files: list[str | Path | None] | None,
                      i: int, name: str, values: list[Any], value: object, reason: str) -> ConfigError:
    """The error for ``value`` of the space parameter ``name`` (in ``spec.space[i]``), which
    makes no valid chip with the base chip: names the preset's fields it conflicts with."""
    base = spec.chip.to_dict()
    field = name.partition(".")[2]
    preset = spec.chip_preset or "the study's chip"
    fixed = _conflicting_fields(spec, base, field, value)
    where = (space_files or [])[i] if i < len(space_files or []) else None
    return ConfigError(
        file, f"space[{i}].parameters.{name}",
        f"values that make a valid chip with the chip preset {preset}", got=value,
        hint=_chip_space_hint(where, name, values, preset, fixed, base, reason),
    )


def _conflicting_fields(spec: StudySpec, base: dict[str, Any], field: str, value: object) -> list[str]:
    """The base chip's fields the space leaves alone that, back at their defaults, would let
    ``field = value`` make a valid chip."""
    varied = {n.partition(".")[2] for s in spec.space for n in s.names("hw")}
    return [f for f in base if f not in varied and f != field and f in ChipConfig.model_fields
            and _chip_problem({**base, field: value, f: ChipConfig.model_fields[f].default}) is None]


def _chip_space_hint(where: str | Path | None, name: str, values: list[Any], preset: str, fixed: list[str],
                     base: dict[str, Any], reason: str) -> str:
    """How to fix a space value the preset's fixed fields refuse (unset the field, or narrow the space)."""
    culprit = ", ".join(f"{f} = {base[f]}" for f in fixed)
    return (f"{where or 'the space'} varies {name} over {values}, "
            + (f"the preset fixes {culprit}" if fixed else "the preset's fields")
            + f", and together: {reason}; unset or change the preset's field in the study "
            + (f"(chip: {{preset: {preset}, {fixed[0]}: {_yaml_scalar(ChipConfig.model_fields[fixed[0]].default)}}}) "
               if fixed else "")
            + "or narrow the space")


def _yaml_scalar(value: object) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _existing(path: Path, file: str | Path | None, key: str, what: str) -> Path:
    if not path.is_file():
        raise ConfigError(file, key, f"an existing {what}",
                          hint=f"{path} not found; paths in a study are relative to the study file")
    return path


def load_study(path: str | Path, overrides: dict[str, Any] | None = None) -> StudySpec:
    """Read ``studies/<name>.yaml`` (see :func:`parse_study`).

    Args:
        path: the study file.
        overrides: dotted keys of the study spec set before validation (``codesign study run
            --set corpus.size=600``), e.g. ``{"fidelity.epochs": 2, "budget.trials": 4}``. The
            spec is validated as if the file held them, so the stored spec records them.

    Raises:
        ConfigError: the first problem; one caused by an override names ``--set`` and its key.
    """
    path = shipped_or_path(path, "studies")  # a file on disk wins; else a study shipped with codesign
    data = load_yaml(path)
    if not overrides:
        return parse_study(data, file=path)
    if not isinstance(data, dict):
        raise ConfigError(path, "", "a mapping of StudySpec keys", got=data)
    data = dict(data)
    if any(k.startswith("chip.") for k in overrides):
        # a preset file named in the study: its fields become the base that chip.* overrides edit
        _resolve_chip(data, Path(path).parent, path)
    _check_override_keys(overrides)
    try:
        return parse_study(apply_overrides(data, overrides), file=path)
    except ConfigError as err:
        if not _caused_by_override(err, overrides):
            raise
        raise ConfigError(None, f"--set {err.key}", err.expected, got=err.got, hint=err.hint) from None


def _check_override_keys(overrides: dict[str, Any]) -> None:
    """Each ``--set`` key starts with a study spec key other than ``space``.

    Raises:
        ConfigError: the first key that does not (key ``--set <key>``).
    """
    for key in overrides:
        top = key.split(".", 1)[0]
        if top not in StudySpec.model_fields:
            close = difflib.get_close_matches(top, list(StudySpec.model_fields), n=1)
            raise ConfigError(None, f"--set {key}", "a study spec key (" + ", ".join(StudySpec.model_fields) + ")",
                              hint=f"did you mean '{close[0]}'?" if close else None)
        if top == "space":
            raise ConfigError(None, f"--set {key}", "a key outside 'space' (edit the search-space file instead)")


def _caused_by_override(err: ConfigError, overrides: dict[str, Any]) -> bool:
    """Whether ``err`` is about an overridden key: the key itself, a key under it, or one above it."""
    return any(err.key == key or err.key.startswith(key + ".") or (key.startswith(err.key + ".") and err.key)
               for key in overrides)


def load_chip_preset(path: Path) -> dict[str, Any]:
    """A chip preset's ChipConfig fields, validated (``codesign.hardware.load_chip``)."""
    from codesign.hardware import load_chip

    return load_chip(path).to_dict()


def _check_families(spec: StudySpec, file: str | Path | None) -> None:
    """Every ``snn.*`` parameter is a field of each family the study can build (the space's
    ``snn.family`` values, else the base model's family)."""
    family = spec.search_space().parameters.get("snn.family")
    for i, space in enumerate(spec.space):
        if family is not None and "snn.family" not in space.parameters:
            space = SearchSpace(description=space.description, parameters={"snn.family": family, **space.parameters})
        check_families(space, spec.model.family, file, f"space[{i}].parameters")


def model_for(base: ModelConfig, overrides: dict[str, Any]) -> ModelConfig:
    """``base`` with field overrides; an override of ``family`` keeps the base fields the new
    family has (a Spikeformer base's ``width`` carries over to an SRNN, its ``heads`` does not).

    Raises:
        ConfigError: an override that is not a field of the family (key ``snn.<field>``), or
            values that make no valid network.
    """
    family = overrides.get("family", base.family)
    target = FAMILY_CONFIGS.get(family) if isinstance(family, str) else None
    fields = base.to_dict()
    if target is not None and family != base.family:
        fields = {k: v for k, v in fields.items() if k in target.model_fields}
    return parse_model_config({**fields, **overrides}, key_prefix="snn")
