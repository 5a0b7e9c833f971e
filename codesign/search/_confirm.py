"""Confirmed fronts: re-training front members at full fidelity over several seeds.

A search scores each candidate once, with one seed (and, in a multi-fidelity study, often
at a rung). :func:`confirm_study` re-evaluates design points (every front member, or the
candidates of the study's recommendation, :mod:`codesign.search._recommend`) with ``seeds`` training seeds at the full budget, each on its own chip
(a nested point is evaluated as the joint design it is: its network on its chip), and
stores the mean and standard deviation of every metric. Hardware figures follow each seed's
trace, since each seed's network has its own activity.

The figures are stored as study user attributes (``codesign.confirmed.<trial>``), in the form
:mod:`codesign.search._confirmed` owns and every study reader reads.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import optuna

from codesign.config import parse_spec
from codesign.search._cluster import ensure_ray, worker_died_errors
from codesign.search._confirmed import ConfirmedPoint, confirmed_figures, store_confirmed
from codesign.search._design import confirmation_folder
from codesign.search._front import DesignPoint, pareto_front, point_id_of
from codesign.search._lease import DriverLease
from codesign.search._reader import study_view
from codesign.search._recommend import recommendation_candidates, store_recommendation
from codesign.search._record import ARTIFACT_DIR_ATTR, TrialRecord, record_of
from codesign.search._spec import StudySpec
from codesign.search._storage import stored_spec
from codesign.search._store import ArtifactStore, serve_store, study_store
from codesign.search._task import EvaluateFn, TrialResult, TrialTask, run_task

if TYPE_CHECKING:
    from codesign.data import Corpus


def confirmed_for(study: optuna.Study, point: DesignPoint) -> ConfirmedPoint | None:
    """The confirmed figures of a study's design point (its chip found in its record), or None."""
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == point.trial), None)
    record = record_of(trial.user_attrs) if trial is not None else None
    if record is None:
        return None
    return confirmed_figures(study.user_attrs, point.trial, _chip_index(point, record))


def _chip_index(point: DesignPoint, record: TrialRecord) -> int | None:
    """The index of a nested point's chip in its record's ``hw_front`` (None for joint)."""
    if not record.hw_front:
        return None
    hw = {k: v for k, v in point.params.items() if k.startswith("hw.")}
    for i, candidate in enumerate(record.hw_front):
        if candidate.params == hw:
            return i
    raise ValueError(f"trial {point.trial}: the design point's chip is not in its hardware front")


