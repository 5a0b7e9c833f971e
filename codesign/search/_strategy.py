"""Strategies: what one trial is, and how trials are scheduled.

A :class:`Strategy` answers the questions the driver, the evaluation and the readers used to
answer with ``if strategy == "nested"``:

- which parameters Optuna asks (:meth:`Strategy.ask_space`);
- what design points a trial's record holds (:meth:`Strategy.points`);
- how trials are scheduled (:meth:`Strategy.scheduler`): all at full fidelity, by
  multi-objective asynchronous successive halving, or in two stages;
- what a trial evaluates (:meth:`Strategy.evaluate`, composed from the evaluations a
  :class:`TrialRun` offers: the network on one chip, on the hardware sweep, or alone);
- what the sampler is told (:meth:`Strategy.told`) and which studies it can run
  (:meth:`Strategy.check`);
- how a confirmation evaluates one of its design points again (:meth:`Strategy.confirm`).

Every strategy is found by the name study specs and trial records store, in one registry
(:func:`register_strategy`, :func:`strategy_named`; an installed package's strategies through
the :data:`ENTRY_POINT_GROUP` entry points): a new strategy is one class and one registration,
and nothing outside this module asks which strategy a study or a record has. The driver sends
the strategy with each task (``TrialTask.strategy``), so a worker runs one its process never
registered.

Implementations: :class:`Joint` (one network on one chip per trial), :class:`Nested` (one
network per trial, swept over the hardware space), the two baselines co-design is measured
against, :class:`Sequential` (networks first, searched without a chip; then the ``k`` best
swept over the chip space) and :class:`HardwareFirst` (the study's chip fixed, networks
searched for it), and :class:`MultiFidelity`, which wraps joint, nested or hardware_first and
schedules it by MO-ASHA over rungs of training epochs (:class:`SuccessiveHalving`).
:func:`strategy_of` builds the one a study spec asks for. The design points a strategy
builds (:meth:`Strategy.points`) say what each was costed on (its ``hw.*`` parameters, its
trace, the cost report stored for it), so that readers ask the point, never the record's
strategy-specific fields (a nested record's ``hw_front``).

Schedulers are plain bookkeeping, with no Optuna or Ray in them: the driver asks
:meth:`Scheduler.next_job` when a worker is free and tells :meth:`Scheduler.on_result` what a
job returned, and the scheduler says whether the trial is complete or paused at a rung.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from codesign.search._front import DesignPoint, promotion_order
from codesign.search._objectives import Constraint, objective_values
from codesign.search._record import HardwarePoint, TrialRecord

if TYPE_CHECKING:
    from codesign.search._space import SearchSpace


class _Budget(Protocol):
    @property
    def trials(self) -> int | None: ...


class _Epochs(Protocol):
    @property
    def epochs(self) -> int | None: ...


class _Sequential(Protocol):
    @property
    def k(self) -> int: ...
    @property
    def proxy(self) -> str: ...


class _Rungs(Protocol):
    @property
    def rungs(self) -> tuple[int, ...]: ...
    @property
    def reduction_factor(self) -> int: ...


class StrategySpec(Protocol):
    """What a strategy reads of a study spec (:class:`codesign.search.StudySpec` is one). A
    protocol rather than the spec's class, because the spec asks its strategy to check it
    (:meth:`Strategy.check`) when it is validated: the spec module imports this one, never
    the other way round."""

    @property
    def strategy(self) -> str: ...
    @property
    def objectives(self) -> Mapping[str, str]: ...
    @property
    def budget(self) -> _Budget: ...
    @property
    def fidelity(self) -> _Epochs: ...
    @property
    def sequential(self) -> _Sequential: ...
    @property
    def multi_fidelity(self) -> _Rungs | None: ...
    def search_space(self) -> SearchSpace: ...
    def parsed_constraints(self) -> Sequence[Constraint]: ...


@dataclass(frozen=True)
class Job:
    """One evaluation to run: a new trial, or a paused trial promoted to a later rung.

    Attributes:
        trial: the trial number to continue (None: ask the sampler for a new trial).
        rung: index into the scheduler's rungs.
        until_epoch: the epoch to train to (None: the full budget).
        params: a new trial whose searched parameters are these (not drawn by the sampler),
            e.g. a network of the first stage of :class:`Sequential` to sweep; None: sampled.
        stage: what the strategy evaluates for this job (:attr:`TrialRun.stage`).
    """

    trial: int | None
    rung: int
    until_epoch: int | None
    params: Mapping[str, Any] | None = None
    stage: int = 0


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


@dataclass
class NetworkThenChip(Scheduler):
    """The :class:`Sequential` schedule: ``networks`` sampled trials (stage 0), then, once
    every one of them is told, one trial per network among the ``k`` best (stage 1), with
    that network's parameters.

    The best are ordered by :func:`~codesign.search._front.promotion_order` of the values the
    sampler was told (non-dominated rank, then crowding distance): the task metric alone, or
    with the proxy. Failed or pruned networks are never chosen.
    """

    networks: int
    k: int
    issued: int = 0
    told: int = 0
    results: list[tuple[dict[str, Any], np.ndarray]] = field(default_factory=list)
    sweeps: list[dict[str, Any]] | None = None

    def next_job(self, may_start_new: bool) -> Job | None:
        if not may_start_new:
            return None
        if self.issued < self.networks:
            self.issued += 1
            return Job(None, 0, None)
        if self.told < self.issued:  # the chips wait for the whole network search
            return None
        if self.sweeps is None:
            self.sweeps = self._best_networks()
        if not self.sweeps:
            return None
        return Job(None, 0, None, params=self.sweeps.pop(0), stage=1)

    def _best_networks(self) -> list[dict[str, Any]]:
        """The parameters of the ``k`` best networks told, best first."""
        if not self.results:
            return []
        values = np.array([v for _, v in self.results]).reshape(len(self.results), -1)
        order = promotion_order(values, np.ones(len(self.results), dtype=bool))
        return [self.results[int(i)][0] for i in order[: self.k]]

    def on_result(self, trial: int, rung: int, record: TrialRecord, minimised: np.ndarray | None) -> str:
        self.told += 1
        if self.sweeps is None and minimised is not None:
            self.results.append((dict(record.params), np.asarray(minimised, dtype=float)))
        return "complete"


class TrialRun(Protocol):
    """The evaluations a strategy composes one trial from (``codesign.search._evaluate``);
    each returns the trial's record."""

    @property
    def stage(self) -> int:
        """The job's stage (:attr:`Job.stage`)."""

    def on_chip(self) -> TrialRecord:
        """The network on one chip: the study's chip with the trial's ``hw.*`` values."""

    def on_sweep(self) -> TrialRecord:
        """The network on the study's hardware sweep: its hardware Pareto set."""

    def network_only(self) -> TrialRecord:
        """The network trained and scored in float, with no chip: the task metric and the
        trace's NeuroBench figures (:data:`SYNAPTIC_OPS`), no design point."""


