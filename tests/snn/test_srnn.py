"""Improved-recurrence SRNN: the quantiser, the neuron equations, the references, gradients."""

from __future__ import annotations

import pytest
import torch

from codesign.snn import MambaConfig, SRNNConfig
from codesign.snn._quant import MultiBitQuantiser, quantise_with_error_feedback
from codesign.snn._srnn import READ_FULL_SCALE, ImprovedRecurrenceLayer, build_srnn


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def test_unsigned_quantiser_levels_range_and_zeroing():
    q = MultiBitQuantiser(bits=2, zero_threshold=0)
    x = torch.tensor([-1.0, 0.0, 0.4, 0.6, 1.4, 2.2, 3.0])
    out = q(x)  # range from this batch's max: 3.0, so one level is 1.0
    assert q.range_ema.item() == 3.0
    torch.testing.assert_close(out, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0]))
    q2 = MultiBitQuantiser(bits=2, zero_threshold=2)
    torch.testing.assert_close(q2(x), torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 3.0]))
    q3 = MultiBitQuantiser(bits=3, zero_threshold=0)
    levels = q3.levels(torch.linspace(0, 7, 50), torch.tensor(1.0))
    assert set(levels.unique().tolist()) == set(range(8))


def test_signed_quantiser_is_symmetric():
    q = MultiBitQuantiser(bits=3, zero_threshold=1, signed=True)
    x = torch.tensor([-6.0, -2.9, -0.2, 0.2, 2.1, 6.0])
    out = q(x)  # max|x| = 6, levels -3..3, one level = 2
    torch.testing.assert_close(out, torch.tensor([-6.0, -2.0, 0.0, 0.0, 2.0, 6.0]))


def test_quantiser_range_is_an_ema_and_frozen_in_eval():
    q = MultiBitQuantiser(bits=2, zero_threshold=0, momentum=0.5)
    q(torch.tensor([4.0]))
    q(torch.tensor([2.0]))
    assert q.range_ema.item() == pytest.approx(3.0)
    q.eval()
    q(torch.tensor([100.0]))
    assert q.range_ema.item() == pytest.approx(3.0)


def test_quantiser_range_from_a_quantile_ignores_outliers():
    x = torch.cat([torch.linspace(0.0, 1.0, 99), torch.tensor([50.0])])
    top = MultiBitQuantiser(bits=2, zero_threshold=0)
    top.observe(x)
    assert top.range_ema.item() == 50.0  # the max: every other value is level 0
    robust = MultiBitQuantiser(bits=2, zero_threshold=0, range_quantile=0.98)
    robust.observe(x)
    assert robust.range_ema.item() == pytest.approx(97 / 98)  # the 98th of the 100 sorted values
    assert (robust(x) > 0).float().mean() > 0.8
    with pytest.raises(ValueError, match="range_quantile"):
        MultiBitQuantiser(bits=2, zero_threshold=0, range_quantile=0.0)


def test_quantiser_ignores_an_empty_batch():
    q = MultiBitQuantiser(bits=2, zero_threshold=0)
    q.observe(torch.empty(0))
    assert not bool(q.seen)
    q.observe(torch.tensor([3.0]))
    q.observe(torch.empty(0, 4))
    assert q.range_ema.item() == 3.0


def test_layer_range_is_observed_once_per_batch_on_valid_membranes():
    layer = ImprovedRecurrenceLayer(n_inputs=4, width=6, bits=2, zero_threshold=1, range_quantile=1.0)
    calls = []
    original = layer.quantiser.observe
    layer.quantiser.observe = lambda x: (calls.append(x.shape), original(x))
    mask = torch.tensor([[True] * 7, [True] * 3 + [False] * 4])
    layer(torch.randn(2, 7, 4), mask)
    # first batch: one estimate from the feed-forward candidate, then one over the membranes
    assert calls == [(10, 6), (10, 6)]
    layer(torch.randn(2, 7, 4), mask)
    assert len(calls) == 3


def test_quantiser_gradient_is_straight_through_inside_range():
    q = MultiBitQuantiser(bits=2, zero_threshold=0)
    q(torch.tensor([3.0]))
    x = torch.tensor([-0.5, 0.3, 1.7, 2.9, 5.0], requires_grad=True)
    q(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0]))


def test_error_feedback_keeps_the_running_sum():
    q = MultiBitQuantiser(bits=2, zero_threshold=1, signed=True)
    x = 0.3 * torch.randn(2, 200, 5)
    x[0, 0, 0] = 3.0  # sets the range: one level = 3.0
    out = quantise_with_error_feedback(q, x)
    levels = out / q.scale()
    torch.testing.assert_close(levels, levels.round())
    assert (levels.abs() <= 1).all()
    gap = (x.cumsum(1) - out.cumsum(1)).abs().max()
    assert gap <= q.scale() + 1e-5  # plain rounding would lose nearly all of it
    assert (out == 0).float().mean() > 0.5


