"""The short training run on tiny real corpora: determinism, metrics, budgets, pruning, divergence."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from codesign.data import Corpus
from codesign.snn import ModelConfig
from codesign.train import (
    TrainConfig,
    TrainingDiverged,
    load_trained_model,
    lr_factor,
    prune_schedule,
    save_train_result,
    train,
)

SMALL = ModelConfig(width=16, heads=2, depth=1)
QUICK = TrainConfig(epochs=1, batch_size=16)


def test_same_seed_same_result_and_other_seed_differs(commands_corpus: Corpus) -> None:
    a = train(SMALL, commands_corpus, QUICK, seed=3)
    b = train(SMALL, commands_corpus, QUICK, seed=3)
    c = train(SMALL, commands_corpus, QUICK, seed=4)
    assert a.loss_curve == b.loss_curve
    assert a.metrics["test_accuracy"] == b.metrics["test_accuracy"]
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert a.loss_curve != c.loss_curve


def test_classification_learns_and_reports(commands_corpus: Corpus) -> None:
    result = train(SMALL, commands_corpus, TrainConfig(epochs=6, batch_size=16, learning_rate=5e-3), seed=0)
    steps_per_epoch = -(-len(commands_corpus.train) // 16)
    curve = result.loss_curve
    assert len(curve) == 6 * steps_per_epoch == result.metrics["steps"]
    first, last = curve[:steps_per_epoch], curve[-steps_per_epoch:]
    assert sum(last) / len(last) < sum(first) / len(first)  # training loss goes down
    for key in ("validation_accuracy", "test_accuracy"):
        assert 0.0 <= result.metrics[key] <= 1.0
    assert len(result.epoch_times_s) == 6 and result.metrics["time_per_epoch_s"] > 0
    assert 0.0 < result.metrics["firing_rate"] < 1.0
    assert not result.model.training
    json.dumps(result.to_dict())  # serialisable


def test_ctc_reports_wer_and_cer(digits_corpus: Corpus) -> None:
    result = train(SMALL, digits_corpus, QUICK, seed=0)
    assert result.head == "ctc" and result.metric_name == "wer"
    for key in ("validation_wer", "validation_cer", "test_wer", "test_cer"):
        assert result.metrics[key] >= 0.0


def test_ann_twin_trains(digits_corpus: Corpus) -> None:
    result = train(SMALL.model_copy(update={"variant": "ann"}), digits_corpus, QUICK, seed=0)
    assert result.metrics["firing_rate"] == 0.0 and result.metrics["test_wer"] >= 0.0


def test_nan_loss_raises_diverged(commands_corpus: Corpus) -> None:
    features = commands_corpus.train.features.clone()
    features[0, 0, 0] = float("nan")
    broken = dataclasses.replace(commands_corpus, train=dataclasses.replace(commands_corpus.train, features=features))
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        train(SMALL, broken, TrainConfig(epochs=1, batch_size=len(features)), seed=0)


def test_pruning_reaches_target_and_holds(commands_corpus: Corpus) -> None:
    cfg = SMALL.model_copy(update={"prune_ratio": 0.6})
    result = train(cfg, commands_corpus, TrainConfig(epochs=3, batch_size=16), seed=0)
    assert result.metrics["weight_sparsity"] == pytest.approx(0.6, abs=0.01)
    assert train(SMALL, commands_corpus, QUICK, seed=0).metrics["weight_sparsity"] == 0.0


def test_activity_regulariser_lowers_firing(commands_corpus: Corpus) -> None:
    budget = TrainConfig(epochs=3, batch_size=8, learning_rate=1e-2)
    free = train(SMALL, commands_corpus, budget, seed=0)
    held = train(SMALL.model_copy(update={"activity_target": 0.02, "activity_weight": 50.0}),
                 commands_corpus, budget, seed=0)
    assert held.metrics["firing_rate"] < free.metrics["firing_rate"] - 0.05


def test_seconds_budget_stops(commands_corpus: Corpus) -> None:
    result = train(SMALL, commands_corpus, TrainConfig(epochs=None, seconds=0.5, batch_size=8), seed=0)
    assert result.metrics["wall_time_s"] < 3.0
    assert result.metrics["steps"] >= 1


def test_save_and_reload_gives_same_outputs(commands_corpus: Corpus, tmp_path: Path) -> None:
    result = train(SMALL, commands_corpus, QUICK, seed=0)
    paths = save_train_result(result, tmp_path / "run")
    model, summary = load_trained_model(tmp_path / "run")
    assert summary["metrics"] == result.metrics and paths["weights"].is_file()
    x, lengths = commands_corpus.test.features[:4], commands_corpus.test.feature_lengths[:4]
    with torch.no_grad():
        assert torch.equal(model(x, lengths)[0], result.model(x, lengths)[0])


def test_schedules() -> None:
    assert lr_factor(0.0, 0.1) < lr_factor(0.05, 0.1) < lr_factor(0.1, 0.1) == pytest.approx(1.0)
    assert lr_factor(1.0, 0.1) == pytest.approx(0.05)
    assert prune_schedule(0.05, 0.5) == 0.0
    assert prune_schedule(0.75, 0.5) == pytest.approx(0.5) and prune_schedule(1.0, 0.5) == pytest.approx(0.5)
    assert 0 < prune_schedule(0.3, 0.5) < prune_schedule(0.5, 0.5) < 0.5
