"""The one reader of a stored study, for everything that reads one back (report, export).

Owns opening a stored study for reading by name (:func:`open_study`, from a URL or a storage
object) and turning its trials and their :class:`~codesign.search.TrialRecord` user
attributes into a :class:`StudyView`: every trial as a :class:`TrialView`, and the study's
:class:`~codesign.search.DesignPoint` s, found by :func:`~codesign.search._trials.trial_points`
(the same rule the driver and ``codesign study front`` use) with their confirmed figures.
Never runs or changes a trial.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from codesign.config import ConfigError, parse_spec
from codesign.search._confirmed import confirmed_figures
from codesign.search._front import REFERENCE_ATTR, DesignPoint, parse_point_id
from codesign.search._objectives import Condition, accuracy_floor
from codesign.search._pick import Pick, picked
from codesign.search._record import ARTIFACT_DIR_ATTR, RECORD_ATTR, SPEC_ATTR, TrialRecord, record_of
from codesign.search._spec import StudySpec
from codesign.search._storage import load_stored_study
from codesign.search._store import ArtifactStore, is_url, open_store, split_study_dir
from codesign.search._strategy import strategy_named
from codesign.search._trials import trial_points


def open_study(name: str, storage: str | BaseStorage) -> optuna.Study:
    """Open the study ``name`` from ``storage`` (a URL, see :func:`codesign.search.open_storage`,
    or a storage object) for reading; a missing local storage file is never created.

    Raises:
        ConfigError: no such storage, or no study of that name there (the message lists the
            ones that are).
    """
    if isinstance(storage, str):
        return load_stored_study(name, storage)
    names = optuna.get_all_study_names(storage)
    if name not in names:
        raise ConfigError(None, "NAME", f"a study in {type(storage).__name__}", got=name,
                          hint=f"studies there: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=name, storage=storage)


@dataclass(frozen=True)
class TrialView:
    """One stored trial, whatever became of it.

    Attributes:
        number: Optuna's trial number.
        state: ``COMPLETE``, ``FAIL``, ``PRUNED``, ``RUNNING`` or ``WAITING``.
        values: objective values in the study's objective order, or None when the trial has
            none (failed, running, an infeasible chip that was never trained, or a trial that
            holds no design, such as a network ``sequential`` searched without a chip).
        params: the trial's raw parameters.
        record: its TrialRecord, or None if the driver stored none.
        constraints: constraint name -> value (feasible when all <= 0).
        feasible: constraints satisfied (a trial with no constraints is feasible).
        reference: label of a reference point (e.g. ``"ANN twin"``), else None.
        error: the failure reason of a failed trial.
    """

    number: int
    state: str
    values: tuple[float, ...] | None
    params: dict[str, Any]
    record: TrialRecord | None
    constraints: dict[str, float]
    feasible: bool
    reference: str | None
    error: str | None

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.record.metrics) if self.record is not None else {}

    @property
    def is_candidate(self) -> bool:
        """A finished search candidate with objective values (reference points are not)."""
        return self.values is not None and self.reference is None


@dataclass(frozen=True)
class StudyView:
    """A study's trials and design points, read once from storage.

    Attributes:
        name: the study name.
        objective_names: objective names in Optuna's value order.
        directions: Optuna's ``"minimize"`` / ``"maximize"`` per objective, as stored
            (:attr:`objectives` is the ``min``/``max`` form every computation uses).
        trials: every trial, in trial-number order.
        spec: the study spec the driver stored (study attr ``codesign.spec``), typed; None
            when the study stores none, or one this version does not read (its raw form stays
            in :attr:`user_attrs`).
        artifact_dir: the directory TrialRecord artifact paths are relative to, if known.
        artifact_url: the study's folder when its artifact store is a URL (``s3://…``):
            artifact files are then downloaded on first use (``ArtifactStore.local_file``).
        log_params: parameters whose search distribution is log-scaled.
        points: design points of the finished search candidates, in trial order.
        references: reference points (trials flagged with ``codesign.reference``).
    """

    name: str
    objective_names: tuple[str, ...]
    directions: tuple[str, ...]
    trials: tuple[TrialView, ...]
    spec: StudySpec | None
    artifact_dir: Path | None
    log_params: frozenset[str] = frozenset()
    artifact_url: str | None = None
    points: tuple[DesignPoint, ...] = ()
    references: tuple[DesignPoint, ...] = ()
    user_attrs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def floor(self) -> Condition | None:
        """The study's accuracy floor (:func:`~codesign.search.accuracy_floor` of its task and
        its ``floor`` key): design points missing it are marked ``below_floor``."""
        return floor_of(self.spec if self.spec is not None else self.user_attrs.get(SPEC_ATTR))

    def point_by_id(self, text: str) -> DesignPoint:
        """The design point of id ``text`` (``"12.3"``, ``"12"``).

        Raises:
            ConfigError: not an id, or no such design point (the message lists a few).
        """
        try:
            key = parse_point_id(text)
        except ValueError as err:
            raise ConfigError(None, "--point", "TRIAL or TRIAL.CHIP", got=text, hint=str(err)) from None
        try:
            return self.point(key)
        except KeyError:
            ids = [p.point_id for p in self.points]
            raise ConfigError(None, "--point", f"a design id of study '{self.name}'", got=text,
                              hint="ids there: " + (", ".join(ids[:12]) + (" …" if len(ids) > 12 else "")
                                                    if ids else "none")) from None

    @property
    def objectives(self) -> dict[str, str]:
        """Objective name -> ``min`` | ``max`` (the form codesign.search uses)."""
        return {n: ("min" if d == "minimize" else "max") for n, d in zip(self.objective_names, self.directions, strict=True)}

    @property
    def reference(self) -> dict[str, float]:
        """The spec's hypervolume reference values by objective (empty when it names none)."""
        given = self.spec.reference if self.spec is not None else {}
        return {n: float(given[n]) for n in self.objective_names if n in given}

    @property
    def measured_on(self) -> dict[str, dict[str, Any]]:
        """What the study's task metrics were measured on (split -> ``MeasuredOn`` as a dict),
        as its trials' records store it: the first record that scored the most splits (a full-
        budget trial scores validation and test; a rung, validation); empty for a study whose
        records predate it. :attr:`measured_on_varies` says whether trials disagree."""
        found = self._measured_on_all()
        return max(found, key=len) if found else {}

    @property
    def measured_on_varies(self) -> bool:
        """Whether the trials' records name different engines or voices for one split (a
        study continued on a machine with other engines installed)."""
        by_split: dict[str, list[dict[str, Any]]] = {}
        for m in self._measured_on_all():
            for split, what in m.items():
                if what not in by_split.setdefault(split, []):
                    by_split[split].append(what)
        return any(len(v) > 1 for v in by_split.values())

    def _measured_on_all(self) -> list[dict[str, dict[str, Any]]]:
        return [{k: v.to_dict() for k, v in t.record.measured_on.items()} for t in self.trials
                if t.record is not None and t.record.measured_on]

    def point(self, key: tuple[int, int | None]) -> DesignPoint:
        for p in (*self.points, *self.references):
            if p.key == key:
                return p
        raise KeyError(key)

    def trial(self, number: int) -> TrialView:
        for t in self.trials:
            if t.number == number:
                return t
        raise KeyError(number)

    def artifact_path(self, trial: TrialView, name: str) -> Path | None:
        """Where trial's artifact ``name`` lies, or None when the record names none.

        Relative paths are resolved against :attr:`artifact_dir` (or the working directory
        when the study names no artifact directory).
        """
        if trial.record is None or name not in trial.record.artifacts:
            return None
        return self.file(trial.record.artifacts[name])

    def file(self, rel: str) -> Path:
        """A path relative to the study's folder (as records name artifacts) as a local file:
        under :attr:`artifact_dir` (the working directory when the study names none), or
        downloaded from a URL store on first use. A file that does not exist is returned as
        the path it would have (readers say "not found")."""
        if self.artifact_url is not None:
            import posixpath

            root, study_name = split_study_dir(self.artifact_url)
            store_rel = posixpath.normpath(posixpath.join(study_name, rel))
            store = _url_store(root)
            try:
                return store.local_file(store_rel)
            except FileNotFoundError:  # its URL as a path that does not exist: readers say "not found"
                return Path(store.url(store_rel))
        path = Path(rel)
        if path.is_absolute():
            return path
        base = self.artifact_dir if self.artifact_dir is not None else Path.cwd()
        return base / path


