"""The one metric registry: every figure a trial measures, declared once.

A :class:`Metric` knows its name (the key it is stored under in a trial record's ``metrics``,
in a nested trial's ``hw_front[*].metrics``, and in ``objectives``/``constraints`` when a study
selects on it), its unit, its direction (``min``/``max``: which way is better), its source
(what measures it: :data:`SOURCES`) and the labels people read. Everything that needs to know
about metrics reads this registry, never a list of its own:

- a study's objectives, constraints and floor are validated against it
  (``codesign.search._objectives.METRICS`` is a live view of its selectable metrics);
- the evaluation reads every ``chip`` metric from the chip model's report, one chip
  (``CostReport``) or a sweep of them (``BatchCostReport``, the nested strategy's hardware
  sweep) by the same attribute, and computes every ``derived`` metric from the others, so a
  metric works alike under every strategy (:func:`chip_figures`, :func:`with_derived`);
- a nested trial's design points keep the network's registered metrics (:func:`network_figures`);
- the report's axis labels (``codesign.report._labels``) and the terminal's trial tables read
  :attr:`Metric.label`, :attr:`Metric.short` and :attr:`Metric.unit`.

A new objective is one :class:`Metric`: an entry of :data:`BUILTIN_METRICS` inside the
package, or, outside it, one entry point of an installed package in the group
:data:`ENTRY_POINT_GROUP` (every process, workers and the command line included, loads those
on the first name it does not know: :func:`load_plugins`) or one :func:`register_metric`
call in the driver's process (a script's or a test's). A metric registered by a call travels
with each trial's task to the Ray workers (``TrialTask.metrics``, :func:`extra_metrics` /
:func:`install_metrics`), so its ``compute`` must pickle (a function defined in a function is
sent whole); a later process that reads the study knows it only if it registers it again.

Below every other module of ``codesign.search`` except ``_splits`` (task-metric names), so
objectives, the spec, the evaluation, the pick language and the report can all read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from codesign.search._splits import HELDOUT_ENGINE, TASK_METRIC_NAMES

Direction = Literal["min", "max"]
#: What measures a metric: ``network`` (scoring the network at the chip's precision, on the
#: validation split under the plain name, ``test_*`` on the test split), ``heldout_engine``
#: (the test split when it holds only synthesis engines never heard in training), ``trace``
#: (the workload trace's NeuroBench figures), ``chip`` (the chip cost model: read from its
#: report by :attr:`Metric.figure`) or ``derived`` (computed from the other metrics by
#: :attr:`Metric.compute`).
Source = Literal["network", "heldout_engine", "trace", "chip", "derived"]
SOURCES: tuple[str, ...] = get_args(Source)
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Metric:
    """One measured figure.

    Attributes:
        name: its key in a trial record's ``metrics`` (and ``objectives``), lower case with
            underscores, the unit in the name where it has one (``energy_uj``).
        direction: ``min`` or ``max``, whichever is better.
        unit: what one unit is (``µJ``, ``fraction``); ``""`` for a count without one.
        source: what measures it (:data:`SOURCES`).
        label: what people read on an axis: what it measures, with its unit.
        short: a narrow axis label (``<br>`` breaks a line); None: the name, wrapped.
        selectable: whether a study may take it as an objective, a constraint or its floor
            (False for figures stored beside the ones it selects on, such as ``test_accuracy``:
            a study never selects on its test split).
        figure: for ``chip``: the attribute of ``CostReport`` and ``BatchCostReport`` holding it.
        compute: for ``derived``: its value from the trial's other metrics (a ``KeyError`` when
            one it needs was not measured: the metric is then absent, and a study selecting on
            it fails that trial saying so).
        tasks: the corpus tasks that measure it (``commands``, ``digits``); None: every task.
        untrained: for ``chip``: it does not depend on what the network learns (only on its
            size and the chip), so the cheap check before training measures it and a
            constraint on it can refuse a chip without training.
    """

    name: str
    direction: Direction
    unit: str
    source: Source
    label: str
    short: str | None = None
    selectable: bool = True
    figure: str | None = None
    compute: Callable[[Mapping[str, float]], float] | None = None
    tasks: tuple[str, ...] | None = None
    untrained: bool = False

    def __post_init__(self) -> None:
        problems = [
            (not _NAME.fullmatch(self.name), "a lower-case name of letters, digits and '_'"),
            (self.direction not in ("min", "max"), "direction 'min' or 'max'"),
            (self.source not in SOURCES, f"source one of {', '.join(SOURCES)}"),
            ((self.source == "chip") != (self.figure is not None), "a figure exactly when its source is 'chip'"),
            ((self.source == "derived") != (self.compute is not None),
             "a compute function exactly when its source is 'derived'"),
            (self.untrained and self.source != "chip", "source 'chip' to be measured untrained"),
        ]
        wrong = [what for bad, what in problems if bad]
        if wrong:
            raise ValueError(f"metric '{self.name}' needs " + "; ".join(wrong))


_REGISTRY: dict[str, Metric] = {}
#: Names registered by codesign itself (never replaced; see :func:`register_metric`).
_BUILTIN: set[str] = set()
#: The entry-point group an installed package declares its metrics in: each entry point is a
#: :class:`Metric` or an iterable of them (``[project.entry-points."codesign.metrics"]``).
ENTRY_POINT_GROUP = "codesign.metrics"
#: Names registered from installed plugins (every process loads its own; never sent to workers).
_PLUGIN: set[str] = set()
_plugins_loaded = False


def load_plugins() -> bool:
    """Register the metrics installed packages declare (:data:`ENTRY_POINT_GROUP`), once per
    process; True when this call loaded them. Called on the first name the registry does not
    hold (so a study whose objective a plugin declares reads in any process, the command line
    included) and by a worker before it evaluates, never at import (scanning the installed
    packages' entry points takes about 0.1 s)."""
    global _plugins_loaded
    if _plugins_loaded:
        return False
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = point.load()
        for metric in (loaded,) if isinstance(loaded, Metric) else tuple(loaded):
            if metric.name not in _REGISTRY:
                _PLUGIN.add(register_metric(metric).name)
    return True


def _lookup(name: str) -> Metric | None:
    """The registered metric ``name``, after loading the plugins' when it is not there yet."""
    metric = _REGISTRY.get(name)
    if metric is None and load_plugins():
        metric = _REGISTRY.get(name)
    return metric


def register_metric(metric: Metric, replace: bool = False) -> Metric:
    """Add ``metric`` to the registry (``replace``: over an earlier one of the same name that
    was registered outside codesign, e.g. by a worker receiving its task's metrics).

    Raises:
        ValueError: the name is taken (by codesign's own metric, always).
    """
    if metric.name in _REGISTRY and (metric.name in _BUILTIN or not replace):
        raise ValueError(f"metric '{metric.name}' is registered already")
    _REGISTRY[metric.name] = metric
    return metric


def unregister_metric(name: str) -> None:
    """Remove a metric registered outside codesign (a test's, when it ends).

    Raises:
        ValueError: ``name`` is one of codesign's own metrics.
    """
    if name in _BUILTIN:
        raise ValueError(f"metric '{name}' is codesign's own")
    _REGISTRY.pop(name, None)
    _PLUGIN.discard(name)


def metric_named(name: str) -> Metric | None:
    """The registered metric ``name`` (a plugin's included), or None."""
    return _lookup(name)


def registered_metrics() -> tuple[Metric, ...]:
    """Every registered metric, in registration order."""
    return tuple(_REGISTRY.values())


def extra_metrics() -> tuple[Metric, ...]:
    """The metrics registered in this process outside codesign and its plugins (what a trial's
    task carries to its worker)."""
    return tuple(m for name, m in _REGISTRY.items() if name not in _BUILTIN and name not in _PLUGIN)


def install_metrics(metrics: tuple[Metric, ...]) -> None:
    """Load the installed plugins' metrics, then register ``metrics`` (a task's
    :func:`extra_metrics`), replacing earlier ones of the same name: what a worker does before
    it evaluates a trial."""
    load_plugins()
    for metric in metrics:
        register_metric(metric, replace=True)


class DirectionView(Mapping[str, str]):
    """Name -> direction of the selectable registered metrics, read live (a metric registered
    later is in it): ``codesign.search.METRICS``."""

    def __getitem__(self, name: str) -> str:
        metric = _lookup(name)
        if metric is None or not metric.selectable:
            raise KeyError(name)
        return metric.direction

    def __iter__(self) -> Iterator[str]:
        return iter([m.name for m in _REGISTRY.values() if m.selectable])

    def __len__(self) -> int:
        return sum(1 for m in _REGISTRY.values() if m.selectable)

    def __repr__(self) -> str:
        return repr(dict(self))


def task_metrics() -> dict[str, tuple[str, ...]]:
    """Task -> the selectable metrics only that task measures (``commands``: accuracy and
    unknown recall, on validation and on the held-out-engine split; ``digits``: WER and CER)."""
    out: dict[str, tuple[str, ...]] = {}
    for m in _REGISTRY.values():
        for task in (m.tasks or ()) if m.selectable else ():
            out[task] = (*out.get(task, ()), m.name)
    return out


def chip_figures(report: object) -> dict[str, npt.NDArray[np.float64]]:
    """Every ``chip`` metric read from the chip model's report: a ``CostReport`` (0-d arrays)
    or a ``BatchCostReport`` (one value per chip), as floats."""
    return {m.name: np.asarray(getattr(report, m.figure), dtype=float)
            for m in _REGISTRY.values() if m.figure is not None}


def chip_values(report: object, untrained: bool = False) -> dict[str, float]:
    """Every ``chip`` metric of one chip's report (a ``CostReport``), as floats (``untrained``:
    only those the network's training cannot change, :attr:`Metric.untrained`)."""
    return {name: float(value) for name, value in chip_figures(report).items()
            if not untrained or _REGISTRY[name].untrained}


def derived_figures(metrics: Mapping[str, float]) -> dict[str, float]:
    """Every ``derived`` metric whose inputs are in ``metrics`` (one derived metric may read
    another registered before it)."""
    out: dict[str, float] = {}
    for m in _REGISTRY.values():
        if m.compute is None:
            continue
        try:
            out[m.name] = float(m.compute({**metrics, **out}))
        except KeyError:
            continue
    return out


def with_derived(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` with :func:`derived_figures` added."""
    return {**metrics, **derived_figures(metrics)}


def network_figures(metrics: Mapping[str, float]) -> dict[str, float]:
    """Of a scored network's ``metrics``, the registered ones measured without a chip (the
    network's, the held-out engines' and the trace's): what each design point of a nested
    trial keeps beside its chip's figures."""
    return {k: v for k, v in metrics.items()
            if (m := _REGISTRY.get(k)) is not None and m.source in ("network", "heldout_engine", "trace")}


_FRACTION = "fraction"
#: The task metrics each task measures, on the validation split under their plain names.
_TASK_METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "max", _FRACTION, "network", "validation accuracy (fraction correct)", "accuracy",
           tasks=("commands",)),
    Metric("unknown_recall", "max", _FRACTION, "network",
           "validation unknown recall (fraction of unknown words answered unknown)", tasks=("commands",)),
    Metric("wer", "min", _FRACTION, "network", "validation word error rate (fraction)", "WER", tasks=("digits",)),
    Metric("cer", "min", _FRACTION, "network", "validation character error rate (fraction)", "CER",
           tasks=("digits",)),
)
_HELDOUT_LABELS = {"accuracy": ("held-out-engine accuracy (fraction correct)", "held-out-<br>engine acc."),
                   "unknown_recall": ("held-out-engine unknown recall (fraction)", "held-out<br>unknown recall"),
                   "wer": ("held-out-engine word error rate (fraction)", "held-out-<br>engine WER"),
                   "cer": ("held-out-engine character error rate (fraction)", None)}

#: codesign's own metrics, in the order they are registered (a nested design point's chip
#: figures keep this order). A new metric of the package is one more entry here.
BUILTIN_METRICS: tuple[Metric, ...] = (
    # selectable: a study's objectives, constraints and floor
    *_TASK_METRICS,
    Metric("activation_sparsity", "max", _FRACTION, "trace", "activation sparsity (fraction zero)"),
    Metric("energy_uj", "min", "µJ", "chip", "energy per inference (µJ)", "energy<br>(µJ)", figure="energy_uj"),
    Metric("energy_pj_total", "min", "pJ", "chip", "energy per inference (pJ)", selectable=False,
           figure="total_energy_pj"),
    Metric("cycles", "min", "cycles", "chip", "cycles per inference", "cycles", figure="cycles"),
    Metric("latency_ms", "min", "ms", "chip", "latency per inference (ms)", "latency<br>(ms)", figure="latency_ms"),
    Metric("area_mm2", "min", "mm²", "chip", "chip area (mm²)", "area<br>(mm²)", figure="area_mm2", untrained=True),
    Metric("sram_used_kb", "min", "KiB", "chip", "SRAM used (KB)", "SRAM used<br>(KB)", figure="sram_used_kb", untrained=True),
    Metric("weight_kb", "min", "KiB", "chip", "weight memory (KB)", selectable=False, figure="weight_kb", untrained=True),
    Metric("throughput_per_s", "max", "inferences/s", "chip", "throughput (inferences per second)",
           selectable=False, figure="throughput_per_s"),
    Metric("split_spike_fraction", "min", _FRACTION, "chip",
           "spike events split for the chip's graded-spike width (fraction)", figure="split_spike_fraction"),
    Metric("fits_on_chip", "max", "", "chip", "fits on chip", figure="fits_on_chip", untrained=True),
    Metric("state_overflow_rate", "min", _FRACTION, "network",
           "state updates saturated at the chip's state bits (fraction)"),
    Metric("weight_bits", "min", "bits", "network",
           "weight precision (bits; on a mixed-precision chip the narrow width: its wide layers are held in hw.wide_weight_bits)"),
    Metric("state_bits", "min", "bits", "network", "state precision (bits)"),
    # each task metric again on the held-out-engine split (codesign.search._splits)
    *(Metric(f"{HELDOUT_ENGINE}{m.name}", m.direction, m.unit, "heldout_engine", *_HELDOUT_LABELS[m.name],
             tasks=m.tasks) for m in _TASK_METRICS),
    # stored beside the selectable ones, never selected on (a nested design point keeps them)
    Metric("validation_accuracy", "max", _FRACTION, "network", "validation accuracy (fraction correct)",
           selectable=False),
    Metric("validation_wer", "min", _FRACTION, "network", "validation word error rate (fraction)", selectable=False),
    Metric("test_accuracy", "max", _FRACTION, "network", "test accuracy (fraction correct)", selectable=False),
    Metric("test_wer", "min", _FRACTION, "network", "test word error rate (fraction)", selectable=False),
    Metric("test_unknown_recall", "max", _FRACTION, "network", "test unknown recall (fraction)", selectable=False),
    Metric("distinct_outputs", "max", "outputs", "network",
           "distinct outputs over the validation split", selectable=False),
    Metric("footprint_bytes", "min", "bytes", "trace", "memory footprint (bytes)", selectable=False),
)
for _metric in BUILTIN_METRICS:
    register_metric(_metric)
    _BUILTIN.add(_metric.name)
assert {m.name.removeprefix(HELDOUT_ENGINE) for m in BUILTIN_METRICS if m.source == "heldout_engine"} == set(
    TASK_METRIC_NAMES), "one held-out-engine metric per task metric (codesign.search._splits)"


__all__ = [
    "BUILTIN_METRICS",
    "ENTRY_POINT_GROUP",
    "SOURCES",
    "DirectionView",
    "Metric",
    "chip_figures",
    "chip_values",
    "derived_figures",
    "extra_metrics",
    "install_metrics",
    "load_plugins",
    "metric_named",
    "network_figures",
    "register_metric",
    "registered_metrics",
    "task_metrics",
    "unregister_metric",
    "with_derived",
]
