"""Exporting one stored design point as a self-contained, checksummed bundle.

A bundle directory holds:

- ``config.yaml``: model, chip, training and corpus configs, seed, head and sizes, the study
  and trial it came from, the code version, and the stored objectives/constraints/metrics;
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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from codesign import __version__
from codesign.config import MEASURED, ConfigError, Spec, load_spec
from codesign.export._manifest import verify_bundle, write_manifest
from codesign.export._nir import NirExport, network_to_nir
from codesign.export._pick import pick_point
from codesign.search import DesignPoint, StudyView, TrialView

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
    chip_index: int | None = Field(None, description="chip of a nested trial's hardware set")
    state: str
    datetime_complete: str | None = None
    strategy: str = "joint"


class BundleConfig(Spec):
    """``config.yaml`` of a bundle: everything needed to rebuild and re-score the network."""

    model_config = MEASURED

    codesign_version: str
    code_commit: str | None = None
    study: StudyProvenance
    seed: int
    corpus: dict[str, Any]
    model: dict[str, Any]
    chip: dict[str, Any]
    train: dict[str, Any]
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

    @property
    def precision(self) -> Any:
        """The precision the stored figures were scored at: the chip's weight and state bits."""
        from codesign.snn import Precision

        return Precision(weight_bits=self.chip["weight_bits"], state_bits=self.chip["state_bits"])


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_bundle` wrote."""

    path: Path
    point: DesignPoint
    config: BundleConfig
    nir: NirExport


def code_commit() -> str | None:
    """The git commit of the codesign checkout (``+dirty`` when it has local changes), if any."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def select_point(view: StudyView, trial: int | None = None, chip: int | None = None,
                 pick: str | None = None) -> DesignPoint:
    """The design point to export: ``--trial N [--chip K]`` or ``--pick EXPR``.

    Raises:
        ConfigError: neither or both given; the trial does not exist, failed, was pruned
            (never trained) or is unfinished; a nested trial without ``--chip``; a pick
            expression that is malformed or matches nothing.
    """
    if (trial is None) == (pick is None):
        raise ConfigError(None, "--trial/--pick", "exactly one of --trial N or --pick EXPR")
    if pick is not None:
        return pick_point(view, pick)
    assert trial is not None
    try:
        t = view.trial(trial)
    except KeyError:
        raise ConfigError(None, "--trial", f"a trial number of study '{view.name}' (0..{len(view.trials) - 1})",
                          got=trial) from None
    _check_exportable(t)
    points = [p for p in (*view.points, *view.references) if p.trial == trial]
    if not points:
        raise ConfigError(None, "--trial", "a finished trial with objective values", got=trial)
    if len(points) > 1 and chip is None:
        raise ConfigError(None, "--chip", f"a chip index 0..{len(points) - 1} of nested trial {trial}")
    for p in points:
        if p.chip == chip or len(points) == 1:
            return p
    raise ConfigError(None, "--chip", f"a chip index 0..{len(points) - 1} of trial {trial}", got=chip)


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
    import torch
    from safetensors.torch import load_file

    from codesign.hardware import ChipConfig, CostReport, evaluate
    from codesign.search import split_params
    from codesign.snn import ModelConfig, build_model
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
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(summary_path, "", "a training summary (JSON)", hint=str(err)) from None
    spec = view.spec or {}
    chip_fields = dict(record.chip_config)
    if point.chip is not None:
        # A nested point's chip: the study's base chip with this point's hw.* parameters.
        chip_fields.update(split_params({k: v for k, v in point.params.items() if k.startswith("hw.")})[2])
    chip = ChipConfig.model_validate(chip_fields)
    from codesign.snn import Precision

    precision = Precision(weight_bits=chip.weight_bits, state_bits=chip.state_bits)
    # joint trials keep the trace of their chip's precision as "trace"; a nested trial keeps
    # one per precision it swept, "trace@<precision>"
    trace_path = _artifact(view, t, "trace" if "trace" in record.artifacts else f"trace@{precision.label}")
    config = BundleConfig(
        codesign_version=__version__,
        code_commit=code_commit(),
        study=StudyProvenance(
            name=view.name, storage=storage, trial=t.number, chip_index=point.chip, state=t.state,
            datetime_complete=datetime_complete, strategy=record.strategy,
        ),
        seed=int(summary.get("seed", spec.get("seed", 0))),
        corpus=dict(spec.get("corpus", {})),
        model=dict(record.model_config_),
        chip=chip.to_dict(),
        train=dict(record.train_config),
        head=summary["head"],
        n_features=int(summary["n_features"]),
        n_outputs=int(summary["n_outputs"]),
        trace_batch=int(spec.get("trace_batch", 32)),
        params=dict(point.params),
        objectives=dict(zip(view.objective_names, point.values, strict=True)),
        constraints=dict(point.constraints),
        metrics={**{k: float(v) for k, v in summary.get("metrics", {}).items() if isinstance(v, (int, float))},
                 **point.metrics},
        precision_mode=str(spec.get("precision", "ptq")),
        confirmed=None if point.confirmed is None else {
            "seeds": list(point.confirmed.seeds), "mean": dict(point.confirmed.mean), "std": dict(point.confirmed.std)},
    )
    model_cfg = ModelConfig.model_validate(config.model)
    try:
        state = load_file(str(weights_path))
    except Exception as err:  # safetensors raises its own error types for a damaged file
        raise ConfigError(weights_path, "", "a safetensors weights file", hint=str(err)) from None
    net = build_model(model_cfg, config.n_features, config.n_outputs, config.head)  # type: ignore[arg-type]
    net.load_state_dict(state)
    net.eval()
    trace = load_trace(trace_path)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / CONFIG_FILE).write_text(
            "# codesign bundle: rebuild with `codesign evaluate <this directory>`\n"
            + yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
        shutil.copyfile(weights_path, tmp / WEIGHTS_FILE)
        shutil.copyfile(trace_path, tmp / TRACE_FILE)
        shutil.copyfile(summary_path, tmp / TRAIN_RESULT_FILE)
        if point.chip is None:
            cost_path = _artifact(view, t, "cost_report")
            CostReport.from_dict(json.loads(cost_path.read_text(encoding="utf-8")))  # refuse a damaged one
            shutil.copyfile(cost_path, tmp / COST_REPORT_FILE)
        else:
            report = evaluate(trace, chip)
            (tmp / COST_REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        import nir

        from codesign.snn import integer_weights, quantise_network

        # the network as the chip holds its weights (state precision needs no tensor)
        on_chip, _ = quantise_network(net, Precision(weight_bits=precision.weight_bits))
        if precision.weight_bits != Precision().weight_bits:
            from safetensors.torch import save_file

            tensors = {}
            for name, (levels, scale) in integer_weights(on_chip, precision.weight_bits).items():
                tensors[f"{name}.levels"], tensors[f"{name}.scale"] = levels.contiguous(), scale.contiguous()
            save_file(tensors, str(tmp / WEIGHTS_INT_FILE),
                      metadata={"weight_bits": str(precision.weight_bits), "convention": "symmetric per output channel"})
        probe = torch.zeros(1, NIR_PROBE_FRAMES, config.n_features)
        exported = network_to_nir(on_chip, probe, torch.tensor([NIR_PROBE_FRAMES]),
                                  {"codesign_model_config": json.dumps(config.model, sort_keys=True),
                                   "codesign_weight_bits": str(precision.weight_bits)})
        nir.write(tmp / NIR_FILE, exported.graph)
        write_manifest(tmp)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, point, config, exported)


def load_bundle_config(bundle: str | Path, verify: bool = True) -> BundleConfig:
    """Read a bundle's ``config.yaml`` after checking every file against the manifest.

    Raises:
        ConfigError: a file is missing, truncated or edited, or the config is invalid.
    """
    bundle = Path(bundle)
    if verify:
        verify_bundle(bundle, REQUIRED_FILES)
    return load_spec(BundleConfig, bundle / CONFIG_FILE)
