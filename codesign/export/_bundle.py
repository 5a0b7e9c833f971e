"""Exporting one stored design point as a self-contained, checksummed bundle.

A bundle directory holds:

- ``config.yaml``: model, chip, training and corpus configs, seed, head and sizes, the study
  and trial it came from, the code version, the stored objectives/constraints/metrics, and
  ``measured_on``: the engines and voices of each split its task metrics were measured on
  (the trial record's, as its evaluation found them);
- ``weights.safetensors``: the trained weights (training form, float; ``load_state_dict`` target);
- ``weights_int.safetensors`` (chips below 32-bit weights): the weights as the chip stores them,
  ``<layer>.<param>.levels`` (integers) and ``<layer>.<param>.scale`` (float32 per output
  channel) of the fused inference network; ``levels x scale`` is what the chip computes with;
- ``trace.npz``: the workload trace the chip model costed; ``cost_report.json``: its cost;
- ``train_result.json``: the training run's summary (loss curve, metrics);
- ``network.nir``: the network as a NIR graph with the chip's quantised weights (docs/nir.md
  says what it leaves out);
- ``manifest.json``: the sha256 and size of every other file.

It is read back by :func:`load_bundle` (checked against the manifest first) and re-evaluated
by ``codesign.export.evaluate_bundle``. Nothing here re-runs a search.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field, field_serializer

from codesign import __version__
from codesign._io import publish_directory, staged_directory
from codesign._resources import checkout_root
from codesign.config import MEASURED, ConfigError, Spec, load_json_object, load_spec
from codesign.data import CorpusConfig  # configs only
from codesign.export._manifest import verify_bundle, write_manifest
from codesign.export._nir import NirExport, network_to_nir
from codesign.hardware import ChipConfig  # configs only
from codesign.search import (
    DesignPoint,
    StudySpec,
    StudyView,
    TrialRecord,
    TrialView,
    chip_precision,
    pick_point,
    point_chip,
    point_cost_report,
    point_trace,
    recommendation_of,
)
from codesign.snn import ModelConfig, default_model_config  # configs only
from codesign.train import TrainConfig

if TYPE_CHECKING:
    from torch import nn

    from codesign.snn import Precision
    from codesign.trace import WorkloadTrace

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "weights.safetensors"
TRACE_FILE = "trace.npz"
COST_REPORT_FILE = "cost_report.json"
TRAIN_RESULT_FILE = "train_result.json"
NIR_FILE = "network.nir"
WEIGHTS_INT_FILE = "weights_int.safetensors"
#: Files every exported bundle holds; its manifest must list each (an evaluation refuses one
#: that does not, naming the file). A chip below 32-bit weights adds WEIGHTS_INT_FILE, which
#: the re-evaluation then requires too.
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, TRACE_FILE, COST_REPORT_FILE, TRAIN_RESULT_FILE, NIR_FILE)
#: Frames of the all-zero utterance the NIR conversion runs to find the data flow (1 s at the
#: default 10 ms hop); the flow does not depend on the values.
NIR_PROBE_FRAMES = 100


class StudyProvenance(Spec):
    """Where a bundle came from."""

    model_config = MEASURED

    name: str
    storage: str | None = None
    trial: int
    chip_index: int | None = Field(None, description="the design's number among its trial's (the part after the dot "
                                   "of point_id); None for a trial's one design")
    state: str
    datetime_complete: str | None = None
    strategy: str = "joint"
    point_id: str | None = Field(None, description="the design's study-wide id (12.3); None in older bundles")
    recommended: bool = Field(False, description="the study's recommended design when exported")


class BundleConfig(Spec):
    """``config.yaml`` of a bundle: everything needed to rebuild and re-score the network.

    ``corpus``, ``model``, ``chip`` and ``train`` are the typed configs the study used (a
    bundle written when they were plain mappings reads into them, with the same defaults).
    """

    model_config = MEASURED

    codesign_version: str
    code_commit: str | None = None
    study: StudyProvenance
    seed: int
    corpus: CorpusConfig
    model: ModelConfig
    chip: ChipConfig
    train: TrainConfig
    head: str
    n_features: int = Field(ge=1)
    n_outputs: int = Field(ge=1)
    trace_split: str = "validation"
    trace_batch: int = Field(ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    objectives: dict[str, float] = Field(default_factory=dict)
    constraints: dict[str, float] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    precision_mode: str = Field("ptq", description="how the chip's precision reached training: ptq | qat")
    confirmed: dict[str, Any] | None = Field(
        None, description="the design's figures over confirmation seeds: {seeds, mean, std} (codesign study confirm)"
    )
    measured_on: dict[str, Any] = Field(
        default_factory=dict,
        description="split -> {source, split, engines, voices, heldout_engines} its task metrics were measured "
                    "on (the trial record's; empty in older bundles)",
    )

    @field_serializer("corpus")
    def _corpus_as_given(self, value: CorpusConfig) -> dict[str, Any]:
        # the keys the study gave, as the study spec stores them; defaults fill in when read
        return value.model_dump(mode="json", exclude_unset=True)

    @property
    def network_config(self) -> ModelConfig:
        """``model`` (kept for callers of the time it was a mapping)."""
        return self.model

    @property
    def precision(self) -> Precision:
        """The precision the stored figures were scored at: the chip's weight and state bits (and
        its wide layers' bits, ``codesign.search.chip_precision``)."""
        return chip_precision(self.chip)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_bundle` wrote."""

    path: Path
    point: DesignPoint
    config: BundleConfig
    nir: NirExport


def code_commit() -> str | None:
    """The git commit of the codesign checkout (``+dirty`` when it has local changes), if any."""
    root = checkout_root()
    if root is None:  # an installed wheel: no checkout to ask
        return None
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def select_point(view: StudyView, trial: int | None = None, chip: int | None = None,
                 pick: str | None = None, point: str | None = None, recommended: bool = False) -> DesignPoint:
    """The design point to export: ``--trial N [--chip K]``, ``--point ID`` (``12.3``),
    ``--pick EXPR`` or ``--recommended`` (the study's stored recommendation).

    Raises:
        ConfigError: none or several given; the trial does not exist, failed, was pruned
            (never trained) or is unfinished; a nested trial without ``--chip``; an unknown
            design id; a pick expression that is malformed or matches nothing; no stored
            recommendation.
    """
    if sum(x is not None for x in (trial, pick, point)) + int(recommended) != 1:
        raise ConfigError(None, "--trial/--point/--pick/--recommended",
                          "exactly one of --trial N, --point ID, --pick EXPR or --recommended")
    if pick is not None:
        return pick_point(view, pick)
    if point is not None:
        return view.point_by_id(point)
    if recommended:
        return _recommended_point(view)
    assert trial is not None
    return _trial_point(view, trial, chip)


def _recommended_point(view: StudyView) -> DesignPoint:
    rec = recommendation_of(view)
    if rec is None:
        raise ConfigError(None, "--recommended", f"a study with a stored recommendation ('{view.name}' has none)",
                          hint="a recommendation is exported once it is confirmed and stored: run "
                               f"`codesign study confirm {view.name} --scope recommended` "
                               "(a finished `codesign study run` does this itself)")
    return view.point_by_id(rec.point_id)


def _trial_point(view: StudyView, trial: int, chip: int | None) -> DesignPoint:
    """``--trial N [--chip K]``: the trial's one design, or its design K of several (id ``N.K``)."""
    _check_exportable(_trial_of(view, trial))
    points = [p for p in (*view.points, *view.references) if p.trial == trial]
    if not points:
        raise ConfigError(None, "--trial", "a finished trial with objective values", got=trial)
    found = points[0] if len(points) == 1 else next((p for p in points if p.member == chip), None)
    if found is None:
        raise ConfigError(None, "--chip", f"a chip index 0..{len(points) - 1} of trial {trial}, which holds "
                          f"{len(points)} designs", got=chip)
    return found


def _trial_of(view: StudyView, trial: int) -> TrialView:
    try:
        return view.trial(trial)
    except KeyError:
        raise ConfigError(None, "--trial", f"a trial number of study '{view.name}' (0..{len(view.trials) - 1})",
                          got=trial) from None


def _check_exportable(t: TrialView) -> None:
    if t.state == "FAIL":
        raise ConfigError(None, "--trial", "a trial that finished", got=t.number,
                          hint=f"trial {t.number} failed: {t.error or 'no reason recorded'}; it has no network to export")
    if t.state != "COMPLETE":
        pruned = t.record.pruned if t.record is not None and getattr(t.record, "pruned", None) else None
        raise ConfigError(None, "--trial", "a trial that finished", got=t.number,
                          hint=f"trial {t.number} is {t.state.lower()}" + (f" ({pruned})" if pruned else "")
                          + "; it has no trained network to export")
    if t.record is None:
        raise ConfigError(None, "--trial", "a trial evaluated by codesign (with a stored record)", got=t.number)


def _artifact(view: StudyView, t: TrialView, name: str) -> Path:
    path = view.artifact_path(t, name)
    if path is None:
        raise ConfigError(None, "--trial", f"a trial whose record names a '{name}' artifact", got=t.number)
    if not path.is_file():
        raise ConfigError(path, "", f"the '{name}' artifact of trial {t.number}",
                          hint="file not found; pass --artifacts DIR if the study's files moved")
    return path


def _point_file(point: DesignPoint, stored: tuple[str, Path], what: str) -> Path:
    """The local file of a design's ``stored`` (path the record names, local path)."""
    rel, path = stored
    if not path.is_file():
        raise ConfigError(path, "", f"the {what} of design {point.point_id} ({rel})",
                          hint="file not found; pass --artifacts DIR if the study's files moved")
    return path


def export_bundle(
    view: StudyView,
    point: DesignPoint,
    out: str | Path,
    storage: str | None = None,
    datetime_complete: str | None = None,
) -> ExportResult:
    """Write the bundle of ``point`` to ``out`` (a new or empty directory), atomically.

    Raises:
        ConfigError: ``out`` exists and is not empty, an artifact is missing or unreadable.
    """
    from codesign.trace import load_trace

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(out, "", "a new or empty output directory", hint="it exists and is not empty")
    t = view.trial(point.trial)
    _check_exportable(t)
    record = t.record
    assert record is not None
    summary_path = _artifact(view, t, "train_result")
    weights_path = _artifact(view, t, "weights")
    summary = load_json_object(summary_path, "a training summary (JSON)")
    chip = _point_chip(record, point)
    precision = chip_precision(chip)
    costed_on = point_trace(view, point)  # the trace the design was costed on, which its strategy named
    if costed_on is None:
        raise ConfigError(None, "--trial", f"a trial whose record names the trace of its {precision.label} design",
                          got=t.number)
    trace_path = _point_file(point, costed_on, "trace")
    config = _bundle_config(view, t, point, summary, chip, storage, datetime_complete)
    net = bundle_network(config, weights_path)
    trace = load_trace(trace_path)

    with staged_directory(out) as tmp:
        (tmp / CONFIG_FILE).write_text(
            "# codesign bundle: rebuild with `codesign evaluate <this directory>`\n"
            "# objectives and the plain accuracy/wer/cer in metrics are on the validation split (what the\n"
            "# search selected on); test_* on the held-out test split, and heldout_engine_* the same figures\n"
            "# where that split's engines were never heard in training; measured_on names each split's engines\n"
            "# and voices\n"
            + yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
        shutil.copyfile(weights_path, tmp / WEIGHTS_FILE)
        shutil.copyfile(trace_path, tmp / TRACE_FILE)
        shutil.copyfile(summary_path, tmp / TRAIN_RESULT_FILE)
        _write_cost_report(tmp / COST_REPORT_FILE, view, point, trace, chip)
        exported = _write_on_chip_network(tmp, net, config, precision)
        write_manifest(tmp)
        if not publish_directory(tmp, out):
            raise ConfigError(out, "", "a new or empty output directory",
                              hint="another process wrote into it during the export")
    return ExportResult(out, point, config, exported)


def bundle_network(config: BundleConfig, weights: Path) -> nn.Module:
    """The network a bundle config describes with the weights of ``weights`` (eval mode).

    Raises:
        ConfigError: the weights file is damaged or does not fit the network (named).
    """
    from codesign.train import load_network

    return load_network(config.network_config, config.n_features, config.n_outputs,
                        config.head, weights)  # type: ignore[arg-type]  # str: typing it Head would import torch


def _point_chip(record: TrialRecord, point: DesignPoint) -> ChipConfig:
    """The chip of a design point (:func:`codesign.search.point_chip`: a nested point's chip is
    the study's base chip with its ``hw.*`` parameters, named and described as that chip)."""
    try:
        return point_chip(record, point)
    except ValueError as err:
        raise ConfigError(None, "--trial", "a trial whose record stores its chip", got=point.trial,
                          hint=str(err)) from None


def _bundle_config(view: StudyView, t: TrialView, point: DesignPoint, summary: dict[str, Any], chip: ChipConfig,
                   storage: str | None, datetime_complete: str | None) -> BundleConfig:
    """``config.yaml`` of the bundle of ``point``: its configs, provenance and stored figures."""
    record = t.record
    assert record is not None
    study = _study_settings(view.spec)
    return BundleConfig(
        codesign_version=__version__,
        code_commit=code_commit(),
        study=_provenance(view, t, record, point, storage, datetime_complete),
        seed=int(summary.get("seed", study.pop("seed"))),
        **study,
        # a record too old to say: the defaults, as its evaluation used them
        model=record.model_config_ or default_model_config(),
        chip=chip,
        train=record.train_config or TrainConfig(),
        head=summary["head"],
        n_features=int(summary["n_features"]),
        n_outputs=int(summary["n_outputs"]),
        params=dict(point.params),
        objectives=dict(zip(view.objective_names, point.values, strict=True)),
        constraints=dict(point.constraints),
        metrics={**_numbers(summary.get("metrics", {})), **point.metrics},
        confirmed=None if point.confirmed is None else {
            "seeds": list(point.confirmed.seeds), "mean": dict(point.confirmed.mean), "std": dict(point.confirmed.std)},
        measured_on={split: m.to_dict() for split, m in record.measured_on.items()},
    )


def _study_settings(spec: StudySpec | None) -> dict[str, Any]:
    """What a bundle takes from its study's spec (seed, corpus, trace batch, precision mode);
    for a study whose stored spec this version does not read, the defaults of its time."""
    if spec is None:
        return {"seed": 0, "corpus": CorpusConfig(), "trace_batch": 32, "precision_mode": "ptq"}
    return {"seed": spec.seed, "corpus": spec.corpus, "trace_batch": spec.trace_batch,
            "precision_mode": spec.precision}


def _provenance(view: StudyView, t: TrialView, record: TrialRecord, point: DesignPoint, storage: str | None,
                datetime_complete: str | None) -> StudyProvenance:
    rec = recommendation_of(view)
    return StudyProvenance(
        name=view.name, storage=storage, trial=t.number, chip_index=point.member, state=t.state,
        datetime_complete=datetime_complete, strategy=record.strategy, point_id=point.point_id,
        recommended=rec is not None and rec.point_id == point.point_id,
    )


def _numbers(values: dict[str, object]) -> dict[str, float]:
    """The numeric entries of a training summary's metrics."""
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}


def _write_cost_report(path: Path, view: StudyView, point: DesignPoint, trace: WorkloadTrace,
                       chip: ChipConfig) -> None:
    """The cost report: the one stored for the design (checked), else recomputed for its chip
    on its trace (a chip of a hardware sweep)."""
    from codesign.hardware import CostReport, estimate_cost

    stored = point_cost_report(view, point)
    if stored is not None:
        cost_path = _point_file(point, stored, "cost report")
        CostReport.from_dict(load_json_object(cost_path, "a cost report (JSON)"))  # refuse a damaged one
        shutil.copyfile(cost_path, path)
    else:
        path.write_text(json.dumps(estimate_cost(trace, chip).to_dict(), indent=2), encoding="utf-8")


def _write_on_chip_network(bundle: Path, net: nn.Module, config: BundleConfig, precision: Precision) -> NirExport:
    """The network as the chip holds its weights (state precision needs no tensor): the integer
    weights below 32 bits, and the NIR graph."""
    import nir
    import torch

    from codesign.snn import Precision, quantise_network

    weights_only = Precision(weight_bits=precision.weight_bits, wide_weight_bits=precision.wide_weight_bits,
                             tap_scales=precision.tap_scales)
    on_chip, _ = quantise_network(net, weights_only)
    if precision.weight_bits != Precision().weight_bits:
        _write_integer_weights(bundle / WEIGHTS_INT_FILE, on_chip, weights_only)
    probe = torch.zeros(1, NIR_PROBE_FRAMES, config.n_features)
    exported = network_to_nir(on_chip, probe, torch.tensor([NIR_PROBE_FRAMES]),
                              {"codesign_model_config": json.dumps(config.model.to_dict(), sort_keys=True),
                               "codesign_weight_bits": str(precision.weight_bits),
                               **({} if precision.wide_weight_bits is None else
                                  {"codesign_wide_weight_bits": str(precision.wide_weight_bits)}),
                               **({"codesign_tap_scales": "true"} if precision.tap_scales else {})})
    nir.write(bundle / NIR_FILE, exported.graph)
    return exported


def _write_integer_weights(path: Path, on_chip: nn.Module, precision: Precision) -> None:
    """``<layer>.<param>.levels`` and ``.scale`` of every quantised weight, as the chip stores them
    (the wide layers, ``Precision.wide_weight_bits``, at their bits: named in the metadata; with
    ``Precision.tap_scales`` their scales ``[out, taps]``, one per output channel and kernel tap,
    the layers named in ``tap_scaled``)."""
    from safetensors.torch import save_file

    from codesign.snn import integer_weights

    tensors = {}
    wide, per_tap = [], []
    for name, (levels, scale, bits) in integer_weights(on_chip, precision).items():
        tensors[f"{name}.levels"], tensors[f"{name}.scale"] = levels.contiguous(), scale.contiguous()
        if bits != precision.weight_bits:
            wide.append(name)
        if scale.ndim == 2:
            per_tap.append(name)
    metadata = {"weight_bits": str(precision.weight_bits), "convention": "symmetric per output channel"}
    if precision.wide_weight_bits is not None:
        metadata.update(wide_weight_bits=str(precision.wide_weight_bits), wide_weights=",".join(wide))
    if precision.tap_scales:
        metadata.update(convention="symmetric per output channel; tap_scaled: per (output channel, kernel tap), "
                                   "scale [out, taps]", tap_scaled=",".join(per_tap))
    save_file(tensors, str(path), metadata=metadata)


def load_bundle_config(bundle: str | Path, verify: bool = True) -> BundleConfig:
    """Read a bundle's ``config.yaml`` after checking every file against the manifest.

    Raises:
        ConfigError: a file is missing, truncated or edited, or the config is invalid.
    """
    bundle = Path(bundle)
    if verify:
        verify_bundle(bundle, REQUIRED_FILES)
    config = load_spec(BundleConfig, bundle / CONFIG_FILE)
    if verify and config.chip.weight_bits != 32:  # a chip's integer weights are part of it
        verify_bundle(bundle, (*REQUIRED_FILES, WEIGHTS_INT_FILE))
    return config
