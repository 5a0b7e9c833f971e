"""TrialRecord: what every trial stores, the contract between the driver and report/export.

The driver writes ``record.to_dict()`` into the Optuna trial's user attribute
:data:`RECORD_ATTR` and the study spec into the study's user attribute :data:`SPEC_ATTR`.
Reports and exports read them back with :func:`record_of`; they never re-run a search.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from codesign.config import MEASURED, Spec, parse_spec
from codesign.hardware import ChipConfig  # configs only: the cost model loads on first use
from codesign.search._space import NAMESPACES
from codesign.snn import ModelConfig  # configs only: codesign.snn imports torch on first use of a network
from codesign.train import TrainConfig

RECORD_ATTR = "codesign.record"
SPEC_ATTR = "codesign.spec"
VERSION_ATTR = "codesign.version"
#: Study user attribute: the absolute directory that artifact paths in records are relative to.
ARTIFACT_DIR_ATTR = "codesign.artifact_dir"
#: Trial user attribute: a one-line summary of the record, short enough for optuna-dashboard,
#: which cuts user attributes at 1,024 characters (the full record is longer).
SUMMARY_ATTR = "codesign.summary"
SUMMARY_MAX_CHARS = 1000
#: Metric keys stored under another name by earlier versions -> the name they have now (the
#: scalar total energy was ``energy_pj``, a name cost reports used for their table).
RENAMED_METRICS = {"energy_pj": "energy_pj_total"}


def _current_metric_names(value: object) -> object:
    """A stored metrics mapping with each key an earlier version used under its current name."""
    if not isinstance(value, dict) or not RENAMED_METRICS.keys() & value.keys():
        return value
    return {RENAMED_METRICS.get(k, k): v for k, v in value.items()}


class HardwarePoint(Spec):
    """One chip of a network's hardware Pareto set (the ``nested`` strategy).

    Attributes:
        params: the ``hw.*`` parameters of this chip.
        objectives, constraints, metrics: as in :class:`TrialRecord`, for this chip.
    """

    model_config = MEASURED

    params: dict[str, Any] = Field(default_factory=dict)
    objectives: dict[str, float] = Field(default_factory=dict)
    constraints: dict[str, float] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    trace: str = Field("", description="the trace at this chip's precision, relative to the artifact directory")

    _metric_names = field_validator("metrics", mode="before")(_current_metric_names)

    @property
    def feasible(self) -> bool:
        return all(v <= 0.0 for v in self.constraints.values())


class MeasuredOn(Spec):
    """What a split's scores were measured on: ``codesign.data.Corpus.measured_on(split)``,
    stored as the evaluation found it (never recomputed by a reader).

    Attributes:
        source: the corpus (``synthetic:<cache key>`` or an imported folder).
        split: ``validation`` or ``test``.
        engines: the synthesis engines of the split's speakers (empty for recorded speech).
        voices: the ``engine:voice`` names its speakers use.
        heldout_engines: those of ``engines`` no training speaker uses.
    """

    model_config = MEASURED

    source: str = ""
    split: str
    engines: list[str] = Field(default_factory=list)
    voices: list[str] = Field(default_factory=list)
    heldout_engines: list[str] = Field(default_factory=list)


class TrialRecord(Spec):
    """One evaluated candidate.

    Attributes:
        params: the trial's raw parameters (``snn.*``, ``hw.*``).
        model_config, chip_config, train_config: the typed configs built from them (stored as
            their JSON; None for a trial that failed before building them, stored ``{}`` by
            older versions). ``model_config`` is the network's family config, so an old
            record's flat config reads as its family's fields (``codesign.snn.ModelConfig``).
        objectives: objective name -> value, in the study's objective order.
        constraints: constraint name -> value; feasible when every value is <= 0.
        metrics: everything else measured (accuracy, wer, cer, activation_sparsity,
            energy_uj, latency_ms, area_mm2, cycles, sram_used_kb, ...).
        energy_by_category_pj: energy per inference by category (synaptic, weight_memory, ...).
        artifacts: name -> path (trace, weights, cost_report, train_result), relative to the
            study's artifact directory.
        wall_time_s: evaluation wall time; cpu_time_s: its CPU time (what a budget "at equal
            CPU" counts; wall time depends on machine load); worker_host, worker_node_id and
            worker_node_ip: the machine and the Ray node that ran it.
        trained: whether this trial ran training (False for an infeasible chip or a cache hit).
        cache_hit: training result came from the cache.
        error: the failure reason for a failed trial, else None.
        pruned: why the trial stopped before training (the cheap chip check found the network
            does not fit, or the chip breaks an activity-independent constraint such as area);
            the driver tells it PRUNED, with the constraint values it measured. Else None.
        attempts: how many times the trial was started (a dead worker process is retried).
        strategy: ``joint`` (one network on one chip) or ``nested``.
        hw_front: ``nested`` only: the network's hardware Pareto set, one
            :class:`HardwarePoint` per chip, each with the network's accuracy at that chip's
            precision. The trial's own objectives and constraints are those of one of them
            (the member nearest the front's utopia point), a design the network really
            achieves; the study's front is the union of the sets.
        rung_epoch: multi-fidelity: the epoch this record was scored at, when below the full
            budget (a rung); None at full fidelity.
        load_dependent: the training budget was wall-clock seconds (equal-time mode), so the
            metrics depend on the machine's load and are not reproducible from the seed.
        degenerate: the network outputs a constant or nothing (one class everywhere, the
            same transcript for every utterance, WER 1.0): ``codesign.search.is_degenerate``
            of its metrics (a nested trial: of every chip's). Its design points are marked
            and never on a front; the trial is still COMPLETE with its values.
        measured_on: split -> what its task metrics were measured on (``validation``: the
            plain ``accuracy``/``wer`` and ``validation_*``; ``test``: ``test_*`` and
            ``heldout_engine_*``), one :class:`MeasuredOn` per split the trial scored; empty
            for a trial that scored none and in records stored before it was kept.
    """

    model_config = MEASURED

    params: dict[str, Any] = Field(default_factory=dict)
    model_config_: ModelConfig | None = Field(None, alias="model_config")
    chip_config: ChipConfig | None = None
    train_config: TrainConfig | None = None
    objectives: dict[str, float] = Field(default_factory=dict)
    constraints: dict[str, float] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    energy_by_category_pj: dict[str, float] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict)
    wall_time_s: float = 0.0
    cpu_time_s: float = Field(0.0, description="CPU seconds of the evaluation's process (load-independent cost)")
    worker_host: str = ""
    worker_node_id: str = Field("", description="the Ray node that ran the evaluation")
    worker_node_ip: str = Field("", description="that node's address in the Ray cluster")
    trained: bool = False
    cache_hit: bool = False
    error: str | None = None
    pruned: str | None = None
    attempts: int = 1
    strategy: str = "joint"
    hw_front: list[HardwarePoint] = Field(default_factory=list)
    rung_epoch: int | None = None
    load_dependent: bool = False
    degenerate: bool = False
    measured_on: dict[str, MeasuredOn] = Field(default_factory=dict)

    _metric_names = field_validator("metrics", mode="before")(_current_metric_names)

    @field_validator("model_config_", "chip_config", "train_config", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == {} else value

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @property
    def feasible(self) -> bool:
        return all(v <= 0.0 for v in self.constraints.values())


def record_of(user_attrs: dict[str, Any]) -> TrialRecord | None:
    """The TrialRecord stored on a trial, or None if the trial has none."""
    raw = user_attrs.get(RECORD_ATTR)
    if raw is None:
        return None
    return parse_spec(TrialRecord, raw, file=None, key_prefix=RECORD_ATTR)


def record_summary(record: TrialRecord, limit: int = SUMMARY_MAX_CHARS) -> str:
    """One line for people (optuna-dashboard, logs): outcome, objectives, constraints violated,
    then the ``snn.*``, ``train.*`` and ``hw.*`` parameters; cut to ``limit`` characters with ``…``."""
    parts = [_outcome(record)]
    for group in NAMESPACES:
        items = [f"{k[len(group) + 1:]}={_short(v)}" for k, v in record.params.items() if k.startswith(group + ".")]
        if items:
            parts.append(f"{group}: " + " ".join(items))
    text = " | ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(record: TrialRecord) -> str:
    """How the trial ended, in words: failed, stopped at a rung, pruned, or its objectives and
    feasibility."""
    if record.error is not None:
        return f"failed: {record.error}"
    if record.pruned is not None and record.objectives:  # stopped at a rung (multi-fidelity)
        return f"{record.pruned}: " + ", ".join(f"{k}={_short(v)}" for k, v in record.objectives.items())
    if record.pruned is not None:
        return f"pruned before training: {record.pruned}"
    return _completed(record)


def _completed(record: TrialRecord) -> str:
    """A completed trial in words: its objectives, feasibility and hardware front."""
    head = ("degenerate (outputs a constant or nothing): " if record.degenerate else "") + ", ".join(
        f"{k}={_short(v)}" for k, v in record.objectives.items())
    violated = [k for k, v in record.constraints.items() if v > 0]
    head += "; infeasible: " + ", ".join(violated) if violated else "; feasible"
    if record.hw_front:
        head += f"; {len(record.hw_front)} chips on its hardware front"
    return head


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
