"""The Ray ask/tell driver: the only writer to a study's storage.

``run_study`` is a loop over Optuna's ``ask``/``tell`` (like ``Study.optimize``), with Ray
tasks as the workers, each a task with declared resources. The evaluation function is
injectable: a top-level, picklable ``evaluate(TrialTask) -> TrialResult``
(``codesign.search._task``).

Schedule (``execution.lookahead``, ``execution.tell_order``): ``workers x (1 + lookahead)``
trials are asked and not yet told at once; ``workers`` of them run as Ray tasks and the driver
queues the rest, so a worker that finishes picks up a queued trial at once, while an older,
slower trial still runs. Results are told in submission order (the default), and a new trial
is asked only after a tell, so what the sampler has seen when it asks trial *n* is the same on
an idle and on a loaded machine: the study depends only on its seed and history, never on timing. Worker
utilisation (busy worker-seconds over ``workers`` x the search's wall seconds) is measured
and returned (``StudyOutcome.worker_utilisation``).

Workers share nothing with the driver but Ray: each task gets a reader of the artifact store
(served from this process's node when the store is a local folder) and the corpus from Ray's
object store (put once per study, pulled once per node), and returns its record and files as
bytes; this driver writes them into the artifact store.

Failure rules (a failure is never a score):
- the evaluation raises, returns an error, or returns a NaN/missing objective -> FAIL with
  the reason in the record;
- a trial whose worker has used more than ``execution.trial_cpu_s`` CPU seconds, or that
  started and then made no CPU progress for ``execution.trial_stall_s`` seconds (a hang), is
  cancelled (its worker killed) -> FAIL. Running tasks report their CPU time to the driver
  (``TrialMonitor``, a heartbeat a second): the limits follow the trial's own work, so a
  machine's load never decides a result, and a trial still queued is charged nothing;
- the worker process dies (Ray ``WorkerCrashedError`` and kin) -> the trial is run again
  ``execution.retries`` times, then FAIL; the study goes on;
- the evaluation's cheap chip check finds the network cannot fit (or breaks an
  activity-independent constraint such as area) -> PRUNED, with its constraint values, no
  training and no objective values;
- the driver is interrupted or killed -> trials left RUNNING are told FAIL ("interrupted") and
  their parameters enqueued, so the next ``run``/``resume`` asks them again; nothing told
  COMPLETE is ever touched. A RUNNING trial counts as left behind only when the lease of the
  driver that asked it is gone (``codesign.search._lease``): a live driver's trials are never
  touched by another driver.

Continuing a study continues its search: the sampler's seed is drawn from the study seed and
the number of trials the study already holds, and a point already finished is not evaluated
again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import math
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from codesign import __version__
from codesign._signals import raise_if_signalled
from codesign.config import ConfigError, check_output_dir, parse_spec
from codesign.search._cluster import (
    check_reachable,
    check_resources,
    ensure_ray,
    first_sentence,
    worker_died_errors,
)
from codesign.search._front import (
    POINT_ATTR,
    DesignPoint,
    pareto_front,
    point_summary,
    study_hypervolume,
)
from codesign.search._lease import OWNER_ATTR, DriverLease, live_drivers, storage_policy
from codesign.search._progress import Progress, trial_line
from codesign.search._recommend import Recommendation
from codesign.search._record import (
    ARTIFACT_DIR_ATTR,
    RECORD_ATTR,
    SPEC_ATTR,
    SUMMARY_ATTR,
    VERSION_ATTR,
    TrialRecord,
    record_of,
    record_summary,
)
from codesign.search._space import SearchSpace, suggest
from codesign.search._spec import StudySpec
from codesign.search._storage import (
    checkpoint,
    default_storage_url,
    load_stored_study,
    masked_url,
    open_storage,
    storage_label,
    stored_spec,
)
from codesign.search._store import ArtifactStore, StoreReader, open_store, serve_store
from codesign.search._strategy import strategy_of
from codesign.search._task import BEAT_S, EvaluateFn, TrialMonitor, TrialResult, TrialTask, run_task
from codesign.search._trials import record_points, study_points

if TYPE_CHECKING:
    from ray import ObjectRef

    from codesign.data import Corpus

#: Trial user attribute marking a trial failed because its driver stopped, not because of it.
INTERRUPTED_ATTR = "codesign.interrupted"
#: Trial user attribute marking a trial not run because its point was already finished
#: (the number of that trial); it does not count against the budget.
DUPLICATE_ATTR = "codesign.duplicate_of"
#: How often one ask may draw an already-finished point before it is evaluated anyway (a
#: small discrete space can be exhausted).
_MAX_REDRAWS = 16

_LOG = logging.getLogger("codesign.search")


@dataclass(frozen=True)
class StudyOutcome:
    """What a driver run leaves behind.

    Attributes:
        name, storage_url: where the study is.
        artifact_dir: the study's folder in the artifact store (a path, or a URL).
        counts: trials by state (``complete``, ``fail``, ``running``, ``waiting``) in storage,
            plus ``interrupted`` (failed because a driver stopped; their params re-asked).
        told: trials this run told (complete + fail).
        front: the study's Pareto front of eligible design points (feasible, above the floor,
            not degenerate).
        hypervolume: of the eligible points (see ``study_hypervolume``).
        stopped_by: ``trials`` | ``seconds`` (the budget that ended the run).
        artifact_bytes: bytes of files workers returned through Ray in this run.
        served_bytes: bytes of the training cache workers read through the driver's store
            actor in this run (0 for a URL store, which workers read directly).
        busy_s: worker-seconds this run's trials ran (each task's own clock; from its last
            heartbeat for one that raised or was stopped).
        search_s: wall seconds from the first submission to the last tell of this run.
        worker_utilisation: ``busy_s / (workers * search_s)`` (None when nothing ran).
    """

    name: str
    storage_url: str
    artifact_dir: str
    counts: dict[str, int]
    told: int
    front: list[DesignPoint]
    hypervolume: float
    stopped_by: str
    artifact_bytes: int = 0
    served_bytes: int = 0
    recommendation: Recommendation | None = None
    failed: int = 0
    fatal: str | None = None
    first_error: str | None = None
    busy_s: float = 0.0
    search_s: float = 0.0
    worker_utilisation: float | None = None

    def failure(self) -> str | None:
        """One line saying why this run failed as a whole, or None: a trial failed for a reason
        that fails every trial (``fatal``: the run stopped starting trials), or every trial this
        run told failed."""
        if self.fatal is not None:
            return (f"study '{self.name}' stopped: a trial failed for a reason every trial would share: "
                    f"{_one_line(self.fatal)}")
        if self.told and self.failed == self.told:
            return (f"study '{self.name}' failed: all {self.told} trial(s) of this run failed; the first: "
                    f"{_one_line(self.first_error or 'no reason recorded')}")
        return None


#: A trial that fails with one of these fails for a reason of the study or the installation
#: (a missing file, a bad config, a missing module), which every later trial would share.
FATAL_ERRORS = ("ConfigError", "FileNotFoundError", "ModuleNotFoundError", "ImportError")


def is_fatal(error: str | None) -> bool:
    """Whether a trial's error (``"<ExceptionType>: message"``) fails every trial alike."""
    return error is not None and error.split(":", 1)[0].strip() in FATAL_ERRORS


