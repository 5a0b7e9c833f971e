"""The short training run on tiny real corpora: determinism, metrics, budgets, pruning, divergence."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from codesign.data import Corpus
from codesign.snn import SpikeformerConfig
from codesign.train import (
    TrainConfig,
    TrainingDiverged,
    finetune_control,
    load_trained_model,
    lr_factor,
    prune_schedule,
    save_train_result,
    train,
)

SMALL = SpikeformerConfig(width=16, heads=2, depth=1)
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


def test_a_run_stopped_at_a_rung_and_resumed_equals_one_straight_run(commands_corpus: Corpus) -> None:
    budget = TrainConfig(epochs=3, batch_size=16)
    straight = train(SMALL, commands_corpus, budget, seed=5)
    rung = train(SMALL, commands_corpus, budget, seed=5, until_epoch=1)
    assert rung.checkpoint is not None and rung.checkpoint.epoch == 1
    steps_per_epoch = -(-len(commands_corpus.train) // 16)
    assert len(rung.loss_curve) == steps_per_epoch
    resumed = train(SMALL, commands_corpus, budget, seed=5, resume=rung.checkpoint)
    # the loss is continuous across the rung: the resumed curve extends the rung's exactly
    assert resumed.loss_curve[:steps_per_epoch] == rung.loss_curve
    assert resumed.loss_curve == straight.loss_curve
    assert resumed.metrics["validation_accuracy"] == straight.metrics["validation_accuracy"]
    with pytest.raises(ValueError, match="until_epoch"):
        train(SMALL, commands_corpus, budget, seed=5, until_epoch=4)


def test_checkpoint_round_trips_through_a_file(commands_corpus: Corpus, tmp_path: Path) -> None:
    from codesign.train import load_checkpoint, save_checkpoint

    budget = TrainConfig(epochs=2, batch_size=16)
    rung = train(SMALL, commands_corpus, budget, seed=1, until_epoch=1)
    assert rung.checkpoint is not None
    loaded = load_checkpoint(save_checkpoint(rung.checkpoint, tmp_path / "ckpt.pt"))
    a = train(SMALL, commands_corpus, budget, seed=1, resume=rung.checkpoint)
    b = train(SMALL, commands_corpus, budget, seed=1, resume=loaded)
    assert a.loss_curve == b.loss_curve


def test_seconds_unset_gives_identical_metrics_under_load(commands_corpus: Corpus) -> None:
    """A step budget does not depend on how fast the machine is: a busy thread beside one run
    changes nothing."""
    import threading

    budget = TrainConfig(epochs=2, batch_size=16)
    assert not budget.load_dependent and TrainConfig(epochs=None, seconds=5).load_dependent
    idle = train(SMALL, commands_corpus, budget, seed=2)
    stop = threading.Event()

    def burn() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    worker = threading.Thread(target=burn)
    worker.start()
    try:
        busy = train(SMALL, commands_corpus, budget, seed=2)
    finally:
        stop.set()
        worker.join()
    assert busy.loss_curve == idle.loss_curve
    assert {k: v for k, v in busy.metrics.items() if "time" not in k} == {
        k: v for k, v in idle.metrics.items() if "time" not in k
    }


def test_ptq_at_two_bits_changes_a_trained_networks_accuracy(learnable_commands_corpus: Corpus) -> None:
    from codesign.snn import Precision
    from codesign.train import score_at_precision

    corpus = learnable_commands_corpus
    result = train(SMALL, corpus, TrainConfig(epochs=10, batch_size=16, learning_rate=1e-2), seed=0)
    fp32, _ = score_at_precision(result.model, corpus, result.head, Precision())
    assert fp32["validation_accuracy"] == pytest.approx(result.metrics["validation_accuracy"], abs=1e-6)
    assert fp32["validation_accuracy"] > 0.3  # the network has learnt something to lose
    two, net = score_at_precision(result.model, corpus, result.head, Precision(weight_bits=2, state_bits=4))
    assert two["validation_accuracy"] < fp32["validation_accuracy"]
    assert two["weight_bits"] == 2 and two["state_bits"] == 4 and 0.0 <= two["state_overflow_rate"] <= 1.0
    assert all(getattr(m, "weight_bits", None) == 2 for m in net.modules() if isinstance(m, torch.nn.Linear))


def test_qat_trains_on_the_weight_grid_and_saves_plain_weights(commands_corpus: Corpus, tmp_path: Path) -> None:
    budget = TrainConfig(epochs=1, batch_size=16, qat_weight_bits=3)
    result = train(SMALL, commands_corpus, budget, seed=0)
    control = finetune_control(SMALL, commands_corpus, budget, seed=0)
    float_steps = math.ceil(len(commands_corpus.train) / 16)
    assert result.loss_curve[:float_steps] == control.loss_curve[:float_steps]  # the same float run
    # the same fine-tune, its forward pass on 3-bit weights: every step's loss differs from float's
    tuned, tuned_float = result.loss_curve[float_steps:], control.loss_curve[float_steps:]
    assert len(tuned) == len(tuned_float) > 0 and all(a != b for a, b in zip(tuned, tuned_float, strict=True))
    assert not any("parametrizations" in k for k in result.state_dict())
    save_train_result(result, tmp_path)
    model, _ = load_trained_model(tmp_path)
    assert model is not None


def test_qat_fine_tune_holds_the_float_runs_pruning(commands_corpus: Corpus) -> None:
    # every prunable weight, the parametrized ones outside the fused projections included
    cfg = SMALL.model_copy(update={"prune_ratio": 0.3})
    budget = TrainConfig(epochs=3, batch_size=16, qat_weight_bits=3)
    result = train(cfg, commands_corpus, budget, seed=0)
    assert result.metrics["weight_sparsity"] == pytest.approx(0.3, abs=0.01)


def test_qat_of_a_gru_reference_is_refused_before_any_training(commands_corpus: Corpus) -> None:
    from codesign.snn import SRNNConfig

    gru = SRNNConfig(width=16, depth=1, variant="gru")
    budget = TrainConfig(epochs=3, batch_size=16, qat_weight_bits=4)
    # a rung ends before the fine-tune: refused there too, not passed off as a float (PTQ) run
    with pytest.raises(ValueError, match="gru/lstm references is not supported"):
        train(gru, commands_corpus, budget, seed=0, until_epoch=1)
    with pytest.raises(ValueError, match="gru/lstm references is not supported"):
        train(gru, commands_corpus, budget, seed=0)


def _spikeformer_batch(passes: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A small RepSSA Spikeformer (CTC, seed 0) in training mode after ``passes`` forward passes
    over one fixed batch, with that batch: the network the QAT tests put on a weight grid."""
    from codesign.snn import build_model

    torch.manual_seed(0)
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3), 8, 6, "ctc")
    x, lengths = torch.randn(4, 30, 8), torch.tensor([30, 22, 17, 9])
    net.train()
    for _ in range(passes):
        net(x, lengths)
    return net, x, lengths


