"""The real evaluation of one trial, run inside a Ray worker.

``evaluate_trial(params, spec, trial_number, artifact_dir)`` follows the project's one-way
flow: parameters -> ModelConfig + TrainConfig + ChipConfig -> cheap chip check -> short
training run (cached) -> workload trace (cached with it) -> chip cost model -> objectives and
constraints -> a :class:`TrialRecord` dict. It never catches an error to turn it into a
score: anything that goes wrong raises, and the driver tells the trial FAIL with the reason.

Strategies:
- ``joint``: the trial's ``hw.*`` parameters give one chip; one design point.
- ``nested``: the trial only has ``snn.*`` parameters; the network's trace is evaluated on a
  sweep of the study's ``hw.*`` space at once (the vectorised chip model) and the record
  keeps that network's hardware Pareto set.

Training cache: ``<runs>/_train_cache/<key>/`` holds ``result.json``, ``weights.safetensors``
and ``trace.npz`` for one (model, training, corpus, seed, trace batch) combination, so a
trial repeating a trained network with other hardware costs only the chip model.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from codesign.config import parse_spec, stable_hash
from codesign.search._front import DesignPoint, as_minimisation, pareto_mask
from codesign.search._objectives import FITS_ON_CHIP, constraint_values, objective_values
from codesign.search._record import HardwarePoint, TrialRecord
from codesign.search._space import sample_points, split_params
from codesign.search._spec import StudySpec
from codesign.search._storage import TRAIN_CACHE_DIR

#: Utterances in the untrained forward pass of the cheap fit check (the fit does not depend
#: on activity, only on the network's weights and state).
_FIT_CHECK_UTTERANCES = 1


def prepare_study(spec: StudySpec, progress: bool = True) -> None:
    """Work every trial shares, done once by the driver before trials start: the corpus
    is synthesised and cached here so that workers only read it."""
    from codesign.data import CorpusConfig, load_corpus

    load_corpus(parse_spec(CorpusConfig, spec.corpus, key_prefix="corpus"), progress=progress)


def evaluate_trial(
    params: dict[str, Any], spec: dict[str, Any], trial_number: int, artifact_dir: str
) -> dict[str, Any]:
    """Evaluate one trial (see the module docstring); returns a TrialRecord dict.

    Args:
        params: the trial's parameters (``snn.*`` and, for ``joint``, ``hw.*``).
        spec: the study spec as a dict (``StudySpec.to_dict()``).
        trial_number: the Optuna trial number (names the artifact folder).
        artifact_dir: the study's artifact directory; artifact paths in the record are
            relative to it.

    Raises:
        Exception: whatever failed (bad parameter combination, diverged training, ...).
    """
    import torch

    from codesign.data import CorpusConfig, load_corpus
    from codesign.hardware import ChipConfig
    from codesign.snn import ModelConfig
    from codesign.train import TrainConfig

    started = time.perf_counter()
    study = parse_spec(StudySpec, spec, key_prefix="spec")
    model_over, train_over, chip_over = split_params(params)
    model_cfg = parse_spec(ModelConfig, {**study.model.to_dict(), **model_over}, key_prefix="snn")
    train_cfg = parse_spec(TrainConfig, {**study.fidelity.to_dict(), **train_over}, key_prefix="snn")
    corpus_cfg = parse_spec(CorpusConfig, study.corpus, key_prefix="corpus")
    torch.set_num_threads(train_cfg.threads)
    corpus = load_corpus(corpus_cfg, progress=False)
    root = Path(artifact_dir)
    trial_dir = root / "trials" / f"{trial_number:05d}"
    trial_dir.mkdir(parents=True, exist_ok=True)
    base = {
        "params": params,
        "model_config": model_cfg.to_dict(),
        "train_config": train_cfg.to_dict(),
        "worker_host": socket.gethostname(),
        "strategy": study.strategy,
    }

    if study.strategy == "joint":
        chip = parse_spec(ChipConfig, {**study.chip, **chip_over}, key_prefix="hw")
        base["chip_config"] = chip.to_dict()
        pruned = _cheap_chip_check(model_cfg, corpus, chip, study)
        if pruned is not None:
            metrics, constraints, reason = pruned
            return TrialRecord(
                **base, metrics=metrics, constraints=constraints, pruned=reason,
                wall_time_s=time.perf_counter() - started,
            ).to_dict()

    cache = _train_cached(model_cfg, train_cfg, corpus_cfg, corpus, study, root.parent / TRAIN_CACHE_DIR)
    network_metrics = cache["metrics"]
    artifacts = {name: os.path.relpath(path, root) for name, path in cache["paths"].items()}
    from codesign.trace import load_trace

    trace = load_trace(cache["paths"]["trace"])

    if study.strategy == "joint":
        report, fits = _cost(trace, chip)
        cost_path = trial_dir / "cost_report.json"
        _write_json(cost_path, report.to_dict())
        artifacts["cost_report"] = os.path.relpath(cost_path, root)
        metrics = {**network_metrics, **report.metrics(), FITS_ON_CHIP: fits}
        return TrialRecord(
            **base,
            objectives=dict(zip(study.objectives, objective_values(metrics, list(study.objectives)), strict=True)),
            constraints=constraint_values(metrics, study.parsed_constraints()),
            metrics=metrics,
            energy_by_category_pj=report.energy_by_category_pj,
            artifacts=artifacts,
            wall_time_s=time.perf_counter() - started,
            trained=not cache["hit"],
            cache_hit=cache["hit"],
        ).to_dict()

    front, objectives, constraints = _hardware_sweep(trace, network_metrics, study)
    return TrialRecord(
        **base,
        chip_config=dict(study.chip),
        objectives=objectives,
        constraints=constraints,
        metrics=network_metrics,
        artifacts=artifacts,
        wall_time_s=time.perf_counter() - started,
        trained=not cache["hit"],
        cache_hit=cache["hit"],
        hw_front=front,
    ).to_dict()


# --------------------------------------------------------------------------------------------


def _cheap_chip_check(model_cfg: Any, corpus: Any, chip: Any, study: StudySpec) -> tuple[dict[str, float], dict[str, float], str] | None:
    """Before training: does the network fit on the chip, and is its area within budget?

    Runs the real chip model on the trace of one untrained forward pass: weights, state and
    area do not depend on what the network learns. Returns (metrics, constraint values,
    reason) for an infeasible chip, None when training should go ahead.
    """
    from codesign.snn import build_model
    from codesign.trace import record_trace

    head = "ctc" if corpus.kind == "ctc" else "classify"
    net = build_model(model_cfg, corpus.n_features, len(corpus.vocabulary), head).eval()
    split = corpus.validation
    n = _FIT_CHECK_UTTERANCES
    trace = record_trace(net, split.features[:n], split.feature_lengths[:n], model_cfg, sample_spikes=False)
    report, fits = _cost(trace, chip)
    metrics = {"area_mm2": report.area_mm2, "sram_used_kb": report.sram_used_kb, "weight_kb": report.weight_kb,
               FITS_ON_CHIP: fits}
    activity_free = [c for c in study.parsed_constraints() if c.metric in metrics]
    constraints = constraint_values(metrics, activity_free)
    violated = [name for name, value in constraints.items() if value > 0]
    if not violated:
        return None
    reasons = [r for r in report.reasons if not r.startswith("misses deadline")]  # activity-dependent
    return metrics, constraints, "infeasible chip before training: " + "; ".join(violated + reasons)


def _cost(trace: Any, chip: Any) -> tuple[Any, float]:
    """The chip model's CostReport for one chip, and 1.0 when the network fits on it (neither
    its weights nor its neuron state overflow the chip's SRAM), else 0.0."""
    from codesign.hardware import evaluate_batch

    batch = evaluate_batch(trace, [chip], by_layer=True)
    return batch.report(0), float(_fits(batch.reason_flags)[0])