def _one_line(text: str, limit: int = 400) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass
class _Pending:
    """One job asked (or promoted) and not yet told: waiting in the driver's queue for a free
    worker, running as a Ray task, or finished and waiting for its turn to be told (``outcome``)."""

    trial: optuna.Trial
    params: dict[str, Any]
    started: float
    attempts: int = 1
    history: list[str] = field(default_factory=list)
    rung: int = 0
    until_epoch: int | None = None
    stage: int = 0
    outcome: tuple[TrialRecord, list[float] | None] | None = None
    busy_s: float = 0.0  # wall seconds its task ran (its heartbeat's clock, then its own)
    cpu_s: float = 0.0  # CPU seconds its task reported
    progress_cpu_s: float = -math.inf  # its evaluation thread's CPU seconds at the last progress
    progress_at: float = math.nan  # when that was (driver clock); NaN until its first heartbeat

    @property
    def key(self) -> str:
        """This attempt's name in the trial monitor."""
        return f"{self.trial.number}-r{self.rung}-a{self.attempts}"


def default_evaluate() -> EvaluateFn:
    """The real evaluation pipeline (training, trace, chip model)."""
    from codesign.search._evaluate import evaluate_trial

    return evaluate_trial


def run_study(
    spec: StudySpec,
    *,
    evaluate: EvaluateFn | None = None,
    runs_dir: str | Path = "runs",
    storage: str | optuna.storages.BaseStorage | None = None,
    progress: bool = True,
    log_to_driver: bool = False,
    record_spec: bool = True,
    artifact_store: ArtifactStore | None = None,
) -> StudyOutcome:
    """Run (or continue) the study ``spec`` until its budget is spent.

    A study of the same name already in storage is continued when its search (everything
    but budget, execution and storage) is the same, and refused otherwise.

    Args:
        spec: the validated study (``execution``/``budget`` as this run should use them).
        evaluate: the evaluation function (default: the real pipeline).
        runs_dir: where the default storage, artifacts and training cache go.
        storage: storage URL overriding ``spec.storage``, or an Optuna storage object (used as
            it is: its kind, not a URL prefix, says whether other drivers may share it).
        progress: show the live progress bar.
        log_to_driver: forward worker stdout/stderr (off by default: it breaks the bar).
        record_spec: store ``spec`` (its budget and execution) with the study; ``resume``
            passes False, so that its overrides apply to that run only.
        artifact_store: the artifact store to use in place of the one ``spec.artifacts`` (or
            ``runs_dir``) names: any :class:`ArtifactStore`, checked before anything is stored.

    Raises:
        ConfigError: the stored study of that name has a different search.
        StudyInUse: another driver runs the study and its storage takes one driver only.
    """
    target = storage or spec.storage or default_storage_url(spec.name, runs_dir)
    url = storage_label(target)
    store = _artifact_store(spec, runs_dir, artifact_store)
    artifact_dir = store.url(spec.name)
    # a URL from the study's own ``storage`` key is blamed on that key, not on --storage
    where = {"file": f"study '{spec.name}'", "key": "storage"} if spec.storage and not storage else {}
    # the cluster first: one that is not there, or cannot run a trial, is one error before the
    # study is created or its lease taken (_drive then finds Ray connected and leaves it to us)
    check_reachable(spec)
    started_ray = ensure_ray(spec, log_to_driver)
    try:
        check_resources(spec)
        study, lease = _open_or_create(spec, target, artifact_dir, record_spec=record_spec, where=where)
        try:
            evaluate, corpus = _evaluation(spec, evaluate, progress)
            return _drive(study, spec, url, store, evaluate, progress, log_to_driver, lease, corpus)
        except optuna.exceptions.StorageInternalError as err:  # a full disk, a lost database server
            raise ConfigError(None, "storage", "a storage this driver can write", got=masked_url(url),
                              hint=f"{_root_cause(err)}; what it holds stays readable: make room and "
                              f"`codesign study resume {spec.name}`") from None
        finally:
            lease.release()
            checkpoint(url)  # the last write done: study.db alone then holds every trial of the run
    finally:
        if started_ray:
            import ray

            ray.shutdown()


def _evaluation(spec: StudySpec, evaluate: EvaluateFn | None, progress: bool) -> tuple[EvaluateFn, Corpus | None]:
    """The evaluation function, and the corpus the real one needs (prepared once, here)."""
    if evaluate is not None and evaluate is not default_evaluate():
        return evaluate, None  # an injected evaluation loads nothing
    from codesign.search._evaluate import prepare_study

    return default_evaluate(), prepare_study(spec, progress=progress)


def _artifact_store(spec: StudySpec, runs_dir: str | Path, given: ArtifactStore | None = None) -> ArtifactStore:
    """The study's artifact store (``given``, else the one ``spec.artifacts`` or ``runs_dir``
    names), checked before anything is stored: a store that is not a local folder is written,
    read back and cleaned, so a store the driver cannot use fails now, not after each trial.
    A Ray client driver (``ray://``) runs off the cluster, so it needs a URL store.

    Raises:
        ConfigError: an unknown or unusable store (``artifacts`` / ``--artifact-store``).
    """
    if given is not None:
        return _checked_store(given, spec)
    root = spec.artifacts or str(runs_dir)
    expected = "an artifact store codesign can write and read (a folder, or a URL pyarrow.fs or fsspec knows)"
    if root.split("://", 1)[0].lower() == "memory" and "://" in root:
        raise ConfigError(None, "artifacts", "an artifact store that outlives this process (a folder, s3://, gs://, ...)",
                          got=root, hint="memory:// keeps the trials' files only while the driver runs "
                          "(study key 'artifacts' or --artifact-store)")
    if "://" not in root:
        check_output_dir(root, "artifacts" if spec.artifacts else "--runs-dir",
                         "a folder (trial files and the default storage go there)")
    try:
        store = open_store(root)
    except Exception as err:  # pyarrow, fsspec and cloud SDKs raise many types
        raise ConfigError(None, "artifacts", expected, got=root,
                          hint=f"{type(err).__name__}: {err} (study key 'artifacts' or --artifact-store)") from None
    return _checked_store(store, spec)