def study_view(study: optuna.Study, artifact_dir: str | Path | None = None) -> StudyView:
    """Read ``study`` into a :class:`StudyView`.

    Args:
        study: a loaded Optuna study.
        artifact_dir: overrides the artifact directory the study names (attr
            ``codesign.artifact_dir``).

    Raises:
        ConfigError: a trial's stored record does not validate as a TrialRecord.
    """
    directions = tuple(d.name.lower() for d in study.directions)
    attrs = study.user_attrs
    raw_spec = attrs.get(SPEC_ATTR)
    spec = _typed_spec(raw_spec)
    frozen = study.get_trials(deepcopy=False)
    records = [record_of(t.user_attrs) if RECORD_ATTR in t.user_attrs else None for t in frozen]
    trials = tuple(_trial_view(t, r) for t, r in zip(frozen, records, strict=True))
    names = _objective_names(study, raw_spec, trials, len(directions))
    if artifact_dir is None and attrs.get(ARTIFACT_DIR_ATTR):
        artifact_dir = attrs[ARTIFACT_DIR_ATTR]
    points, references = _design_points(frozen, trials, records, names, floor_of(spec or raw_spec), attrs)
    return StudyView(
        name=study.study_name,
        objective_names=names,
        directions=directions,
        trials=trials,
        spec=spec,
        **_artifact_location(artifact_dir),
        log_params=_log_params(frozen),
        points=tuple(points),
        references=tuple(references),
        user_attrs=dict(attrs),
    )