def test_qat_forward_is_the_chip_precision_forward_and_gradients_reach_every_weight() -> None:
    from torch.nn.utils import parametrize

    from codesign.snn import Precision, quantise_network
    from codesign.train._train import _qat_parametrize, _qat_remove

    net, x, lengths = _spikeformer_batch(passes=3)  # batch-norm statistics away from their initial values
    assert _qat_parametrize(net, 3)
    # the projections quantise their fused weight themselves: no grid on their branches
    rep = net.blocks[0].attn.q_proj
    assert not parametrize.is_parametrized(rep.linear) and parametrize.is_parametrized(net.classifier)
    out, _ = net(x, lengths)
    out.logsumexp(-1).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    net.eval()
    with torch.no_grad():
        trained_form = net(x, lengths)[0]
        _qat_remove(net)
        chip, _ = quantise_network(net, Precision(weight_bits=3))
        assert torch.equal(trained_form, chip(x, lengths)[0])  # what is trained is what is scored
        assert not torch.equal(trained_form, net(x, lengths)[0])  # and it is not the float network


def test_qat_at_32_bits_is_float_training(commands_corpus: Corpus) -> None:
    plain = train(SMALL, commands_corpus, QUICK, seed=0)
    wide = train(SMALL, commands_corpus, QUICK.model_copy(update={"qat_weight_bits": 32}), seed=0)
    assert plain.loss_curve == wide.loss_curve