def _checked_store(store: ArtifactStore, spec: StudySpec) -> ArtifactStore:
    """``store`` once it has written, read back and cleaned a marker (a folder is checked as
    the runs directory already), and reaches a Ray client driver's workers.

    Raises:
        ConfigError: the store cannot be used (key ``artifacts``).
    """
    try:
        if not store.is_local:
            store.check()
    except Exception as err:  # pyarrow, fsspec and cloud SDKs raise many types
        raise ConfigError(None, "artifacts", "an artifact store codesign can write and read", got=store.root,
                          hint=f"{type(err).__name__}: {err} (study key 'artifacts' or --artifact-store)") from None
    if store.is_local and (spec.execution.address or "").startswith("ray://"):
        raise ConfigError(None, "artifacts", "a URL artifact store every node reaches (s3://…) for a Ray "
                          "client driver (ray://), which runs off the cluster", got=store.root)
    return store


def resume_study(
    name: str,
    *,
    storage: str | None = None,
    runs_dir: str | Path = "runs",
    evaluate: EvaluateFn | None = None,
    workers: int | None = None,
    trials: int | None = None,
    address: str | None = None,
    progress: bool = True,
    log_to_driver: bool = False,
) -> StudyOutcome:
    """Continue a stored study from its name and storage alone (the spec is stored with it).

    ``trials`` is the total the study should reach (finished trials, as the stored budget
    counts them), not a number of further trials; ``workers``, ``trials`` and ``address``
    apply to this run only and the stored spec is left as it is.
    """
    url = storage or default_storage_url(name, runs_dir)
    spec = stored_spec(load_stored_study(name, url))
    spec = with_overrides(spec, workers=workers, trials=trials, address=address)
    return run_study(spec, evaluate=evaluate, runs_dir=runs_dir, storage=url, progress=progress,
                     log_to_driver=log_to_driver, record_spec=False)


def with_overrides(
    spec: StudySpec,
    *,
    workers: int | None = None,
    trials: int | None = None,
    address: str | None = None,
    seconds: float | None = None,
    artifacts: str | None = None,
) -> StudySpec:
    """``spec`` with command-line overrides of execution, budget and artifact store, re-validated."""
    data = spec.to_dict()
    if artifacts is not None:
        data["artifacts"] = artifacts
    if workers is not None:
        data["execution"]["workers"] = workers
    if address is not None:
        data["execution"]["address"] = address
    if trials is not None:
        data["budget"]["trials"] = trials
    if seconds is not None:
        data["budget"]["seconds"] = seconds
    return parse_spec(StudySpec, data, file=None)


# --------------------------------------------------------------------------------------------


def make_sampler(spec: StudySpec, finished: int = 0, salt: str = "") -> optuna.samplers.BaseSampler:
    """The spec's seeded sampler.

    Constraint values reach every sampler through ``Trial.set_constraint`` (Optuna 5), which
    the driver calls from the record before telling a trial.

    Args:
        spec: the study.
        finished: trials the study holds already (every state). A new study's sampler is
            seeded with ``spec.seed``; a continued one with a seed drawn from the study seed and
            this count, so that a resume continues the search instead of replaying its draws.
        salt: told apart drivers that share a study (their driver names), so that two
            drivers starting at the same count do not draw the same points.
    """
    cfg = spec.sampler
    seed = spec.seed if finished == 0 and not salt else sampler_seed(spec.seed, finished, salt)
    if cfg.name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=cfg.population_size or 50, seed=seed)
    # None keeps each sampler's own default number of random start-up trials
    if cfg.name == "tpe":
        if cfg.n_startup_trials is None:
            return optuna.samplers.TPESampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.n_startup_trials)
    if cfg.name == "gp":
        if cfg.n_startup_trials is None:
            return optuna.samplers.GPSampler(seed=seed)
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=cfg.n_startup_trials)
    return optuna.samplers.RandomSampler(seed=seed)


def sampler_seed(study_seed: int, finished: int, salt: str = "") -> int:
    """A 32-bit seed from the study seed, the trials finished so far and a salt (stable across
    runs and machines: no Python ``hash``)."""
    from codesign.config import stable_hash

    return int(stable_hash([study_seed, finished, salt]), 16) % (2**32)


def _open_or_create(
    spec: StudySpec, target: str | optuna.storages.BaseStorage, artifact_dir: str, record_spec: bool = True,
    where: dict[str, str] | None = None,
) -> tuple[optuna.Study, DriverLease]:
    """Open or create the study in ``target`` (a storage URL or object) and take this driver's
    lease on it (before writing anything to the study: a refused second driver changes nothing)."""
    storage = open_storage(target, create=True, **(where or {})) if isinstance(target, str) else target
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(spec)
    old: StudySpec | None = None
    if spec.name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler)
        old = _stored_search(study, spec, artifact_dir)
    else:
        study = _create_study(spec, storage, sampler)
    lease = DriverLease.acquire(study, storage_policy(target))
    try:
        _record_study(study, spec, old, artifact_dir, record_spec)
        # every trial ever asked (not only finished ones) moves the seed on, so that a driver
        # stopped before finishing anything does not hand its successor the same draws
        asked = len(study.get_trials(deepcopy=False))
        study.sampler = make_sampler(spec, asked, lease.driver if lease.others_alive() else "")
    except BaseException:
        lease.release()
        raise
    return study, lease


def _stored_search(study: optuna.Study, spec: StudySpec, artifact_dir: str) -> StudySpec | None:
    """The spec a stored study holds (None while another driver is still creating it), once
    it is known to be the same search, with its files in ``artifact_dir``.

    Raises:
        ConfigError: the study uses another artifact folder, or is another search.
    """
    old = None
    if SPEC_ATTR in study.user_attrs or study.get_trials(deepcopy=False):
        old = stored_spec(study)  # (a study with neither: another driver is creating it)
    recorded = study.user_attrs.get(ARTIFACT_DIR_ATTR)
    if recorded and recorded != artifact_dir:  # its earlier trials' files are there
        raise ConfigError(None, "artifacts", f"the artifact folder the study already uses, {recorded}",
                          got=artifact_dir, hint="pass the --runs-dir / --artifact-store it was run with, "
                          "or choose another study name")
    if old is not None and old.search_identity() != spec.search_identity():
        changed = sorted(
            k for k in set(old.search_identity()) | set(spec.search_identity())
            if old.search_identity().get(k) != spec.search_identity().get(k)
        )
        raise ConfigError(
            None, spec.name, "the same search as the stored study of this name",
            hint=f"differs in {', '.join(changed)}; choose another name or storage",
        )
    return old


def _record_study(study: optuna.Study, spec: StudySpec, old: StudySpec | None, artifact_dir: str,
                  record_spec: bool) -> None:
    """Store the objective names, the spec (unless a resume keeps the stored one), the code
    version and the artifact folder on the study."""
    if study.metric_names != list(spec.objectives):
        with warnings.catch_warnings():  # experimental in Optuna, and what optuna-dashboard reads
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(spec.objectives))  # names in the dashboard, not "Objective 0"
    if record_spec or old is None:
        if old is not None and old.budget != spec.budget:
            _LOG.warning("study %s: stored budget %s changed to %s (from the study file)", spec.name,
                         _budget_text(old), _budget_text(spec))
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
    study.set_user_attr(VERSION_ATTR, __version__)
    study.set_user_attr(ARTIFACT_DIR_ATTR, artifact_dir)