def _fits(reason_flags: np.ndarray) -> np.ndarray:
    from codesign.hardware import REASON_FLAGS

    no_fit = REASON_FLAGS["weights"] | REASON_FLAGS["state"]
    return ((reason_flags.astype(int) & no_fit) == 0).astype(float)


def training_key(model_cfg: Any, train_cfg: Any, corpus_cfg: Any, seed: int, trace_batch: int) -> str:
    """Cache key of one trained network and its trace."""
    return stable_hash({
        "model": model_cfg.to_dict(), "train": train_cfg.to_dict(), "corpus": corpus_cfg.cache_key(),
        "seed": seed, "trace_batch": trace_batch, "trace_split": "validation",
    })


def _train_cached(model_cfg: Any, train_cfg: Any, corpus_cfg: Any, corpus: Any, study: StudySpec,
                  cache_root: Path) -> dict[str, Any]:
    """Train and trace the network, or read both from the training cache.

    Returns:
        ``{"hit": bool, "metrics": network metrics, "paths": {trace, weights, train_result}}``.
    """
    entry = cache_root / training_key(model_cfg, train_cfg, corpus_cfg, study.seed, study.trace_batch)
    done = entry / "metrics.json"
    hit = done.is_file()
    if not hit:
        from codesign.trace import evaluation_batch, record_trace, save_trace, trace_metrics
        from codesign.train import save_train_result, train

        result = train(model_cfg, corpus, train_cfg, seed=study.seed)
        # the fixed evaluation batch: the first ``trace_batch`` validation utterances, which is
        # what codesign.export re-records a bundle's trace on (its ``trace_split``)
        features, lengths = evaluation_batch(corpus.validation, study.trace_batch)
        trace = record_trace(result.model, features, lengths, model_cfg)
        # Written in a private folder and renamed, so a concurrent trial of the same network
        # or a crash never leaves a half-written entry; the first finished entry wins.
        cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=entry.name + ".", dir=cache_root))
        save_train_result(result, tmp)
        save_trace(trace, tmp / "trace.npz")
        metrics = _network_metrics(result.metrics, result.metric_name, trace_metrics(trace).to_dict())
        _write_json(tmp / "metrics.json", metrics)
        try:
            tmp.rename(entry)
        except OSError:  # another worker finished the same network first: keep theirs
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    metrics = json.loads(done.read_text())
    paths = {"trace": entry / "trace.npz", "weights": entry / "weights.safetensors",
             "train_result": entry / "result.json"}
    return {"hit": hit, "metrics": metrics, "paths": paths}


