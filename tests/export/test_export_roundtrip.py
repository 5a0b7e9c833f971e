"""End to end on the real pipeline: a tiny study evaluated by codesign.search's own trial
evaluation (real synthesised corpus, real training, trace and chip model), then exported,
checked, re-evaluated to its stored figures, re-costed, and damaged on purpose."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from codesign.cli import main
from codesign.config import ConfigError
from codesign.export import (
    CHIP_REL_TOL,
    METRIC_ABS_TOL,
    evaluate_bundle,
    load_bundle_config,
    load_bundle_model,
    recost_bundle,
)
from codesign.search import ARTIFACT_DIR_ATTR, RECORD_ATTR, SPEC_ATTR, ArtifactStore, TrialTask, parse_study

ROOT = Path(__file__).resolve().parents[2]

TINY_STUDY = {
    "name": "tiny",
    "seed": 0,
    "corpus": {"task": "commands", "size": 120, "seed": 7, "n_speakers": 10},
    "model": {"family": "spikeformer", "width": 16, "depth": 1, "heads": 2, "subsample": 4, "levels": 2},
    "fidelity": {"epochs": 2, "batch_size": 16, "threads": 1},
    "space": [{"parameters": {"snn.timesteps": {"type": "int", "low": 1, "high": 2},
                              "hw.cores": {"type": "categorical", "choices": [1, 4]}}}],
    "chip": "hw_models/edge_kws.yaml",
    "objectives": {"accuracy": "max", "energy_uj": "min"},
    "constraints": ["fits_on_chip"],
    "trace_batch": 4,
    "floor": "none",  # two barely trained networks: a roundtrip, not a front worth building
}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A stored study of two real trials, written the way the driver writes them (without Ray)."""
    evaluate_trial = pytest.importorskip(
        "codesign.search._evaluate", reason="codesign.search's trial evaluation has not landed on this branch"
    ).evaluate_trial
    import codesign.train

    if not hasattr(codesign.train, "train"):
        pytest.skip("codesign.train.train has not landed on this branch")

    tmp = tmp_path_factory.mktemp("roundtrip")
    old_cache = os.environ.get("CODESIGN_CACHE_DIR")
    os.environ["CODESIGN_CACHE_DIR"] = str(tmp / "cache")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = parse_study(TINY_STUDY, file=ROOT / "tiny.yaml")  # chip path relative to the repo root
        runs = tmp / "runs"
        artifact_dir = runs / "tiny"
        artifact_dir.mkdir(parents=True)
        url = f"sqlite:///{runs / 'tiny' / 'study.db'}"
        study = optuna.create_study(study_name="tiny", storage=url, directions=spec.directions())
        study.set_metric_names(list(spec.objectives))
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        study.set_user_attr(ARTIFACT_DIR_ATTR, str(artifact_dir))
        for params in ({"snn.timesteps": 1, "hw.cores": 4}, {"snn.timesteps": 1, "hw.cores": 1}):
            study.enqueue_trial(params)
            trial = study.ask()
            trial.suggest_int("snn.timesteps", 1, 2)
            trial.suggest_categorical("hw.cores", [1, 4])
            store = ArtifactStore(runs)
            result = evaluate_trial(TrialTask(params=dict(trial.params), spec=spec, trial_number=trial.number,
                                              store=store))
            result.save(store)  # what the driver does with a worker's result
            record = result.record
            trial.set_user_attr(RECORD_ATTR, record.to_dict())
            for name, value in record.constraints.items():
                trial.set_constraint(name, value)
            study.tell(trial, [record.objectives[n] for n in spec.objectives])
        yield url, tmp
    finally:
        torch.set_num_threads(threads)
        if old_cache is None:
            os.environ.pop("CODESIGN_CACHE_DIR", None)
        else:
            os.environ["CODESIGN_CACHE_DIR"] = old_cache


def raw_measured_on(bundle: Path) -> object:
    """``measured_on`` as the bundle's config.yaml holds it."""
    return yaml.safe_load((bundle / "config.yaml").read_text())["measured_on"]