def _create_study(spec: StudySpec, storage: optuna.storages.BaseStorage, sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    """Create the study; a driver that created it a moment earlier is fine (sharing storages)."""
    try:
        return optuna.create_study(study_name=spec.name, storage=storage, sampler=sampler,
                                   directions=spec.directions())
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler)


def _budget_text(spec: StudySpec) -> str:
    parts = [f"{spec.budget.trials} trials" if spec.budget.trials else "",
             f"{spec.budget.seconds:g} s" if spec.budget.seconds else ""]
    return " and ".join(p for p in parts if p)


#: Trial user attribute: the metrics of each rung a multi-fidelity trial reached, in order
#: (Optuna's ``Trial.report`` does not take multi-objective values).
RUNGS_ATTR = "codesign.rungs"


def _drive(
    study: optuna.Study,
    spec: StudySpec,
    url: str,
    store: ArtifactStore,
    evaluate: EvaluateFn,
    progress: bool,
    log_to_driver: bool,
    lease: DriverLease,
    corpus: Corpus | None = None,
) -> StudyOutcome:
    """Set up what a run needs (Ray, the store's reader, the corpus in the object store, the
    progress bar), run the loop, and release them whatever happens."""
    import ray

    started_ray = ensure_ray(spec, log_to_driver)
    store_actor = None
    bar = None
    served = 0
    try:
        if store.is_local:  # records name cache files as ../_train_cache/..., through the study's folder
            Path(store.url(spec.name)).mkdir(parents=True, exist_ok=True)
        reader, store_actor = serve_store(store)
        # the corpus goes into the object store once; Ray pulls it to each node once
        corpus_ref = ray.put(corpus) if corpus is not None else None
        _requeue_stale(study, lease)
        driver = _Driver(study, spec, store, evaluate, lease, reader, corpus_ref, progress)
        bar = driver.bar
        try:
            driver.run()
            _record_run(study, spec, driver)
        except BaseException:
            running = set(map(id, driver.pending.values()))
            untold = [p for p in driver.queue if id(p) not in running]  # finished or not started yet
            _abandon(study, driver.pending, list(driver.waiting.values()) + untold)
            _requeue_own(study, lease)
            raise
        finally:
            driver.close()
    finally:
        if bar is not None:
            bar.close()
        if store_actor is not None:
            with contextlib.suppress(Exception):  # only a figure: never mask the run's own error
                served = int(ray.get(store_actor.bytes_served.remote(), timeout=30))
            ray.kill(store_actor)
        if started_ray:
            ray.shutdown()
    outcome = _outcome(study, spec, url, store.url(spec.name), driver.told, driver.stopped_by,
                       driver.moved_bytes, served, driver.busy_s, driver.search_s)
    return dataclasses.replace(outcome, failed=driver.failed_now, fatal=driver.fatal,
                               first_error=driver.first_error)


