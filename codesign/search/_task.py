"""The contract between the driver and a trial's worker: :class:`TrialTask` in,
:class:`TrialResult` out, and nothing shared but Ray.

A worker gets the trial's parameters, the study, where its files go, a reader of the artifact
store and (resolved by Ray from the object store, once per node) the corpus. It returns the
record and every file the study keeps as bytes; the driver writes them into the artifact store
(:meth:`TrialResult.save`). An evaluation function is ``evaluate(task) -> TrialResult``
(:data:`EvaluateFn`), top-level and picklable.
"""

from __future__ import annotations

import contextlib
import functools
import posixpath
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from codesign.search._metrics import Metric, extra_metrics, install_metrics
from codesign.search._record import TrialRecord
from codesign.search._spec import StudySpec
from codesign.search._store import ArtifactStore, StoreReader

if TYPE_CHECKING:
    from codesign.data import Corpus
    from codesign.search._strategy import Strategy


@dataclass(frozen=True)
class TrialTask:
    """One evaluation a worker runs.

    Attributes:
        params: the trial's parameters (``snn.*`` and, for ``joint``, ``hw.*``).
        spec: the study.
        trial_number: the Optuna trial number.
        folder: the trial's folder under ``<study>/trials/`` (a confirmation names its own, so
            the trial's files are never overwritten).
        until_epoch: multi-fidelity: train (or continue) only up to this rung's epoch; None:
            the full budget.
        store: read access to the artifact store (training cache); None: the evaluation must
            not need one.
        stage: what the strategy evaluates for this job (``Job.stage``: e.g. the network
            alone or on the chip sweep for ``sequential``).
        corpus: the study's corpus, put into Ray's object store once by the driver; None: the
            worker loads it itself (a direct call outside Ray).
        strategy: the study's strategy, sent with the task so that a worker runs one
            registered in the driver's process (``register_strategy``); None: the one the spec
            names (:func:`~codesign.search.strategy_of`).
        confirm: a confirmation run of one of the strategy's design points
            (:meth:`Strategy.confirm`), not a trial of the search.
        metrics: the metrics registered outside codesign where the task was made (a plugin's
            or a test's objective), registered again in the worker by :func:`run_task`.
    """

    params: dict[str, Any]
    spec: StudySpec
    trial_number: int
    folder: str = ""
    until_epoch: int | None = None
    store: StoreReader | None = None
    corpus: Corpus | None = None
    stage: int = 0
    strategy: Strategy | None = None
    confirm: bool = False
    metrics: tuple[Metric, ...] = field(default_factory=extra_metrics)

    @property
    def trial_dir(self) -> str:
        """The trial's folder, relative to the store root."""
        return posixpath.join(self.spec.name, "trials", self.folder or f"{self.trial_number:05d}")

    def study_relative(self, rel: str) -> str:
        """A store path as the record names artifacts: relative to the study's folder."""
        return posixpath.relpath(rel, self.spec.name)


@dataclass(frozen=True)
class TrialResult:
    """What a worker returns.

    Attributes:
        record: the trial's record (its artifact paths relative to the study's folder).
        files: store path -> bytes: the trial's own files (written, replacing any old copy).
        entries: store folder -> {name: bytes}: immutable training-cache entries, published
            whole unless another trial published the same entry first.
        busy_s: wall seconds the worker spent on the task (set by :func:`run_task`), for the
            driver's worker utilisation.
    """

    record: TrialRecord
    files: Mapping[str, bytes] = field(default_factory=dict)
    entries: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    busy_s: float = 0.0

    @property
    def size_bytes(self) -> int:
        """Bytes of files this result carries (what it moves through Ray)."""
        return sum(len(b) for b in self.files.values()) + sum(
            len(b) for files in self.entries.values() for b in files.values())

    def save(self, store: ArtifactStore) -> None:
        """Write the files into the store; entries parent-first (a score entry lives inside
        its network's entry). When another trial published the same network first with other
        weights (training is deterministic from the seed, so only on unlike machines), the
        entries this result made inside it (scores of *its* weights) are dropped, not mixed in."""
        lost: list[str] = []
        for rel in sorted(self.entries, key=lambda r: r.count("/")):
            if any(rel.startswith(parent + "/") for parent in lost):
                continue
            files = self.entries[rel]
            if not store.publish(rel, files) and "weights.safetensors" in files \
                    and store.read(posixpath.join(rel, "weights.safetensors")) != files["weights.safetensors"]:
                lost.append(rel)
        for rel, data in self.files.items():
            store.write(rel, data)


