"""Mamba: the scan against its definition, the variants' activations, causality, gradients."""

from __future__ import annotations

import pytest
import torch

from codesign.snn import MambaConfig, SRNNConfig
from codesign.snn._mamba import MambaBlock, build_mamba
from codesign.snn._scan import selective_scan, selective_scan_chunked, selective_scan_sequential


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _scan_inputs(batch=3, steps=37, channels=16, n_state=4):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, steps, channels, generator=gen)
    delta = torch.nn.functional.softplus(torch.randn(batch, steps, channels, generator=gen))
    a = -torch.exp(torch.randn(channels, n_state, generator=gen))
    b = torch.randn(batch, steps, n_state, generator=gen)
    c = torch.randn(batch, steps, n_state, generator=gen)
    return x, delta, a, b, c


def _naive_recurrence(x, delta, a, b, c):
    """The definition, one element at a time: s_t = exp(Δ·A)·s_{t−1} + Δ·B·x_t, y_t = C·s_t."""
    batch, steps, channels = x.shape
    y = torch.zeros_like(x)
    for i in range(batch):
        for d in range(channels):
            s = torch.zeros(a.shape[1])
            for t in range(steps):
                s = torch.exp(delta[i, t, d] * a[d]) * s + delta[i, t, d] * b[i, t] * x[i, t, d]
                y[i, t, d] = (c[i, t] * s).sum()
    return y


def test_loop_scan_matches_naive_recurrence():
    inputs = _scan_inputs(batch=2, steps=11, channels=3)
    torch.testing.assert_close(selective_scan_sequential(*inputs), _naive_recurrence(*inputs), atol=1e-5, rtol=0)


@pytest.mark.parametrize("chunk", [1, 4, 8, 37, 64])
def test_chunked_scan_matches_sequential(chunk):
    inputs = _scan_inputs()
    expected = selective_scan_sequential(*inputs)
    torch.testing.assert_close(selective_scan_chunked(*inputs, chunk=chunk), expected, atol=1e-5, rtol=1e-6)


def test_chunked_scan_survives_very_strong_decay():
    x, delta, a, b, c = _scan_inputs()
    a = a * 1e3  # exp(Δ·A) underflows to 0 within a step; no inf or nan may appear
    expected = selective_scan_sequential(x, delta, a, b, c)
    got = selective_scan_chunked(x, delta, a, b, c)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-6)


def test_scan_methods_agree_and_unknown_method_raises():
    inputs = _scan_inputs()
    torch.testing.assert_close(
        selective_scan(*inputs, method="chunked"), selective_scan(*inputs, method="loop"), atol=1e-5, rtol=1e-6
    )
    with pytest.raises(ValueError, match="scan method"):
        selective_scan(*inputs, method="fft")  # type: ignore[arg-type]


def _cfg(variant, **kw):
    return MambaConfig(family="mamba", variant=variant, width=16, depth=2, state_size=4, **kw)


def test_event_variant_fatrelu_zeroes_below_threshold():
    cfg = _cfg("event", fatrelu_threshold=0.3)
    block = MambaBlock(cfg)
    seen = {}
    block.act_x.register_forward_hook(lambda m, i, o: seen.update(inp=i[0].detach(), out=o.detach()))
    block(torch.randn(1, 2, 20, 16))
    inp, out = seen["inp"], seen["out"]
    below = inp < 0.3
    assert below.any() and (~below).any()
    assert (out[below] == 0).all()
    torch.testing.assert_close(out[~below], inp[~below])


def test_dense_and_event_share_shapes_and_parameter_count():
    sizes = {v: sum(p.numel() for p in build_mamba(_cfg(v), 10, 5, "ctc").parameters()) for v in ("dense", "event")}
    assert sizes["dense"] == sizes["event"]