class _Driver:
    """One run of the ask/tell loop over Ray tasks: the trials in flight, those paused at a
    rung, and this run's counters (see the module docstring for the rules it applies)."""

    def __init__(self, study: optuna.Study, spec: StudySpec, store: ArtifactStore, evaluate: EvaluateFn,
                 lease: DriverLease, reader: StoreReader, corpus_ref: ObjectRef[Corpus] | None, progress: bool) -> None:
        import ray

        self.study, self.spec, self.store, self.evaluate, self.lease = study, spec, store, evaluate, lease
        self.reader, self.corpus_ref = reader, corpus_ref
        self.strategy = strategy = strategy_of(spec)
        self.scheduler = strategy.scheduler(spec)
        self.ask_space = strategy.ask_space(spec.search_space())
        self.remote = ray.remote(run_task).options(
            num_cpus=spec.execution.cpus_per_trial,
            num_gpus=spec.execution.gpus_per_trial,
            max_retries=0,  # the driver retries dead workers itself, to record the attempts
            retry_exceptions=False,
        )
        trials = study.get_trials(deepcopy=False)
        self.floor = spec.floor_condition()
        self.points = study_points(trials, self.floor)
        self.finished = _budget_count(trials)  # counted by the budget, by every run so far
        self.started = self.finished
        self.failed = _failed_count(trials)
        self.told = 0  # by this run
        self.failed_now = 0  # failed in this run (for the exit status)
        self.first_error: str | None = None
        self.fatal: str | None = None  # set: a failure every trial would share; start no more
        self.moved_bytes = 0
        self.stopped_by = "trials"
        self.budget_trials = spec.budget.trials
        self.deadline = time.monotonic() + spec.budget.seconds if spec.budget.seconds else math.inf
        self.last_requeue = time.monotonic()
        self.bar = Progress(self.budget_trials, self.finished, progress, spec.name)
        self.pending: dict[ObjectRef[TrialResult], _Pending] = {}  # running as Ray tasks (at most ``workers``), by task ref
        self.queue: list[_Pending] = []  # asked (or promoted) and not yet told, in submission order
        self.waiting: dict[int, _Pending] = {}  # paused at a rung (multi-fidelity)
        self.busy_s = 0.0
        self.search_s = 0.0
        self.first_submit: float | None = None
        ex = spec.execution
        self.limited = ex.trial_cpu_s is not None or ex.trial_stall_s is not None
        # (an actor handle: Ray's stubs do not type its methods' .remote)
        self.monitor: Any = ray.remote(num_cpus=0)(TrialMonitor).remote() if self.limited else None
        self.constraint_names = [c.name for c in spec.parsed_constraints()]
        self.sign = np.array([1.0 if d == "min" else -1.0 for d in spec.objectives.values()])

    def close(self) -> None:
        """Stop the trial monitor."""
        import ray

        if self.monitor is not None:
            with contextlib.suppress(Exception):
                ray.kill(self.monitor)
            self.monitor = None

    def run(self) -> None:
        import ray

        while True:
            raise_if_signalled()  # a Ctrl-C the garbage collector swallowed still stops the study
            self._start_jobs()
            # one tell, then one ask: the sampler has seen exactly the same told trials at each
            # ask however many results arrived at once
            while self._tell_next():
                self._start_jobs()
            if not self.queue:
                break
            self._update_bar()
            if self.pending:
                wait_s = _next_wakeup(self.limited, self.deadline)
                ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=wait_s)  # at most 5 s
                for ref in ready:
                    self._receive(ref)
                self._check_limits()
                self._dispatch()  # a worker freed: the next asked job starts now, told or not
        for number in self.scheduler.paused():
            p = self.waiting.pop(number)
            _prune_paused(self.study, p)
            self.told += 1
            self.finished += 1
            self.bar.write(f"trial {number} stopped at rung {p.rung} ({p.until_epoch} epochs): not promoted")

    def _tell_next(self) -> bool:
        """Tell one finished job, if there is one to tell: in submission order the head of the
        queue once it has finished (a finished job behind a running one waits; its worker has
        moved on to a queued job); in completion order the oldest finished one."""
        in_order = self.spec.execution.tell_order == "submission"
        for i, p in enumerate(self.queue[:1] if in_order else self.queue):
            if p.outcome is None:
                continue
            del self.queue[i]
            record, values = p.outcome
            self.busy_s += p.busy_s
            if self.first_submit is not None:
                self.search_s = time.monotonic() - self.first_submit
            self.tell(p, record, values)
            return True
        return False

    def _check_limits(self) -> None:
        """Stop the running tasks past the per-trial CPU limit, or stalled, by their heartbeats
        (a task with none yet has not started, and is charged nothing)."""
        import ray

        if self.monitor is None or not self.pending:
            return
        try:
            beats = ray.get(self.monitor.read.remote(), timeout=30)
        except Exception as err:  # the monitor is busy or gone: the limits wait for the next round
            _LOG.warning("could not read the trial monitor: %s", err)
            return
        now = time.monotonic()
        for ref, p in list(self.pending.items()):
            if p.key not in beats:
                continue
            reason = self._over_limit(p, beats[p.key], now)
            if reason is not None:
                ray.cancel(ref, force=True)
                del self.pending[ref]
                p.outcome = (_failed(p, reason), None)
                self._forget(p)

    def _over_limit(self, p: _Pending, beat: tuple[float, float, float], now: float) -> str | None:
        """Book a running task's heartbeat (CPU seconds, busy seconds, its evaluation thread's
        CPU seconds) on its trial; why the trial must stop (over the CPU limit, or stalled), or None."""
        ex = self.spec.execution
        p.cpu_s, p.busy_s, task_cpu_s = beat
        if task_cpu_s >= p.progress_cpu_s + _PROGRESS_CPU_S:
            p.progress_cpu_s, p.progress_at = task_cpu_s, now
        if ex.trial_cpu_s is not None and p.cpu_s > ex.trial_cpu_s:
            return (f"used {p.cpu_s:.1f} CPU seconds, over the per-trial limit of {ex.trial_cpu_s:g} "
                    "(execution.trial_cpu_s)")
        if ex.trial_stall_s is not None and now - p.progress_at > ex.trial_stall_s:
            return (f"stalled: no CPU progress for {ex.trial_stall_s:g} s (execution.trial_stall_s; "
                    f"{p.cpu_s:.1f} CPU seconds in {p.busy_s:.0f} s)")
        return None

    def _forget(self, p: _Pending) -> None:
        if self.monitor is not None:
            with contextlib.suppress(Exception):
                self.monitor.forget.remote([p.key])

    def _start_jobs(self) -> None:
        """Fill the queue up to ``workers x (1 + lookahead)`` jobs asked and not yet told: new
        trials within the budget, or promoted ones. ``_dispatch`` starts ``workers`` of them at once."""
        room, may_start = self._room()
        self._take_over_stale()
        in_use = self._in_use(room)
        if self.budget_trials is not None:
            may_start = may_start and in_use < self.budget_trials
        for _ in range(max(room, 0)):
            job = self.scheduler.next_job(may_start and (self.budget_trials is None or in_use < self.budget_trials))
            if job is None:
                break
            if job.trial is None:
                trial, params = _ask(self.study, self.ask_space, self.lease, job.params)
                self.started += 1
                in_use += 1
            else:
                paused = self.waiting.pop(job.trial)
                trial, params = paused.trial, paused.params
            p = _Pending(trial, params, time.monotonic(), rung=job.rung, until_epoch=job.until_epoch, stage=job.stage)
            self.queue.append(p)
        self._dispatch()

    def _room(self) -> tuple[int, bool]:
        """How many more jobs the queue takes, and whether a new trial may start: none once the
        run's seconds are spent, or after a failure every further trial would share."""
        room = self.spec.execution.in_flight - len(self.queue)
        may_start = True
        if time.monotonic() >= self.deadline:
            self.stopped_by = "seconds"
            room, may_start = 0, False
        if self.fatal is not None:  # every further trial would fail the same way
            room, may_start = 0, False
        return room, may_start

    def _take_over_stale(self) -> None:
        """With a storage drivers share, take over the trials of a sharing driver that died
        (looked for once per lease period)."""
        if self.lease.policy == "share" and time.monotonic() - self.last_requeue > self.lease.ttl_s:
            _requeue_stale(self.study, self.lease)
            self.last_requeue = time.monotonic()

    def _in_use(self, room: int) -> int:
        """Trials that count against the budget: those this run started, or with a shared
        storage and room to fill, also every other driver's (finished and running) and this
        driver's queued and paused ones."""
        if self.budget_trials is None or self.lease.policy != "share" or room <= 0:
            return self.started
        finished_all, elsewhere = _shared_counts(self.study, self.lease)
        return max(self.started, finished_all + elsewhere + len(self.queue) + len(self.waiting))

    def _dispatch(self) -> None:
        """Start asked jobs, oldest first, on the free workers. The driver keeps the queue, not
        Ray: a task waiting in Ray's queue would start whenever a running one blocks in
        ``ray.get`` (reading the store), and more trials than workers would share the CPUs."""
        running = set(map(id, self.pending.values()))
        if self.fatal is not None or time.monotonic() >= self.deadline:
            self._drop_unstarted(running)
            return
        for p in self.queue:
            if len(self.pending) >= self.spec.execution.workers:
                return
            if p.outcome is None and id(p) not in running:
                self._submit(p)

    def _drop_unstarted(self, running: set[int]) -> None:
        """Take the asked jobs not started yet (not ``running``, by id) out of the queue: none
        starts after the deadline or a failure every trial shares; each is left for a resume to
        ask again, never run and never scored."""
        why = ("not started: a trial failed for a reason every trial shares" if self.fatal is not None
               else "not started: budget.seconds reached")
        for p in [q for q in self.queue if q.outcome is None and id(q) not in running]:
            self.queue.remove(p)
            _mark_interrupted(self.study, p.trial.number, p.trial.params, p.params, why)

    def _submit(self, p: _Pending) -> None:
        task = TrialTask(params=p.params, spec=self.spec, trial_number=p.trial.number, until_epoch=p.until_epoch,
                         store=self.reader, stage=p.stage, strategy=self.strategy)
        p.started = time.monotonic()
        if self.first_submit is None:
            self.first_submit = p.started
        self.pending[self.remote.remote(self.evaluate, task, self.corpus_ref, self.monitor, p.key)] = p

    def _receive(self, ref: ObjectRef[TrialResult]) -> None:
        """Read a finished task: its outcome waits in the queue for its turn to be told."""
        p = self.pending.pop(ref)
        self._forget(p)
        outcome = _collect(ref, p, self.spec, self.store)
        if isinstance(outcome, str):  # "retry": the worker died and retries are left
            self.busy_s += p.busy_s
            p.attempts += 1
            p.started = time.monotonic()
            p.busy_s, p.progress_cpu_s, p.progress_at = 0.0, -math.inf, math.nan
            self._dispatch()
            return
        record, values, size, busy_s = outcome
        self.moved_bytes += size
        if busy_s is not None:
            p.busy_s = busy_s
        p.outcome = (record, values)

    def tell(self, p: _Pending, record: TrialRecord, values: list[float] | None) -> None:
        try:
            self._tell(p, record, values)
            if values is None and record.error is not None and record.pruned is None:
                self.failed_now += 1
                self.first_error = self.first_error or record.error
                if self.fatal is None and is_fatal(record.error):
                    self.fatal = f"trial {p.trial.number}: {record.error}"
                    self.bar.write(f"stopping: trial {p.trial.number} failed for a reason every trial would "
                                   "share; no further trial is started")
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError) as err:
            if not self.study._storage.get_trial(p.trial._trial_id).state.is_finished():
                raise
            # another driver found this driver's lease lapsed and re-asked the trial
            self.bar.write(f"trial {p.trial.number} was already finished elsewhere; result dropped ({err})")

    def _tell(self, p: _Pending, record: TrialRecord, values: list[float] | None) -> None:
        minimised = None if values is None else np.asarray(values) * self.sign
        if self.scheduler.on_result(p.trial.number, p.rung, record, minimised) == "paused":
            self._pause(p, record)
            return
        new_points = self._store_record(p, record, values)
        if values is None and record.pruned is not None and record.error is None:
            self._tell_pruned(p, record)
        elif values is None:
            self.study.tell(p.trial, state=TrialState.FAIL)
            self.failed += 1
            self.bar.write(f"trial {p.trial.number} failed: {record.error}")
        else:
            for name, value in self.strategy.told(record, self.spec)[1].items():
                p.trial.set_constraint(name, value)
            self.study.tell(p.trial, values)
            self.points.extend(new_points)
        self.told += 1
        self.finished += 1
        if values is not None:
            self.bar.write(trial_line(p.trial.number, record, self.finished, self.budget_trials))
        self._update_bar()

    def _pause(self, p: _Pending, record: TrialRecord) -> None:
        """A trial stopped at a rung, waiting to be promoted or stopped."""
        _record_rung(p.trial, record)
        self.waiting[p.trial.number] = p
        self.bar.write(f"trial {p.trial.number} reached rung {p.rung} ({p.until_epoch} epochs): "
                       + ", ".join(f"{k} {v:.4g}" for k, v in record.objectives.items()))

    def _store_record(self, p: _Pending, record: TrialRecord, values: list[float] | None) -> list[DesignPoint]:
        """Store the record (and its rung) on the trial; its design points (none without values),
        each also as a one-line attribute for optuna-dashboard (which shows trials)."""
        if p.until_epoch is not None or p.rung > 0:
            _record_rung(p.trial, record)
        p.trial.set_user_attr(RECORD_ATTR, record.to_dict())
        p.trial.set_user_attr(SUMMARY_ATTR, record_summary(record))
        new_points = record_points(p.trial.number, record, self.floor) if values is not None else []
        for point in new_points:
            p.trial.set_user_attr(f"{POINT_ATTR}.{point.point_id}", point_summary(point))
        return new_points

    def _tell_pruned(self, p: _Pending, record: TrialRecord) -> None:
        """PRUNED with the constraint values it measured (an infeasible design, not a failure)."""
        for name in self.constraint_names:
            if name in record.constraints:
                p.trial.set_constraint(name, record.constraints[name])
        self.study.tell(p.trial, state=TrialState.PRUNED)
        self.bar.write(f"trial {p.trial.number} pruned: {record.pruned}")

    def _update_bar(self) -> None:
        self.bar.update(self.finished, len(self.pending), self.failed, self.points, self.spec.objectives,
                        self.spec.reference)


