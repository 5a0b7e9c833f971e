"""Re-evaluating an exported bundle: rebuild, reload, re-score, re-cost, and compare.

The test-split metric is recomputed from the rebuilt network, quantised to the bundle chip's
precision exactly as the study scored it, on the regenerated (or cached) corpus; the integer
weights are checked against the float ones; the chip figures are recomputed by the chip model
on the bundle's trace and on a trace re-recorded from the quantised network. Every figure is
shown beside the stored one. :func:`rescore_bundle` scores the network for another chip,
re-quantising it when that chip's precision differs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.config import ConfigError, load_json_object
from codesign.export._bundle import (
    COST_REPORT_FILE,
    TRACE_FILE,
    WEIGHTS_FILE,
    WEIGHTS_INT_FILE,
    BundleConfig,
    bundle_network,
    load_bundle_config,
)

if TYPE_CHECKING:
    from torch import nn

    from codesign.data import Corpus
    from codesign.hardware import ChipConfig, CostReport
    from codesign.snn import Precision
    from codesign.trace import WorkloadTrace

#: Re-evaluation runs the same deterministic CPU code on the same inputs, so figures agree to
#: rounding: task metrics (fractions) within this absolute difference...
METRIC_ABS_TOL = 1e-6
#: ... and chip figures within this relative difference.
CHIP_REL_TOL = 1e-6
#: Chip figures compared.
CHIP_FIGURES = ("energy_uj", "cycles", "latency_ms", "area_mm2", "sram_used_kb")
#: Says what a long step is doing (a line on stderr from the CLI); None: silent.
Say = Callable[[str], None] | None


def _say(say: Say, message: str) -> None:
    if say is not None:
        say(message)


@dataclass(frozen=True)
class Comparison:
    """One figure, stored and recomputed.

    Attributes:
        name: the figure (``test_accuracy``, ``energy_uj``, ...).
        source: what was recomputed (``test split``, ``chip model on stored trace``, ...).
        stored, new: the values.
        tolerance: allowed difference; relative: whether it is relative to ``stored``.
    """

    name: str
    source: str
    stored: float
    new: float
    tolerance: float
    relative: bool

    @property
    def ok(self) -> bool:
        diff = abs(self.new - self.stored)
        if self.relative:
            return diff <= self.tolerance * max(abs(self.stored), 1e-30)
        return diff <= self.tolerance


@dataclass(frozen=True)
class EvaluationReport:
    """All comparisons of one bundle."""

    bundle: Path
    config: BundleConfig
    comparisons: tuple[Comparison, ...]
    #: What the re-scored test split held here (``Corpus.measured_on("test")`` of the corpus
    #: regenerated on this machine), and, when it is not what the stored figures were measured
    #: on (the bundle's ``measured_on``), what differs.
    measured_on: dict[str, Any] = field(default_factory=dict)
    measured_on_differs: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    def table(self) -> str:
        """The stored and new figures side by side, one line each."""
        head = f"{'figure':<22} {'recomputed by':<34} {'stored':>14} {'new':>14}  agree"
        lines = [head, "-" * len(head)]
        for c in self.comparisons:
            tol = f"{c.tolerance:g}{' rel' if c.relative else ' abs'}"
            lines.append(f"{c.name:<22} {c.source:<34} {c.stored:>14.6g} {c.new:>14.6g}  "
                         f"{'yes' if c.ok else 'NO'} (tol {tol})")
        return "\n".join(lines)


def load_bundle_model(bundle: str | Path, config: BundleConfig | None = None) -> nn.Module:
    """The bundle's network rebuilt from its config with its weights loaded (eval mode).

    Raises:
        ConfigError: the weights file is damaged or does not fit the rebuilt network (named).
    """
    bundle = Path(bundle)
    config = config or load_bundle_config(bundle)
    return bundle_network(config, bundle / WEIGHTS_FILE)


def recost_bundle(bundle: str | Path, chip: ChipConfig | str | Path) -> CostReport:
    """The bundle's network on another chip: the chip model on the bundle's trace, its weights
    priced at the chip's ``weight_bits`` (re-quantised, ``requantise=True``: the activity stays
    the bundle network's; ``rescore_bundle`` re-records and re-scores it at the chip's bits).

    Args:
        bundle: an exported bundle directory (checked against its manifest).
        chip: a ``codesign.hardware.ChipConfig``, a preset name (``edge_kws``) or a chip
            YAML file (as ``codesign hw --chip`` takes them).

    Returns:
        The ``codesign.hardware.CostReport``.
    """
    from codesign.hardware import ChipConfig, estimate_cost, load_chip

    if not isinstance(chip, ChipConfig):
        chip = load_chip(str(chip))
    return estimate_cost(bundle_trace(bundle), chip, requantise=True)


def bundle_trace(bundle: str | Path) -> WorkloadTrace:
    """The workload trace of a bundle, after checking the bundle against its manifest.

    Raises:
        ConfigError: a bundle file is missing, truncated or edited (named).
    """
    from codesign.trace import load_trace

    bundle = Path(bundle)
    load_bundle_config(bundle)
    return load_trace(bundle / TRACE_FILE)


def evaluate_bundle(bundle: str | Path, cache_dir: str | Path | None = None, progress: bool = False,
                    say: Say = None) -> EvaluationReport:
    """Check, rebuild and re-score a bundle; compare every figure with the stored one.

    Args:
        bundle: the bundle directory.
        cache_dir: corpus cache root (default: codesign.data's).
        progress: show progress while a corpus is synthesised.
        say: called with a line for each step (checking, rebuilding, corpus, scoring, tracing,
            costing), before the step runs.

    Raises:
        ConfigError: a bundle file is missing, truncated or edited (named), or its config or
            weights are invalid.
    """
    import torch

    from codesign.train import score_at_precision

    bundle = Path(bundle)
    _say(say, "checking every file against manifest.json")
    config = load_bundle_config(bundle)
    _say(say, "rebuilding the network from config.yaml and its weights")
    net = load_bundle_model(bundle, config)
    _say(say, "loading its corpus (from the cache, or synthesised)")
    corpus = _bundle_corpus(bundle, config, cache_dir, progress)
    precision = config.precision
    _say(say, f"scoring the test split at {precision.label} ({len(corpus.test)} utterances)")
    with torch.no_grad():  # only the test split is compared: the validation pass would be wasted time
        scored, quantised = score_at_precision(net, corpus, config.head, precision, splits=("test",))
    rows = _task_rows(config, scored)
    if precision.weight_bits != 32:
        rows.append(_integer_weights_row(bundle, quantised, precision))
    if not any(r.name.startswith("test_") for r in rows):
        raise ConfigError(bundle / "config.yaml", "metrics", "the stored test-split metric (test_accuracy or test_wer)")
    _say(say, "re-costing the stored trace and a re-recorded one on the bundle's chip")
    rows += _chip_rows(bundle, config, _retrace(config, corpus, quantised))
    for r in rows:
        if not (math.isfinite(r.stored) and math.isfinite(r.new)):
            raise ValueError(f"{r.name}: non-finite figure (stored {r.stored}, new {r.new})")
    here = corpus.measured_on("test")
    return EvaluationReport(bundle, config, tuple(rows), here,
                            measured_on_difference(config.measured_on.get("test"), here))


def _task_rows(config: BundleConfig, scored: dict[str, float]) -> list[Comparison]:
    """The stored test-split task metrics beside the rebuilt network's."""
    rows = []
    for name in ("test_accuracy", "test_wer"):
        stored = config.metrics.get(name)
        if stored is not None and name in scored:
            rows.append(Comparison(name, f"test split, rebuilt at {config.precision.label}", float(stored),
                                   float(scored[name]), METRIC_ABS_TOL, False))
    return rows


def _chip_rows(bundle: Path, config: BundleConfig, retraced: WorkloadTrace) -> list[Comparison]:
    """The stored cost report's figures beside the chip model's on the stored trace, then on
    the re-recorded one."""
    from codesign.hardware import CostReport, estimate_cost
    from codesign.trace import load_trace

    stored = CostReport.from_dict(load_json_object(bundle / COST_REPORT_FILE, "a cost report (JSON)")).metrics()
    recomputed = {"chip model, stored trace": load_trace(bundle / TRACE_FILE),
                  "chip model, re-recorded trace": retraced}
    rows: list[Comparison] = []
    for source, trace in recomputed.items():
        figures = estimate_cost(trace, config.chip).metrics()
        rows.extend(Comparison(name, source, stored[name], figures[name], CHIP_REL_TOL, True) for name in CHIP_FIGURES)
    return rows


def measured_on_difference(stored: dict[str, Any] | None, here: dict[str, Any]) -> str | None:
    """What differs between the split a bundle's figures were measured on (``stored``, from its
    ``measured_on``; None in older bundles) and the one re-scored here, in words; None when
    they hold the same engines and voices (or the bundle does not say)."""
    if not stored:
        return None
    diffs = []
    for what in ("engines", "voices"):
        was, now = list(stored.get(what) or []), list(here.get(what) or [])
        if sorted(was) != sorted(now):
            diffs.append(f"{what}: stored {', '.join(was) or 'none'}; here {', '.join(now) or 'none'}")
    return "; ".join(diffs) or None


def _bundle_corpus(bundle: Path, config: BundleConfig, cache_dir: str | Path | None, progress: bool) -> Corpus:
    from codesign.data import load_corpus

    corpus = load_corpus(config.corpus, cache_dir=cache_dir, progress=progress)
    if corpus.n_features != config.n_features or len(corpus.vocabulary) != config.n_outputs:
        raise ConfigError(bundle / "config.yaml", "corpus", "a corpus matching the network's input and output sizes",
                          got=f"{corpus.n_features} features, {len(corpus.vocabulary)} outputs")
    return corpus


def _retrace(config: BundleConfig, corpus: Corpus, quantised: nn.Module) -> WorkloadTrace:
    """The trace of the quantised network on the bundle's trace split and batch, as the study recorded it."""
    from codesign.trace import trace_split

    return trace_split(quantised, getattr(corpus, config.trace_split), config.network_config, config.trace_batch)


def _integer_weights_row(bundle: Path, quantised: nn.Module, precision: Precision) -> Comparison:
    """The stored integer weights times their scales against the rebuilt network's quantised
    weights: the largest absolute difference (0 when they are the same network); each layer's
    integers within the bits it is held in (``quantise_network``'s ``weight_bits`` mark)."""
    from safetensors.torch import load_file

    from codesign.snn import scale_like

    path = bundle / WEIGHTS_INT_FILE
    if not path.is_file():
        raise ConfigError(path, "", f"the integer weights of a {precision.weight_bits}-bit chip",
                          hint="file not found")
    stored = load_file(str(path))
    worst = 0.0
    for name, param in quantised.named_parameters():
        if f"{name}.levels" not in stored:
            continue
        module_path = name.rpartition(".")[0]
        bits = int(getattr(quantised.get_submodule(module_path), "weight_bits", precision.weight_bits))
        levels, scale = stored[f"{name}.levels"], stored[f"{name}.scale"]
        if int(levels.abs().max()) > 2 ** (bits - 1) - 1:
            raise ConfigError(path, f"{name}.levels", f"integers within the {bits}-bit range")
        worst = max(worst, float((levels.float() * scale_like(scale, levels) - param.detach()).abs().max()))
    return Comparison("weights_int", "integer weights x scales", 0.0, worst, METRIC_ABS_TOL, False)


@dataclass(frozen=True)
class Rescored:
    """A bundle's network on another chip (:func:`rescore_bundle`).

    Attributes:
        report: the chip model's CostReport for that chip.
        precision_changed: the chip holds the network at another precision than the bundle's
            chip, so the network was re-quantised and re-scored, and its trace re-recorded.
        metrics: the re-scored task metrics (``test_accuracy`` or ``test_wer``, ...) when
            ``precision_changed``, else the bundle's stored ones.
        stored_metrics: the bundle's stored metrics, for comparison.
    """

    report: CostReport
    precision_changed: bool
    metrics: dict[str, float]
    stored_metrics: dict[str, float]


def bundle_chip(bundle: str | Path, overrides: dict[str, Any] | None = None) -> ChipConfig:
    """The bundle's own chip (``config.yaml``'s ``chip``), with ``--set`` overrides applied.

    Raises:
        ConfigError: the bundle is damaged, or an override makes no valid chip (key named).
    """
    from codesign.config import apply_overrides, parse_spec
    from codesign.hardware import ChipConfig

    bundle = Path(bundle)
    config = load_bundle_config(bundle)
    if not overrides:
        return config.chip
    data = apply_overrides(config.chip.to_dict(), overrides)
    data["name"] = f"{config.chip.name} with " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    return parse_spec(ChipConfig, data, file=bundle / "config.yaml", key_prefix="chip")


def rescore_bundle(bundle: str | Path, chip: ChipConfig | str | Path, cache_dir: str | Path | None = None,
                   progress: bool = False, say: Say = None) -> Rescored:
    """The bundle's network on ``chip``: re-cost it, and re-score its accuracy when the chip's
    weight or state bits differ from the bundle chip's (a chip's precision changes what the
    network computes, so it changes the score).

    Args:
        bundle: an exported bundle directory (checked against its manifest).
        chip: a ``ChipConfig``, a preset name or a chip YAML file.
    """

    from codesign.hardware import ChipConfig, estimate_cost, load_chip
    from codesign.search import chip_precision

    if not isinstance(chip, ChipConfig):
        chip = load_chip(str(chip))
    bundle = Path(bundle)
    config = load_bundle_config(bundle)
    stored = {k: v for k, v in config.metrics.items() if k.startswith(("test_", "validation_"))}
    precision = chip_precision(chip)
    if precision == config.precision:
        _say(say, f"costing the bundle's trace on {chip.name} (same precision, {precision.label}: "
                  "the stored scores hold)")
        return Rescored(recost_bundle(bundle, chip), False, stored, stored)
    _say(say, f"{chip.name} holds the network at {precision.label}, the bundle at {config.precision.label}: "
              "re-quantising and re-scoring it")
    scores = bundle_scores(bundle, [precision], cache_dir, progress, say)
    scored, trace = scores[precision]
    _say(say, f"costing the re-recorded trace on {chip.name}")
    return Rescored(estimate_cost(trace, chip), True, scored, stored)


def bundle_scores(bundle: str | Path, precisions: Iterable[Precision], cache_dir: str | Path | None = None,
                  progress: bool = False, say: Say = None, errors: dict[Precision, str] | None = None,
                  ) -> dict[Precision, tuple[dict[str, float], WorkloadTrace]]:
    """The bundle's network at each precision (``codesign.search.chip_precision`` of a chip):
    its task metrics on the validation and test splits (``validation_accuracy``,
    ``test_accuracy``, ...) and its trace as a chip of that precision runs it. The bundle's own
    precision keeps its stored scores and trace; any other is re-quantised from the float
    weights and re-scored (the corpus is loaded once).

    Args:
        errors: when given, a precision the network cannot be held in is left out of the
            result and its reason put here, instead of raising.

    Raises:
        ValueError: a precision the network cannot be held in (``codesign.snn.quantise_network``).
    """
    bundle = Path(bundle)
    config = load_bundle_config(bundle)
    own = config.precision
    stored = {k: v for k, v in config.metrics.items() if k.startswith(("test_", "validation_"))}
    out: dict[Precision, tuple[dict[str, float], WorkloadTrace]] = {}
    loaded: tuple[nn.Module, Corpus] | None = None  # the network and corpus, once a precision needs them
    for precision in sorted(set(precisions), key=lambda p: p.order):
        if precision == own:
            out[precision] = (stored, bundle_trace(bundle))
            continue
        if loaded is None:
            loaded = (load_bundle_model(bundle, config), _loaded_corpus(bundle, config, cache_dir, progress, say))
        try:
            out[precision] = _scored_at(config, *loaded, precision, say)
        except ValueError as err:
            if errors is None:
                raise
            errors[precision] = str(err)
    return out


def _loaded_corpus(bundle: Path, config: BundleConfig, cache_dir: str | Path | None, progress: bool,
                   say: Say) -> Corpus:
    _say(say, "loading the bundle's corpus (from the cache, or synthesised)")
    return _bundle_corpus(bundle, config, cache_dir, progress)


def _scored_at(config: BundleConfig, net: nn.Module, corpus: Corpus, precision: Precision,
               say: Say) -> tuple[dict[str, float], WorkloadTrace]:
    """The network's validation and test metrics at ``precision`` and its trace there.

    Raises:
        ValueError: a precision the network cannot be held in.
    """
    import torch

    from codesign.train import score_at_precision

    _say(say, f"scoring the network at {precision.label} (validation and test splits) and recording its trace")
    with torch.no_grad():
        scored, quantised = score_at_precision(net, corpus, config.head, precision)
    return ({k: v for k, v in scored.items() if k.startswith(("test_", "validation_"))},
            _retrace(config, corpus, quantised))