#: ``evaluate(task) -> TrialResult``: the driver's injectable evaluation.
EvaluateFn = Callable[[TrialTask], TrialResult]

#: Seconds between a running task's heartbeats to the driver's :class:`TrialMonitor`.
BEAT_S = 1.0


class TrialMonitor:
    """What the running trials report (a Ray actor of the driver, no CPU): under the key the
    driver gave each task, its process's CPU seconds so far (every thread: what the CPU limit
    counts), the wall seconds it ran, and the CPU seconds of the thread running the evaluation
    (what shows progress: Ray's and the heartbeat's own threads use a little CPU even while the
    evaluation hangs). The driver applies its per-trial limits to these figures, never to the
    time since it submitted a task (a task queued behind others, or slowed by load, is not
    charged for that)."""

    def __init__(self) -> None:
        self.beats: dict[str, tuple[float, float, float]] = {}

    def beat(self, key: str, cpu_s: float, wall_s: float, task_cpu_s: float) -> None:
        self.beats[key] = (cpu_s, wall_s, task_cpu_s)

    def read(self) -> dict[str, tuple[float, float, float]]:
        return dict(self.beats)

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self.beats.pop(key, None)


@contextlib.contextmanager
def _heartbeat(monitor: Any, key: str) -> Iterator[None]:
    """While the body runs: every :data:`BEAT_S`, tell ``monitor`` this process's CPU seconds,
    the wall seconds since the task started and this thread's CPU seconds (from a daemon
    thread, so a trial stuck in a blocking call still reports that it makes no progress)."""
    if monitor is None:
        yield
        return
    try:  # the CPU clock of this thread (the one running the evaluation), readable from another
        clock = time.pthread_getcpuclockid(threading.get_ident())
        task_cpu: Callable[[], float] = functools.partial(time.clock_gettime, clock)
    except (AttributeError, OSError):  # no per-thread CPU clocks here: the process's
        task_cpu = time.process_time
    cpu0, wall0, task0 = time.process_time(), time.monotonic(), task_cpu()
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # the driver is gone or busy: the task goes on
                monitor.beat.remote(key, time.process_time() - cpu0, time.monotonic() - wall0, task_cpu() - task0)
            if stop.wait(BEAT_S):
                return

    thread = threading.Thread(target=beat, name=f"codesign-heartbeat-{key}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def run_task(evaluate: EvaluateFn, task: TrialTask, corpus: Corpus | None, monitor: Any = None,
             key: str = "") -> TrialResult:
    """The Ray task body: the evaluation, with the corpus Ray resolved on this node and the
    node that ran it written into the record; with a ``monitor`` (:class:`TrialMonitor`), it
    reports its CPU time there under ``key`` while it runs. The result's ``busy_s`` is the wall
    time this worker spent on it."""
    started = time.monotonic()
    install_metrics(task.metrics)
    if corpus is not None:
        task = replace(task, corpus=corpus)
    with _heartbeat(monitor, key):
        result = evaluate(task)
    if not isinstance(result, TrialResult):
        raise TypeError(f"the evaluation returned {type(result).__name__}, not a TrialResult")
    import ray

    node_id, node_ip = "", ""
    if ray.is_initialized():
        node_ip = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]  # unannotated in ray
        node_id = ray.get_runtime_context().get_node_id()
    record = result.record.model_copy(update={"worker_node_id": node_id, "worker_node_ip": node_ip,
                                              "worker_host": socket.gethostname()})
    return replace(result, record=record, busy_s=time.monotonic() - started)