#: Study user attribute: one entry per driver run that finished, with its worker utilisation.
RUNS_ATTR = "codesign.runs"


def _record_run(study: optuna.Study, spec: StudySpec, driver: _Driver) -> None:
    """Append this run's schedule figures to the study's ``codesign.runs``."""
    available = spec.execution.workers * driver.search_s
    runs = list(study.user_attrs.get(RUNS_ATTR, []))
    runs.append({
        "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "told": driver.told, "workers": spec.execution.workers, "lookahead": spec.execution.lookahead,
        "busy_s": driver.busy_s, "search_s": driver.search_s,
        "worker_utilisation": min(1.0, driver.busy_s / available) if available > 0 else None,
    })
    study.set_user_attr(RUNS_ATTR, runs)


def _record_rung(trial: optuna.Trial, record: TrialRecord) -> None:
    """Append a rung's figures to the trial's ``codesign.rungs`` and keep its record current."""
    rungs = list(trial.user_attrs.get(RUNGS_ATTR, []))
    epoch = record.rung_epoch if record.rung_epoch is not None else (record.train_config.epochs if record.train_config is not None else None)
    rungs.append({"epoch": epoch, "objectives": record.objectives, "constraints": record.constraints,
                  "error": record.error, "pruned": record.pruned, "cpu_time_s": record.cpu_time_s,
                  "told_at": time.time()})
    trial.set_user_attr(RUNGS_ATTR, rungs)
    trial.set_user_attr(RECORD_ATTR, record.to_dict())
    trial.set_user_attr(SUMMARY_ATTR, record_summary(record))


def _prune_paused(study: optuna.Study, p: _Pending) -> None:
    """Tell a trial that successive halving never promoted PRUNED, with its last rung's
    record (its metrics stay readable; a pruned trial never enters the front)."""
    stored = record_of(p.trial.user_attrs)
    if stored is not None:
        note = f"stopped by successive halving at {p.until_epoch} epochs (rung {p.rung})"
        stopped = stored.model_copy(update={"pruned": note})
        p.trial.set_user_attr(RECORD_ATTR, stopped.to_dict())
        p.trial.set_user_attr(SUMMARY_ATTR, record_summary(stopped))
    study.tell(p.trial, state=TrialState.PRUNED)


