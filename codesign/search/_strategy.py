"""Strategies: what one trial is, and how trials are scheduled.

A :class:`Strategy` answers the questions the driver, the evaluation and the readers used to
answer with ``if strategy == "nested"``:

- which parameters Optuna asks (:meth:`Strategy.ask_space`);
- what design points a trial's record holds (:meth:`Strategy.points`);
- how trials are scheduled (:meth:`Strategy.scheduler`): all at full fidelity, or by
  multi-objective asynchronous successive halving.

Implementations: :class:`Joint` (one network on one chip per trial), :class:`Nested` (one
network per trial, swept over the hardware space), and :class:`MultiFidelity`, which wraps
either and schedules it by MO-ASHA over rungs of training epochs (:class:`SuccessiveHalving`).
:func:`strategy_of` builds the one a study spec asks for.

Schedulers are plain bookkeeping, with no Optuna or Ray in them: the driver asks
:meth:`Scheduler.next_job` when a worker is free and tells :meth:`Scheduler.on_result` what a
job returned, and the scheduler says whether the trial is complete or paused at a rung.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from codesign.search._front import DesignPoint, promotion_order
from codesign.search._record import TrialRecord

if TYPE_CHECKING:
    from codesign.search._space import SearchSpace
    from codesign.search._spec import StudySpec


@dataclass(frozen=True)
class Job:
    """One evaluation to run: a new trial, or a paused trial promoted to a later rung.

    Attributes:
        trial: the trial number to continue (None: ask the sampler for a new trial).
        rung: index into the scheduler's rungs.
        until_epoch: the epoch to train to (None: the full budget).
    """

    trial: int | None
    rung: int
    until_epoch: int | None


class Scheduler(ABC):
    """Decides what runs next and what a finished evaluation means for its trial."""

    @abstractmethod
    def next_job(self, may_start_new: bool) -> Job | None:
        """The next job for a free worker, or None when there is nothing to start now.

        Args:
            may_start_new: the budget still allows a new trial.
        """

    @abstractmethod
    def on_result(self, trial: int, rung: int, record: TrialRecord, minimised: np.ndarray | None) -> str:
        """Book a finished evaluation; returns ``"complete"`` (tell the trial with these values)
        or ``"paused"`` (it waits at this rung for a promotion that may come).

        Args:
            trial, rung: what ran.
            record: its record; minimised: its objective vector with ``max`` objectives
                negated (None for a pruned or failed evaluation, which is never paused).
        """

    def paused(self) -> list[int]:
        """Trials waiting at a rung (told PRUNED with their last rung when the study ends)."""
        return []


class SingleFidelity(Scheduler):
    """Every trial trains its full budget once."""

    def next_job(self, may_start_new: bool) -> Job | None:
        return Job(None, 0, None) if may_start_new else None

    def on_result(self, trial: int, rung: int, record: TrialRecord, minimised: np.ndarray | None) -> str:
        return "complete"


@dataclass
class _RungEntry:
    trial: int
    values: np.ndarray
    feasible: bool
    promoted: bool = False


@dataclass
class SuccessiveHalving(Scheduler):
    """Multi-objective asynchronous successive halving (MO-ASHA, Schmucker et al. 2021).

    Rungs are training epochs (the last is the full budget). When a worker is free, the
    highest rung with a promotable trial goes first: a trial at rung ``k`` is promotable when
    it is among the best ``⌊n_k / η⌋`` of the ``n_k`` results at that rung so far, ordered by
    :func:`~codesign.search._front.promotion_order` (feasible first, non-dominated rank,
    crowding distance), and was not promoted before. Otherwise a new trial starts at rung 0.
    A promoted trial continues training from its checkpoint. Trials that are never promoted
    stay paused and are told PRUNED, with their last rung's metrics, when the study ends; only
    trials that reach the last rung are COMPLETE and can enter the front.

    Attributes:
        rungs: epochs of each rung, ascending, the last the full budget.
        reduction_factor: η.
    """

    rungs: tuple[int, ...]
    reduction_factor: int = 3
    results: list[list[_RungEntry]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if list(self.rungs) != sorted(set(self.rungs)) or not self.rungs:
            raise ValueError(f"rungs strictly ascending, got {list(self.rungs)}")
        if self.reduction_factor < 2:
            raise ValueError(f"reduction_factor >= 2, got {self.reduction_factor}")
        self.results = [[] for _ in self.rungs]

    def next_job(self, may_start_new: bool) -> Job | None:
        for rung in range(len(self.rungs) - 2, -1, -1):
            entry = self._promotable(rung)
            if entry is not None:
                entry.promoted = True
                return Job(entry.trial, rung + 1, self._epoch(rung + 1))
        return Job(None, 0, self._epoch(0)) if may_start_new else None

    def _epoch(self, rung: int) -> int | None:
        return None if rung == len(self.rungs) - 1 else self.rungs[rung]

    def _promotable(self, rung: int) -> _RungEntry | None:
        entries = self.results[rung]
        quota = len(entries) // self.reduction_factor
        if quota == 0:
            return None
        order = promotion_order(np.array([e.values for e in entries]), np.array([e.feasible for e in entries]))
        for i in order[:quota]:
            entry = entries[int(i)]
            if not entry.promoted:
                return entry
        return None

    def on_result(self, trial: int, rung: int, record: TrialRecord, minimised: np.ndarray | None) -> str:
        if minimised is None or rung == len(self.rungs) - 1:
            return "complete"
        self.results[rung].append(_RungEntry(trial, np.asarray(minimised, dtype=float), record.feasible))
        return "paused"

    def paused(self) -> list[int]:
        return [e.trial for rung in self.results[:-1] for e in rung if not e.promoted]


class Strategy(ABC):
    """What one trial is and how trials are scheduled (see the module docstring)."""

    name: str

    @abstractmethod
    def ask_space(self, space: SearchSpace) -> SearchSpace:
        """The parameters Optuna samples for one trial."""

    @abstractmethod
    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        """The design points a completed trial's record holds."""

    def scheduler(self, spec: StudySpec) -> Scheduler:
        """How trials run: at full fidelity unless a wrapper says otherwise."""
        return SingleFidelity()