def test_unbounded_error_feedback_tracks_a_jump_beyond_the_range():
    # a delta code's running sum is the signal: a step larger than the range must be sent
    # over the following steps, not clipped and lost
    q = MultiBitQuantiser(bits=3, zero_threshold=2, signed=True)
    q.range_ema.fill_(3.0)
    q.seen.fill_(True)
    q.eval()
    change = torch.zeros(1, 12, 1)
    change[0, 0, 0] = 10.0  # 10 levels at once; the largest level is 3
    bounded = quantise_with_error_feedback(q, change).cumsum(1)
    unbounded = quantise_with_error_feedback(q, change, bounded=False).cumsum(1)
    assert bounded[0, -1, 0] < 10.0 - 1.0  # the clipped error is gone for good
    assert unbounded[0, -1, 0] == pytest.approx(10.0, abs=1.0)
    levels = quantise_with_error_feedback(q, change, bounded=False) / q.scale()
    assert set(levels.round().flatten().tolist()) <= {0.0, 2.0, 3.0}  # zeroing still applies


def test_integrating_layer_on_changes_equals_the_layer_on_their_running_sum():
    torch.manual_seed(4)
    plain = ImprovedRecurrenceLayer(n_inputs=6, width=5, bits=3, zero_threshold=1).eval()
    delta = ImprovedRecurrenceLayer(n_inputs=6, width=5, bits=3, zero_threshold=1, integrate_input=True).eval()
    delta.load_state_dict(plain.state_dict())
    for layer in (plain, delta):
        layer.quantiser.range_ema.fill_(2.0)
    changes = torch.randint(-3, 4, (2, 9, 6)).float() * (torch.rand(2, 9, 6) < 0.3)
    mask = torch.ones(2, 9, dtype=torch.bool)
    got, _ = delta(changes, mask)
    want, _ = plain(changes.cumsum(1), mask)
    torch.testing.assert_close(got, want)
    assert got.abs().sum() > 0


def test_delta_input_code_is_sparser_and_its_first_layer_counts_change_events(tmp_path):
    from codesign.trace import multiplications_per_inference

    torch.manual_seed(5)
    # a slowly varying input (as speech features are): few changes between steps
    slow = torch.randn(3, 2, 8).repeat_interleave(20, dim=1) + 0.05 * torch.randn(3, 40, 8)
    lengths = torch.tensor([40, 32, 24])
    traces = {}
    for coding in ("level", "delta"):
        from codesign.trace import load_trace, record_trace, save_trace

        cfg = _cfg("spiking", quant_input_coding=coding, quant_input_zero_threshold=2)
        model = build_srnn(cfg, 8, 5, "ctc")
        model(slow, lengths)
        model.eval()
        traces[coding] = load_trace(save_trace(record_trace(model, slow, lengths, cfg), tmp_path / f"{coding}.npz"))
    level, delta = traces["level"].layer("layers.0.w_in"), traces["delta"].layer("layers.0.w_in")
    assert delta.input_is_spike and delta.input_events > 0
    assert delta.input_events < 0.5 * level.input_events
    steps = float((lengths + 1).div(2, rounding_mode="floor").float().mean())
    accumulator = traces["delta"].layer("layers.0.input_accumulator")
    assert accumulator.neuron_evaluations == pytest.approx(2 * 16 * steps)  # one addition per unit and step
    assert not any(t.name.endswith("input_accumulator") for t in traces["level"].layers)
    # the running sums are additions: the multiplications are the events' and the cells' only
    mults = multiplications_per_inference(traces["delta"])
    synaptic = sum(t.input_events * t.fan_out for t in traces["delta"].layers if t.kind == "synaptic_dense")
    assert mults["synaptic"] == pytest.approx(synaptic)
    assert mults["elementwise"] == pytest.approx(2 * 2 * 16 * steps)


def test_srnn_layers_report_a_differentiable_rate_to_the_activity_regulariser():
    from codesign.snn import firing_rates

    model = build_srnn(_cfg("spiking"), 8, 5, "ctc").train()
    model(torch.randn(2, 20, 8), torch.tensor([20, 14]))
    rates = firing_rates(model)
    assert len(rates) == 2
    assert all(0.0 < float(r) < 1.0 and r.requires_grad for r in rates)
    torch.stack(rates).sum().backward()
    assert model.layers[0].w_in.weight.grad.abs().sum() > 0
    model.eval()
    assert firing_rates(model) == []