def _root_cause(err: BaseException) -> str:
    """The innermost cause's ``Type: message`` (``OperationalError: database or disk is full``)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return f"{type(err).__name__}: {first_sentence(err)}"


#: CPU seconds of a trial's evaluation thread that count as progress for ``trial_stall_s``: a
#: hung thread uses none, and one starved by load still gets this much in a few minutes.
_PROGRESS_CPU_S = 0.25


def _next_wakeup(limited: bool, deadline: float) -> float:
    """Seconds to wait for a result before the loop looks again: at the run's deadline, and every
    heartbeat's second while per-trial limits apply."""
    now = time.monotonic()
    wake = deadline - now if math.isfinite(deadline) else 5.0
    return max(0.05, min(wake, BEAT_S if limited else 5.0))


def _collect(ref: ObjectRef[TrialResult], p: _Pending, spec: StudySpec,
             store: ArtifactStore) -> tuple[TrialRecord, list[float] | None, int, float | None] | str:
    """Read a finished task and write its files into the artifact store: ``"retry"`` for a dead
    worker with retries left, else the record, its objective values (None for a failed trial),
    the bytes of files it returned and the wall seconds its worker spent (None when the task
    returned no result)."""
    result = _read_result(ref, p, spec)
    if not isinstance(result, TrialResult):  # "retry", or the failed trial's outcome
        return result
    busy = result.busy_s
    try:
        result.save(store)
    except Exception as err:  # the store refused: the trial's files are not kept, so it failed
        return (_failed(p, f"could not write its artifacts to {store.root}: {type(err).__name__}: {err}"), None, 0,
                busy)
    record = result.record.model_copy(update={"attempts": p.attempts})
    if record.error is not None or record.pruned is not None:
        return record, None, result.size_bytes, busy
    try:
        values = strategy_of(spec).told(record, spec)[0]  # what its strategy tells the sampler
    except ValueError as err:
        return record.model_copy(update={"error": str(err)}), None, result.size_bytes, busy
    return record, values, result.size_bytes, busy


def _read_result(ref: ObjectRef[TrialResult], p: _Pending,
                 spec: StudySpec) -> TrialResult | str | tuple[TrialRecord, None, int, None]:
    """A finished task's result; ``"retry"`` for a dead worker with retries left; or, when
    there is no result to read, the failed trial's outcome as ``_collect`` returns it."""
    import ray
    from ray import exceptions as rex

    died = worker_died_errors()
    try:
        result: TrialResult = ray.get(ref)
    except died as err:
        p.history.append(f"attempt {p.attempts}: worker process died ({type(err).__name__})")
        if p.attempts <= spec.execution.retries:
            _LOG.warning("trial %d: worker died, retrying", p.trial.number)
            return "retry"
        return _failed(p, "; ".join(p.history)), None, 0, None
    except rex.RayTaskError as err:
        return _failed(p, _task_error_reason(err), tb=str(err)), None, 0, None
    except rex.RayError as err:
        return _failed(p, f"{type(err).__name__}: {err}"), None, 0, None
    except Exception as err:  # e.g. an exception type that cannot be unpickled here
        return _failed(p, f"{type(err).__name__} while reading the result: {err}"), None, 0, None
    return result


def _task_error_reason(err: BaseException) -> str:
    """Why a task that raised failed: its cause's type and message."""
    cause = getattr(err, "cause", None)  # (RayTaskError's: the exception the task raised)
    if cause is None:
        cause = err
    if isinstance(cause, ConfigError) and cause.file is None:
        # trial parameters that make no valid config: say so, not "<command line>"
        return f"invalid trial parameters: {_config_problem(cause)}"
    return f"{type(cause).__name__}: {cause}"


def _config_problem(err: ConfigError) -> str:
    """A ConfigError's key, expectation and value, without the file it never had."""
    return (f"key '{err.key}': " if err.key else "") + f"expected {err.expected}" + (
        f", got {err.got!r}" if err.got is not None else "") + (f" ({err.hint})" if err.hint else "")


def _failed(p: _Pending, reason: str, tb: str | None = None) -> TrialRecord:
    if tb:
        _LOG.debug("trial %d failed:\n%s", p.trial.number, tb)
    return TrialRecord(params=p.params, error=reason, attempts=p.attempts,
                       wall_time_s=time.monotonic() - p.started)


def _abandon(study: optuna.Study, pending: dict[Any, _Pending], waiting: list[_Pending] = ()) -> None:  # type: ignore[assignment]
    """On interruption: stop in-flight tasks, fail their trials (and those paused at a rung)
    as interrupted, re-ask them (a re-asked trial's rungs come from the training cache)."""
    import ray

    for ref in pending:
        with contextlib.suppress(Exception):
            ray.cancel(ref, force=True)
    try:
        for p in [*pending.values(), *waiting]:
            _mark_interrupted(study, p.trial.number, p.trial.params, p.params, "the driver was interrupted")
    except Exception as err:  # the storage failed (a full disk): never mask the run's own error;
        # the trials stay RUNNING and the next driver re-asks them (its lease is gone)
        _LOG.warning("could not fail this driver's unfinished trials: %s", err)
    pending.clear()


def _ask(study: optuna.Study, ask_space: SearchSpace, lease: DriverLease,
         fixed: Mapping[str, Any] | None = None) -> tuple[optuna.Trial, dict[str, Any]]:
    """Ask a trial, name this driver on it and suggest its point, as one step: a failure or
    Ctrl-C part-way fails the trial as interrupted instead of leaving it RUNNING unrecorded.

    A point the study has already finished is not asked again: that trial is told FAIL with
    ``DUPLICATE_ATTR`` (not counted against the budget) and another is drawn, up to
    ``_MAX_REDRAWS`` times (a small discrete space may be exhausted). With ``fixed`` (a job
    whose parameters its strategy chose, ``Job.params``) the trial takes those values, finished
    before or not.
    """
    if fixed is not None:
        with _fixed_sampler(study, fixed):
            trial = study.ask()
            try:
                trial.set_user_attr(OWNER_ATTR, lease.driver)
                return trial, suggest(trial, ask_space)
            except BaseException:
                _mark_interrupted(study, trial.number, {}, dict(trial.params), "the driver stopped while asking it")
                raise
    done: dict[tuple[tuple[str, str], ...], int] | None = None
    for attempt in range(_MAX_REDRAWS + 1):
        trial = study.ask()
        try:
            trial.set_user_attr(OWNER_ATTR, lease.driver)
            params = suggest(trial, ask_space)
            if done is None:
                done = _finished_points(study)
            earlier = done.get(_point_key(trial.params))
            if earlier is None or attempt == _MAX_REDRAWS:
                return trial, params
            trial.set_user_attr(DUPLICATE_ATTR, earlier)
            trial.set_user_attr(RECORD_ATTR, TrialRecord(
                params=params, error=f"duplicate of finished trial {earlier}; another point drawn").to_dict())
            study.tell(trial, state=TrialState.FAIL)
        except BaseException:
            fixed = study._storage.get_trial_system_attrs(trial._trial_id).get("fixed_params")
            _mark_interrupted(study, trial.number, dict(fixed or {}), dict(trial.params),
                              "the driver stopped while asking it")
            raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _fixed_sampler(study: optuna.Study, fixed: Mapping[str, Any]) -> Iterator[None]:
    """While a trial is asked and suggested: the study's sampler with ``fixed`` values."""
    sampler = study.sampler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.sampler = optuna.samplers.PartialFixedSampler(dict(fixed), sampler)
    try:
        yield
    finally:
        study.sampler = sampler