def test_qat_is_the_float_run_then_a_fine_tune_on_the_grid(commands_corpus: Corpus) -> None:
    from codesign.train import QAT_FINETUNE_FRACTION

    budget = TrainConfig(epochs=3, batch_size=16)
    plain = train(SMALL, commands_corpus, budget, seed=0)
    qat = train(SMALL, commands_corpus, budget.model_copy(update={"qat_weight_bits": 3}), seed=0)
    float_steps = len(plain.loss_curve)
    steps_per_epoch = math.ceil(len(commands_corpus.train) / 16)
    # the whole float run, step for step, then a third of its epochs again on the 3-bit grid
    assert qat.loss_curve[:float_steps] == plain.loss_curve
    assert len(qat.loss_curve) == float_steps + math.ceil(3 * QAT_FINETUNE_FRACTION) * steps_per_epoch
    assert qat.metrics["epochs_completed"] == 3 + math.ceil(3 * QAT_FINETUNE_FRACTION)
    # the fine-tune is on the grid: the same fine-tune in float (finetune_control) loses otherwise
    control = finetune_control(SMALL, commands_corpus, budget, seed=0)
    assert control.loss_curve[:float_steps] == plain.loss_curve and len(control.loss_curve) == len(qat.loss_curve)
    assert all(a != b for a, b in zip(qat.loss_curve[float_steps:], control.loss_curve[float_steps:], strict=True))
    # stopped at a rung, a QAT run is its float run so far (the grid comes after the budget)
    rung = train(SMALL, commands_corpus, budget.model_copy(update={"qat_weight_bits": 3}), seed=0, until_epoch=2)
    assert rung.loss_curve == plain.loss_curve[: 2 * steps_per_epoch]


#: Metrics that are wall-clock readings, so no two runs share them.
WALL_CLOCK = ("wall_time_s", "time_per_epoch_s")


def test_a_fine_tune_from_the_float_runs_checkpoint_equals_qat_straight_through(
        commands_corpus: Corpus, tmp_path: Path) -> None:
    from codesign.train import finetune, load_checkpoint, save_checkpoint

    # with pruning: the checkpoint must carry the masks as well as the batch order and torch RNG states
    cfg = SMALL.model_copy(update={"prune_ratio": 0.3})
    budget = TrainConfig(epochs=3, batch_size=16)
    float_run = train(cfg, commands_corpus, budget, seed=4)
    assert float_run.checkpoint is not None
    start = load_checkpoint(save_checkpoint(float_run.checkpoint, tmp_path / "float.pt"))
    torch.manual_seed(123)  # whatever ran in between: the fine-tune restores the float run's RNGs
    for bits, straight_run in ((3, train), (32, finetune_control)):
        qat_budget = budget.model_copy(update={"qat_weight_bits": bits})
        straight = straight_run(cfg, commands_corpus, qat_budget, seed=4)
        shared = finetune(cfg, commands_corpus, qat_budget, seed=4, start=start)
        got, want = shared.model.state_dict(), straight.model.state_dict()
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
        assert shared.loss_curve == straight.loss_curve
        assert {k: v for k, v in shared.metrics.items() if k not in WALL_CLOCK} == {
            k: v for k, v in straight.metrics.items() if k not in WALL_CLOCK}
        assert shared.train_config == straight.train_config
        assert shared.metrics["wall_time_s"] > sum(float_run.epoch_times_s)  # the float run's time counts
    with pytest.raises(ValueError, match="qat_weight_bits"):
        finetune(cfg, commands_corpus, budget, seed=4, start=start)
    rung = train(cfg, commands_corpus, budget, seed=4, until_epoch=1)
    assert rung.checkpoint is not None
    with pytest.raises(ValueError, match="epoch 1"):
        finetune(cfg, commands_corpus, budget.model_copy(update={"qat_weight_bits": 3}), seed=4, start=rung.checkpoint)