#: NeuroBench's effective synaptic operations (MACs + ACs) of a network's float trace, the
#: hardware-agnostic cost the ``sequential`` strategy's proxy minimises.
SYNAPTIC_OPS = "synaptic_ops_effective"


class Strategy(ABC):
    """What one trial is and how trials are scheduled (see the module docstring)."""

    name: str

    @abstractmethod
    def ask_space(self, space: SearchSpace) -> SearchSpace:
        """The parameters Optuna samples for one trial."""

    @abstractmethod
    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        """The design points a completed trial's record holds."""

    @abstractmethod
    def evaluate(self, run: TrialRun) -> TrialRecord:
        """Evaluate one trial (inside its worker)."""

    def confirm(self, run: TrialRun) -> TrialRecord:
        """Evaluate one of this strategy's design points again (a confirmation run, inside its
        worker, at the full budget with another seed): the task's parameters are the point's
        (:attr:`DesignPoint.params`, its network's and its chip's). By default the network on
        that chip, whatever the trial was: a swept chip is confirmed as the one design it is."""
        return run.on_chip()

    def scheduler(self, spec: StrategySpec) -> Scheduler:
        """How trials run: at full fidelity unless a wrapper says otherwise."""
        return SingleFidelity()

    def check(self, spec: StrategySpec) -> None:
        """Refuse a study this strategy cannot run.

        Raises:
            ValueError: what the study lacks, in a few words.
        """
        return None  # every study, unless a strategy says otherwise

    def holds_designs(self, record: TrialRecord) -> bool:
        """Whether a completed trial is a design (a network on a chip); a trial that is not
        has no design point, and readers never make one of its told values."""
        return True

    def told(self, record: TrialRecord, spec: StrategySpec) -> tuple[list[float], dict[str, float]]:
        """The objective values (study order) and constraint values the sampler is told for a
        completed record.

        Raises:
            ValueError: an objective or constraint missing or not finite (the trial fails).
        """
        values = objective_values(record.objectives, list(spec.objectives))
        names = [c.name for c in spec.parsed_constraints()]
        missing = [n for n in names if n not in record.constraints]
        if missing:
            raise ValueError(f"constraint '{missing[0]}' has no value")
        bad = [n for n in names if not math.isfinite(record.constraints[n])]
        if bad:
            raise ValueError(f"constraint '{bad[0]}' is {record.constraints[bad[0]]}")
        return values, {n: record.constraints[n] for n in names}


