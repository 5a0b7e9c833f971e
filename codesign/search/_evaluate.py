"""The real evaluation of one trial, run inside a Ray worker.

``evaluate_trial(task) -> TrialResult`` follows the project's one-way flow: parameters ->
ModelConfig + TrainConfig + ChipConfig -> cheap chip check -> short training run (cached; up to
a rung's epoch in a multi-fidelity study) -> the network scored at the chip's precision
(weights and state quantised, ``codesign.snn``) and its workload trace -> chip cost model ->
objectives and constraints -> a :class:`TrialRecord`. It never catches an error to turn it
into a score: anything that goes wrong raises, and the driver tells the trial FAIL with the
reason.

It shares nothing with the driver but Ray (``codesign.search._task``): it works in a private
scratch folder, reads the training cache through ``task.store`` and returns every file the
study keeps (the cost report, new cache entries) as bytes in its :class:`TrialResult`; the
driver writes them into the artifact store. The corpus arrives through Ray's object store
(``task.corpus``), so a worker node never synthesises it.

What a trial evaluates is its strategy's decision (``Strategy.evaluate``,
``codesign.search._strategy``), composed from three evaluations (:class:`_Run`):
- on one chip (``joint``, ``hardware_first``): the trial's ``hw.*`` parameters, if any, give
  one chip; one design point, scored at that chip's ``weight_bits``/``state_bits``;
- on the hardware sweep (``nested``, ``sequential``'s second stage): the trial only has
  ``snn.*`` parameters; the network is scored once per distinct precision among the swept
  chips, and each precision's trace is evaluated on its chips at once (the vectorised chip
  model). The record keeps that network's hardware Pareto set, each point with the accuracy at
  its own precision;
- the network alone (``sequential``'s first stage): trained and scored in float, with its
  trace's NeuroBench figures and no chip.

Precision modes (``StudySpec.precision``): ``ptq`` trains one float network and quantises it
per precision; ``qat`` trains one network per weight width, fake-quantised while it learns: each
fine-tuned from the one float run of the network (``codesign.train.finetune``), which is trained
once and cached with its checkpoint.

Training cache: ``_train_cache/<key>/`` in the artifact store holds one network (the key hashes
model, training budget with QAT bits, corpus and seed): ``full/`` trained to the full budget
and ``rungs/<epoch>/`` stopped at a rung, each with ``result.json`` and ``weights.safetensors``
(a rung also with the checkpoint the next rung continues from; a float network a QAT study
fine-tunes from also ``full-checkpoint/checkpoint.pt``), and under each its scores
``scores/<precision>-b<trace batch>/`` (``metrics.json`` and ``trace.npz``). Each entry is
immutable and published whole by the driver.
"""

from __future__ import annotations

import itertools
import json
import posixpath
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.config import ConfigError, parse_spec, stable_hash
from codesign.search._front import DesignPoint, as_minimisation, mark_points, pareto_mask
from codesign.search._metrics import chip_figures, chip_values, derived_figures, network_figures, with_derived
from codesign.search._objectives import (
    DISTINCT_OUTPUTS,
    FITS_ON_CHIP,
    constraint_values,
    is_degenerate,
    objective_values,
)
from codesign.search._record import HardwarePoint, TrialRecord
from codesign.search._space import chip_columns, sample_points, split_params
from codesign.search._spec import StudySpec
from codesign.search._splits import HELDOUT_ENGINE, heldout_engine_metrics, is_heldout_engine_split
from codesign.search._store import TRAIN_CACHE_DIR, StoreReader
from codesign.search._strategy import SYNAPTIC_OPS, strategy_of
from codesign.search._task import TrialResult, TrialTask
from codesign.train import QAT_SCHEME

if TYPE_CHECKING:
    from torch import nn

    from codesign.data import Corpus, CorpusConfig
    from codesign.hardware import ChipConfig, CostReport
    from codesign.snn import Head, ModelConfig, Precision
    from codesign.trace import WorkloadTrace
    from codesign.train import TrainConfig

#: Utterances in the untrained forward pass of the cheap fit check (the fit does not depend
#: on activity, only on the network's weights and state).
_FIT_CHECK_UTTERANCES = 1


def prepare_study(spec: StudySpec, progress: bool = True) -> Corpus:
    """Work every trial shares, done once by the driver before trials start: the corpus,
    synthesised (or read from this machine's corpus cache), for the driver to put into Ray's
    object store.

    Raises:
        ConfigError: the study selects on a ``heldout_engine_*`` metric and the corpus has no
            held-out-engine test split (its held-out engine is not installed here).
    """
    from codesign.data import load_corpus

    corpus = load_corpus(spec.corpus, progress=progress)
    used = spec.heldout_engine_metrics_used()
    test = corpus.measured_on("test")
    if used and not is_heldout_engine_split(test):
        missing = corpus.manifest.get("missing_engines") if isinstance(corpus.manifest, dict) else None
        raise ConfigError(None, "corpus.engines.heldout",
                          f"a held-out engine installed on this machine to measure {', '.join(used)}",
                          got=list(spec.corpus.engines.heldout),
                          hint=f"the test split holds {', '.join(test['engines']) or 'no engine'}, all heard in "
                               f"training" + (f"; missing: {', '.join(missing)}" if missing else ""))
    return corpus


