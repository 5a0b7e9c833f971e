"""HD-RepSSA: the decay mask, re-parameterisation, the forward contract and the builder."""

from __future__ import annotations

import copy

import pytest
import torch

from codesign.snn import (
    BUILDERS,
    RepProjection,
    SpikeformerConfig,
    build_model,
    decay_mask,
    fuse_model,
    layer_gammas,
    quantise_weight,
)


def test_decay_mask_shape_symmetry_values() -> None:
    gammas = torch.tensor([0.5, 0.9])
    mask = decay_mask(6, gammas)
    assert mask.shape == (2, 6, 6)
    assert torch.allclose(mask, mask.transpose(-1, -2))
    assert torch.allclose(torch.diagonal(mask, dim1=-2, dim2=-1), torch.ones(2, 6))
    assert mask[0, 0, 3].item() == pytest.approx(0.5**3)
    assert mask[1, 5, 1].item() == pytest.approx(0.9**4)
    # Monotone decay with distance, slower for the larger gamma.
    assert (mask[:, 0, 1:] < mask[:, 0, :-1]).all()
    assert (mask[1] >= mask[0]).all()


def test_decay_mask_causal() -> None:
    mask = decay_mask(5, torch.tensor([0.7, 0.8, 0.9]), causal=True)
    upper = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    assert (mask[:, upper] == 0).all()
    assert torch.allclose(mask[:, ~upper], decay_mask(5, torch.tensor([0.7, 0.8, 0.9]))[:, ~upper])


def test_layer_gammas_range_and_depth_shift() -> None:
    first = layer_gammas(0.5, 0.9, heads=4, layer=0, depth=3, layer_shift=0.5)
    last = layer_gammas(0.5, 0.9, heads=4, layer=2, depth=3, layer_shift=0.5)
    assert first[0].item() == pytest.approx(0.5) and first[-1].item() == pytest.approx(0.9)
    assert (first[1:] > first[:-1]).all()
    assert (last > first).all()  # upper layers remember longer
    assert last[0].item() == pytest.approx(0.5 + 0.5 * 0.5)
    assert (last <= 1.0).all()
    unshifted = layer_gammas(0.5, 0.9, heads=4, layer=2, depth=3, layer_shift=0.0)
    assert torch.allclose(unshifted, first)
    with pytest.raises(ValueError):
        layer_gammas(0.9, 0.5, heads=2, layer=0, depth=1, layer_shift=0.0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("channels_out", [12, 20])
def test_fused_rep_projection_equals_branches(causal: bool, channels_out: int) -> None:
    proj = RepProjection(12, channels_out, kernel=3, causal=causal)
    for bn in (proj.bn_linear, proj.bn_temporal):
        if bn is not None:  # non-trivial statistics so the fold is exercised
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)
    proj.eval()
    x = torch.randn(2, 3, 17, 12)
    before = proj(x)
    proj.fuse()
    after = proj(x)
    assert proj.linear is None and proj.fused is not None
    assert torch.allclose(before, after, atol=1e-5)


def _rep_projection_with_statistics(channels_out: int, causal: bool = False) -> RepProjection:
    torch.manual_seed(0)
    proj = RepProjection(12, channels_out, kernel=3, causal=causal)
    for bn in (proj.bn_linear, proj.bn_temporal):
        if bn is not None:
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)
    return proj


