"""Reading a finished (or running) study back from its Optuna storage into plain data.

Owns opening a storage URL, finding a study by name, and turning its trials and their
:class:`~codesign.search.TrialRecord` user attributes into a :class:`StudyView` that every
report figure, table and export reads. Never runs or changes a trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from codesign.config import ConfigError
from codesign.search import RECORD_ATTR, SPEC_ATTR, TrialRecord, record_of

#: Trial user attribute marking a reference point that is not a search candidate (e.g. the ANN
#: twin); its value is the label shown in plots. Such trials never join the front.
REFERENCE_ATTR = "codesign.reference"
#: Study user attribute naming the directory that TrialRecord artifact paths are relative to.
ARTIFACT_DIR_ATTR = "codesign.artifact_dir"

_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def open_storage(url: str) -> BaseStorage | str:
    """The Optuna storage behind ``url``.

    Args:
        url: an Optuna RDB URL (``sqlite:///runs/x.db``, ``postgresql://...``), or a journal
            file given as ``journal:///path/x.log`` or a plain path ending in ``.log``,
            ``.journal`` or ``.jsonl``.

    Returns:
        A storage object, or the URL itself for RDB storages (Optuna opens those).

    Raises:
        ConfigError: the URL names a local file that does not exist. Opening never creates one,
            so a mistyped path cannot leave an empty study database behind.
    """
    if url.startswith("journal://"):
        path = Path(url[len("journal://") :])
        return _journal(path, url)
    if "://" not in url:
        path = Path(url)
        if path.suffix in _JOURNAL_SUFFIXES:
            return _journal(path, url)
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            url = f"sqlite:///{path}"
        else:
            raise ConfigError(
                None,
                "--storage",
                "an Optuna storage URL (sqlite:///file.db, postgresql://...) or a journal file "
                "(*.log, *.journal, *.jsonl, journal:///path)",
                got=url,
            )
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.is_file():
            raise ConfigError(None, "--storage", "an existing SQLite study file", got=str(path))
    return url


def _journal(path: Path, url: str) -> BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not path.is_file():
        raise ConfigError(None, "--storage", "an existing journal file", got=url)
    return JournalStorage(JournalFileBackend(str(path)))


def load_study(name: str, storage: str | BaseStorage) -> optuna.Study:
    """Open the study ``name`` from ``storage`` (a URL or storage object) for reading.

    Raises:
        ConfigError: no study of that name exists there; the message lists the ones that do.
    """
    store = open_storage(storage) if isinstance(storage, str) else storage
    summaries = optuna.get_all_study_summaries(store, include_best_trial=False)
    names = [s.study_name for s in summaries]
    if name not in names:
        shown = storage if isinstance(storage, str) else type(storage).__name__
        raise ConfigError(
            None,
            "study",
            f"the name of a study in {shown}",
            got=name,
            hint="studies there: " + (", ".join(sorted(names)) or "none"),
        )
    return optuna.load_study(study_name=name, storage=store)


@dataclass(frozen=True)
class TrialView:
    """One trial as the report sees it.

    Attributes:
        number: Optuna's trial number.
        state: ``COMPLETE``, ``FAIL``, ``PRUNED``, ``RUNNING`` or ``WAITING``.
        values: objective values in the study's objective order, or None when the trial has
            none (failed, running, or an infeasible chip that was never trained).
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
    """A study's trials and what they mean, read once from storage.

    Attributes:
        name: the study name.
        objective_names: objective names in Optuna's value order.
        directions: ``"minimize"`` / ``"maximize"`` per objective.
        trials: every trial, in trial-number order.
        spec: the study spec dict the driver stored (study attr ``codesign.spec``), or None.
        artifact_dir: the directory TrialRecord artifact paths are relative to, if known.
        log_params: parameters whose search distribution is log-scaled.
    """

    name: str
    objective_names: tuple[str, ...]
    directions: tuple[str, ...]
    trials: tuple[TrialView, ...]
    spec: dict[str, Any] | None
    artifact_dir: Path | None
    log_params: frozenset[str] = frozenset()

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
        path = Path(trial.record.artifacts[name])
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
    spec = attrs.get(SPEC_ATTR)
    frozen = study.get_trials(deepcopy=False)
    trials = tuple(_trial_view(t) for t in frozen)
    log_params = frozenset(
        name for t in frozen for name, d in t.distributions.items() if getattr(d, "log", False)
    )
    names = _objective_names(study, spec, trials, len(directions))
    if artifact_dir is None and attrs.get(ARTIFACT_DIR_ATTR):
        artifact_dir = attrs[ARTIFACT_DIR_ATTR]
    return StudyView(
        name=study.study_name,
        objective_names=names,
        directions=directions,
        trials=trials,
        spec=spec if isinstance(spec, dict) else None,
        artifact_dir=Path(artifact_dir) if artifact_dir is not None else None,
        log_params=log_params,
    )


def _trial_view(t: FrozenTrial) -> TrialView:
    record = record_of(t.user_attrs) if RECORD_ATTR in t.user_attrs else None
    constraints = dict(record.constraints) if record is not None and record.constraints else {}
    if not constraints:
        constraints = {str(k): float(v) for k, v in t.constraints.items()}
    values: tuple[float, ...] | None = None
    if t.state == TrialState.COMPLETE and t.values is not None:
        values = tuple(float(v) for v in t.values)
        if not all(math.isfinite(v) for v in values):
            values = None
    reference = t.user_attrs.get(REFERENCE_ATTR)
    error = record.error if record is not None else None
    if error is None and t.state == TrialState.FAIL:
        error = t.system_attrs.get("fail_reason")
    return TrialView(
        number=t.number,
        state=t.state.name,
        values=values,
        params=dict(t.params),
        record=record,
        constraints=constraints,
        feasible=all(v <= 0.0 for v in constraints.values()),
        reference=str(reference) if reference else None,
        error=error,
    )


def _objective_names(
    study: optuna.Study, spec: Any, trials: tuple[TrialView, ...], n: int
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


def _names_from_spec(spec: Any) -> tuple[str, ...] | None:
    objectives = spec.get("objectives") if isinstance(spec, dict) else None
    if isinstance(objectives, dict):
        return tuple(str(k) for k in objectives)
    if isinstance(objectives, list):
        names: list[str] = []
        for item in objectives:
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, dict) and "name" in item:
                names.append(str(item["name"]))
            elif isinstance(item, dict) and len(item) == 1:
                names.append(str(next(iter(item))))
            else:
                return None
        return tuple(names)
    return None