class Joint(Strategy):
    """One trial = one network on one chip: Optuna samples ``snn.*`` and ``hw.*`` together."""

    name = "joint"

    def ask_space(self, space: SearchSpace) -> SearchSpace:
        return space

    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        return [DesignPoint(trial_number, dict(record.params), dict(record.objectives), dict(record.constraints),
                            dict(record.metrics), trace=record.artifacts.get("trace"),
                            cost_report=record.artifacts.get("cost_report"))]

    def evaluate(self, run: TrialRun) -> TrialRecord:
        return run.on_chip()


class HardwareFirst(Joint):
    """The chip first: the study's chip (its preset, with any fields the study sets) is fixed,
    and Optuna samples networks (``snn.*``, ``train.*``) for it; the space's ``hw.*``
    parameters are not drawn. One design point per trial, as ``joint``."""

    name = "hardware_first"

    def ask_space(self, space: SearchSpace) -> SearchSpace:
        return space.subspace("snn", "train")


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
                        {**record.metrics, **hw.metrics}, member=i, trace=hw.trace or _swept_trace(record, hw))
            for i, hw in enumerate(record.hw_front)
        ]

    def evaluate(self, run: TrialRun) -> TrialRecord:
        return run.on_sweep()

    def check(self, spec: StrategySpec) -> None:
        if not spec.search_space().names("hw"):
            raise ValueError(f"hw.* parameters in the space for strategy '{self.name}'")


def _swept_trace(record: TrialRecord, hw: HardwarePoint) -> str | None:
    """The trace of a swept chip's precision, for a record written before each chip named its
    own (:attr:`HardwarePoint.trace`): the record's ``trace@<precision>`` artifact."""
    base = record.chip_config
    bits = [hw.params.get(f"hw.{name}", getattr(base, name, None)) for name in ("weight_bits", "state_bits")]
    if not all(isinstance(b, int) for b in bits):
        return None
    label = "fp32" if bits == [32, 32] else f"w{bits[0]}s{bits[1]}"  # codesign.snn.Precision.label
    return record.artifacts.get(f"trace@{label}")


class Sequential(Nested):
    """The network first, the chip second (the usual practice co-design is measured against).

    Stage 0: ``budget.trials - sequential.k`` networks are searched with no chip: each is
    trained and scored in float (:meth:`TrialRun.network_only`), and the sampler is told its
    task metric, every chip objective as 0 (unknown, so it ranks networks by the task metric
    alone) or, with ``sequential.proxy: synops``, as NeuroBench's effective synaptic
    operations, and no constraint. These trials are COMPLETE but hold no design point.
    Stage 1: the ``k`` best networks (:class:`NetworkThenChip`) are each one more trial, with
    the network's parameters, costed on the ``nested`` hardware sweep at each chip's precision
    (training comes from the cache); their hardware Pareto sets are the study's designs, with
    the usual study-wide ids.

    A sequential study runs its two stages in one run: the schedule is not rebuilt from storage,
    so a resumed, interrupted sequential study searches networks again over the budget that is
    left and may end with no stage-1 sweep; run it again under a new name instead.
    """

    name = "sequential"

    def evaluate(self, run: TrialRun) -> TrialRecord:
        return run.network_only() if run.stage == 0 else run.on_sweep()

    def scheduler(self, spec: StrategySpec) -> Scheduler:
        assert spec.budget.trials is not None  # check() requires it
        return NetworkThenChip(networks=spec.budget.trials - spec.sequential.k, k=spec.sequential.k)

    def check(self, spec: StrategySpec) -> None:
        super().check(spec)
        k = spec.sequential.k
        if spec.budget.trials is None or spec.budget.trials <= k:
            raise ValueError(f"budget.trials above sequential.k ({k}) for strategy 'sequential': budget.trials - k "
                             "networks are searched, then the k best are swept over the chips")
        if spec.multi_fidelity is not None:
            raise ValueError("no multi_fidelity for strategy 'sequential' (its schedule is its two stages)")

    def holds_designs(self, record: TrialRecord) -> bool:
        return record.chip_config is not None  # stage 0 records have no chip

    def told(self, record: TrialRecord, spec: StrategySpec) -> tuple[list[float], dict[str, float]]:
        if self.holds_designs(record):
            return super().told(record, spec)
        proxy = spec.sequential.proxy == "synops"
        values = []
        for name, direction in spec.objectives.items():
            if name in record.objectives:
                values.append(record.objectives[name])
            elif proxy:
                ops = record.metrics[SYNAPTIC_OPS]
                values.append(ops if direction == "min" else -ops)
            else:
                values.append(0.0)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"a network objective is not finite: {values}")
        return values, {}


