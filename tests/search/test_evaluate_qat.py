"""A ``precision: qat`` study trains every weight width for the same epochs: a 32-bit (float)
chip gets the float run and the same fine-tune in float, not the float run alone; and it trains
the float run once per network, each width fine-tuned from its checkpoint, to the very network
QAT straight through gives."""

from __future__ import annotations

from pathlib import Path

import torch
from _tiny import tiny_spec_data

import codesign.train
from codesign.config import parse_spec
from codesign.search import ArtifactStore, StudySpec, TrialTask
from codesign.search._evaluate import (
    TrainedNetwork,
    _precision_groups,
    _qat,
    _swept_chips,
    _train_cached,
    _Workspace,
    evaluate_trial,
)
from codesign.search._space import split_params
from codesign.snn import Precision
from codesign.train import finetune_control, train

#: Metrics that are wall-clock readings, so no two runs share them.
WALL_CLOCK = ("wall_time_s", "time_per_epoch_s")


def test_every_weight_width_of_a_qat_study_trains_the_same_epochs(tmp_path: Path, commands_corpus) -> None:
    study = parse_spec(StudySpec, tiny_spec_data("joint", trials=1, precision="qat"))
    model_cfg, train_cfg = study.model_for({}), study.train_for({})
    (tmp_path / "scratch").mkdir()
    space = _Workspace(ArtifactStore(tmp_path / "store"), tmp_path / "scratch")

    def trained(bits: int) -> TrainedNetwork:
        return _train_cached(space, model_cfg, _qat(train_cfg, Precision(weight_bits=bits), study), study.corpus,
                             commands_corpus, study)

    narrow, wide = trained(4), trained(32)
    epochs = train_cfg.epochs
    assert epochs is not None
    assert narrow.metrics["epochs_completed"] == wide.metrics["epochs_completed"] > epochs
    # the float chip's network is the float fine-tune (finetune_control), in its own cache entry
    control = finetune_control(model_cfg, commands_corpus, train_cfg, seed=study.seed)
    assert wide.metrics["epochs_completed"] == control.metrics["epochs_completed"]
    got, want = wide.network().state_dict(), control.model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    # both were fine-tuned from one cached float run: the 4-bit network is QAT straight through's
    straight = train(model_cfg, commands_corpus, _qat(train_cfg, Precision(weight_bits=4), study), seed=study.seed)
    got, want = narrow.network().state_dict(), straight.model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    assert {k: v for k, v in narrow.metrics.items() if k not in WALL_CLOCK} == {
        k: v for k, v in straight.metrics.items() if k not in WALL_CLOCK}
    ptq = parse_spec(StudySpec, tiny_spec_data("joint", trials=1))
    assert _qat(train_cfg, Precision(weight_bits=32), ptq) == train_cfg  # ptq: one float network, unchanged
    assert wide.entry != _train_cached(space, model_cfg, train_cfg, study.corpus, commands_corpus, ptq).entry