def test_distillation_loss_is_zero_for_the_teacher_itself_and_ignores_padding_frames() -> None:
    from codesign.train import distillation_loss

    torch.manual_seed(0)
    teacher = torch.log_softmax(torch.randn(3, 7, 5), dim=-1)
    student = torch.log_softmax(torch.randn(3, 7, 5), dim=-1)
    lengths = torch.tensor([7, 4, 2])
    assert float(distillation_loss(teacher, teacher, lengths, "ctc", 2.0)) == pytest.approx(0.0, abs=1e-6)
    loss = distillation_loss(student, teacher, lengths, "ctc", 2.0)
    assert float(loss) > 0
    padded = student.clone()
    padded[1, 4:] = torch.log_softmax(torch.randn(3, 5), dim=-1)  # frames past utterance 1's length
    assert float(distillation_loss(padded, teacher, lengths, "ctc", 2.0)) == pytest.approx(float(loss))
    logits = torch.randn(4, 6)
    assert float(distillation_loss(logits, logits, torch.ones(4), "classify", 3.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(distillation_loss(torch.randn(4, 6), logits, torch.ones(4), "classify", 3.0)) > 0


def test_feature_distillation_loss_stays_bounded_when_the_teachers_output_is_nearly_constant() -> None:
    from codesign.train import feature_distillation_loss

    torch.manual_seed(0)
    student = torch.randn(2, 9, 4)
    assert float(feature_distillation_loss([student], [student.clone()])) == pytest.approx(0.0, abs=1e-6)
    quiet_teacher = 0.01 * torch.randn(2, 9, 4)  # spread 1e-4 of the student's
    assert 0 < float(feature_distillation_loss([student], [quiet_teacher])) < 2.0
    with pytest.raises(ValueError, match="paired"):
        feature_distillation_loss([student], [])


def test_the_ternary_qat_fine_tune_distils_the_float_network(commands_corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    import codesign.train._train as train_module

    budget = TrainConfig(epochs=2, batch_size=16, qat_weight_bits=2)
    float_steps = 2 * math.ceil(len(commands_corpus.train) / 16)
    distilled = train(SMALL, commands_corpus, budget, seed=0)
    monkeypatch.setattr(train_module, "QAT_DISTIL_WEIGHT", 0.0)
    monkeypatch.setattr(train_module, "QAT_FEATURE_DISTIL_WEIGHT", 0.0)
    plain = train(SMALL, commands_corpus, budget, seed=0)
    assert distilled.loss_curve[:float_steps] == plain.loss_curve[:float_steps]  # the same float run
    # the first fine-tune step: the same network and batch, plus the teacher's terms (> 0)
    assert distilled.loss_curve[float_steps] > plain.loss_curve[float_steps]
    # the hooks that kept the fused projections' outputs for the teacher are gone
    from codesign.snn._attention import RepProjection

    projections = [m for m in distilled.model.modules() if isinstance(m, RepProjection)]
    assert projections and not any(m._forward_hooks for m in projections)
    # wider grids fine-tune without a teacher: turning its weights off changes nothing there
    wide = budget.model_copy(update={"qat_weight_bits": 4})
    without = train(SMALL, commands_corpus, wide, seed=0)
    monkeypatch.undo()
    assert train(SMALL, commands_corpus, wide, seed=0).loss_curve == without.loss_curve


def test_a_ternary_fine_tune_moves_its_weights_further() -> None:
    from codesign.train import QAT_FINETUNE_LR_FRACTION, QAT_TERNARY_LR_FRACTION, qat_finetune_lr_fraction

    assert qat_finetune_lr_fraction(2) == QAT_TERNARY_LR_FRACTION > QAT_FINETUNE_LR_FRACTION
    assert qat_finetune_lr_fraction(3) == qat_finetune_lr_fraction(4) == qat_finetune_lr_fraction(32)


def test_spec_augment_masks_each_batch_repeatably_and_a_rung_continues_its_masks(commands_corpus: Corpus) -> None:
    from codesign.data import SpecAugment

    plain = TrainConfig(epochs=2, batch_size=16)
    masked = plain.model_copy(update={"spec_augment": SpecAugment(time_mask_frames=20, freq_mask_bins=10)})
    a = train(SMALL, commands_corpus, masked, seed=2)
    assert a.loss_curve == train(SMALL, commands_corpus, masked, seed=2).loss_curve
    assert a.loss_curve != train(SMALL, commands_corpus, plain, seed=2).loss_curve
    rung = train(SMALL, commands_corpus, masked, seed=2, until_epoch=1)
    assert train(SMALL, commands_corpus, masked, seed=2, resume=rung.checkpoint).loss_curve == a.loss_curve


def test_label_smoothing_raises_the_loss_of_a_confident_network(commands_corpus: Corpus) -> None:
    budget = TrainConfig(epochs=3, batch_size=16, learning_rate=5e-3)
    sharp = train(SMALL, commands_corpus, budget, seed=0)
    smooth = train(SMALL, commands_corpus, budget.model_copy(update={"label_smoothing": 0.3}), seed=0)
    # the first step's loss is cross-entropy against targets of 0.7 + 0.3/22 instead of 1:
    # a near-uniform network's loss is about ln(22) either way, later it cannot fall as far
    assert smooth.loss_curve[0] == pytest.approx(sharp.loss_curve[0], rel=0.05)
    assert smooth.metrics["final_loss"] > sharp.metrics["final_loss"]


def test_opt_in_training_options_that_are_off_leave_the_cache_key_alone() -> None:
    from codesign.config import parse_spec
    from codesign.data import SpecAugment

    budget = TrainConfig(epochs=2)
    assert "spec_augment" not in budget.to_dict() and "label_smoothing" not in budget.to_dict()
    assert parse_spec(TrainConfig, budget.to_dict()) == budget
    on = budget.model_copy(update={"spec_augment": SpecAugment(), "label_smoothing": 0.1}).to_dict()
    assert on["spec_augment"] == SpecAugment().to_dict() and on["label_smoothing"] == 0.1


def test_qat_on_a_mixed_precision_chip_trains_the_projections_at_their_wider_bits() -> None:
    from codesign.snn import Precision, quantise_network
    from codesign.train._train import _qat_parametrize, _qat_remove

    net, x, lengths = _spikeformer_batch(passes=1)
    assert _qat_parametrize(net, 2, 4)
    attn = net.blocks[0].attn
    assert {attn.q_proj.qat_weight_bits, attn.k_proj.qat_weight_bits, attn.v_proj.qat_weight_bits} == {4}
    assert net.classifier.parametrizations.weight[0].bits == 2
    net.eval()
    with torch.no_grad():
        trained_form = net(x, lengths)[0]
        _qat_remove(net)
        chip, _ = quantise_network(net, Precision(weight_bits=2, wide_weight_bits=4))
        assert torch.equal(trained_form, chip(x, lengths)[0])  # what is trained is what the chip computes


def test_a_mixed_precision_qat_budget_keys_its_own_cache_and_its_float_run_the_plain_one() -> None:
    plain = TrainConfig(epochs=2, qat_weight_bits=2)
    mixed = TrainConfig(epochs=2, qat_weight_bits=2, qat_wide_weight_bits=4)
    assert "qat_wide_weight_bits" not in plain.to_dict()  # older cache keys unchanged
    assert mixed.config_hash() != plain.config_hash()
    assert mixed.without_qat() == plain.without_qat() == TrainConfig(epochs=2)
    with pytest.raises(ValueError, match="qat_wide_weight_bits"):
        TrainConfig(epochs=2, qat_wide_weight_bits=4)


def test_qat_on_a_tap_scaled_chip_trains_the_projections_on_their_per_tap_grid() -> None:
    from codesign.snn import Precision, quantise_network
    from codesign.train._train import _qat_parametrize, _qat_remove

    net, x, lengths = _spikeformer_batch(passes=1)
    assert _qat_parametrize(net, 4, None, tap_scales=True)
    attn = net.blocks[0].attn
    assert {attn.q_proj.qat_tap_scales, attn.k_proj.qat_tap_scales, attn.v_proj.qat_tap_scales} == {True}
    assert not net.classifier.parametrizations.weight[0].per_tap
    net.eval()
    with torch.no_grad():
        trained_form = net(x, lengths)[0]
        _qat_remove(net)
        chip, _ = quantise_network(net, Precision(weight_bits=4, tap_scales=True))
        assert torch.equal(trained_form, chip(x, lengths)[0])  # what is trained is what the chip computes
        per_channel, _ = quantise_network(net, Precision(weight_bits=4))
        assert not torch.equal(trained_form, per_channel(x, lengths)[0])


def test_a_tap_scaled_qat_budget_keys_its_own_cache_and_its_float_run_the_plain_one() -> None:
    plain = TrainConfig(epochs=2, qat_weight_bits=4)
    tapped = TrainConfig(epochs=2, qat_weight_bits=4, qat_tap_scales=True)
    assert "qat_tap_scales" not in plain.to_dict()  # older cache keys unchanged
    assert tapped.config_hash() != plain.config_hash()
    assert tapped.without_qat() == plain.without_qat() == TrainConfig(epochs=2)
    with pytest.raises(ValueError, match="qat_tap_scales"):
        TrainConfig(epochs=2, qat_tap_scales=True)