def _network_metrics(train_metrics: dict[str, float], headline: str, trace_figures: dict[str, float]) -> dict[str, float]:
    """The network's metrics: the task metric on the validation split under its plain name
    (the search selects on validation; ``test_*`` stays for the report), the training run's
    figures, and the trace's NeuroBench figures."""
    metrics = {k: float(v) for k, v in train_metrics.items()}
    for name in ("accuracy", "wer", "cer"):
        if f"validation_{name}" in metrics:
            metrics[name] = metrics[f"validation_{name}"]
    if headline not in metrics:
        raise ValueError(f"training reported no validation {headline}")
    metrics.update(trace_figures)
    return metrics


def _hardware_sweep(
    trace: Any, network_metrics: dict[str, float], study: StudySpec
) -> tuple[list[HardwarePoint], dict[str, float], dict[str, float]]:
    """Evaluate the network on a sweep of the study's hw.* space at once.

    Returns:
        The network's hardware Pareto set (feasible chips only), the trial's objectives (the
        best of each objective over that set, else over all chips) and its constraints (the
        least violated value of each over all chips).
    """
    from codesign.hardware import ChipConfig, evaluate_batch

    hw_space = study.search_space().subspace("hw")
    points = sample_points(hw_space, study.nested.hw_points, study.seed)
    fields = sorted({k for p in points for k in p})
    base = parse_spec(ChipConfig, study.chip, key_prefix="chip")
    base_values = base.to_dict()
    columns = {
        name.partition(".")[2]: np.array([p.get(name, base_values[name.partition(".")[2]]) for p in points])
        for name in fields
    }
    batch = evaluate_batch(trace, columns, base=base)
    fits = _fits(batch.reason_flags)
    per_chip = {
        "energy_uj": batch.energy_uj, "energy_pj": batch.total_energy_pj, "cycles": batch.cycles,
        "latency_ms": batch.latency_ms, "area_mm2": batch.area_mm2, "sram_used_kb": batch.sram_used_kb,
        "weight_kb": batch.weight_kb, "throughput_per_s": batch.throughput_per_s, FITS_ON_CHIP: fits,
    }
    constraints_spec = study.parsed_constraints()
    candidates = []
    for i, point in enumerate(points):
        metrics = {**network_metrics, **{k: float(v[i]) for k, v in per_chip.items()}}
        candidates.append(DesignPoint(
            trial=-1,
            params=point,
            objectives=dict(zip(study.objectives, objective_values(metrics, list(study.objectives)), strict=True)),
            constraints=constraint_values(metrics, constraints_spec),
            metrics={k: float(v[i]) for k, v in per_chip.items()},
        ))
    feasible = [c for c in candidates if c.feasible]
    front_points = [c for c, keep in zip(feasible, pareto_mask(as_minimisation(feasible, study.objectives)), strict=True)
                    if keep] if feasible else []
    pool = front_points or candidates
    best = {}
    for name, direction in study.objectives.items():
        values = [c.objectives[name] for c in pool]
        best[name] = min(values) if direction == "min" else max(values)
    least_violated = {name: min(c.constraints[name] for c in candidates) for name in candidates[0].constraints}
    front = [HardwarePoint(params=c.params, objectives=c.objectives, constraints=c.constraints, metrics=c.metrics)
             for c in front_points]
    return front, best, least_violated


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