def test_a_qat_networks_precisions_share_one_float_run_and_report_its_metrics(
        tmp_path: Path, commands_corpus, monkeypatch) -> None:
    study = parse_spec(StudySpec, tiny_spec_data("nested", trials=1, precision="qat", nested={"hw_points": 16}))
    groups = [p for p, _ in _precision_groups(_swept_chips(study), study.chip)]
    assert {p.weight_bits for p in groups} == {2, 4, 8}
    assert {p.tap_scales for p in groups} == {False, True}  # the quickstart's space holds hw.tap_scales
    calls: list[str] = []

    def counted(name: str, run):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(name)
            return run(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(codesign.train, "train", counted("train", codesign.train.train))
    monkeypatch.setattr(codesign.train, "finetune", counted("finetune", codesign.train.finetune))
    params = {"snn.family": "spikeformer", "snn.variant": "spiking", "snn.width": 32, "snn.depth": 1}
    task = TrialTask(params=params, spec=study, trial_number=0, store=ArtifactStore(tmp_path), corpus=commands_corpus)
    made = evaluate_trial(task)
    assert made.record.error is None and made.record.pruned is None, made.record
    # the float budget once, then one fine-tune a precision (a width, with and without tap scales)
    assert sorted(calls) == ["finetune"] * len(groups) + ["train"]
    # the trial's network metrics are the float run's, not the first width's QAT network's
    model_over, train_over, _ = split_params(params)
    train_cfg = study.train_for(train_over)
    float_run = train(study.model_for(model_over), commands_corpus, train_cfg, seed=study.seed)
    assert {k: v for k, v in made.record.metrics.items() if k not in WALL_CLOCK} == {
        k: v for k, v in float_run.metrics.items() if k not in WALL_CLOCK}
    assert made.record.metrics["epochs_completed"] == train_cfg.epochs


def test_a_float_entry_cached_without_its_checkpoint_gets_one_and_serves_qat(tmp_path: Path, commands_corpus,
                                                                            monkeypatch) -> None:
    # a ptq study (or one from before the float run was shared) cached the float network alone
    ptq = parse_spec(StudySpec, tiny_spec_data("joint", trials=1))
    study = parse_spec(StudySpec, tiny_spec_data("joint", trials=1, precision="qat"))
    model_cfg, train_cfg = study.model_for({}), study.train_for({})
    (tmp_path / "scratch").mkdir()
    space = _Workspace(ArtifactStore(tmp_path / "store"), tmp_path / "scratch")
    plain = _train_cached(space, model_cfg, train_cfg, study.corpus, commands_corpus, ptq)
    assert not space.has(plain.entry.removesuffix("full") + "full-checkpoint/checkpoint.pt")
    before = dict(space.entries[plain.entry])
    calls: list[str] = []
    real = codesign.train.train
    monkeypatch.setattr(codesign.train, "train", lambda *a, **k: calls.append("train") or real(*a, **k))
    narrow = _train_cached(space, model_cfg, _qat(train_cfg, Precision(weight_bits=4), study), study.corpus,
                           commands_corpus, study)
    assert calls == ["train"]  # the float run again, for its checkpoint only: its entry stays as it was
    assert space.has(plain.entry.removesuffix("full") + "full-checkpoint/checkpoint.pt")
    assert space.entries[plain.entry] == before
    straight = real(model_cfg, commands_corpus, _qat(train_cfg, Precision(weight_bits=4), study), seed=study.seed)
    got, want = narrow.network().state_dict(), straight.model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_a_qat_rung_is_the_float_networks_rung_and_the_full_float_run_continues_it(
        tmp_path: Path, commands_corpus, monkeypatch) -> None:
    data = tiny_spec_data("joint", trials=1, precision="qat")
    data["fidelity"] = {**data["fidelity"], "epochs": 2}
    study = parse_spec(StudySpec, data)
    model_cfg, train_cfg = study.model_for({}), study.train_for({})
    (tmp_path / "scratch").mkdir()
    space = _Workspace(ArtifactStore(tmp_path / "store"), tmp_path / "scratch")
    calls: list[tuple[int | None, bool]] = []
    real = codesign.train.train

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((kwargs.get("until_epoch"), kwargs.get("resume") is not None))
        return real(*args, **kwargs)

    monkeypatch.setattr(codesign.train, "train", counted)

    def trained(bits: int, until_epoch: int | None = None) -> TrainedNetwork:
        return _train_cached(space, model_cfg, _qat(train_cfg, Precision(weight_bits=bits), study), study.corpus,
                             commands_corpus, study, until_epoch)

    rung4, rung8 = trained(4, 1), trained(8, 1)
    float_rung = _train_cached(space, model_cfg, train_cfg, study.corpus, commands_corpus, study, 1)
    assert rung4.entry == rung8.entry == float_rung.entry and rung8.hit and float_rung.hit
    full4, full8 = trained(4), trained(8)
    assert full4.entry != full8.entry and not full4.hit and not full8.hit
    assert calls == [(1, False), (None, True)]  # the rung, then the float run on from it, once for both widths


def test_a_mixed_precision_chip_trains_scores_and_caches_its_own_network() -> None:
    """A 2-bit chip with 4-bit wide layers: its precision (one mapping, chip_precision), its QAT
    budget and its group of swept chips are its own; on a wider chip the wide bits hold nothing."""
    from codesign.search import chip_precision

    study = parse_spec(StudySpec, tiny_spec_data("nested", trials=1, precision="qat", nested={"hw_points": 16}))
    mixed = study.chip.model_copy(update={"weight_bits": 2, "wide_weight_bits": 4})
    assert chip_precision(mixed) == Precision(weight_bits=2, state_bits=study.chip.state_bits, wide_weight_bits=4)
    assert chip_precision(mixed.model_copy(update={"weight_bits": 8})).wide_weight_bits is None
    train_cfg = study.train_for({})
    budget = _qat(train_cfg, chip_precision(mixed), study)
    assert (budget.qat_weight_bits, budget.qat_wide_weight_bits) == (2, 4)
    points = [{"hw.weight_bits": 2}, {"hw.weight_bits": 2, "hw.wide_weight_bits": 4}, {"hw.weight_bits": 8,
                                                                                       "hw.wide_weight_bits": 4}]
    groups = dict(_precision_groups(points, study.chip))
    assert sorted(p.label for p in groups) == sorted({f"w2s{study.chip.state_bits}", f"w2x4s{study.chip.state_bits}",
                                                      f"w8s{study.chip.state_bits}"})
    assert groups[chip_precision(mixed)] == [1]


def test_a_tap_scaled_chip_trains_scores_and_caches_its_own_network() -> None:
    """A 4-bit chip with tap scales: its precision (chip_precision), its QAT budget, its cache
    label and its group of swept chips are its own; a float chip has no tap scales to hold."""
    from codesign.search import chip_precision

    study = parse_spec(StudySpec, tiny_spec_data("nested", trials=1, precision="qat", nested={"hw_points": 16}))
    tapped = study.chip.model_copy(update={"weight_bits": 4, "tap_scales": True})
    plain = tapped.model_copy(update={"tap_scales": False})
    assert chip_precision(tapped) == Precision(weight_bits=4, state_bits=study.chip.state_bits, tap_scales=True)
    assert chip_precision(tapped).cache_label != chip_precision(plain).cache_label
    assert not chip_precision(tapped.model_copy(update={"weight_bits": 32})).tap_scales
    budget = _qat(study.train_for({}), chip_precision(tapped), study)
    assert (budget.qat_weight_bits, budget.qat_tap_scales) == (4, True)
    assert budget.config_hash() != _qat(study.train_for({}), chip_precision(plain), study).config_hash()
    points = [{"hw.weight_bits": 4}, {"hw.weight_bits": 4, "hw.tap_scales": True}]
    groups = dict(_precision_groups(points, study.chip))
    assert groups[chip_precision(tapped)] == [1] and groups[chip_precision(plain)] == [0]
