"""Real Optuna studies on disk (SQLite and journal files) shaped like the driver's output.

The studies are written with ask/tell exactly as the driver does: TrialRecord user attributes,
constraint values, failed and infeasible trials, an ANN-twin reference trial, a running trial,
and a cost-report JSON artifact per trained trial.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from codesign.report import REFERENCE_ATTR
from codesign.search import ARTIFACT_DIR_ATTR, RECORD_ATTR, SPEC_ATTR, TrialRecord

OBJECTIVES = ("wer", "energy_uj", "area_mm2")
DIRECTIONS = ("minimize", "minimize", "minimize")
AREA_LIMIT_MM2 = 4.0
LAYERS = ("embed", "block0.attn", "block0.ffn", "head")
CATEGORIES = ("synaptic_compute", "weight_memory", "state_memory", "neuron_update", "noc", "offchip", "static")


@dataclass(frozen=True)
class Planned:
    """One trial to write: its params and objective values, or how it ends otherwise."""

    params: dict[str, object]
    values: tuple[float, float, float] | None
    state: str = "COMPLETE"  # COMPLETE | FAIL | PRUNED | RUNNING
    error: str | None = None
    reference: str | None = None


def _params(width: int, levels: int, neuron: str, sram_kb: float, cores: int) -> dict[str, object]:
    return {
        "snn.width": width,
        "snn.levels": levels,
        "snn.neuron": neuron,
        "hw.sram_kb": sram_kb,
        "hw.cores": cores,
    }


#: The hand-made study. Front = {0, 1, 5, 7}: 2 is dominated by 1, 6 by 0; 4 would be on the
#: front but breaks the area limit; 3 failed; 8 is an infeasible chip never trained; 9 is the
#: ANN twin (reference, never on the front); 10 is still running.
PLANNED = (
    Planned(_params(64, 4, "imls", 256.0, 4), (0.10, 5.0, 2.0)),
    Planned(_params(32, 2, "imls", 128.0, 2), (0.20, 3.0, 2.0)),
    Planned(_params(48, 3, "lif", 512.0, 4), (0.30, 4.0, 2.5)),
    Planned(_params(128, 8, "imls", 1024.0, 16), None, state="FAIL", error="training diverged: loss is nan"),
    Planned(_params(128, 6, "lif", 1024.0, 16), (0.05, 9.0, 6.0)),
    Planned(_params(16, 2, "lif", 64.0, 2), (0.25, 2.0, 1.5)),
    Planned(_params(64, 5, "lif", 256.0, 8), (0.12, 6.0, 2.2)),
    Planned(_params(16, 1, "imls", 32.0, 1), (0.40, 1.5, 3.0)),
    Planned(_params(128, 4, "imls", 16.0, 1), None, state="PRUNED", error=None),
    Planned(_params(64, 4, "imls", 256.0, 4), (0.08, 40.0, 2.0), reference="ANN twin"),
    Planned(_params(32, 3, "lif", 128.0, 4), None, state="RUNNING"),
)
FRONT = (0, 1, 5, 7)


def distributions() -> dict[str, optuna.distributions.BaseDistribution]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    return {
        "snn.width": IntDistribution(16, 128, step=16),
        "snn.levels": IntDistribution(1, 8),
        "snn.neuron": CategoricalDistribution(["lif", "imls"]),
        "hw.sram_kb": FloatDistribution(16.0, 1024.0, log=True),
        "hw.cores": IntDistribution(1, 16),
    }


def cost_report_dict(energy_uj: float, area_mm2: float, seed: int) -> dict[str, object]:
    """A cost report, as the chip model writes it, whose layer x category table sums to ``energy_uj``."""
    from codesign.hardware import CostReport

    rng = np.random.default_rng(seed)
    share = rng.random((len(LAYERS), len(CATEGORIES)))
    table = share / share.sum() * energy_uj * 1e6
    cycles = 1000.0 * (seed + 1)
    return CostReport(
        chip_name=f"chip{seed}", layer_names=LAYERS, energy_by_layer_category_pj=table, cycles=cycles,
        cycles_by_layer=np.full(len(LAYERS), cycles / len(LAYERS)), barrier_cycles=0.0, latency_ms=0.5 * (seed + 1),
        throughput_per_s=2000.0 / (seed + 1), area_mm2=area_mm2, sram_used_kb=10.0, weight_kb=8.0, offchip_bits=0.0,
        utilisation={"pe": 0.5, "neuron_units": 0.5, "cores": 1.0}, feasible=True,
    ).to_dict()


def write_study(storage: optuna.storages.BaseStorage | str, name: str, artifact_dir: Path,
                planned: tuple[Planned, ...] = PLANNED) -> optuna.Study:
    """Write ``planned`` into a new study the way the driver does (ask/tell, records, specs)."""
    study = optuna.create_study(study_name=name, storage=storage, directions=list(DIRECTIONS))
    study.set_metric_names(list(OBJECTIVES))
    study.set_user_attr(SPEC_ATTR, {"name": name, "objectives": dict.fromkeys(OBJECTIVES, "min")})
    study.set_user_attr(ARTIFACT_DIR_ATTR, str(artifact_dir))
    dists = distributions()
    for i, plan in enumerate(planned):
        if plan.reference is not None:
            values = plan.values
            assert values is not None
            rec = _record(i, plan, values, artifact_dir)
            study.add_trial(
                optuna.trial.create_trial(
                    params=plan.params,
                    distributions={k: dists[k] for k in plan.params},
                    values=list(values),
                    user_attrs={RECORD_ATTR: rec.to_dict(), REFERENCE_ATTR: plan.reference},
                )
            )
            continue
        study.enqueue_trial(plan.params)
        trial = study.ask()
        trial.suggest_int("snn.width", 16, 128, step=16)
        trial.suggest_int("snn.levels", 1, 8)
        trial.suggest_categorical("snn.neuron", ["lif", "imls"])
        trial.suggest_float("hw.sram_kb", 16.0, 1024.0, log=True)
        trial.suggest_int("hw.cores", 1, 16)
        if plan.state == "RUNNING":
            continue
        if plan.state == "FAIL":
            rec = TrialRecord(params=plan.params, error=plan.error)
            trial.set_user_attr(RECORD_ATTR, rec.to_dict())
            study.tell(trial, state=TrialState.FAIL)
        elif plan.state == "PRUNED":
            rec = TrialRecord(params=plan.params, constraints={"area_mm2": -1.0, "fits_on_chip": 1.0})
            trial.set_user_attr(RECORD_ATTR, rec.to_dict())
            study.tell(trial, state=TrialState.PRUNED)
        else:
            assert plan.values is not None
            rec = _record(i, plan, plan.values, artifact_dir)
            trial.set_user_attr(RECORD_ATTR, rec.to_dict())
            for cname, cvalue in rec.constraints.items():
                trial.set_constraint(cname, cvalue)
            study.tell(trial, list(plan.values))
    return study


def _record(i: int, plan: Planned, values: tuple[float, ...], artifact_dir: Path) -> TrialRecord:
    wer, energy_uj, area_mm2 = values
    report = cost_report_dict(energy_uj, area_mm2, seed=i)
    rel = Path(f"trial_{i:04d}") / "cost_report.json"
    (artifact_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (artifact_dir / rel).write_text(json.dumps(report))
    by_category = dict(zip(CATEGORIES, np.asarray(report["energy_pj_by_layer_category"]).sum(axis=0).tolist(), strict=True))
    return TrialRecord(
        params=plan.params,
        objectives=dict(zip(OBJECTIVES, values, strict=True)),
        constraints={"area_mm2": area_mm2 - AREA_LIMIT_MM2, "fits_on_chip": 0.0},
        metrics={
            "wer": wer,
            "energy_uj": energy_uj,
            "area_mm2": area_mm2,
            "accuracy": 1.0 - wer,
            "cycles": float(report["cycles"]),  # type: ignore[arg-type]
            "latency_ms": float(report["latency_ms"]),  # type: ignore[arg-type]
        },
        energy_by_category_pj=by_category,
        artifacts={"cost_report": str(rel)},
        wall_time_s=1.5,
        trained=True,
    )


StorageFactory = Callable[[Path], tuple[str, "optuna.storages.BaseStorage | str"]]


def _sqlite(tmp: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp / 'study.db'}"
    return url, url


def _journal(tmp: Path) -> tuple[str, optuna.storages.BaseStorage]:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = tmp / "study.log"
    return f"journal:///{path}", JournalStorage(JournalFileBackend(str(path)))


def _write(kind: str, tmp: Path) -> tuple[str, str, Path]:
    url, storage = (_sqlite if kind == "sqlite" else _journal)(tmp)
    artifacts = tmp / "artifacts"
    artifacts.mkdir()
    write_study(storage, "hand", artifacts)
    return url, "hand", artifacts


@pytest.fixture(scope="session", params=["sqlite", "journal"])
def stored_study(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """(storage URL, study name, artifact dir) of the hand-made study on a real storage file.

    Written once per session (SQLite commits are slow on a loaded machine); tests only read it.
    """
    return _write(request.param, tmp_path_factory.mktemp(f"study_{request.param}"))


@pytest.fixture(scope="session")
def sqlite_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """The hand-made study in SQLite, shared read-only by the tests."""
    return _write("sqlite", tmp_path_factory.mktemp("study_sqlite"))


@pytest.fixture
def own_sqlite_study(tmp_path: Path) -> tuple[str, str, Path]:
    """The hand-made study in SQLite, for a test that changes its files."""
    return _write("sqlite", tmp_path)


def random_plans(n: int, seed: int = 0) -> tuple[Planned, ...]:
    """``n`` trials whose wer depends mostly on width and energy mostly on levels and cores."""
    rng = np.random.default_rng(seed)
    plans = []
    for _ in range(n):
        width = int(rng.choice([16, 32, 48, 64, 80, 96, 112, 128]))
        levels = int(rng.integers(1, 9))
        cores = int(rng.integers(1, 17))
        neuron = str(rng.choice(["lif", "imls"]))
        sram = float(np.exp(rng.uniform(np.log(16), np.log(1024))))
        wer = 0.5 - 0.003 * width + 0.005 * rng.random()
        energy = 0.5 * levels + 0.2 * cores + 0.05 * rng.random()
        area = 0.2 * cores + 0.001 * sram
        plans.append(Planned(_params(width, levels, neuron, sram, cores), (wer, energy, area)))
    return tuple(plans)


CONFIRM_ACCURACY = 0.3
#: What quickstart_like_study's scores were measured on (a record's ``measured_on``, as
#: ``codesign.data.Corpus.measured_on`` gives it for the default corpus).
MEASURED_ON = {
    "validation": {"source": "synthetic:0123abcd", "split": "validation", "engines": ["espeak", "flite"],
                   "voices": ["espeak:en+m3", "espeak:en-us+f2", "flite:slt"], "heldout_engines": []},
    "test": {"source": "synthetic:0123abcd", "split": "test", "engines": ["festival"],
             "voices": ["festival:kal_diphone", "festival:ked_diphone"], "heldout_engines": ["festival"]},
}
#: Trials of quickstart_like_study that successive halving stops at its first rung.
STOPPED = (11, 17)


def quickstart_like_study(storage: optuna.storages.BaseStorage | str, name: str, artifact_dir: Path,
                          n: int = 24, seed: int = 0) -> optuna.Study:
    """A study over the quickstart's real search space (27 parameters, snn.* and hw.*), written
    as the driver writes it: seeded made-up records, every fifth trial pruned before training
    (an infeasible chip), one failed trial, two stopped by successive halving at a rung
    (:data:`STOPPED`), and the feasible trials of accuracy >= 0.3
    confirmed over three seeds (study attribute ``codesign.confirmed.<trial>``, as ``codesign
    study confirm`` stores it)."""
    from codesign.search import CONFIRMED_ATTR, load_study, suggest

    spec = load_study(Path(__file__).resolve().parents[2] / "studies" / "quickstart.yaml")
    study = optuna.create_study(study_name=name, storage=storage, directions=spec.directions(),
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.set_metric_names(list(spec.objectives))
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    study.set_user_attr(ARTIFACT_DIR_ATTR, str(artifact_dir))
    rng = np.random.default_rng(seed)
    space = spec.search_space()
    for i in range(n):
        trial = study.ask()
        params = suggest(trial, space)
        cores = int(params["hw.cores"])
        area = 0.3 * cores * (1 + 0.1 * float(params["hw.pes_per_core"])) + float(rng.uniform(0, 0.5))
        if i % 5 == 4:
            rec = TrialRecord(params=params, metrics={"area_mm2": area},
                              constraints={"area_mm2 <= 4": max(area - 4, 0.5), "fits_on_chip": 0.0},
                              pruned=f"infeasible chip before training: area_mm2 <= 4; over area: "
                                     f"{max(area, 4.5):.2f} mm^2 > 4 mm^2")
            trial.set_user_attr(RECORD_ATTR, rec.to_dict())
            study.tell(trial, state=TrialState.PRUNED)
            continue
        if i == 7:
            trial.set_user_attr(RECORD_ATTR, TrialRecord(params=params, error="exceeded the per-trial timeout "
                                                                            "of 240 s").to_dict())
            study.tell(trial, state=TrialState.FAIL)
            continue
        width = int(params["snn.width"])
        accuracy = float(np.clip(0.1 + 0.003 * width + rng.normal(0, 0.03), 0.0, 1.0))
        energy = float(0.05 * width * int(params.get("snn.timesteps", 1)) / max(cores, 1) ** 0.3 + rng.uniform(0, 2))
        latency = float(200.0 / float(params["hw.clock_mhz"]) * 8 / cores + rng.uniform(0, 1))
        metrics = {"accuracy": accuracy, "energy_uj": energy, "latency_ms": latency, "area_mm2": area,
                   "cycles": latency * 1e3 * float(params["hw.clock_mhz"]), "sram_used_kb": 40.0 + width / 2,
                   # the held-out engine transfers worse (issue 25's measured gap), unknown words rarely said
                   "heldout_engine_accuracy": 0.55 * accuracy, "heldout_engine_unknown_recall": 0.2 + width / 1000}
        constraints = {"area_mm2 <= 4": area - 4, "latency_ms <= 100": latency - 100, "fits_on_chip": 0.0}
        rec = TrialRecord(params=params, objectives={k: metrics[k] for k in spec.objectives},
                          constraints=constraints, metrics=metrics, trained=True, wall_time_s=20.0,
                          cpu_time_s=10.0 + width / 8, measured_on=MEASURED_ON)
        if i in STOPPED:  # successive halving did not promote it: its rung's record, told PRUNED
            rec = rec.model_copy(update={"pruned": "stopped by successive halving at 2 epochs (rung 0)",
                                         "rung_epoch": 2})
            trial.set_user_attr(RECORD_ATTR, rec.to_dict())
            study.tell(trial, state=TrialState.PRUNED)
            continue
        trial.set_user_attr(RECORD_ATTR, rec.to_dict())
        if accuracy >= CONFIRM_ACCURACY and area <= 4:
            study.set_user_attr(f"{CONFIRMED_ATTR}.{trial.number}", {  # where `codesign study confirm` stores it
                "seeds": [0, 1, 2],
                "points": [{"chip": None, "mean": {k: metrics[k] * 0.97 for k in (*spec.objectives,
                                                                                   "heldout_engine_accuracy")},
                            "std": {"accuracy": 0.02, "energy_uj": 0.1 * energy, "latency_ms": 0.5,
                                    "heldout_engine_accuracy": 0.04}}],
            })
        for cname, cvalue in constraints.items():
            trial.set_constraint(cname, cvalue)
        study.tell(trial, [metrics[k] for k in spec.objectives])
    return study


def nested_study(tmp_path: Path, *, trace_for_second: bool = True) -> optuna.Study:
    """Two nested trials as the driver stores them: each network's hardware set (chips of the
    edge_kws base with their hw.* parameters), one real trace per precision in the study's
    artifact folder, the per-chip energy the vectorised chip model gave."""
    from codesign.hardware import estimate_cost_batch, load_chip, synthetic_trace
    from codesign.search import ARTIFACT_DIR_ATTR, RECORD_ATTR, HardwarePoint, TrialRecord
    from codesign.trace import save_trace

    study = optuna.create_study(study_name="nested", storage=f"sqlite:///{tmp_path / 'n.db'}",
                                directions=["minimize", "minimize"])
    study.set_metric_names(["wer", "energy_uj"])
    study.set_user_attr(ARTIFACT_DIR_ATTR, str(tmp_path / "nested"))
    base = load_chip("edge_kws", {"weight_sram_kb_per_core": 256.0})
    chips = [  # (cores, weight_bits, feasible)
        [(1, 4, True), (2, 8, True), (4, 4, False)],
        [(1, 8, True), (8, 4, True)],
    ]
    for n, (wer, sets) in enumerate(zip((0.1, 0.2), chips, strict=True)):
        trial = study.ask()
        trial.suggest_int("snn.width", 16, 128)
        traces = {}
        for bits in sorted({b for _, b, _ in sets}):
            rel = f"../_train_cache/net{n}/full/scores/w{bits}s12-b4/trace.npz"
            path = tmp_path / "nested" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if n == 0 or trace_for_second:
                save_trace(synthetic_trace(3, seed=10 * n + bits, steps=8, widths=[40, 64, 64, 22]), path)
            traces[bits] = rel
        front = []
        for c, bits, ok in sets:
            from codesign.trace import load_trace

            path = tmp_path / "nested" / traces[bits]
            energy = float(estimate_cost_batch(load_trace(path), {"cores": np.array([c]),
                                                                  "weight_bits": np.array([bits])},
                                               base=base).energy_uj[0]) if path.is_file() else 1e-6 * c
            front.append(HardwarePoint(params={"hw.cores": c, "hw.weight_bits": bits},
                                       objectives={"wer": wer + 0.01 * (bits == 4), "energy_uj": energy},
                                       constraints={"area_mm2": -1.0 if ok else 1.0},
                                       metrics={"energy_uj": energy, "weight_bits": float(bits)}, trace=traces[bits]))
        best = min((p for p in front if p.feasible), key=lambda p: p.objectives["energy_uj"])
        rec = TrialRecord(params=trial.params, objectives=best.objectives, constraints={"area_mm2": -1.0},
                          metrics={"wer": wer}, strategy="nested", hw_front=front, chip_config=base,
                          artifacts={f"trace@w{b}s12": r for b, r in traces.items()})
        trial.set_user_attr(RECORD_ATTR, rec.to_dict())
        study.tell(trial, list(best.objectives.values()))
    # trial 0's chip 1 (the lowest WER) confirmed over seeds 0-2, as `codesign study confirm`
    # stores it; the runs of seeds 0 and 1 left their cost reports, seed 2's is gone
    from codesign.hardware import estimate_cost
    from codesign.search import CONFIRMED_ATTR, confirmation_folder
    from codesign.trace import load_trace

    chip = base.model_copy(update={"cores": 2, "weight_bits": 8})
    trace = load_trace(tmp_path / "nested" / "../_train_cache/net0/full/scores/w8s12-b4/trace.npz")
    for seed in (0, 1):
        report = estimate_cost(trace, chip).to_dict()
        report["energy_pj_by_layer_category"] = (np.asarray(report["energy_pj_by_layer_category"])
                                                 * (1 + 0.1 * seed)).tolist()
        path = tmp_path / "nested" / "trials" / confirmation_folder(0, 1, seed) / "cost_report.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(report))
    study.set_user_attr(f"{CONFIRMED_ATTR}.0", {"seeds": [0, 1, 2], "points": [
        {"chip": 1, "mean": {"wer": 0.12}, "std": {"wer": 0.01}, "values": {"wer": [0.11, 0.12, 0.13]}}]})
    return study