def measured_on(corpus: Corpus, metrics: dict[str, float]) -> dict[str, Any]:
    """What a trial's task metrics were measured on: ``Corpus.measured_on`` of the validation
    split, and of the test split when ``metrics`` hold a test-split figure (``test_*``,
    ``heldout_engine_*``; a rung often scores validation only)."""
    splits = ["validation"]
    if any(k.startswith(("test_", HELDOUT_ENGINE)) for k in metrics):
        splits.append("test")
    return {split: corpus.measured_on(split) for split in splits}


def chip_precision(chip: ChipConfig) -> Precision:
    """The precision a chip holds a network in (its ``weight_bits`` and ``state_bits``, and its
    ``wide_weight_bits`` where wider than ``weight_bits``: the wide layers' word, as the chip
    model prices them, ``codesign.hardware.layer_weight_bits``). The one mapping from a chip to
    the network's precision: training, scoring, the records and export all read it.

    Raises:
        ConfigError: bits the chip cannot represent a network in (e.g. 1-bit weights).
    """
    from codesign.snn import Precision

    return parse_spec(Precision, {"weight_bits": chip.weight_bits, "state_bits": chip.state_bits,
                                  "wide_weight_bits": chip.wide_weight_bits, "tap_scales": chip.tap_scales},
                      key_prefix="hw")


def chip_label(chip: ChipConfig) -> str:
    """The label of :func:`chip_precision` (``w2x4s12``, ``w4s12-tap``), or the chip's raw
    ``w<weight bits>s<state bits>`` where no network can be held in its bits."""
    try:
        return chip_precision(chip).label
    except ConfigError:
        return f"w{chip.weight_bits}s{chip.state_bits}"