class MultiFidelity(Strategy):
    """A joint, nested or hardware_first strategy scheduled by MO-ASHA over rungs of training epochs."""

    def __init__(self, base: Strategy, rungs: tuple[int, ...], reduction_factor: int) -> None:
        self.base, self.rungs, self.reduction_factor = base, rungs, reduction_factor
        self.name = base.name

    def ask_space(self, space: SearchSpace) -> SearchSpace:
        return self.base.ask_space(space)

    def points(self, trial_number: int, record: TrialRecord) -> list[DesignPoint]:
        return self.base.points(trial_number, record)

    def evaluate(self, run: TrialRun) -> TrialRecord:
        return self.base.evaluate(run)

    def confirm(self, run: TrialRun) -> TrialRecord:
        return self.base.confirm(run)

    def check(self, spec: StrategySpec) -> None:
        self.base.check(spec)

    def holds_designs(self, record: TrialRecord) -> bool:
        return self.base.holds_designs(record)

    def told(self, record: TrialRecord, spec: StrategySpec) -> tuple[list[float], dict[str, float]]:
        return self.base.told(record, spec)

    def scheduler(self, spec: StrategySpec) -> Scheduler:
        return SuccessiveHalving(self.rungs, self.reduction_factor)


_REGISTRY: dict[str, Strategy] = {}


def register_strategy(name: str, cls: type[Strategy]) -> Strategy:
    """Make ``cls`` the strategy a study spec or a stored record names ``name`` (``strategy:
    name`` in a study YAML): the one step a new strategy takes besides its class, from any
    module. Readers of a study find its strategy here, so a study of a strategy registered by
    a plugin is read in a process that registered it. Returns the registered instance.

    Raises:
        ValueError: ``name`` is registered for another class, or is not a plain lowercase name.
    """
    if not name.replace("_", "").isalnum() or not name.islower():
        raise ValueError(f"a strategy name of lowercase letters, digits and '_', got {name!r}")
    known = _REGISTRY.get(name)
    if known is not None:
        if type(known) is cls:
            return known  # registering the same class again (a module imported twice) changes nothing
        raise ValueError(f"strategy '{name}' is already registered for {type(known).__qualname__}")
    strategy = cls()
    strategy.name = name
    _REGISTRY[name] = strategy
    return strategy


for _name, _cls in (("joint", Joint), ("nested", Nested), ("sequential", Sequential),
                    ("hardware_first", HardwareFirst)):
    register_strategy(_name, _cls)

#: The trial kinds by the name records and specs store (the built-in ones and any registered
#: by :func:`register_strategy`; a read-only view).
STRATEGIES: Mapping[str, Strategy] = MappingProxyType(_REGISTRY)


#: The entry-point group an installed package names its strategies in, so that every process
#: (a ``codesign`` command, a Ray worker) finds them without importing the package first:
#: ``[project.entry-points."codesign.strategies"] my_kind = "my_package.strategies:MyKind"``.
ENTRY_POINT_GROUP = "codesign.strategies"


def is_registered(name: str) -> bool:
    """Whether a strategy of that name is registered, or an installed package names one
    (:data:`ENTRY_POINT_GROUP`, registered now)."""
    if name not in _REGISTRY:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == name:
                register_strategy(name, ep.load())
    return name in _REGISTRY


def strategy_named(name: str) -> Strategy:
    """The trial kind a record or spec names (``joint`` | ``nested`` | ``sequential`` |
    ``hardware_first``, or one added by :func:`register_strategy` or an entry point).

    Raises:
        ValueError: no strategy of that name is registered (the names that are, in the message).
    """
    if is_registered(name):
        return _REGISTRY[name]
    raise ValueError(f"strategy one of {', '.join(_REGISTRY)}, got {name!r} (a strategy of your own is named by "
                     "codesign.search.register_strategy before its studies are run or read, or by an entry point in "
                     f"the '{ENTRY_POINT_GROUP}' group)")


def strategy_of(spec: StrategySpec) -> Strategy:
    """The strategy a study asks for: its trial kind, wrapped in MO-ASHA when the spec has
    ``multi_fidelity`` rungs."""
    base = strategy_named(spec.strategy)
    mf = spec.multi_fidelity
    if mf is None:
        return base
    assert spec.fidelity.epochs is not None  # the spec's validator requires it with rungs
    return MultiFidelity(base, (*mf.rungs, spec.fidelity.epochs), mf.reduction_factor)