@pytest.mark.parametrize("variant", ["dense", "event", "spiking"])
def test_model_is_causal_and_masks_nothing_it_should_not(variant):
    model = build_mamba(_cfg(variant), 10, 5, "ctc").eval()
    x = torch.randn(2, 24, 10)
    lengths = torch.tensor([24, 24])
    out, out_lengths = model(x, lengths)
    assert out.shape == (2, 12, 5) and out_lengths.tolist() == [12, 12]
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(2, 12))
    x2 = x.clone()
    x2[:, 16:] = torch.randn(2, 8, 10)  # change only frames 16.. (steps 8..)
    out2, _ = model(x2, lengths)
    torch.testing.assert_close(out2[:, :8], out[:, :8])
    assert not torch.allclose(out2[:, 8:], out[:, 8:])


@pytest.mark.parametrize(
    ("variant", "extra"),
    [("dense", {}), ("event", {}), ("spiking", {"neuron": "imls"}), ("spiking", {"neuron": "imls", "timesteps": 2})],
)
@pytest.mark.parametrize("head", ["ctc", "classify"])
def test_gradients_reach_every_parameter(variant, extra, head):
    model = build_mamba(_cfg(variant, **extra), 10, 5, head)
    out, _ = model(torch.randn(4, 30, 10), torch.tensor([30, 25, 20, 30]))
    out.square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_classification_ignores_padding():
    model = build_mamba(_cfg("dense"), 10, 5, "classify").eval()
    x = torch.randn(1, 20, 10)
    short, _ = model(x[:, :12], torch.tensor([12]))
    padded_x = torch.cat([x[:, :12], torch.randn(1, 8, 10)], dim=1)
    padded, _ = model(padded_x, torch.tensor([12]))
    torch.testing.assert_close(short, padded)


def test_builder_refuses_other_family():
    with pytest.raises(ValueError, match="family"):
        build_mamba(SRNNConfig(family="srnn"), 10, 5, "ctc")


@pytest.mark.parametrize("variant", ["dense", "event", "spiking"])
def test_trace_records_scan_and_projections_and_round_trips(variant, tmp_path):
    from codesign.trace import load_trace, record_trace, save_trace

    cfg = _cfg(variant, timesteps=2)
    model = build_mamba(cfg, 10, 5, "ctc").eval()
    lengths = torch.tensor([24, 17])
    trace = record_trace(model, torch.randn(2, 24, 10), lengths, cfg)
    assert load_trace(save_trace(trace, tmp_path / "t.npz")) == trace
    t = cfg.timesteps if variant == "spiking" else 1
    steps = t * float((lengths + 1).div(2, rounding_mode="floor").float().mean())
    scan = trace.layer("blocks.0.scan")
    inner, n_state = 2 * 16, 4
    assert scan.kind == "state_update"
    assert scan.neuron_evaluations == pytest.approx(inner * n_state * steps)
    assert scan.state_size == inner * n_state
    # the scan stores A (a_log, inner x N) and D (d_skip, inner), not 2 N inner
    block = model.blocks[0]
    assert scan.weight_count == block.a_log.numel() + block.d_skip.numel() == inner * n_state + inner
    assert not scan.neuron_output  # scan states are not neuron outputs (NeuroBench activation sparsity)
    out_proj = trace.layer("blocks.1.out_proj")
    assert out_proj.kind == "synaptic_dense" and out_proj.steps == round(steps)
    if variant == "spiking":
        assert trace.layer("blocks.0.in_proj").input_is_spike
        assert out_proj.input_is_spike
    if variant == "event":
        assert not out_proj.input_is_spike
        assert out_proj.input_events < out_proj.input_size  # FATReLU zeros are skipped
    if variant == "dense":
        assert out_proj.input_events == pytest.approx(out_proj.input_size)


def test_registered_as_the_mamba_builder():
    from codesign.snn import build_model

    model = build_model(_cfg("event"), 10, 5, "classify")
    out, _ = model(torch.randn(2, 12, 10), torch.tensor([12, 9]))
    assert out.shape == (2, 5)
