"""Stored studies written with ask/tell as the driver writes them, without Ray or training.

The quickstart spec (its real search space) with seeded, made-up records: fast enough for the
CLI tests of ``study front|status|delete`` and the README walkthrough's read-only steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna

from codesign.config import parse_spec
from codesign.search import (
    ARTIFACT_DIR_ATTR,
    CONFIRMED_ATTR,
    RECORD_ATTR,
    SPEC_ATTR,
    HardwarePoint,
    StudySpec,
    TrialRecord,
    default_storage_url,
    load_study,
    open_storage,
    study_artifact_dir,
    suggest,
)

ROOT = Path(__file__).resolve().parents[2]


def quickstart_spec(name: str, strategy: str = "joint") -> StudySpec:
    data = load_study(ROOT / "studies" / "quickstart.yaml").to_dict()
    data.update(name=name, strategy=strategy, sampler={"name": "random"})
    return parse_spec(StudySpec, data)


def _metrics(rng: np.random.Generator) -> dict[str, float]:
    return {"accuracy": float(rng.uniform(0.05, 0.4)), "energy_uj": float(rng.uniform(1, 40)),
            "latency_ms": float(rng.uniform(1, 90)), "area_mm2": float(rng.uniform(0.5, 3.5))}


def write_stored_study(runs: Path, name: str, strategy: str = "joint", trials: int = 8, seed: int = 0,
                       confirmed: dict[int, dict[str, Any]] | None = None,
                       measured_on: list[dict[str, Any]] | None = None) -> StudySpec:
    """A study ``name`` under ``runs`` with ``trials`` complete trials (nested: 3 chips each);
    ``measured_on``: the records' ``measured_on``, trial ``n`` taking entry ``n`` modulo its
    length (none by default, as in records stored before codesign kept it)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = quickstart_spec(name, strategy)
    storage = open_storage(default_storage_url(name, runs), create=True)
    study = optuna.create_study(study_name=name, storage=storage, directions=spec.directions(),
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.set_metric_names(list(spec.objectives))
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    artifact_dir = study_artifact_dir(name, runs)
    artifact_dir.mkdir(parents=True, exist_ok=True)
    study.set_user_attr(ARTIFACT_DIR_ATTR, str(artifact_dir))
    rng = np.random.default_rng(seed)
    space = spec.search_space()
    hw_space = space.subspace("hw")
    for n in range(trials):
        trial = study.ask()
        params = suggest(trial, space.subspace("snn") if strategy == "nested" else space)
        metrics = _metrics(rng)
        hw_front = []
        if strategy == "nested":
            for _ in range(3):
                chip_metrics = _metrics(rng)
                hw_params = {k: p.choices[int(rng.integers(len(p.choices)))]  # type: ignore[attr-defined]
                             for k, p in hw_space.parameters.items()}
                hw_front.append(HardwarePoint(params=hw_params,
                                              objectives={k: chip_metrics[k] for k in spec.objectives},
                                              constraints={"area_mm2 <= 4": chip_metrics["area_mm2"] - 4},
                                              metrics=chip_metrics))
        record = TrialRecord(params=params, objectives={k: metrics[k] for k in spec.objectives},
                             constraints={"area_mm2 <= 4": metrics["area_mm2"] - 4}, metrics=metrics,
                             trained=True, strategy=strategy, hw_front=hw_front, wall_time_s=1.0,
                             measured_on=measured_on[n % len(measured_on)] if measured_on else {})
        trial.set_user_attr(RECORD_ATTR, record.to_dict())
        if confirmed and n in confirmed:  # where `codesign study confirm` stores it
            study.set_user_attr(f"{CONFIRMED_ATTR}.{trial.number}", confirmed[n])
        trial.set_constraint("area_mm2 <= 4", record.constraints["area_mm2 <= 4"])
        study.tell(trial, [metrics[k] for k in spec.objectives])
    return spec