@pytest.mark.parametrize("channels_out", [12, 20])
def test_qat_of_a_rep_projection_trains_the_fused_form_with_batch_statistics(channels_out: int) -> None:
    proj = _rep_projection_with_statistics(channels_out)
    branches = copy.deepcopy(proj)
    x = torch.randn(2, 3, 17, 12)
    # at a width too fine to matter, the fused training form is the two branches with batch norm
    proj.set_qat_weight_bits(24)
    assert torch.allclose(proj(x), branches(x), atol=1e-5)
    for ours, theirs in ((proj.bn_linear, branches.bn_linear), (proj.bn_temporal, branches.bn_temporal)):
        if theirs is not None:  # the running statistics move exactly as batch norm moves them
            assert ours is not None and ours.num_batches_tracked == theirs.num_batches_tracked == 1
            assert torch.allclose(ours.running_mean, theirs.running_mean, atol=1e-6)
            assert torch.allclose(ours.running_var, theirs.running_var, atol=1e-6)
    # on a 2-bit grid it is not, and the gradient reaches every branch parameter through the STE
    proj.set_qat_weight_bits(2)
    out = proj(x)
    assert not torch.allclose(out, branches(x), atol=1e-2)
    out.square().sum().backward()
    for name, param in proj.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("channels_out", [12, 20])
def test_qat_of_a_rep_projection_in_eval_is_the_quantised_fused_layer(causal: bool, channels_out: int) -> None:
    proj = _rep_projection_with_statistics(channels_out, causal).eval()
    proj.set_qat_weight_bits(3)
    x = torch.randn(2, 3, 17, 12)
    with torch.no_grad():
        trained_form = proj(x)
        chip = copy.deepcopy(proj)
        chip.fuse()
        assert chip.fused is not None
        chip.fused.weight.copy_(quantise_weight(chip.fused.weight, 3))
        assert torch.equal(trained_form, chip(x))
    with pytest.raises(ValueError, match="cannot be represented"):
        proj.set_qat_weight_bits(1)


@pytest.mark.parametrize("variant,attn_scale", [("spiking", "fixed"), ("spiking", "mask_rows"), ("ann", "fixed")])
def test_fused_model_equals_unfused_in_eval(variant: str, attn_scale: str) -> None:
    cfg = SpikeformerConfig(variant=variant, width=16, heads=2, depth=2, attn_scale=attn_scale)
    model = build_model(cfg, 8, 6, "ctc")
    model.train()
    x, lengths = torch.randn(4, 30, 8), torch.tensor([30, 22, 17, 9])
    for _ in range(3):  # populate batch-norm statistics
        model(x, lengths)
    model.eval()
    with torch.no_grad():
        reference, _ = model(x, lengths)
        fused_out, _ = fuse_model(model)(x, lengths)
    assert torch.allclose(reference, fused_out, atol=1e-5)


@pytest.mark.parametrize("neuron,timesteps,front_kernel", [("imls", 1, 3), ("lif", 3, 3), ("imls", 1, 1)])
@pytest.mark.parametrize("subsample", [1, 2, 4])
def test_forward_contract(neuron: str, timesteps: int, front_kernel: int, subsample: int) -> None:
    cfg = SpikeformerConfig(neuron=neuron, timesteps=timesteps, subsample=subsample, width=16, heads=4, depth=1,
                      front_kernel=front_kernel)
    lengths = torch.tensor([40, 33, 7])
    x = torch.randn(3, 40, 10)
    logits, out_len = build_model(cfg, 10, 5, "classify")(x, lengths)
    assert logits.shape == (3, 5) and out_len.dtype == torch.int64
    log_probs, out_len = build_model(cfg, 10, 5, "ctc")(x, lengths)
    assert log_probs.shape[0] == 3 and log_probs.shape[2] == 5
    assert out_len.tolist() == [(n - 1) // subsample + 1 if subsample < 4 else ((n - 1) // 2) // 2 + 1
                                for n in lengths.tolist()]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)


@pytest.mark.parametrize("variant,attn_scale", [("spiking", "fixed"), ("spiking", "mask_rows"), ("ann", "fixed")])
def test_padding_does_not_change_valid_outputs(variant: str, attn_scale: str) -> None:
    cfg = SpikeformerConfig(variant=variant, width=16, heads=2, depth=2, attn_scale=attn_scale)
    model = build_model(cfg, 8, 4, "classify").eval()
    x = torch.randn(1, 21, 8)
    with torch.no_grad():
        alone, _ = model(x, torch.tensor([21]))
        padded, _ = model(torch.cat([x, torch.zeros(1, 9, 8)], dim=1), torch.tensor([21]))
    assert torch.allclose(alone, padded, atol=1e-5)


