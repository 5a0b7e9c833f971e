"""Bad input never gets through: one row per case, each run through the real CLI.

Every row is (command, files it needs, message fragments). Each case runs in a fresh folder
(also the working directory) and must end with exit status 2, one message on stderr that
holds every fragment (the file and key to blame), no traceback, and every file in the folder
byte-identical, none created. Most cases run ``codesign.cli.main`` in this process (fast); a
few run the real ``codesign`` process to prove its exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from codesign.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))

SPACE: dict[str, Any] = {
    "parameters": {
        "train.learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
        "snn.neuron": {"type": "categorical", "choices": ["lif", "imls"]},
        "hw.cores": {"type": "categorical", "choices": [1, 2, 4]},
    }
}
STUDY: dict[str, Any] = {
    "name": "bad",
    "seed": 1,
    "corpus": {"task": "digits", "size": 60},
    "space": ["space.yaml"],
    "chip": "chip.yaml",
    "objectives": {"wer": "min", "energy_uj": "min"},
    "constraints": ["area_mm2 <= 4"],
    "budget": {"trials": 2},
}
CHIP = (ROOT / "hw_models" / "generic_45nm.yaml").read_text()

BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)
HUNDRED = ",".join(str(i) for i in range(1, 101))
DEEP = "name: x\nspace: " + "[" * 200 + "]" * 200 + "\n"
BIG = "name: x\ndescription: '" + "x" * (2 << 20) + "'\n"


def _study(**changes: Any) -> str:
    return yaml.safe_dump({**STUDY, **changes}, sort_keys=False)


def _space(**param_changes: Any) -> str:
    return yaml.safe_dump({"parameters": {**SPACE["parameters"], **param_changes}}, sort_keys=False)


def _chip(**changes: Any) -> str:
    data = yaml.safe_load(CHIP)
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def _raw_chip(line: str) -> str:
    return CHIP + line + "\n"


RUN = ["study", "run", "study.yaml", "--no-progress"]
HW = ["hw", "evaluate", "--trace", "trace.npz", "--chip", "chip.yaml"]
BASE = {"study.yaml": _study(), "space.yaml": _space(), "chip.yaml": CHIP}
STORED = ["--storage", "sqlite:///stored.db"]

# (id, argv, files (name -> text, or a marker), fragments the message must hold)
CASES: list[tuple[str, list[str], dict[str, Any], list[str]]] = [
    # ---- study files
    ("study-missing", RUN, {}, ["study.yaml", "an existing YAML file"]),
    ("study-empty", RUN, {"study.yaml": ""}, ["study.yaml", "the file is empty"]),
    ("study-not-mapping", RUN, {"study.yaml": "- a\n- b\n"}, ["study.yaml", "mapping"]),
    ("study-syntax", RUN, {"study.yaml": "name: [x\n"}, ["study.yaml", "valid YAML"]),
    ("study-duplicate-key", RUN, {"study.yaml": "name: a\nname: b\n"}, ["study.yaml", "'name'", "duplicate key"]),
    ("study-alias-bomb", RUN, {"study.yaml": BOMB}, ["study.yaml", "alias expansion"]),
    ("study-deep-nesting", RUN, {"study.yaml": DEEP}, ["study.yaml", "levels of nesting"]),
    ("study-too-big", RUN, {"study.yaml": BIG}, ["study.yaml", "bytes"]),
    ("study-unknown-key", RUN, {**BASE, "study.yaml": _study(objectivs={"wer": "min"})},
     ["study.yaml", "'objectivs'", "did you mean 'objectives'"]),
    ("study-bad-name", RUN, {**BASE, "study.yaml": _study(name="a b")}, ["study.yaml", "'name'"]),
    ("study-unknown-objective", RUN, {**BASE, "study.yaml": _study(objectives={"wr": "min"})},
     ["study.yaml", "'objectives'", "did you mean 'wer'"]),
    ("study-objective-not-measured-by-task", RUN,
     {**BASE, "study.yaml": _study(corpus={"task": "commands"})}, ["study.yaml", "task 'commands' measures accuracy, unknown_recall, not 'wer'"]),
    ("study-accuracy-on-digits", RUN, {**BASE, "study.yaml": _study(objectives={"accuracy": "max"})},
     ["study.yaml", "task 'digits' measures wer, cer, not 'accuracy'"]),
    ("study-objective-loss", RUN, {**BASE, "study.yaml": _study(objectives={"loss": "min"})},
     ["study.yaml", "'objectives'", "a measured metric"]),
    ("study-objective-param-count", RUN, {**BASE, "study.yaml": _study(objectives={"param_count": "min"})},
     ["study.yaml", "'objectives'", "a measured metric"]),
    ("study-bad-direction", RUN, {**BASE, "study.yaml": _study(objectives={"wer": "down"})},
     ["study.yaml", "'objectives.wer'"]),
    ("study-constraint-inf-bound", RUN, {**BASE, "study.yaml": _study(constraints=["area_mm2 <= 1e999"])},
     ["study.yaml", "'constraints'", "a finite number"]),
    ("study-constraint-syntax", RUN, {**BASE, "study.yaml": _study(constraints=["area_mm2 < 4"])},
     ["study.yaml", "'constraints'"]),
    ("study-constraint-unknown-metric", RUN, {**BASE, "study.yaml": _study(constraints=["aera_mm2 <= 4"])},
     ["study.yaml", "'constraints'", "a known metric"]),
    ("study-constraint-accuracy-on-digits", RUN,
     {**BASE, "study.yaml": _study(constraints=["accuracy >= 0.5"])}, ["study.yaml", "not 'accuracy'"]),
    ("study-reference-inf", RUN, {**BASE, "study.yaml": _study(reference={"wer": float("inf")})},
     ["study.yaml", "'reference.wer'", "finite"]),
    ("study-reference-unknown", RUN, {**BASE, "study.yaml": _study(reference={"cer": 1.0})},
     ["study.yaml", "reference points only for objectives"]),
    ("study-seconds-inf", RUN, {**BASE, "study.yaml": _study(budget={"seconds": float("inf")})},
     ["study.yaml", "'budget.seconds'", "finite"]),
    ("study-seconds-nan", RUN, {**BASE, "study.yaml": _study(budget={"seconds": float("nan")})},
     ["study.yaml", "'budget.seconds'"]),
    ("study-trials-zero", RUN, {**BASE, "study.yaml": _study(budget={"trials": 0})},
     ["study.yaml", "'budget.trials'"]),
    ("study-workers-string", RUN, {**BASE, "study.yaml": _study(execution={"workers": "two"})},
     ["study.yaml", "'execution.workers'"]),
    ("study-timeout-inf", RUN, {**BASE, "study.yaml": _study(execution={"trial_cpu_s": float("inf")})},
     ["study.yaml", "'execution.trial_cpu_s'", "finite"]),
    ("study-sampler", RUN, {**BASE, "study.yaml": _study(sampler={"name": "cmaes"})},
     ["study.yaml", "'sampler.name'"]),
    ("study-storage-key-not-url", RUN, {**BASE, "study.yaml": _study(storage="runs/x.db")},
     ["study.yaml", "key 'storage'", "an Optuna storage URL"]),
    ("study-corpus-task", RUN, {**BASE, "study.yaml": _study(corpus={"task": "digitz"})},
     ["study.yaml", "'corpus.task'"]),
    ("study-model-inf", RUN, {**BASE, "study.yaml": _study(fidelity={"learning_rate": float("inf")})},
     ["study.yaml", "'fidelity.learning_rate'", "finite"]),
    ("study-space-file-missing", RUN, {"study.yaml": _study(), "chip.yaml": CHIP},
     ["study.yaml", "'space[0]'", "an existing search-space file"]),
    ("study-chip-file-missing", RUN, {"study.yaml": _study(), "space.yaml": _space()},
     ["study.yaml", "'chip'", "an existing chip preset file"]),
    ("study-seed-negative", RUN, {**BASE, "study.yaml": _study(seed=-1)}, ["study.yaml", "'seed'", "greater than or equal to 0"]),
    ("study-seed-past-numpy", RUN, {**BASE, "study.yaml": _study(seed=2**70)}, ["study.yaml", "'seed'", "less than or equal to 2147483647"]),
    ("study-corpus-seed-past-numpy", RUN, {**BASE, "study.yaml": _study(corpus={"task": "digits", "seed": 2**40})},
     ["study.yaml", "'corpus.seed'", "less than or equal to 2147483647"]),
    ("study-name-too-long", RUN, {**BASE, "study.yaml": _study(name="a" * 300)}, ["study.yaml", "'name'", "at most 100 characters"]),
    ("study-name-not-path-safe", RUN, {**BASE, "study.yaml": _study(name="../up")}, ["study.yaml", "'name'", "pattern"]),
    ("study-key-is-a-list", RUN, {**BASE, "study.yaml": "name: x\n? [a]\n: 1\n"},
     ["study.yaml", "valid YAML", "a key that is a list or a mapping"]),
    ("study-constraint-names-collapse", RUN,
     {**BASE, "study.yaml": _study(constraints=["area_mm2 <= 4", "area_mm2<=4.0"])},
     ["study.yaml", "'constraints'", "are both 'area_mm2 <= 4'"]),
    ("study-inline-chip-bool-cores", RUN, {**BASE, "study.yaml": _study(chip={"cores": True})},
     ["study.yaml", "'chip.cores'", "a number, not true/false"]),
    ("study-inline-chip-inf", RUN, {**BASE, "study.yaml": _study(chip={"clock_mhz": float("inf")})},
     ["study.yaml", "'chip.clock_mhz'", "finite"]),
    # ---- search spaces
    ("space-float-high-inf", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": {"type": "float", "low": 0.0, "high": float("inf")}})},
     ["space.yaml", "snn.dropout", "finite"]),
    ("space-float-low-nan", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": {"type": "float", "low": float("nan"), "high": 0.5}})},
     ["space.yaml", "snn.dropout"]),
    ("space-step-inf", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": float("inf")}})},
     ["space.yaml", "snn.dropout", "finite"]),
    ("space-low-gt-high", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": {"type": "float", "low": 0.6, "high": 0.5}})},
     ["space.yaml", "snn.dropout", "low <= high"]),
    ("space-log-zero", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": {"type": "float", "low": 0.0, "high": 0.5, "log": True}})},
     ["space.yaml", "snn.dropout", "low > 0"]),
    ("space-unknown-name", RUN, {**BASE, "space.yaml": _space(**{"snn.levles": {"type": "int", "low": 1, "high": 4}})},
     ["space.yaml", "snn.levles", "snn.levels"]),
    ("space-unknown-type", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": {"type": "real", "low": 0.0, "high": 0.5}})},
     ["space.yaml", "snn.dropout"]),
    ("space-fixed-inf", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": float("inf")})},
     ["space.yaml", "snn.dropout"]),
    ("space-categorical-inf", RUN, {**BASE, "space.yaml": _space(**{"snn.dropout": {"type": "categorical", "choices": [0.1, float("inf")]}})},
     ["space.yaml", "snn.dropout"]),
    ("space-training-field-under-snn", RUN, {**BASE, "space.yaml": _space(**{"snn.learning_rate": {"type": "float", "low": 0.001, "high": 0.1}})},
     ["space.yaml", "snn.learning_rate", "use 'train.learning_rate'"]),
    ("space-field-of-another-family", RUN, {**BASE, "space.yaml": _space(**{"snn.family": "mamba", "snn.heads": 2})},
     ["space.yaml", "snn.heads", "family 'mamba'", "a field of family 'spikeformer' only"]),
    ("study-model-field-of-another-family", RUN, {**BASE, "study.yaml": _study(model={"family": "mamba", "heads": 2})},
     ["study.yaml", "'model.heads'", "a field of family 'spikeformer', not of family 'mamba'"]),
    ("space-categorical-true-and-1", RUN, {**BASE, "space.yaml": _space(**{"snn.levels": {"type": "categorical", "choices": [True, 1]}})},
     ["space.yaml", "snn.levels", "choices that differ as values"]),
    ("space-int-step-past-range", RUN, {**BASE, "space.yaml": _space(**{"snn.levels": {"type": "int", "low": 1, "high": 4, "step": 10}})},
     ["space.yaml", "snn.levels", "a step of at most high - low = 3"]),
    ("space-alias-bomb", RUN, {**BASE, "space.yaml": BOMB}, ["space.yaml", "alias expansion"]),
    ("space-deep", RUN, {**BASE, "space.yaml": DEEP}, ["space.yaml", "levels of nesting"]),
    ("space-empty", RUN, {**BASE, "space.yaml": ""}, ["space.yaml", "empty"]),
    # ---- chip presets and --set
    ("chip-clock-inf", HW, {"chip.yaml": _raw_chip("clock_mhz: .inf").replace("clock_mhz: 200.0", "")},
     ["chip.yaml", "'clock_mhz'", "finite"]),
    ("chip-clock-nan", HW, {"chip.yaml": _raw_chip("clock_mhz: .nan").replace("clock_mhz: 200.0", "")},
     ["chip.yaml", "'clock_mhz'"]),
    ("chip-sram-1e999", HW, {"chip.yaml": _raw_chip("weight_sram_kb_per_core: 1e999").replace("weight_sram_kb_per_core: 64.0", "")},
     ["chip.yaml", "'weight_sram_kb_per_core'"]),
    ("chip-cores-yes", HW, {"chip.yaml": _raw_chip("cores: yes").replace("cores: 16", "")},
     ["chip.yaml", "'cores'", "a number, not true/false"]),
    ("chip-clock-subnormal", HW, {"chip.yaml": _chip(clock_mhz=5e-324)}, ["chip.yaml", "'clock_mhz'", "greater than or equal to 0.001"]),
    ("chip-cores-zero", HW, {"chip.yaml": _chip(cores=0)}, ["chip.yaml", "'cores'"]),
    ("chip-unknown-key", HW, {"chip.yaml": _chip(coress=4)}, ["chip.yaml", "'coress'", "did you mean 'cores'"]),
    ("chip-alias-bomb", HW, {"chip.yaml": BOMB}, ["chip.yaml", "alias expansion"]),
    ("chip-unknown-preset", ["hw", "evaluate", "--trace", "trace.npz", "--chip", "genric_45nm"], {},
     ["genric_45nm", "did you mean 'generic_45nm'"]),
    ("set-clock-inf", [*HW, "--set", "clock_mhz=.inf"], {"chip.yaml": CHIP}, ["<command line>", "--set clock_mhz", "finite"]),
    ("set-cores-zero", [*HW, "--set", "cores=0"], {"chip.yaml": CHIP}, ["<command line>", "--set cores"]),
    ("set-cores-word", [*HW, "--set", "cores=many"], {"chip.yaml": CHIP}, ["<command line>", "--set cores"]),
    ("set-unknown-key", [*HW, "--set", "corse=4"], {"chip.yaml": CHIP}, ["<command line>", "--set corse", "did you mean"]),
    ("set-no-equals", [*HW, "--set", "cores"], {"chip.yaml": CHIP}, ["<command line>", "--set", "key=value"]),
    ("set-seed-negative", [*RUN, "--set", "seed=-1"], BASE, ["<command line>", "--set seed", "greater than or equal to 0"]),
    ("set-complex-key", [*RUN, "--set", "name={[a]: 1}"], BASE, ["<command line>", "--set name", "pattern"]),
    ("set-alias-bomb", [*HW, "--set", "cores=" + BOMB.replace("\n", ", ").join("{}")], {"chip.yaml": CHIP},
     ["--set cores", "alias expansion"]),
    # ---- traces
    ("trace-missing", HW, {"chip.yaml": CHIP, "trace.npz": None}, ["trace.npz", "an existing trace file"]),
    ("trace-npy", [*HW[:2], "--trace", "trace.npy", *HW[4:]], {"chip.yaml": CHIP, "trace.npy": "NPY"},
     ["trace.npy", "(.npy)"]),
    ("trace-text", HW, {"chip.yaml": CHIP, "trace.npz": "not a trace\n"}, ["trace.npz", "a trace file written by codesign"]),
    ("trace-foreign-npz", HW, {"chip.yaml": CHIP, "trace.npz": "NPZ"}, ["trace.npz", "a trace file written by codesign"]),
    ("trace-zip-bomb", HW, {"chip.yaml": CHIP, "trace.npz": "BOMB"},
     ["trace.npz", "'__trace__'", "a trace that unpacks to at most 536870912 bytes"]),
    ("trace-deep-json", HW, {"chip.yaml": CHIP, "trace.npz": "DEEPTRACE"},
     ["trace.npz", "'__trace__'", "nested at most 64 levels deep"]),
    ("sweep-grid-too-large", ["hw", "sweep", "--trace", "trace.npz", "--grid", *[f"{k}={HUNDRED}" for k in
                              ("cores", "pes_per_core", "clock_mhz", "weight_sram_kb_per_core")]],
     {}, ["--grid", "a grid of at most 1000000 chips", "= 100000000 chips"]),
    # ---- bundles
    ("bundle-manifest-deep", ["evaluate", "bundle"], {"bundle/manifest.json": "[" * 100_000 + "]" * 100_000},
     ["manifest.json", "nested at most 64 levels deep"]),
    ("bundle-symlink", ["evaluate", "bundle"], {"BUNDLE": "link:trace.npz"}, ["bundle", "trace.npz", "no symbolic links"]),
    ("bundle-missing", ["evaluate", "bundle"], {}, ["bundle", "an exported bundle directory"]),
    ("bundle-no-manifest", ["evaluate", "bundle"], {"bundle/config.yaml": "a: 1\n"}, ["manifest.json", "file not found"]),
    ("bundle-manifest-garbage", ["evaluate", "bundle"], {"bundle/manifest.json": "{not json"}, ["manifest.json", "a bundle manifest"]),
    ("bundle-manifest-list", ["evaluate", "bundle"], {"bundle/manifest.json": "[1, 2]"}, ["manifest.json", "a bundle manifest"]),
    ("bundle-entry-no-bytes", ["evaluate", "bundle"], {"BUNDLE": {"config.yaml": {"sha256": "0" * 64}}},
     ["manifest.json", "'files.config.yaml'", "bytes"]),
    ("bundle-entry-string", ["evaluate", "bundle"], {"BUNDLE": {"config.yaml": "abc"}},
     ["manifest.json", "'files.config.yaml'", "an entry"]),
    ("bundle-entry-outside", ["evaluate", "bundle"], {"BUNDLE": {"../x": {"sha256": "0", "bytes": 1}}},
     ["manifest.json", "a path inside the bundle"]),
    ("bundle-lacks-required", ["evaluate", "bundle"], {"BUNDLE": "drop:trace.npz"}, ["manifest.json", "trace.npz not listed"]),
    ("bundle-edited", ["evaluate", "bundle"], {"BUNDLE": "edit:cost_report.json"}, ["bundle", "cost_report.json: edited"]),
    ("bundle-truncated", ["evaluate", "bundle"], {"BUNDLE": "truncate:weights.safetensors"}, ["bundle", "weights.safetensors: truncated"]),
    ("bundle-file-missing", ["evaluate", "bundle"], {"BUNDLE": "remove:train_result.json"}, ["bundle", "train_result.json: missing"]),
    # ---- stored studies and storage
    ("status-unknown-study", ["study", "status", "nope", *STORED], {"stored.db": "STUDY"}, ["NAME", "'nope'", "studies there: bad"]),
    ("status-default-missing", ["study", "status", "nope"], {}, ["--storage", "an existing storage file"]),
    ("status-empty-file", ["study", "status", "bad", *STORED], {"stored.db": ""}, ["--storage", "stored.db", "an empty file"]),
    ("status-default-empty-file", ["study", "status", "bad"], {"runs/bad/study.db": ""},
     ["runs/bad/study.db", "an empty file"]),
    ("list-default-foreign-sqlite", ["study", "list"], {"runs/x/study.db": "FOREIGN"},
     ["runs/x/study.db", "without Optuna's tables"]),
    ("table-garbage-journal", ["report", "table", "bad", "--storage", "journal:///j.log"], {"j.log": "x\ny\n"},
     ["--storage", "j.log", "an Optuna journal file"]),
    ("status-foreign-sqlite", ["study", "status", "bad", *STORED], {"stored.db": "FOREIGN"},
     ["--storage", "stored.db", "without Optuna's tables"]),
    ("status-text-as-sqlite", ["study", "status", "bad", *STORED], {"stored.db": "hello\n"},
     ["--storage", "not a SQLite database"]),
    ("status-garbage-journal", ["study", "status", "bad", "--storage", "journal:///j.log"], {"j.log": "{oops\nnot json either\n"},
     ["--storage", "j.log", "an Optuna journal file"]),
    ("status-directory", ["study", "status", "bad", "--storage", "sqlite:///d"], {"d/x": "x"}, ["--storage", "a storage file"]),
    ("status-not-a-url", ["study", "status", "bad", "--storage", "stored.db"], {}, ["--storage", "an Optuna storage URL"]),
    ("front-foreign-sqlite", ["study", "front", "bad", *STORED], {"stored.db": "FOREIGN"}, ["--storage", "without Optuna's tables"]),
    ("table-foreign-sqlite", ["study", "table", "bad", *STORED], {"stored.db": "FOREIGN"}, ["--storage", "without Optuna's tables"]),
    ("report-foreign-sqlite", ["report", "bad", *STORED, "--out", "r.html"], {"stored.db": "FOREIGN"},
     ["--storage", "without Optuna's tables"]),
    ("list-foreign-sqlite", ["study", "list", *STORED], {"stored.db": "FOREIGN"}, ["--storage", "without Optuna's tables"]),
    ("export-foreign-sqlite", ["export", "bad", *STORED, "--trial", "0", "--out", "out"], {"stored.db": "FOREIGN"},
     ["--storage", "without Optuna's tables"]),
    ("resume-foreign-sqlite", ["study", "resume", "bad", *STORED], {"stored.db": "FOREIGN"}, ["--storage", "without Optuna's tables"]),
    ("run-into-foreign-sqlite", [*RUN, *STORED], {**BASE, "stored.db": "FOREIGN"}, ["--storage", "without Optuna's tables"]),
    # ---- pick expressions
    ("pick-syntax", ["export", "bad", *STORED, "--pick", "smallest energy", "--out", "out"], {"stored.db": "STUDY"}, ["--pick"]),
    ("pick-nan", ["export", "bad", *STORED, "--pick", "min energy_uj where wer <= nan", "--out", "out"],
     {"stored.db": "STUDY"}, ["--pick", "not a finite number"]),
    ("pick-inf", ["export", "bad", *STORED, "--pick", "min energy_uj where wer <= 1e999", "--out", "out"],
     {"stored.db": "STUDY"}, ["--pick", "finite"]),
    ("pick-unknown-name", ["export", "bad", *STORED, "--pick", "min enrgy_uj", "--out", "out"], {"stored.db": "STUDY"},
     ["--pick", "energy_uj"]),
    ("pick-nothing-left", ["export", "bad", *STORED, "--pick", "min energy_uj where wer <= 0.0001", "--out", "out"],
     {"stored.db": "STUDY"}, ["--pick", "0 left"]),
    ("export-point-not-an-id", ["export", "bad", *STORED, "--point", "1.x", "--out", "out"], {"stored.db": "STUDY"},
     ["--point", "TRIAL or TRIAL.CHIP"]),
    ("export-point-unknown", ["export", "bad", *STORED, "--point", "999", "--out", "out"], {"stored.db": "STUDY"},
     ["--point", "a design id of study 'bad'"]),
    ("export-recommended-none-stored", ["export", "bad", *STORED, "--recommended", "--out", "out"],
     {"stored.db": "STUDY"}, ["--recommended", "stored recommendation"]),
    ("points-filter-syntax", ["study", "points", "bad", *STORED, "--filter", "wer <== 1"], {"stored.db": "STUDY"},
     ["--filter", "NAME OP NUMBER"]),
    ("points-filter-unknown-name", ["study", "points", "bad", *STORED, "--filter", "enrgy_uj <= 1"],
     {"stored.db": "STUDY"}, ["--filter", "energy_uj"]),
    ("points-parquet-to-stdout", ["study", "points", "bad", *STORED, "--format", "parquet"], {"stored.db": "STUDY"},
     ["--out", "parquet"]),
    ("front-unknown-column", ["study", "front", "bad", *STORED, "--columns", "id,nope"], {"stored.db": "STUDY"},
     ["--columns", "nope"]),
    ("front-unknown-sort", ["study", "front", "bad", *STORED, "--sort", "enrgy_uj"], {"stored.db": "STUDY"},
     ["--sort", "energy_uj"]),
    ("confirm-unknown-point", ["study", "confirm", "bad", *STORED, "--points", "1.x"], {"stored.db": "STUDY"},
     ["--point", "TRIAL or TRIAL.CHIP"]),
    ("run-set-floor-bad", [*RUN, "--set", "floor=loud"], BASE, ["--set floor", "auto", "none"]),
    ("run-set-recommend-policy-bad", [*RUN, "--set", "recommend.policy=smallest energy"], BASE,
     ["--set recommend.policy", "pick expression"]),
    # ---- command-line values
    ("resume-trials-zero", ["study", "resume", "bad", "--trials", "0"], {}, ["--trials", "positive integer"]),
    ("run-seconds-inf", [*RUN, "--seconds", "inf"], BASE, ["--seconds", "positive number"]),
    ("run-seconds-nan", [*RUN, "--seconds", "nan"], BASE, ["--seconds", "positive number"]),
    ("run-artifact-store-memory", [*RUN, "--artifact-store", "memory://x"], BASE,
     ["'artifacts'", "outlives this process", "memory://x"]),
    ("run-runs-dir-is-a-file", [*RUN, "--runs-dir", "afile"], {**BASE, "afile": "x"}, ["--runs-dir", "a folder", "it is a file"]),
    ("run-runs-dir-under-a-file", [*RUN, "--runs-dir", "afile/runs"], {**BASE, "afile": "x"},
     ["--runs-dir", "afile is a file"]),
    ("data-cache-dir-is-a-file", ["data", "prepare", "--task", "commands", "--size", "60", "--cache-dir", "afile"],
     {"afile": "x"}, ["--cache-dir", "a corpus cache folder", "it is a file"]),
    ("train-out-is-a-file", ["train", "--model", "spikeformer", "--task", "commands", "--out", "afile"], {"afile": "x"},
     ["--out", "a folder for the training results", "it is a file"]),
    ("report-out-is-a-folder", ["report", "bad", *STORED, "--out", "afolder"], {"stored.db": "STUDY", "afolder/x": "x"},
     ["--out", "a report file", "it is a folder"]),
    ("export-out-under-a-file", ["export", "bad", *STORED, "--trial", "0", "--out", "afile/bundle"],
     {"stored.db": "STUDY", "afile": "x"}, ["--out", "afile is a file"]),
    ("pick-top-inf", ["export", "bad", *STORED, "--pick", "min energy_uj where wer in top inf", "--out", "out"],
     {"stored.db": "STUDY"}, ["--pick", "a finite count or percentage"]),
    ("pick-top-nan", ["export", "bad", *STORED, "--pick", "min energy_uj where wer in top nan", "--out", "out"],
     {"stored.db": "STUDY"}, ["--pick", "a finite count or percentage"]),
]

#: Cases also run as a real process, to prove the exit status a shell sees.
SUBPROCESS = {"study-alias-bomb", "status-foreign-sqlite", "set-clock-inf", "bundle-entry-no-bytes"}


@pytest.fixture(scope="module")
def materials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Binary inputs built once: a stored study, a foreign SQLite file, a trace, a bundle."""
    import sqlite3

    import numpy as np
    import optuna
    from report_studies import write_study

    from codesign.export._bundle import REQUIRED_FILES
    from codesign.export._manifest import write_manifest
    from codesign.hardware import synthetic_trace
    from codesign.trace import save_trace

    tmp = tmp_path_factory.mktemp("materials")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    write_study(f"sqlite:///{tmp}/s.db", "bad", tmp / "artifacts")
    con = sqlite3.connect(tmp / "f.db")
    con.execute("CREATE TABLE accounts (id INTEGER, owner TEXT)")
    con.commit()
    con.close()
    save_trace(synthetic_trace(2, seed=0), tmp / "t.npz")
    np.save(tmp / "a.npy", np.arange(4.0))
    np.savez(tmp / "other.npz", x=np.arange(3))
    bundle = tmp / "bundle"
    bundle.mkdir()
    for name in REQUIRED_FILES:
        (bundle / name).write_bytes(b"content of " + name.encode())
    write_manifest(bundle)
    # a zip bomb: an array header that claims 8 GiB; trace metadata nested 100,000 deep
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**30,)})
    with zipfile.ZipFile(tmp / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__trace__.npy", header.getvalue() + bytes(1000))
    np.savez(tmp / "deep.npz", __trace__=np.array("[" * 100_000 + "]" * 100_000))
    out = {"STUDY": (tmp / "s.db").read_bytes(), "BOMB": (tmp / "bomb.npz").read_bytes(),
           "DEEPTRACE": (tmp / "deep.npz").read_bytes(), "FOREIGN": (tmp / "f.db").read_bytes(),
           "TRACE": (tmp / "t.npz").read_bytes(), "NPY": (tmp / "a.npy").read_bytes(),
           "NPZ": (tmp / "other.npz").read_bytes()}
    for p in bundle.iterdir():
        out[f"bundle/{p.name}"] = p.read_bytes()
    return out


def _materialise(folder: Path, files: dict[str, Any], materials: dict[str, bytes], argv: list[str]) -> None:
    files = dict(files)
    if "trace.npz" in argv:
        files.setdefault("trace.npz", "TRACE")
    bundle = files.pop("BUNDLE", None)
    links: dict[str, bytes] = {}  # bundle files that are symbolic links to a copy outside it
    if bundle is not None:
        manifest = json.loads(materials["bundle/manifest.json"])
        for key, raw in materials.items():
            if key.startswith("bundle/") and key != "bundle/manifest.json":
                files[key] = raw
        if isinstance(bundle, dict):
            manifest["files"].update(bundle)
        else:
            how, name = bundle.split(":")
            if how == "drop":
                del manifest["files"][name]
            elif how == "edit":
                files[f"bundle/{name}"] = b"x" + files[f"bundle/{name}"][1:]
            elif how == "truncate":
                files[f"bundle/{name}"] = files[f"bundle/{name}"][:-3]
            elif how == "remove":
                del files[f"bundle/{name}"]
            elif how == "link":
                links[f"bundle/{name}"] = files.pop(f"bundle/{name}")
        files["bundle/manifest.json"] = json.dumps(manifest)
    for name, content in files.items():
        if content is None:
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content in materials:
            content = materials[content]
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for name, content in links.items():
        outside = folder / f"outside-{Path(name).name}"
        outside.write_bytes(content)
        (folder / name).symlink_to(outside)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(("argv", "files", "fragments"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_exits_2_naming_file_and_key_and_changes_nothing(
    argv: list[str], files: dict[str, Any], fragments: list[str], materials: dict[str, bytes],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    _materialise(tmp_path, files, materials, argv)
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    if request.node.callspec.id in SUBPROCESS:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run([sys.executable, "-m", "codesign", *argv], env=env, capture_output=True,
                              text=True, timeout=120)
        status, err = proc.returncode, proc.stderr
    else:
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse's own errors
            status = exit_.code
        err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert len(err) < 2000, "the message renders a whole value"
    assert _snapshot(tmp_path) == before, "a file was created or changed"


def test_the_table_covers_every_kind_of_input() -> None:
    kinds = {c[0].split("-")[0] for c in CASES}
    assert {"study", "space", "chip", "set", "pick", "bundle", "trace", "status"} <= kinds
    assert len(CASES) >= 60