def test_layer_follows_the_published_equations():
    torch.manual_seed(3)
    layer = ImprovedRecurrenceLayer(n_inputs=6, width=5, bits=3, zero_threshold=2).eval()
    layer.quantiser.range_ema.fill_(2.0)
    with torch.no_grad():
        for bn in (layer.bn_f, layer.bn_c):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 9, 6)
    mask = torch.ones(2, 9, dtype=torch.bool)
    got, read_scale = layer(x, mask)
    assert read_scale.item() == pytest.approx(READ_FULL_SCALE / 7)
    w_f, w_c = layer.w_in.weight.chunk(2)
    u_f, u_c = layer.u_rec.weight.chunk(2)
    scale = 2.0 / 7
    current = torch.zeros(2, 5)
    membrane = torch.zeros(2, 5)
    level = torch.zeros(2, 5)
    for n in range(9):
        # recurrent weights read levels as a fraction of full scale; the soft reset subtracts
        # y = level × scale in membrane units
        forget = torch.sigmoid(layer.bn_f(x[:, n] @ w_f.T) + (level @ u_f.T) * READ_FULL_SCALE / 7)
        cand = torch.relu(layer.bn_c(x[:, n] @ w_c.T) + (level @ u_c.T) * READ_FULL_SCALE / 7)
        current = forget * current + (1 - forget) * cand
        membrane = membrane - level * scale + current
        level = torch.clamp(torch.round(membrane / scale), 0, 7)
        level = torch.where(level < 2, 0.0, level)
        torch.testing.assert_close(got[:, n], level, atol=1e-5, rtol=0)
    assert got.abs().sum() > 0


VARIANTS = ("spiking", "gru", "lstm")


def _cfg(variant, **kw):
    return SRNNConfig(family="srnn", variant=variant, width=16, depth=2, **kw)


@pytest.mark.parametrize("variant", ["spiking", "gru", "lstm"])
@pytest.mark.parametrize("head", ["ctc", "classify"])
def test_gradients_reach_every_parameter(variant, head):
    model = build_srnn(_cfg(variant), 8, 5, head)
    out, lengths = model(torch.randn(4, 30, 8), torch.tensor([30, 24, 18, 30]))
    assert lengths.tolist() == [15, 12, 9, 15]
    out.square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_lstm_reference_starts_with_forget_gate_bias_one():
    rnn = build_srnn(_cfg("lstm"), 8, 5, "ctc").layers[0].rnn
    forget = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[16:32]
    torch.testing.assert_close(forget, torch.ones(16))
    other = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[:16]
    assert not torch.allclose(other, torch.ones(16))


def test_snn_has_fewer_parameters_than_lstm_of_same_width():
    sizes = {v: sum(p.numel() for p in build_srnn(_cfg(v), 40, 12, "ctc").parameters()) for v in VARIANTS}
    assert sizes["spiking"] < sizes["gru"] < sizes["lstm"]


def test_snn_outputs_are_sparse_quantised_levels():
    model = build_srnn(_cfg("spiking", quant_bits=2), 8, 5, "ctc")
    model(torch.randn(4, 40, 8), torch.full((4,), 40))  # train step: sets the ranges
    model.eval()
    levels, _, _ = model.encode(torch.randn(4, 40, 8), torch.full((4,), 40))
    torch.testing.assert_close(levels, levels.round())
    assert levels.min() >= 0 and levels.max() <= 3
    assert (levels == 0).float().mean() > 0.2


def test_padding_does_not_change_valid_outputs_in_eval():
    model = build_srnn(_cfg("spiking"), 8, 5, "ctc")
    model(torch.randn(4, 40, 8), torch.full((4,), 40))
    model.eval()
    x = torch.randn(1, 20, 8)
    short, _ = model(x, torch.tensor([20]))
    long, _ = model(torch.cat([x, torch.randn(1, 10, 8)], 1), torch.tensor([20]))
    torch.testing.assert_close(long[:, :10], short)


def test_depth_and_family_are_checked():
    with pytest.raises(ValueError, match="depth"):
        build_srnn(SRNNConfig(family="srnn", depth=4), 8, 5, "ctc")
    with pytest.raises(ValueError, match="family"):
        build_srnn(MambaConfig(family="mamba", variant="dense"), 8, 5, "ctc")