def _point_key(params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _finished_points(study: optuna.Study) -> dict[tuple[tuple[str, str], ...], int]:
    """Searched points the study has finished (complete, pruned, failed on their own), to the
    first trial that finished each."""
    out: dict[tuple[tuple[str, str], ...], int] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)):
        if t.user_attrs.get(INTERRUPTED_ATTR) or DUPLICATE_ATTR in t.user_attrs:
            continue
        out.setdefault(_point_key(t.params), t.number)
    return out


def _shared_counts(study: optuna.Study, lease: DriverLease) -> tuple[int, int]:
    """(finished trials counted by the budget, trials other drivers are running now)."""
    trials = study.get_trials(deepcopy=False)
    # (a WAITING trial is a queued point, re-asked after a driver stopped: no driver runs it,
    # and the next ask of any driver takes it, so it is not counted as in flight)
    elsewhere = sum(1 for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get(OWNER_ATTR) != lease.driver)
    return _budget_count(trials), elsewhere


def _requeue_stale(study: optuna.Study, lease: DriverLease) -> None:
    """Fail the RUNNING trials whose driver is gone (lease released or expired, or the
    process dead) and enqueue their parameters again. Trials of live drivers are left alone;
    a trial naming no driver (its driver stopped between asking it and naming itself) is
    left alone while it is younger than the lease expiry and another driver is alive."""
    live = set(live_drivers(study)) - {lease.driver}
    now = _dt.datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get(OWNER_ATTR)
        if not _stale(t, owner, lease, live, now):
            continue
        why = f"its driver {owner} stopped while it ran" if owner else "its driver stopped while asking it"
        fixed = t.system_attrs.get("fixed_params")
        _mark_interrupted(study, t.number, dict(fixed or t.params), dict(t.params), why)


def _stale(t: FrozenTrial, owner: object, lease: DriverLease, live: set[str], now: _dt.datetime) -> bool:
    """A RUNNING trial whose driver is gone: not this driver's nor a live one's, and, when it
    names no driver while another is alive, older than the lease expiry."""
    if owner == lease.driver or owner in live:
        return False
    young = t.datetime_start is not None and (now - t.datetime_start).total_seconds() < lease.ttl_s
    return not (owner is None and live and young)


def _requeue_own(study: optuna.Study, lease: DriverLease) -> None:
    """On the way out after an error: fail this driver's RUNNING trials (and, with no other
    driver alive, trials naming no driver) as interrupted, so nothing stays RUNNING."""
    try:
        others = lease.others_alive()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = t.user_attrs.get(OWNER_ATTR)
            if owner == lease.driver or (owner is None and not others):
                fixed = t.system_attrs.get("fixed_params")
                _mark_interrupted(study, t.number, dict(fixed or t.params), dict(t.params),
                                  "the driver was interrupted")
    except Exception as err:  # the storage failed: the lease expires and another driver cleans up
        _LOG.warning("could not fail this driver's unfinished trials: %s", err)


def _mark_interrupted(
    study: optuna.Study, number: int, searched: dict[str, Any], params: dict[str, Any], why: str
) -> None:
    """Fail one unfinished trial as interrupted and enqueue its searched parameters again
    (fixed parameters are re-added by ``suggest``). A trial another driver finished first is
    left as it is (and not enqueued twice)."""
    storage = study._storage
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    record = TrialRecord(params=params, error=f"interrupted: {why}; parameters re-asked").to_dict()
    try:
        if storage.get_trial(trial_id).state.is_finished():
            return
        storage.set_trial_user_attr(trial_id, RECORD_ATTR, record)
        storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return
    if searched:
        study.enqueue_trial(searched)


def _budget_count(trials: list[FrozenTrial]) -> int:
    """Trials that count against the budget: complete, pruned, or failed for a reason of their
    own (not interrupted, not a redrawn duplicate)."""
    return sum(
        1 for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and not t.user_attrs.get(INTERRUPTED_ATTR)
            and DUPLICATE_ATTR not in t.user_attrs)
    )


def _failed_count(trials: list[FrozenTrial]) -> int:
    """Trials failed for a reason of their own (not interrupted, not a redrawn duplicate)."""
    return sum(1 for t in trials if t.state == TrialState.FAIL and not t.user_attrs.get(INTERRUPTED_ATTR)
               and DUPLICATE_ATTR not in t.user_attrs)


def study_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state, plus ``interrupted`` (failed because a driver stopped),
    ``duplicate`` (failed unrun: the point was already finished; another was drawn) and
    ``stopped`` (pruned by successive halving at a rung, among ``pruned``)."""
    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): 0 for s in (TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING,
                                         TrialState.WAITING, TrialState.PRUNED)}
    for t in trials:
        counts[t.state.name.lower()] += 1
    counts["interrupted"] = sum(1 for t in trials if t.user_attrs.get(INTERRUPTED_ATTR))
    counts["duplicate"] = sum(1 for t in trials if DUPLICATE_ATTR in t.user_attrs)
    counts["stopped"] = sum(1 for t in trials if _stopped_at_rung(t))
    return counts


def _stopped_at_rung(t: FrozenTrial) -> bool:
    """Pruned by successive halving at a rung (not before training)."""
    return t.state == TrialState.PRUNED and RUNGS_ATTR in t.user_attrs


def _outcome(study: optuna.Study, spec: StudySpec, url: str, artifact_dir: str, told: int,
             stopped_by: str, artifact_bytes: int = 0, served_bytes: int = 0, busy_s: float = 0.0,
             search_s: float = 0.0) -> StudyOutcome:
    from codesign.search._recommend import store_recommendation

    points = study_points(study.get_trials(deepcopy=False), spec.floor_condition())
    recommendation = store_recommendation(study)
    available = spec.execution.workers * search_s
    return StudyOutcome(
        name=spec.name,
        storage_url=url,
        artifact_dir=artifact_dir,
        counts=study_counts(study),
        told=told,
        front=pareto_front(points, spec.objectives),
        hypervolume=study_hypervolume(points, spec.objectives, spec.reference),
        stopped_by=stopped_by,
        artifact_bytes=artifact_bytes,
        served_bytes=served_bytes,
        recommendation=recommendation,
        busy_s=busy_s,
        search_s=search_s,
        worker_utilisation=min(1.0, busy_s / available) if available > 0 else None,
    )