class _Workspace:
    """A worker's private view of the artifact store: a scratch folder holding the store files
    it read (fetched through the reader) and made (returned to the driver)."""

    def __init__(self, reader: StoreReader, scratch: Path) -> None:
        self.reader = reader
        self.scratch = scratch
        self.entries: dict[str, dict[str, bytes]] = {}
        self.files: dict[str, bytes] = {}

    def local(self, rel: str) -> Path:
        return self.scratch / rel

    def has(self, rel: str) -> bool:
        """The file is in the store or was made by this evaluation."""
        return self.local(rel).is_file() or self.reader.exists(rel)

    def fetch(self, rel: str) -> Path:
        """A local copy of a store file."""
        path = self.local(rel)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.reader.read(rel))
        return path

    def list(self, rel: str) -> list[str]:
        local = self.local(rel)
        made = {p.name for p in local.iterdir()} if local.is_dir() else set()
        return sorted(made | set(self.reader.list(rel)))

    def add_entry(self, rel: str, folder: Path, last: str) -> None:
        """Return the files of ``folder`` as the cache entry ``rel``; ``last`` (the file whose
        presence means the entry is whole) is written last by the driver."""
        names = sorted((p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
                       key=lambda n: n == last)
        self.entries[rel] = {n: (folder / n).read_bytes() for n in names}
        target = self.local(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(target)


def evaluate_trial(task: TrialTask) -> TrialResult:
    """Evaluate one trial (see the module docstring).

    Raises:
        Exception: whatever failed (bad parameter combination, diverged training, ...).
    """
    import torch

    from codesign.data import load_corpus

    started, cpu_started = time.perf_counter(), time.process_time()
    study, params, until_epoch = task.spec, task.params, task.until_epoch
    model_over, train_over, chip_over = split_params(params)
    model_cfg = study.model_for(model_over)
    train_cfg = study.train_for(train_over)
    corpus_cfg = study.corpus
    torch.set_num_threads(train_cfg.threads)
    corpus = task.corpus if task.corpus is not None else load_corpus(corpus_cfg, progress=False)
    if task.store is None:
        raise ValueError("evaluate_trial needs the artifact store's reader (task.store)")
    full = until_epoch is None or until_epoch == train_cfg.epochs
    strategy = task.strategy or strategy_of(study)
    base: dict[str, Any] = {
        "params": params,
        "model_config": model_cfg,
        "train_config": train_cfg,
        "strategy": strategy.name,
        "rung_epoch": until_epoch if not full else None,
        "load_dependent": train_cfg.load_dependent,
    }
    with tempfile.TemporaryDirectory(prefix="codesign-trial.") as scratch:
        space = _Workspace(task.store, Path(scratch))
        run = _Run(task, space, base, model_cfg, train_cfg, corpus_cfg, corpus, chip_over)
        record = strategy.confirm(run) if task.confirm else strategy.evaluate(run)
    record = record.model_copy(update={"wall_time_s": time.perf_counter() - started,
                                       "cpu_time_s": time.process_time() - cpu_started})
    return TrialResult(record=record, files=space.files, entries=space.entries)


@dataclass(frozen=True)
class _Run:
    """One trial's evaluations (``codesign.search._strategy.TrialRun``): what its strategy
    composes the trial from."""

    task: TrialTask
    space: _Workspace
    base: dict[str, Any]
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    corpus_cfg: CorpusConfig
    corpus: Corpus
    chip_over: dict[str, Any]

    @property
    def stage(self) -> int:
        return self.task.stage

    def on_chip(self) -> TrialRecord:
        return _joint(self.task, self.space, self.base, self.model_cfg, self.train_cfg, self.corpus_cfg, self.corpus,
                      self.chip_over)

    def on_sweep(self) -> TrialRecord:
        return _nested(self.task, self.space, self.base, self.model_cfg, self.train_cfg, self.corpus_cfg,
                       self.corpus)

    def network_only(self) -> TrialRecord:
        return _network(self.task, self.space, self.base, self.model_cfg, self.train_cfg, self.corpus_cfg,
                        self.corpus)


def _network(task: TrialTask, space: _Workspace, base: dict[str, Any], model_cfg: ModelConfig,
             train_cfg: TrainConfig, corpus_cfg: CorpusConfig, corpus: Corpus) -> TrialRecord:
    """The network alone, with no chip: trained (in float for ``ptq``, as every precision's
    scoring starts from it), scored in float on the fixed evaluation batch, with its trace's
    NeuroBench figures. Its objectives are the study's objectives the network measures alone
    (the task metric); chip objectives and constraints are absent."""
    from codesign.snn import Precision

    study = task.spec
    precision = Precision()
    trained = _train_cached(space, model_cfg, _qat(train_cfg, precision, study), corpus_cfg, corpus, study,
                            task.until_epoch)
    scored = _score_cached(space, trained, precision, model_cfg, corpus, study)
    metrics = dict(scored.metrics)
    metrics[SYNAPTIC_OPS] = metrics["synaptic_macs_effective"] + metrics["synaptic_acs_effective"]
    metrics = with_derived(metrics)
    artifacts = {name: task.study_relative(rel) for name, rel in {**trained.paths, **scored.paths}.items()}
    return TrialRecord(
        **base,
        objectives={name: metrics[name] for name in study.objectives if name in metrics},
        metrics=metrics,
        artifacts=artifacts,
        trained=not trained.hit,
        cache_hit=trained.hit,
        degenerate=is_degenerate(metrics),
    )


def _joint(task: TrialTask, space: _Workspace, base: dict[str, Any], model_cfg: ModelConfig,
           train_cfg: TrainConfig, corpus_cfg: CorpusConfig, corpus: Corpus, chip_over: dict[str, Any]) -> TrialRecord:
    """One network on the trial's chip."""
    study = task.spec
    try:
        chip = study.chip_for(chip_over)
        precision = chip_precision(chip)
    except ConfigError as err:  # the drawn hw.* values make no chip: an infeasible design, not a failure
        return TrialRecord(**base, pruned=f"invalid chip: {_chip_problem(err)}")
    base = {**base, "chip_config": chip}
    pruned = _cheap_chip_check(model_cfg, corpus, chip, study)
    if pruned is not None:
        metrics, constraints, reason = pruned
        return TrialRecord(**base, metrics=metrics, constraints=constraints, pruned=reason)
    trained = _train_cached(space, model_cfg, _qat(train_cfg, precision, study), corpus_cfg, corpus, study,
                            task.until_epoch)
    scored = _score_cached(space, trained, precision, model_cfg, corpus, study)
    report, fits = _cost(scored.trace(space), chip)
    cost_rel = posixpath.join(task.trial_dir, "cost_report.json")
    space.files[cost_rel] = json.dumps(report.to_dict(), indent=1).encode()
    artifacts = {name: task.study_relative(rel) for name, rel in {**trained.paths, **scored.paths}.items()}
    artifacts["cost_report"] = task.study_relative(cost_rel)
    metrics = with_derived({**scored.metrics, **report.metrics(), **chip_values(report), FITS_ON_CHIP: fits})
    return TrialRecord(
        **base,
        objectives=dict(zip(study.objectives, objective_values(metrics, list(study.objectives)), strict=True)),
        constraints=constraint_values(metrics, study.parsed_constraints()),
        metrics=metrics,
        energy_by_category_pj=report.energy_by_category_pj,
        artifacts=artifacts,
        trained=not trained.hit,
        cache_hit=trained.hit,
        degenerate=is_degenerate(metrics),
        measured_on=measured_on(corpus, metrics),
    )


def _nested(task: TrialTask, space: _Workspace, base: dict[str, Any], model_cfg: ModelConfig,
            train_cfg: TrainConfig, corpus_cfg: CorpusConfig, corpus: Corpus) -> TrialRecord:
    """One network on the study's hardware sweep."""
    try:
        front, objectives, constraints, artifacts, hit, metrics = _hardware_sweep(
            space, task, model_cfg, train_cfg, corpus_cfg, corpus)
    except InvalidChips as err:
        return TrialRecord(**base, chip_config=task.spec.chip, pruned=f"invalid chip: {err}")
    return TrialRecord(
        **base,
        chip_config=task.spec.chip,
        objectives=objectives,
        constraints=constraints,
        metrics=metrics,
        artifacts=artifacts,
        trained=not hit,
        cache_hit=hit,
        hw_front=front,
        degenerate=all(is_degenerate(p.metrics) for p in front) if front else is_degenerate(
            {k.removeprefix("validation_"): v for k, v in metrics.items()}),
        measured_on=measured_on(corpus, {**metrics, **{k: v for p in front for k, v in p.metrics.items()}}),
    )


# --------------------------------------------------------------------------------------------


def _qat(train_cfg: TrainConfig, precision: Precision, study: StudySpec) -> TrainConfig:
    """The training budget for ``precision``: float training for ``ptq`` (one network serves
    every precision); for ``qat`` the float run then a fine-tune on the chip's weight grid, and
    for a 32-bit (float) chip the same fine-tune in float (``qat_weight_bits`` 32, as
    ``codesign.train.finetune_control`` trains it): every width of a QAT study trains the same epochs, so
    a narrower chip does not win by its extra training alone."""
    if study.precision != "qat":
        return train_cfg
    return train_cfg.model_copy(update={"qat_weight_bits": precision.weight_bits,
                                        "qat_wide_weight_bits": precision.wide_weight_bits,
                                        "qat_tap_scales": precision.tap_scales})


def _cheap_chip_check(model_cfg: ModelConfig, corpus: Corpus, chip: ChipConfig,
                      study: StudySpec) -> tuple[dict[str, float], dict[str, float], str] | None:
    """Before training: does the network fit on the chip, and is its area within budget?

    Runs the real chip model on the trace of one untrained forward pass: weights, state and
    area do not depend on what the network learns. Returns (metrics, constraint values,
    reason) for an infeasible chip, None when training should go ahead.
    """
    from codesign.snn import build_model
    from codesign.trace import record_trace

    head: Head = "ctc" if corpus.kind == "ctc" else "classify"
    net = build_model(model_cfg, corpus.n_features, len(corpus.vocabulary), head).eval()
    split = corpus.validation
    n = _FIT_CHECK_UTTERANCES
    trace = record_trace(net, split.features[:n], split.feature_lengths[:n], model_cfg, sample_spikes=False)
    report, fits = _cost(trace, chip)
    metrics = {**chip_values(report, untrained=True), FITS_ON_CHIP: fits}
    activity_free = [c for c in study.parsed_constraints() if c.metric in metrics]
    constraints = constraint_values(metrics, activity_free)
    violated = [name for name, value in constraints.items() if value > 0]
    if not violated:
        return None
    reasons = list(report.reasons)  # no requirements were given, so these are fit reasons only
    return metrics, constraints, "infeasible chip before training: " + "; ".join(violated + reasons)


class InvalidChips(ValueError):
    """No chip of a nested sweep is a valid chip (the study's base chip with its ``hw.*`` values)."""


def _chip_problem(err: ConfigError) -> str:
    """What makes a chip invalid, without the file a study-level ConfigError names."""
    return f"{err.key}: expected {err.expected}" + (f", got {err.got!r}" if err.got is not None else "")


def _valid_chip(base: ChipConfig, point: dict[str, Any]) -> bool:
    return _chip_problem_of(base, point) is None


def _chip_problem_of(base: ChipConfig, point: dict[str, Any]) -> str | None:
    from codesign.hardware import ChipConfig

    fields = {k.partition(".")[2]: v for k, v in point.items() if k.startswith("hw.")}
    try:
        chip = parse_spec(ChipConfig, {**base.to_dict(), **fields}, key_prefix="hw")
        chip_precision(chip)
    except ConfigError as err:
        return _chip_problem(err)
    return None


def _cost(trace: WorkloadTrace, chip: ChipConfig) -> tuple[CostReport, float]:
    """The chip model's CostReport for one chip, and 1.0 when the network fits on it (neither
    its weights nor its neuron state overflow the chip's SRAM), else 0.0. Deadlines and area
    budgets are the study's constraints, applied by the caller."""
    from codesign.hardware import estimate_cost

    report = estimate_cost(trace, chip)
    return report, float(report.fits_on_chip)


def training_key(model_cfg: ModelConfig, train_cfg: TrainConfig, corpus_cfg: CorpusConfig, seed: int,
                 trace_batch: int, corpus_key: str | None = None) -> str:
    """Cache key of one trained network: what changes its weights (the model, the training
    budget including QAT bits, the corpus and the seed). Scoring precisions and rungs live
    inside the entry.

    The model is its family's config (``codesign.snn.ModelConfig``), so only fields that
    family's network reads are hashed: a Mamba's key does not move with a Spikeformer field.
    (Keys made before the families were split hashed every family's fields; those cache
    entries are simply not found again, and the networks are retrained once.)

    ``corpus_key`` is the key of the corpus the driver loaded (its manifest's ``cache_key``):
    a worker never recomputes it, because the key names the engines installed where the corpus
    was made, and a worker node with other engines (or none) must find the same entries."""
    del trace_batch  # the trace is recorded per precision inside the entry, keyed there
    key: dict[str, object] = {
        "model": model_cfg.to_dict(), "train": train_cfg.to_dict(), "corpus": corpus_key or corpus_cfg.cache_key(),
        "seed": seed,
    }
    if train_cfg.qat_weight_bits is not None:
        # how QAT trains is code, not config: a network QAT-trained by an earlier scheme (the
        # fused projections quantised only at scoring) is never found again. Float keys unchanged.
        key["qat_scheme"] = QAT_SCHEME
    return stable_hash(key)


#: The entry beside a float network's ``full`` that holds its run's checkpoint, which the QAT
#: fine-tune of every weight width starts from (``codesign.train.finetune``).
FLOAT_CHECKPOINT_ENTRY = "full-checkpoint"


@dataclass(frozen=True)
class TrainedNetwork:
    """A trained network in the training cache.

    Attributes:
        entry: its cache entry, relative to the store root.
        folder: the entry's local copy in the worker's scratch folder.
        hit: it was in the cache already (nothing was trained by this call).
        metrics: the float network's training-run metrics.
        head: ``classify`` or ``ctc``.
        paths: artifact name -> store path (``weights``, ``train_result``).
        model: the network, when this call trained it (else rebuilt on demand).
    """

    entry: str
    folder: Path
    hit: bool
    metrics: dict[str, float]
    head: str
    paths: dict[str, str]
    model: nn.Module | None = None

    @property
    def is_rung(self) -> bool:
        return posixpath.basename(posixpath.dirname(self.entry)) == "rungs"

    def network(self) -> nn.Module:
        if self.model is not None:
            return self.model
        from codesign.train import load_trained_model

        return load_trained_model(self.folder)[0]


@dataclass(frozen=True)
class ScoredNetwork:
    """A trained network scored at one precision: its metrics and its trace (``paths["trace"]``,
    a store path; ``recorded``: the trace itself, when this call recorded it)."""

    metrics: dict[str, float]
    paths: dict[str, str] = field(default_factory=dict)
    recorded: WorkloadTrace | None = None

    def trace(self, space: _Workspace) -> WorkloadTrace:
        """The trace: the one this call recorded, kept in memory, else read from the store."""
        if self.recorded is not None:
            return self.recorded
        from codesign.trace import load_trace

        return load_trace(space.fetch(self.paths["trace"]))


def _train_cached(space: _Workspace, model_cfg: ModelConfig, train_cfg: TrainConfig, corpus_cfg: CorpusConfig,
                  corpus: Corpus, study: StudySpec, until_epoch: int | None = None,
                  keep_checkpoint: bool = False) -> TrainedNetwork:
    """Train the network, or read it from the training cache.

    With ``until_epoch`` (a rung) the run stops after that epoch; its entry is
    ``<key>/rungs/<epoch>``, holding the checkpoint the next rung continues from, so a promoted
    trial is never retrained from scratch.

    A QAT budget (``qat_weight_bits``) shares its float run: at a rung the network is the float
    network's rung (a QAT run stopped there is its float run so far), and the full budget is
    ``codesign.train.finetune`` from the checkpoint of the float network's full run, kept
    (``keep_checkpoint``) in the entry ``<float key>/full-checkpoint`` beside its ``full``; so a
    ``precision: qat`` study trains the float budget once per network, not once per weight width.
    """
    from codesign.train import finetune, load_checkpoint, save_checkpoint, save_train_result, train

    corpus_key = corpus.manifest.get("cache_key") if isinstance(corpus.manifest, dict) else None
    key_dir = posixpath.join(TRAIN_CACHE_DIR, training_key(model_cfg, train_cfg, corpus_cfg, study.seed,
                                                           study.trace_batch, str(corpus_key) if corpus_key else None))
    full = until_epoch is None or until_epoch == train_cfg.epochs
    float_cfg = train_cfg.without_qat()
    qat = train_cfg.qat_weight_bits is not None
    if qat and not full:
        return _train_cached(space, model_cfg, float_cfg, corpus_cfg, corpus, study, until_epoch)
    # the full run and each rung are separate immutable entries beside each other
    entry = posixpath.join(key_dir, "full") if full else posixpath.join(key_dir, "rungs", f"{until_epoch:03d}")
    done = posixpath.join(entry, "result.json")
    checkpoint_entry = posixpath.join(key_dir, FLOAT_CHECKPOINT_ENTRY)
    want_checkpoint = keep_checkpoint and full and not qat
    made_before = space.has(done)
    hit = made_before and not (want_checkpoint and not space.has(posixpath.join(checkpoint_entry, "checkpoint.pt")))
    model = None
    if hit:
        space.fetch(posixpath.join(entry, "weights.safetensors"))
        summary = json.loads(space.fetch(done).read_text())
    else:
        if qat:  # the fine-tune alone, from the float run every width shares
            float_run = _train_cached(space, model_cfg, float_cfg, corpus_cfg, corpus, study, keep_checkpoint=True)
            start = load_checkpoint(space.fetch(posixpath.join(posixpath.dirname(float_run.entry),
                                                                FLOAT_CHECKPOINT_ENTRY, "checkpoint.pt")))
            result = finetune(model_cfg, corpus, train_cfg, seed=study.seed, start=start)
        else:
            resume = None
            rungs_dir = posixpath.join(key_dir, "rungs")
            earlier = [name for name in space.list(rungs_dir) if name.isdigit()
                       and (last := until_epoch or train_cfg.epochs) is not None and int(name) < last
                       and space.has(posixpath.join(rungs_dir, name, "result.json"))
                       and space.has(posixpath.join(rungs_dir, name, "checkpoint.pt"))]
            if earlier:  # the latest rung below this one (an entry is whole once its result.json is there)
                latest = max(earlier, key=int)
                resume = load_checkpoint(space.fetch(posixpath.join(rungs_dir, latest, "checkpoint.pt")))
            result = train(model_cfg, corpus, train_cfg, seed=study.seed, until_epoch=None if full else until_epoch,
                           resume=resume)
        if not made_before:  # (a full entry made without its checkpoint is kept, and only that is added)
            made = Path(tempfile.mkdtemp(prefix="train.", dir=space.scratch))
            save_train_result(result, made)
            if result.checkpoint is not None and not full:
                save_checkpoint(result.checkpoint, made / "checkpoint.pt")
            space.add_entry(entry, made, last="result.json")
        if want_checkpoint and result.checkpoint is not None:
            made = Path(tempfile.mkdtemp(prefix="checkpoint.", dir=space.scratch))
            save_checkpoint(result.checkpoint, made / "checkpoint.pt")
            space.add_entry(checkpoint_entry, made, last="checkpoint.pt")
        if made_before:  # the network is the stored one (this run was for its checkpoint)
            space.fetch(posixpath.join(entry, "weights.safetensors"))
            summary = json.loads(space.fetch(done).read_text())
        else:
            model = result.model
            summary = result.to_dict()  # what result.json holds, kept rather than read back
    paths = {"weights": posixpath.join(entry, "weights.safetensors"), "train_result": done}
    return TrainedNetwork(entry=entry, folder=space.local(entry), hit=hit, metrics=summary["metrics"],
                          head=summary["head"], paths=paths, model=model)


def _score_cached(space: _Workspace, trained: TrainedNetwork, precision: Precision, model_cfg: ModelConfig,
                  corpus: Corpus, study: StudySpec) -> ScoredNetwork:
    """The network's metrics and trace at ``precision``, cached in its entry under
    ``scores/<precision cache label>-b<trace batch>-t<trace version>/`` (one validation pass and one
    trace per distinct precision; a new trace version scores again, so no entry holds metrics
    under an older meaning)."""
    from codesign.trace import TRACE_VERSION

    # a rung only ranks networks (validation), unless the study selects on a held-out-engine
    # metric (the test split, a forward pass over a tenth of the corpus); the full budget also
    # scores the test split. A rung scored on both splits is its own entry.
    test_at_rung = trained.is_rung and bool(study.heldout_engine_metrics_used())
    splits = ("validation",) if trained.is_rung and not test_at_rung else ("validation", "test")
    entry = posixpath.join(trained.entry, "scores", f"{precision.cache_label}-b{study.trace_batch}-t{TRACE_VERSION}"
                           + ("-test" if test_at_rung else ""))
    done = posixpath.join(entry, "metrics.json")
    recorded = None
    if space.has(done):
        metrics = json.loads(space.fetch(done).read_text())
    else:
        from codesign.trace import save_trace, trace_metrics, trace_split
        from codesign.train import score_at_precision

        scored, net = score_at_precision(trained.network(), corpus, trained.head, precision, splits=splits)
        # the fixed evaluation batch: the first ``trace_batch`` validation utterances, which is
        # what codesign.export re-records a bundle's trace on (its ``trace_split``)
        trace = trace_split(net, corpus.validation, model_cfg, study.trace_batch)
        made = Path(tempfile.mkdtemp(prefix="score.", dir=space.scratch))
        save_trace(trace, made / "trace.npz")
        # the task metrics are the quantised network's; the float network's stay beside them
        # as float_* so a reader sees what the chip's precision costs
        network = {(f"float_{k}" if k.split("_")[0] in ("validation", "test") else k): v
                   for k, v in trained.metrics.items()}
        metrics = _network_metrics({**network, **scored}, trained.head, trace_metrics(trace).to_dict())
        (made / "metrics.json").write_text(json.dumps(metrics, indent=1))
        space.add_entry(entry, made, last="metrics.json")
        recorded = trace  # the trace and metrics stay in memory: written once, never read back
    # the test split's figures again under the held-out-engine name, when that is what it holds
    metrics.update(heldout_engine_metrics(metrics, corpus.measured_on("test")))
    return ScoredNetwork(metrics=metrics, paths={"trace": posixpath.join(entry, "trace.npz")}, recorded=recorded)


def _network_metrics(train_metrics: dict[str, float], head: str, trace_figures: dict[str, float]) -> dict[str, float]:
    """The network's metrics: the task metric on the validation split under its plain name
    (the search selects on validation; ``test_*`` stays for the report), the training run's
    figures, and the trace's NeuroBench figures."""
    headline = "accuracy" if head == "classify" else "wer"
    metrics = {k: float(v) for k, v in train_metrics.items()}
    for name in ("accuracy", "wer", "cer", "unknown_recall", DISTINCT_OUTPUTS):
        if f"validation_{name}" in metrics:
            metrics[name] = metrics[f"validation_{name}"]
    if headline not in metrics:
        raise ValueError(f"training reported no validation {headline}")
    metrics.update(trace_figures)
    return metrics


def _hardware_sweep(
    space: _Workspace, task: TrialTask, model_cfg: ModelConfig, train_cfg: TrainConfig, corpus_cfg: CorpusConfig,
    corpus: Corpus,
) -> tuple[list[HardwarePoint], dict[str, float], dict[str, float], dict[str, str], bool, dict[str, float]]:
    """Evaluate the network on a sweep of the study's hw.* space, one precision at a time.

    The swept chips are grouped by their (weight_bits, state_bits); the network is scored once
    per group at that precision (for ``qat``, fine-tuned once per weight width from one float run), and each group's
    chips are costed at once against that precision's trace. Every hardware point therefore
    carries the accuracy its own chip computes.

    Returns:
        The network's hardware Pareto set (feasible chips only), the trial's objectives and
        constraints (those of one design the network really achieves: the front member
        nearest the front's utopia point after scaling each objective to [0, 1]), its
        artifacts, whether every training came from the cache, and the float network's metrics.
    """
    study = task.spec
    points = _swept_chips(study)
    candidates: list[DesignPoint] = []
    artifacts: dict[str, str] = {}
    all_hit = True
    float_metrics: dict[str, float] = {}
    if study.precision == "qat":  # the float run every width's fine-tune starts from, and its metrics
        float_run = _train_cached(space, model_cfg, train_cfg.without_qat(),
                                  corpus_cfg, corpus, study, task.until_epoch, keep_checkpoint=True)
        all_hit = float_run.hit
        float_metrics = {k: float(v) for k, v in float_run.metrics.items()}
    for precision, members in _precision_groups(points, study.chip):
        trained = _train_cached(space, model_cfg, _qat(train_cfg, precision, study), corpus_cfg, corpus, study,
                                task.until_epoch)
        all_hit = all_hit and trained.hit
        float_metrics = float_metrics or {k: float(v) for k, v in trained.metrics.items()}  # ptq: the float network
        scored = _score_cached(space, trained, precision, model_cfg, corpus, study)
        artifacts.setdefault("weights", task.study_relative(trained.paths["weights"]))
        artifacts.setdefault("train_result", task.study_relative(trained.paths["train_result"]))
        artifacts[f"trace@{precision.label}"] = task.study_relative(scored.paths["trace"])
        candidates += _costed_chips(space, task, scored, [points[i] for i in members])
    front_points, chosen = _front_and_choice(candidates, study)
    front = [HardwarePoint(params=c.params, objectives=c.objectives, constraints=c.constraints, metrics=c.metrics,
                           trace=c.trace or "") for c in front_points]
    return front, dict(chosen.objectives), dict(chosen.constraints), artifacts, all_hit, float_metrics


def _swept_chips(study: StudySpec) -> list[dict[str, Any]]:
    """The ``hw.*`` values of the nested sweep's chips (drawn from the study's hw space) that
    make a valid chip with the study's base chip.

    Raises:
        InvalidChips: none does.
    """
    drawn = sample_points(study.search_space().subspace("hw"), study.nested.hw_points, study.seed)
    points = [p for p in drawn if _valid_chip(study.chip, p)]  # a pair of hw.* values can make no chip
    if not points:
        raise InvalidChips(f"every one of the {len(drawn)} swept chips is invalid with the study's chip, e.g. "
                           f"{_chip_problem_of(study.chip, drawn[0])}")
    return points


def _precision_groups(points: list[dict[str, Any]], base: ChipConfig) -> list[tuple[Precision, list[int]]]:
    """The precisions the ``points``' chips hold a network in (:func:`chip_precision`; a point
    without ``hw.weight_bits``/``hw.state_bits``/``hw.wide_weight_bits`` has the base chip's),
    each with the indices of its points, in the order of their labels."""
    groups: dict[Precision, list[int]] = {}
    for i, point in enumerate(points):
        fields = {name: point[f"hw.{name}"] for name in _PRECISION_FIELDS if f"hw.{name}" in point}
        groups.setdefault(chip_precision(base.model_copy(update=fields)), []).append(i)
    return sorted(groups.items(), key=lambda item: item[0].order)


#: The chip fields :func:`chip_precision` reads.
_PRECISION_FIELDS = ("weight_bits", "state_bits", "wide_weight_bits", "tap_scales")


def _costed_chips(space: _Workspace, task: TrialTask, scored: ScoredNetwork,
                  chips: list[dict[str, Any]]) -> list[DesignPoint]:
    """One design point per chip of ``chips`` (``hw.*`` values, all of the scored network's
    precision), costed at once against the scored network's trace: every registered chip
    metric (``codesign.search._metrics``) and the derived ones, beside the network's."""
    from codesign.hardware import estimate_cost_batch

    study = task.spec
    trace_rel = task.study_relative(scored.paths["trace"])
    batch = estimate_cost_batch(scored.trace(space), chip_columns(chips, study.chip),
                                base=study.chip)
    per_chip = chip_figures(batch)  # every registered chip metric, one value per chip
    network = network_figures(scored.metrics)
    constraints = study.parsed_constraints()
    points = []
    for j, params in enumerate(chips):
        chip_metrics = {k: float(v[j]) for k, v in per_chip.items()}
        chip_metrics.update(derived_figures({**scored.metrics, **chip_metrics}))
        metrics = {**scored.metrics, **chip_metrics}
        points.append(DesignPoint(
            trial=-1,
            params=dict(params),
            objectives=dict(zip(study.objectives, objective_values(metrics, list(study.objectives)), strict=True)),
            constraints=constraint_values(metrics, constraints),
            metrics={**network, **chip_metrics},
            trace=trace_rel,
        ))
    return points


def _front_and_choice(candidates: list[DesignPoint], study: StudySpec) -> tuple[list[DesignPoint], DesignPoint]:
    """The sweep's Pareto set (feasible chips only) and the one design told to the sampler:
    the compromise of the front's eligible members (above the floor, not degenerate; else of
    the whole front), or, with no feasible chip, the candidate violating its constraints least."""
    feasible = [c for c in candidates if c.feasible]
    if not feasible:
        return [], min(candidates, key=_violation)
    front = list(itertools.compress(feasible, pareto_mask(as_minimisation(feasible, study.objectives))))
    # told to the sampler: a design above the floor that says something, where the network has one
    usable = [c for c in mark_points(front, study.floor_condition()) if c.eligible]
    return front, _compromise(usable or front, study)


def _violation(point: DesignPoint) -> float:
    """How far ``point`` is from meeting its constraints (0: it meets them all)."""
    return sum(max(0.0, v) for v in point.constraints.values())


def _compromise(front: list[DesignPoint], study: StudySpec) -> DesignPoint:
    """The front member nearest the utopia point, each objective scaled to [0, 1] over the front:
    one design the network really achieves, told to the sampler in place of the per-objective
    best values of different chips (a utopia point that no single design reaches)."""
    values = np.array(as_minimisation(front, study.objectives), dtype=float)
    low, high = values.min(axis=0), values.max(axis=0)
    scaled = (values - low) / np.where(high > low, high - low, 1.0)
    return front[int(np.argmin(np.linalg.norm(scaled, axis=1)))]