def test_export_evaluate_recost_and_tamper(tiny_study: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, tmp = tiny_study
    out = tmp / "bundle"
    assert main(["export", "tiny", "--storage", url, "--pick", "min energy_uj where accuracy >= 0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "exported design " in printed
    assert "measured on the held-out-engine (test) split, engines never heard in training: festival" in printed
    names = {p.name for p in out.iterdir()}
    assert names == {"config.yaml", "weights.safetensors", "trace.npz", "cost_report.json", "train_result.json",
                     "network.nir", "manifest.json", "weights_int.safetensors"}  # a 4-bit chip: integer weights too
    config = load_bundle_config(out)
    assert config.precision.weight_bits == config.chip.weight_bits == 4
    assert config.study.name == "tiny" and config.study.storage == url
    assert config.corpus.size == 120 and config.seed == 0 and config.head == "classify"
    assert config.codesign_version and "test_accuracy" in config.metrics
    # what the figures were measured on travels with them, from the trial's record
    assert config.metrics["heldout_engine_accuracy"] == config.metrics["test_accuracy"]
    assert config.measured_on["test"]["engines"] == config.measured_on["test"]["heldout_engines"] == ["festival"]
    assert config.measured_on["validation"]["voices"] and "festival" not in config.measured_on["validation"]["engines"]
    assert raw_measured_on(out) == config.measured_on
    raw = yaml.safe_load((out / "config.yaml").read_text())
    assert raw["chip"]["cores"] in (1, 4)

    # Weights load back safely into the rebuilt network.
    net = load_bundle_model(out)
    assert sum(p.numel() for p in net.parameters()) > 0

    # Re-evaluation agrees with the stored figures within the stated tolerances.
    report = evaluate_bundle(out, progress=False)
    assert report.ok, report.table()
    test_row = next(c for c in report.comparisons if c.name == "test_accuracy")
    assert abs(test_row.new - test_row.stored) <= METRIC_ABS_TOL
    assert {c.source for c in report.comparisons} >= {"chip model, stored trace", "chip model, re-recorded trace",
                                                       "integer weights x scales"}
    assert test_row.source == "test split, rebuilt at w4s12"
    # re-scored on the same engines and voices the stored figures name (same machine)
    assert report.measured_on == config.measured_on["test"] and report.measured_on_differs is None
    # the NIR graph carries the chip's 4-bit weights: at most 2^4 values per output channel
    import nir
    import numpy as np

    graph = nir.read(out / "network.nir", type_check=False)  # docs/nir.md: the graph is not type-checked
    weighted = [n for n in graph.nodes.values() if hasattr(n, "weight") and np.ndim(n.weight) >= 2]
    assert weighted and all(len(np.unique(row)) <= 16 for n in weighted for row in np.asarray(n.weight))
    assert all(c.relative and c.tolerance == CHIP_REL_TOL for c in report.comparisons if c.name == "energy_uj")
    assert main(["evaluate", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "test_accuracy" in printed and "all figures agree" in printed
    assert "re-scored on the held-out-engine (test) split, engines never heard in training: festival" in printed
    assert "NOT the one" not in printed

    # Another chip: same network, other costs.
    from codesign.hardware import ChipConfig

    stored = json.loads((out / "cost_report.json").read_text())
    other = ChipConfig.model_validate({**config.chip.to_dict(), "cores": 1 if config.chip.cores == 4 else 4})
    recost = recost_bundle(out, other)
    assert recost.layer_names == tuple(stored["layer_names"])
    assert recost.area_mm2 != pytest.approx(stored["area_mm2"])
    by_preset = recost_bundle(out, "loihi_like")
    assert by_preset.chip_name != stored["chip_name"] and by_preset.energy_uj > 0
    # The same from the command line: `codesign hw evaluate --bundle DIR --chip OTHER`.
    # loihi_like holds 8-bit weights and 24-bit state: the network is re-quantised and re-scored
    assert main(["hw", "evaluate", "--bundle", str(out), "--chip", "loihi_like", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["chip_name"] == by_preset.chip_name
    assert printed["area_mm2"] == pytest.approx(by_preset.area_mm2)
    assert printed["network"]["precision_changed"] is True
    assert set(printed["network"]["metrics"]) >= {"test_accuracy", "validation_accuracy"}
    assert main(["hw", "evaluate", "--bundle", str(out), "--chip", "loihi_like"]) == 0
    assert "re-quantised and re-scored" in capsys.readouterr().out
    # the bundle's own chip: same precision, its stored scores hold
    same = ["hw", "evaluate", "--bundle", str(out), "--chip", "edge_kws", "--set", f"cores={config.chip.cores}"]
    assert main(same) == 0
    assert "its stored scores hold" in capsys.readouterr().out
    # without --chip: the bundle's own chip, labelled as the chip it is (not the preset's "4-core")
    assert config.chip.name == f"edge_kws [trial {config.study.trial}]"
    assert config.chip.description.startswith(f"edge_kws with the search's cores={config.chip.cores}")
    assert "4-core" not in config.chip.description
    assert main(["hw", "evaluate", "--bundle", str(out), "--json", "--no-progress"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert own["chip_name"] == config.chip.name and np.asarray(own["energy_pj_by_layer_category"]) == pytest.approx(
        np.asarray(stored["energy_pj_by_layer_category"]))
    assert own["area_mm2"] == pytest.approx(stored["area_mm2"]) and own["network"]["precision_changed"] is False
    assert main(["hw", "evaluate", "--bundle", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"  {config.chip.cores} cores x " in captured.out and "validation accuracy" in captured.out
    assert "the bundle's own chip" in captured.err and "costing the bundle's trace" in captured.err  # progress
    # a sweep re-scores the network at each precision it sweeps, and shows accuracy beside the costs
    space = tmp / "precisions.yaml"
    space.write_text(yaml.safe_dump({"parameters": {
        "hw.weight_bits": {"type": "categorical", "choices": [2, 4, 8]},
        "hw.cores": {"type": "categorical", "choices": [1, 4]}}}))
    assert main(["hw", "sweep", "--bundle", str(out), "--space", str(space), "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert "scoring the network at w8s12" in captured.err and "scoring the network at w2s12" in captured.err
    by_bits = {r["weight_bits"]: (r["validation_accuracy"], r["test_accuracy"]) for r in rows}
    assert rows and all(0.0 <= r["validation_accuracy"] <= 1.0 for r in rows)
    if 4 in by_bits:  # the bundle's own precision keeps its stored scores
        assert by_bits[4] == (pytest.approx(config.metrics["validation_accuracy"]),
                              pytest.approx(config.metrics["test_accuracy"]))
    from codesign.export import bundle_scores
    from codesign.snn import Precision

    rescored = bundle_scores(out, [Precision(weight_bits=2, state_bits=12), Precision(weight_bits=8, state_bits=12)])
    table_rows = {r["weight_bits"]: r for r in rows}
    for bits in (2, 8):  # each precision's own scores, where its chips made the front
        if bits in table_rows:
            assert table_rows[bits]["validation_accuracy"] == pytest.approx(
                rescored[Precision(weight_bits=bits, state_bits=12)][0]["validation_accuracy"])

    # The comparison can fail: other weights (manifest rewritten to match) change the activity,
    # so the chip figures of the re-recorded trace no longer agree with the stored ones.
    import shutil

    from safetensors.torch import save_file

    from codesign.export import write_manifest
    from codesign.snn import build_model

    swapped = tmp / "swapped"
    shutil.copytree(out, swapped)
    torch.manual_seed(123)
    fresh = build_model(config.model, config.n_features, config.n_outputs, "classify")
    save_file({k: v.contiguous() for k, v in fresh.state_dict().items()}, str(swapped / "weights.safetensors"))
    write_manifest(swapped)
    bad = evaluate_bundle(swapped, progress=False)
    assert not bad.ok
    assert all(c.ok for c in bad.comparisons if c.source == "chip model, stored trace")
    assert not all(c.ok for c in bad.comparisons if c.source == "chip model, re-recorded trace")
    assert main(["evaluate", str(swapped), "--no-progress"]) == 1
    assert "DIFFER" in capsys.readouterr().out

    # A 4-bit chip's integer weights are part of its bundle: dropped from the manifest, refused.
    dropped = tmp / "dropped"
    shutil.copytree(out, dropped)
    manifest = json.loads((dropped / "manifest.json").read_text())
    del manifest["files"]["weights_int.safetensors"]
    (dropped / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=r"weights_int.safetensors not listed"):
        load_bundle_config(dropped)
    # A symbolic link in a bundle is refused: verification would follow it out of the bundle.
    linked = tmp / "linked"
    shutil.copytree(out, linked)
    (linked / "trace.npz").unlink()
    (linked / "trace.npz").symlink_to(out / "trace.npz")
    assert main(["evaluate", str(linked)]) == 2
    assert "no symbolic links" in capsys.readouterr().err

    # A truncated or edited file is named, and evaluation refuses to run.
    weights = out / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ConfigError, match=r"weights.safetensors: truncated"):
        evaluate_bundle(out)
    assert main(["evaluate", str(out)]) == 2
    assert "weights.safetensors: truncated" in capsys.readouterr().err


def test_export_by_trial_and_refusals(tiny_study: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, tmp = tiny_study
    out = tmp / "by_trial"
    assert main(["export", "tiny", "--storage", url, "--trial", "1", "--out", str(out)]) == 0
    assert load_bundle_config(out).study.trial == 1
    # An existing non-empty directory is never overwritten.
    assert main(["export", "tiny", "--storage", url, "--trial", "0", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert load_bundle_config(out).study.trial == 1
    edited = tmp / "edited"
    assert main(["export", "tiny", "--storage", url, "--trial", "0", "--out", str(edited)]) == 0
    text = (edited / "config.yaml").read_text()
    (edited / "config.yaml").write_text(text.replace("seed: 0", "seed: 1", 1))
    with pytest.raises(ConfigError, match=r"config.yaml: edited"):
        load_bundle_config(edited)


def test_a_test_split_of_other_engines_or_voices_than_the_stored_figures_is_named() -> None:
    """A machine without the study's held-out engine regenerates another test split: the
    re-evaluation says what differs instead of comparing silently."""
    from codesign.export._evaluate import measured_on_difference

    stored = {"split": "test", "engines": ["festival"], "voices": ["festival:kal_diphone", "festival:ked_diphone"]}
    assert measured_on_difference(stored, dict(stored, voices=stored["voices"][::-1])) is None
    assert measured_on_difference(None, {"engines": ["espeak"]}) is None  # an older bundle says nothing
    text = measured_on_difference(stored, {"engines": ["espeak"], "voices": ["espeak:en+m1"]})
    assert text == ("engines: stored festival; here espeak; voices: stored festival:kal_diphone, "
                    "festival:ked_diphone; here espeak:en+m1")