def _design_points(frozen: list[FrozenTrial], trials: tuple[TrialView, ...], records: list[TrialRecord | None],
                   names: tuple[str, ...], floor: Condition | None,
                   attrs: dict[str, Any]) -> tuple[list[DesignPoint], list[DesignPoint]]:
    """The design points of the search's trials and those of reference trials, each with its
    confirmed figures."""
    points: list[DesignPoint] = []
    references: list[DesignPoint] = []
    for t, view, record in zip(frozen, trials, records, strict=True):
        found = [dataclasses.replace(p, reference=view.reference, confirmed=confirmed_figures(attrs, p.trial, p.member))
                 for p in trial_points(t, record, names, floor=floor)]
        (references if view.reference is not None else points).extend(found)
    return points, references


def _log_params(frozen: list[FrozenTrial]) -> frozenset[str]:
    """Parameters whose search distribution is log-scaled."""
    return frozenset(name for t in frozen for name, d in t.distributions.items() if getattr(d, "log", False))


def _artifact_location(artifact_dir: str | Path | None) -> dict[str, Any]:
    """``artifact_dir`` (a folder) or ``artifact_url`` (a URL store's study folder)."""
    if artifact_dir is None:
        return {"artifact_dir": None, "artifact_url": None}
    if is_url(artifact_dir):
        return {"artifact_dir": None, "artifact_url": str(artifact_dir)}
    return {"artifact_dir": Path(artifact_dir), "artifact_url": None}


def pick_point(view: StudyView, pick: Pick | str) -> DesignPoint:
    """The eligible design point of a finished candidate that best meets ``pick``.

    Raises:
        ConfigError: a name the study never measured (with a close match), or no trial
            matches (the message says how many candidates each condition left).
    """
    return picked(view.points, pick, view.objectives, view.name)[0]