def test_builder_registry_and_errors() -> None:
    assert "spikeformer" in BUILDERS
    with pytest.raises(ValueError, match="head"):
        build_model(SpikeformerConfig(), 8, 4, "regress")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_model(SpikeformerConfig(), 0, 4, "ctc")


def test_log_decay_mask_matches_and_does_not_underflow() -> None:
    from codesign.snn import log_decay_mask

    gammas = torch.tensor([0.5, 0.9])
    assert torch.allclose(log_decay_mask(8, gammas).exp(), decay_mask(8, gammas), atol=1e-7)
    causal = log_decay_mask(8, gammas, causal=True)
    assert torch.isneginf(causal[:, 0, 1:]).all() and torch.isfinite(torch.diagonal(causal, dim1=1, dim2=2)).all()
    assert torch.isfinite(log_decay_mask(400, gammas)).all()  # 0.5**399 underflows float32


def test_ann_twin_gradients_finite_on_long_padded_batch() -> None:
    # A padded query row whose valid keys all sit far away once made the softmax NaN.
    cfg = SpikeformerConfig(variant="ann", width=16, heads=2, depth=1, decay_gamma_min=0.3, decay_gamma_max=0.5)
    model = build_model(cfg, 8, 5, "ctc")
    out, _ = model(torch.randn(2, 400, 8), torch.tensor([400, 30]))
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_mask_rows_scale_divides_each_frame_by_its_valid_mask_mass() -> None:
    from codesign.snn._attention import RepSSA

    torch.manual_seed(0)
    fixed = RepSSA(SpikeformerConfig(width=16, heads=2, attn_scale="fixed"), 0).eval()
    rows = RepSSA(SpikeformerConfig(width=16, heads=2, attn_scale="mask_rows"), 0).eval()
    rows.load_state_dict(fixed.state_dict())
    captured: dict[str, torch.Tensor] = {}
    for name, module in (("fixed", fixed), ("rows", rows)):
        module.attn_bn.register_forward_hook(lambda _m, inp, _o, name=name: captured.__setitem__(name, inp[0]))
    s = (torch.rand(1, 1, 12, 16) > 0.5).float()
    valid = torch.ones(1, 12, dtype=torch.bool)
    valid[0, 9:] = False
    with torch.no_grad():
        fixed(s, valid)
        rows(s, valid)
    mask = decay_mask(12, fixed.gammas) * valid[0, None, None, :].float()  # [H, L, L]
    mass = mask.sum(-1)  # [H, L]
    per_channel = mass.repeat_interleave(8, dim=0).T  # [L, C]
    expected = captured["fixed"].reshape(12, 16) / fixed.scale / per_channel
    assert torch.allclose(captured["rows"].reshape(12, 16), expected, atol=1e-5)


@pytest.mark.parametrize("family", ["spikeformer", "mamba"])
def test_imls_at_more_timesteps_only_repeats_the_first(family: str) -> None:
    """IMLS keeps no state across timesteps and the input is repeated over them, so every
    timestep computes what the first did: T > 1 costs T x the work for the same output (why
    the shipped spaces draw T > 1 only for LIF)."""
    from codesign.snn import MambaConfig, SpikeformerConfig, build_model

    outs = []
    for timesteps in (1, 3):
        torch.manual_seed(0)
        cfg = (SpikeformerConfig(neuron="imls", timesteps=timesteps, width=32, depth=2, heads=2)
               if family == "spikeformer" else MambaConfig(variant="spiking", neuron="imls", timesteps=timesteps,
                                                            width=32, depth=2))
        model = build_model(cfg, 10, 5, "classify").eval()
        x = torch.randn(2, 30, 10, generator=torch.Generator().manual_seed(1)) * 3
        outs.append(model(x, torch.tensor([30, 20]))[0])
    torch.testing.assert_close(outs[0], outs[1])