def confirm_points(
    study: optuna.Study,
    points: list[DesignPoint],
    seeds: int,
    *,
    evaluate: EvaluateFn | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[ConfirmedPoint]:
    """Re-evaluate ``points`` with ``seeds`` seeds (the study's seed and the next ones) at full
    fidelity, as Ray tasks, and store their mean and spread on the study.

    A confirmation holds a driver lease on the study while it runs (a driver, or another
    confirmation, running on it is refused, and it on them), and retries an evaluation whose
    worker or node died on another, up to ``execution.retries`` times, as the driver does.

    Raises:
        ValueError: ``seeds`` < 2 (one seed has no spread), or a point's record is missing.
        RuntimeError: an evaluation failed (a confirmation is never partial).
        StudyInUse: a driver holds the study.
    """

    if seeds < 2:
        raise ValueError(f"at least 2 seeds to measure a spread, got {seeds}")
    spec = stored_spec(study)
    artifact_dir = str(study.user_attrs.get(ARTIFACT_DIR_ATTR, ""))
    if not artifact_dir:
        raise ValueError(f"study {study.study_name} names no artifact folder ({ARTIFACT_DIR_ATTR})")
    store = study_store(artifact_dir)
    corpus = None
    if evaluate is None:
        from codesign.search._evaluate import evaluate_trial, prepare_study

        corpus = prepare_study(spec, progress=False)
        evaluate = evaluate_trial
    seed_list = [spec.seed + i for i in range(seeds)]
    jobs = _jobs(study, spec, points, seed_list)
    lease = DriverLease.acquire(study, "refuse")  # before anything runs: a refused one changes nothing
    try:
        results = _run(jobs, spec, store, evaluate, corpus, workers, progress)
    finally:
        lease.release()
    confirmed = [_confirmed_point(trial, chip, by_seed, seed_list) for (trial, chip), by_seed in results.items()]
    store_confirmed(study, confirmed)
    return confirmed


#: One evaluation of a confirmation: the design point, its chip's index, the seed and the task.
_Job = tuple[DesignPoint, int | None, int, TrialTask]
#: What a confirmation measured: (trial, chip) -> seed -> metrics.
_Results = dict[tuple[int, int | None], dict[int, dict[str, float]]]


def _jobs(study: optuna.Study, spec: StudySpec, points: list[DesignPoint], seed_list: list[int]) -> list[_Job]:
    """One joint evaluation per point and seed: the point's network parameters with its chip's,
    at full fidelity, in the point's own confirmation folder."""
    records = {t.number: record_of(t.user_attrs) for t in study.get_trials(deepcopy=False)}
    specs = _seed_specs(spec, seed_list)  # validated once per seed, not per point
    jobs: list[_Job] = []
    for point in points:
        record = records.get(point.trial)
        if record is None:
            raise ValueError(f"trial {point.trial} has no record to confirm")
        chip = _chip_index(point, record)
        params = {**{k: v for k, v in record.params.items() if not k.startswith("hw.")},
                  **{k: v for k, v in point.params.items() if k.startswith("hw.")}}
        for seed in seed_list:
            jobs.append((point, chip, seed, TrialTask(
                params=params, spec=specs[seed], trial_number=point.trial,
                folder=confirmation_folder(point.trial, chip, seed))))
    return jobs


def _seed_specs(spec: StudySpec, seed_list: list[int]) -> dict[int, StudySpec]:
    """The study as each confirmation seed evaluates it: that seed, at full fidelity."""
    specs = {}
    for seed in seed_list:
        data = spec.to_dict()
        data.update(seed=seed, strategy="joint", multi_fidelity=None)
        specs[seed] = parse_spec(StudySpec, data)
    return specs


def _run(jobs: list[_Job], spec: StudySpec, store: ArtifactStore, evaluate: EvaluateFn, corpus: Corpus | None,
         workers: int | None, progress: Callable[[str], None] | None) -> _Results:
    """Run ``jobs`` as Ray tasks, at most ``workers`` at once, a task whose worker died again
    elsewhere (``execution.retries`` times); each result's files go into ``store``. Returns
    each design point's metrics by seed.

    Raises:
        RuntimeError: an evaluation failed, or its worker died too often (the others are cancelled).
    """
    import ray

    started_ray = False
    store_actor = None
    left: list[Any] = []
    try:
        started_ray = ensure_ray(spec if workers is None else _with_workers(spec, workers), False)
        reader, store_actor = serve_store(store)
        remote = ray.remote(run_task).options(num_cpus=spec.execution.cpus_per_trial,
                                              num_gpus=spec.execution.gpus_per_trial, max_retries=0)
        corpus_ref = ray.put(corpus)  # (None for an injected evaluation, which loads nothing)
        # at most `workers` tasks in Ray at once, as the driver starts them: a task queued in Ray
        # would start whenever a running one blocks reading the store, and share its CPUs
        in_flight = workers if workers is not None else spec.execution.workers
        queued = list(jobs)
        refs: dict[Any, _Job] = {}
        attempts: dict[Any, int] = {}

        def submit() -> None:
            while queued and len(left) < in_flight:
                job = queued.pop(0)
                ref = remote.remote(evaluate, replace(job[3], store=reader), corpus_ref)
                refs[ref], attempts[ref] = job, 1
                left.append(ref)

        results: _Results = {}
        submit()
        while left:
            ready, left = ray.wait(left, num_returns=1)
            point, chip, seed, task = refs[ready[0]]
            try:
                result: TrialResult = ray.get(ready[0])
            except worker_died_errors() as err:  # a lost worker or node: run it again elsewhere
                tries = attempts[ready[0]]
                if tries > spec.execution.retries:
                    raise RuntimeError(f"confirming trial {point.trial} with seed {seed} failed: its worker "
                                       f"died {tries} time(s) ({type(err).__name__})") from None
                again = remote.remote(evaluate, replace(task, store=reader), corpus_ref)
                refs[again], attempts[again] = refs[ready[0]], tries + 1
                left.append(again)
                if progress is not None:
                    progress(f"confirm: trial {point.trial} seed {seed}: worker died ({type(err).__name__}), "
                             f"retrying (attempt {tries + 1})")
                continue
            results.setdefault((point.trial, chip), {})[seed] = _metrics(result, store, point, seed)
            if progress is not None:
                done = sum(len(v) for v in results.values())
                progress(f"confirm: design {point_id_of((point.trial, chip))} seed {seed} "
                         f"({done}/{len(jobs)})")
            submit()  # the freed worker takes the next job
    finally:
        for ref in left:  # a failed confirmation stops the others (on a joined cluster they would run on)
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if store_actor is not None:
            with contextlib.suppress(Exception):  # a lost node may have taken the actor with it
                ray.kill(store_actor)
        if started_ray:
            ray.shutdown()
    return results


def _metrics(result: TrialResult, store: ArtifactStore, point: DesignPoint, seed: int) -> dict[str, float]:
    """A finished evaluation's metrics, its files saved into ``store``.

    Raises:
        RuntimeError: the evaluation failed or was pruned.
    """
    result.save(store)
    record = result.record
    if record.error is not None or record.pruned is not None:
        raise RuntimeError(f"confirming trial {point.trial} with seed {seed} failed: "
                           f"{record.error or record.pruned}")
    return record.metrics


def _confirmed_point(trial: int, chip: int | None, by_seed: dict[int, dict[str, float]],
                     seed_list: list[int]) -> ConfirmedPoint:
    """Mean and spread of every metric all seeds measured finite."""
    names = sorted(set.intersection(*(set(m) for m in by_seed.values())))
    values = {n: [float(by_seed[s][n]) for s in seed_list] for n in names
              if all(math.isfinite(float(by_seed[s][n])) for s in seed_list)}
    return ConfirmedPoint(trial, chip, tuple(seed_list), {n: statistics.fmean(v) for n, v in values.items()},
                          {n: statistics.stdev(v) for n, v in values.items()}, values)


def _with_workers(spec: StudySpec, workers: int) -> StudySpec:
    data = spec.to_dict()
    data["execution"]["workers"] = workers
    return parse_spec(StudySpec, data)


def confirm_study(
    study: optuna.Study, seeds: int, scope: str = "front", *, evaluate: EvaluateFn | None = None,
    workers: int | None = None, progress: Callable[[str], None] | None = None,
    ids: Sequence[str] | None = None,
) -> list[ConfirmedPoint]:
    """Confirm a stored study's front (``scope="front"``), the candidates of its
    recommendation (``scope="recommended"``: the ``confirm.k`` front designs nearest the knee,
    or the pick policy's k best; :func:`codesign.search.recommendation_candidates`) or the
    designs of ``ids`` (``["12.3", "4"]``, in place of the scope), then store the
    recommendation chosen on the confirmed means (see :func:`confirm_points`).

    Raises:
        ConfigError: an id that names no design point of the study (key ``--point``).
    """

    view = study_view(study)
    if ids:
        front = [view.point_by_id(i) for i in ids]
    elif scope == "recommended":
        front = recommendation_candidates(view)
    elif scope == "front":
        front = pareto_front(view.points, view.objectives)
    else:
        raise ValueError(f"scope 'front' or 'recommended', got {scope!r}")
    if not front:
        raise ValueError(f"study '{study.study_name}' has no feasible completed design point above the accuracy "
                         "floor to confirm")
    confirmed = confirm_points(study, front, seeds, evaluate=evaluate, workers=workers, progress=progress)
    store_recommendation(study)
    return confirmed


__all__ = [
    "confirm_points",
    "confirm_study",
    "confirmed_for",
]