def test_a_zero_threshold_that_zeroes_every_input_level_is_refused():
    with pytest.raises(ValueError, match="would zero every input level"):
        SRNNConfig(family="srnn", quant_bits=4, quant_input_bits=2, quant_zero_threshold=2)
    SRNNConfig(family="srnn", quant_bits=4, quant_input_bits=3, quant_zero_threshold=2)
    with pytest.raises(ValueError, match="quant_input_zero_threshold 4 would zero every input level"):
        SRNNConfig(family="srnn", quant_bits=4, quant_input_bits=3, quant_input_zero_threshold=4)
    with pytest.raises(ValueError, match="would zero every output level"):
        SRNNConfig(family="srnn", quant_bits=2, quant_input_bits=4, quant_zero_threshold=4)
    cfg = SRNNConfig(family="srnn", quant_bits=2, quant_zero_threshold=2, quant_input_bits=4, quant_input_zero_threshold=5)
    assert (cfg.input_zero_threshold, SRNNConfig(family="srnn", quant_zero_threshold=2).input_zero_threshold) == (5, 2)
    SRNNConfig(family="srnn", variant="gru", quant_bits=2, quant_zero_threshold=2)  # no quantiser


def _trace(variant, tmp_path, **kw):
    from codesign.trace import load_trace, record_trace, save_trace

    cfg = _cfg(variant, **kw)
    model = build_srnn(cfg, 8, 5, "ctc")
    model(torch.randn(4, 40, 8), torch.full((4,), 40))  # one training-mode pass sets ranges
    model.eval()
    x = torch.randn(3, 30, 8) - 1.0  # mostly negative inputs: negative signed input levels
    lengths = torch.tensor([30, 22, 16])
    trace = record_trace(model, x, lengths, cfg)
    loaded = load_trace(save_trace(trace, tmp_path / f"{variant}.npz"))
    assert loaded == trace
    return trace, lengths


@pytest.mark.parametrize("variant", VARIANTS)
def test_trace_round_trips_and_counts_the_recurrence(variant, tmp_path):
    from codesign.trace import multiplications_per_inference

    trace, lengths = _trace(variant, tmp_path)
    steps = float((lengths + 1).div(2, rounding_mode="floor").float().mean())  # subsample 2
    width = 16
    cells = [layer for layer in trace.layers if layer.kind == "state_update"]
    assert len(cells) == 2
    for cell in cells:
        assert cell.neuron_evaluations == pytest.approx(width * steps)
    mults = multiplications_per_inference(trace)
    if variant == "spiking":
        quantiser = trace.layer("input_quantiser")
        assert 0 < quantiser.output_spikes <= quantiser.output_level_sum
        assert quantiser.output_spikes < quantiser.neuron_evaluations  # its units count for activity metrics
        from codesign.trace import trace_metrics

        assert 0.0 < trace_metrics(trace).activation_sparsity < 1.0
        rec = trace.layer("layers.1.u_rec")
        assert rec.input_is_spike
        top = 2 ** SRNNConfig().quant_bits - 1
        assert 0 < rec.input_events <= rec.input_level_sum <= top * rec.input_events
        assert rec.levels == top  # 2^b - 1, not an IMLS D
        assert rec.steps == round(steps)
        # the first layer reads the signed quantised features: spikes, |level| events each
        first = trace.layer("layers.0.w_in")
        assert first.input_is_spike
        assert 0 < first.input_events <= first.input_level_sum
        synaptic = sum(t.input_events * t.fan_out for t in trace.layers if t.kind == "synaptic_dense")
        assert mults["synaptic"] == pytest.approx(synaptic)
        assert mults["elementwise"] == pytest.approx(2 * 2 * width * steps)
    else:
        gates = 3 if variant == "gru" else 4
        dense_rnn = sum(gates * width * (n_in + width) * steps for n_in in (16, width))
        head = width * 5 * steps
        assert mults["synaptic"] == pytest.approx(dense_rnn + head)
        assert mults["elementwise"] == pytest.approx(2 * 3 * width * steps)


def test_snn_needs_fewer_multiplications_than_gru_when_outputs_are_sparse(tmp_path):
    from codesign.trace import multiplications_per_inference

    snn, _ = _trace("spiking", tmp_path, quant_bits=3, quant_zero_threshold=2)
    gru, _ = _trace("gru", tmp_path)
    assert multiplications_per_inference(snn)["total"] < multiplications_per_inference(gru)["total"]


def test_multiplications_refuse_other_families():
    from types import SimpleNamespace

    from codesign.trace import multiplications_per_inference

    with pytest.raises(ValueError, match="srnn"):
        multiplications_per_inference(SimpleNamespace(meta=SimpleNamespace(family="mamba", variant="dense"), layers=()))


def test_registered_as_the_srnn_builder():
    from codesign.snn import build_model

    model = build_model(_cfg("lstm"), 8, 5, "classify")
    out, _ = model(torch.randn(2, 12, 8), torch.tensor([12, 9]))
    assert out.shape == (2, 5)