class Joint(Strategy):
    """One trial = one network on one chip: Optuna samples ``snn.*`` and ``hw.*`` together."""

    name = "joint"

    def ask_space(self, space: SearchSpace) -> SearchSpace:
        return space

    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        return [DesignPoint(trial_number, dict(record.params), dict(record.objectives), dict(record.constraints),
                            dict(record.metrics))]


class Nested(Strategy):
    """One trial = one network, costed on a sweep of the hardware space; its record holds the
    network's hardware Pareto set, one design point per chip."""

    name = "nested"

    def ask_space(self, space: SearchSpace) -> SearchSpace:
        return space.subspace("snn", "train")

    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        snn_params = {k: v for k, v in record.params.items() if not k.startswith("hw.")}
        return [
            DesignPoint(trial_number, {**snn_params, **hw.params}, dict(hw.objectives), dict(hw.constraints),
                        {**record.metrics, **hw.metrics}, chip=i)
            for i, hw in enumerate(record.hw_front)
        ]


class MultiFidelity(Strategy):
    """A joint or nested strategy scheduled by MO-ASHA over rungs of training epochs."""

    def __init__(self, base: Strategy, rungs: tuple[int, ...], reduction_factor: int) -> None:
        self.base, self.rungs, self.reduction_factor = base, rungs, reduction_factor
        self.name = base.name

    def ask_space(self, space: SearchSpace) -> SearchSpace:
        return self.base.ask_space(space)

    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        return self.base.points(trial_number, record)

    def scheduler(self, spec: StudySpec) -> Scheduler:
        return SuccessiveHalving(self.rungs, self.reduction_factor)


#: The trial kinds by the name records and specs store.
STRATEGIES: Mapping[str, Strategy] = {"joint": Joint(), "nested": Nested()}


def strategy_named(name: str) -> Strategy:
    """The trial kind a record or spec names (``joint`` | ``nested``)."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"strategy one of {', '.join(STRATEGIES)}, got {name!r}") from None


def strategy_of(spec: StudySpec) -> Strategy:
    """The strategy a study asks for: its trial kind, wrapped in MO-ASHA when the spec has
    ``multi_fidelity`` rungs."""
    base = strategy_named(spec.strategy)
    mf = spec.multi_fidelity
    if mf is None:
        return base
    assert spec.fidelity.epochs is not None  # the spec's validator requires it with rungs
    return MultiFidelity(base, (*mf.rungs, spec.fidelity.epochs), mf.reduction_factor)