def _typed_spec(raw: object) -> StudySpec | None:
    """The stored spec as a StudySpec, or None when there is none or it does not validate
    (a study written by another version, or by hand: its readers then fall back to defaults)."""
    if not isinstance(raw, dict):
        return None
    try:
        return parse_spec(StudySpec, raw, key_prefix=SPEC_ATTR)
    except ConfigError:
        return None


def floor_of(spec: StudySpec | Mapping[str, Any] | None) -> Condition | None:
    """The accuracy floor of a study spec (its task's default unless it sets ``floor``), or of
    a stored spec mapping that does not validate (an unreadable ``floor`` is the default)."""
    if isinstance(spec, StudySpec):
        return spec.floor_condition()
    spec = spec if isinstance(spec, Mapping) else {}
    task = str((spec.get("corpus") or {}).get("task", "commands"))
    try:
        return accuracy_floor(task, spec.get("floor", "auto"))
    except ValueError:
        return accuracy_floor(task)


def _trial_view(t: FrozenTrial, record: TrialRecord | None) -> TrialView:
    constraints = _constraints(t, record)
    values: tuple[float, ...] | None = None
    if t.state == TrialState.COMPLETE and t.values is not None:
        values = tuple(float(v) for v in t.values)
        if not all(math.isfinite(v) for v in values):
            values = None
        if record is not None and not strategy_named(record.strategy).holds_designs(record):
            values = None  # what its sampler was told, not a design's figures (sequential's networks)
    return TrialView(
        number=t.number,
        state=t.state.name,
        values=values,
        params=dict(t.params),
        record=record,
        constraints=constraints,
        feasible=all(v <= 0.0 for v in constraints.values()),
        reference=_reference(t),
        error=_error(t, record),
    )


def _constraints(t: FrozenTrial, record: TrialRecord | None) -> dict[str, float]:
    """The record's constraint values, else the ones Optuna holds."""
    if record is not None and record.constraints:
        return dict(record.constraints)
    return {str(k): float(v) for k, v in t.constraints.items()}


def _reference(t: FrozenTrial) -> str | None:
    reference = t.user_attrs.get(REFERENCE_ATTR)
    return str(reference) if reference else None


def _error(t: FrozenTrial, record: TrialRecord | None) -> str | None:
    """The record's failure reason, else Optuna's for a failed trial."""
    if record is not None and record.error is not None:
        return record.error
    return t.system_attrs.get("fail_reason") if t.state == TrialState.FAIL else None


def _objective_names(
    study: optuna.Study, spec: object, trials: tuple[TrialView, ...], n: int
) -> tuple[str, ...]:
    """Objective names: Optuna's metric names, else the records' objective keys, else the spec."""
    if study.metric_names is not None and len(study.metric_names) == n:
        return tuple(study.metric_names)
    for t in trials:
        if t.record is not None and len(t.record.objectives) == n:
            return tuple(t.record.objectives)
    from_spec = _names_from_spec(spec)
    if from_spec is not None and len(from_spec) == n:
        return from_spec
    return tuple(f"objective_{i}" for i in range(n))


def _names_from_spec(spec: object) -> tuple[str, ...] | None:
    objectives = spec.get("objectives") if isinstance(spec, dict) else None
    if isinstance(objectives, dict):
        return tuple(str(k) for k in objectives)
    if isinstance(objectives, list):
        names = [_objective_name(item) for item in objectives]
        return tuple(n for n in names if n is not None) if None not in names else None
    return None


def _objective_name(item: object) -> str | None:
    """An objective's name in a list-form ``objectives`` (``name``, ``{name: ...}`` or
    ``{"name": name, ...}``), else None."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and "name" in item:
        return str(item["name"])
    if isinstance(item, dict) and len(item) == 1:
        return str(next(iter(item)))
    return None


@functools.lru_cache(maxsize=8)
def _url_store(root: str) -> ArtifactStore:
    """One filesystem per URL store root for a reader's many artifact reads (opening it may
    resolve a bucket's region over the network)."""
    return open_store(root)
