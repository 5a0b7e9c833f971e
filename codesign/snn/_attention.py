"""HD-RepSSA: spiking self-attention with a hierarchical decay mask and re-parameterisable Q/K/V.

Owns the hierarchical decay mask (:func:`decay_mask`, :func:`layer_gammas`), the
re-parameterisable projection (:class:`RepProjection`, with quantisation-aware training of its
fused form) and the attention module
(:class:`RepSSA`, with a softmax ANN twin). Activations are time-major, channel-last:
``[T, N, L, C]`` (spiking timestep, batch, frames, channels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from codesign.snn._config import SpikeformerConfig
from codesign.snn._neurons import make_neuron
from codesign.snn._precision import FLOAT_BITS, quantise_weight, weight_levels
from codesign.snn._probe import OpCounts, Probed, is_probed, probe_matmul, probe_op


def layer_gammas(
    gamma_min: float, gamma_max: float, heads: int, layer: int, depth: int, layer_shift: float
) -> torch.Tensor:
    """Per-head decays of one layer: spread linearly over ``[gamma_min, gamma_max]``, shifted toward 1.

    The range moves toward 1 (longer memory) by ``layer_shift * layer / (depth - 1)`` of the
    remaining distance, so lower layers attend to shorter ranges than upper ones.

    Returns:
        float32 ``[heads]``, ascending.
    """
    if not 0.0 < gamma_min <= gamma_max <= 1.0:
        raise ValueError(f"0 < gamma_min <= gamma_max <= 1, got {gamma_min}, {gamma_max}")
    if not 0 <= layer < depth:
        raise ValueError(f"layer in [0, {depth}), got {layer}")
    frac = layer_shift * (layer / (depth - 1) if depth > 1 else 0.0)
    lo = gamma_min + (1.0 - gamma_min) * frac
    hi = gamma_max + (1.0 - gamma_max) * frac
    if heads == 1:
        return torch.tensor([(lo + hi) / 2.0], dtype=torch.float32)
    return torch.linspace(lo, hi, heads, dtype=torch.float32)


def decay_mask(length: int, gammas: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """The hierarchical decay mask ``M[h, n, m] = gammas[h] ** |n - m|`` (zero for ``m > n`` if causal).

    Args:
        length: frames L.
        gammas: ``[H]`` decays in (0, 1].
        causal: whether a frame may only attend to itself and earlier frames.

    Returns:
        ``[H, L, L]`` with the dtype and device of ``gammas``.
    """
    idx = torch.arange(length, device=gammas.device)
    dist = (idx[:, None] - idx[None, :]).abs().to(gammas.dtype)
    mask = gammas[:, None, None] ** dist
    if causal:
        mask = mask * (idx[None, :] <= idx[:, None]).to(gammas.dtype)
    return mask


def log_decay_mask(length: int, gammas: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """``log`` of :func:`decay_mask` computed without underflow (``-inf`` where the mask is zero).

    ``gamma ** |n - m|`` underflows to 0 in float32 for long utterances; the softmax twin adds
    this log-mask to its scores, and a row of ``-inf`` would make it NaN.
    """
    idx = torch.arange(length, device=gammas.device)
    dist = (idx[:, None] - idx[None, :]).abs().to(gammas.dtype)
    log_mask = dist[None] * torch.log(gammas)[:, None, None]
    if causal:
        log_mask = log_mask.masked_fill(idx[None, :] > idx[:, None], float("-inf"))
    return log_mask


def batch_norm_last(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Apply a channel batch norm to a channel-last tensor of any rank."""
    normalised: torch.Tensor = bn(x.reshape(-1, x.shape[-1]))
    return normalised.reshape(x.shape)


class RepProjection(nn.Module):
    """A projection trained as parallel branches and run as one convolution.

    Training form: ``BN(Linear(x)) + BN(DepthwiseConv_k(x))`` over frames (the depthwise
    branch only when ``in == out`` and ``k > 1``). :meth:`fuse` folds both branches and their
    batch norms (eval statistics) into one ``Conv1d(in, out, k)`` with equal outputs.
    Quantisation-aware training (:meth:`set_qat_weight_bits`) trains that folded layer on the
    chip's weight grid, since the chip holds the folded weights, not the branches. Its weights
    are the wide layers of a mixed-precision chip (``holds_wide_weights``; ``Precision.wide_weight_bits``):
    each output channel's scale is set by its depthwise (diagonal) taps, about 10× the channel's
    RMS, so a ternary grid puts nearly all its other weights on 0 (docs/models.md, "Precision").

    Args:
        channels_in, channels_out: channel counts.
        kernel: frames of the temporal branch.
        causal: the temporal branch sees only the current and earlier frames.
    """

    #: The chip holds this module's (fused) weights in its ``wide_weight_bits`` where it has them
    #: (``codesign.snn._precision.WIDE_WEIGHTS_ATTR``).
    holds_wide_weights = True

    def __init__(self, channels_in: int, channels_out: int, kernel: int = 3, causal: bool = False) -> None:
        super().__init__()
        self.channels_in = channels_in
        self.channels_out = channels_out
        self.kernel = kernel if channels_in == channels_out else 1
        self.causal = causal
        self.linear: nn.Linear | None = nn.Linear(channels_in, channels_out, bias=False)
        self.bn_linear: nn.BatchNorm1d | None = nn.BatchNorm1d(channels_out)
        self.temporal: nn.Conv1d | None = None
        self.bn_temporal: nn.BatchNorm1d | None = None
        if self.kernel > 1:
            self.temporal = nn.Conv1d(channels_in, channels_in, self.kernel, groups=channels_in, bias=False)
            self.bn_temporal = nn.BatchNorm1d(channels_out)
        self.fused: nn.Linear | nn.Conv1d | None = None
        #: Weight bits the training-form forward fake-quantises the fused form to (32: float, the
        #: two branches as such); see :meth:`set_qat_weight_bits`.
        self.qat_weight_bits = FLOAT_BITS
        #: Whether that fake quantisation has a scale per (output channel, tap) (``Precision.tap_scales``).
        self.qat_tap_scales = False

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        """Pad ``[B, C, L]`` along frames so the conv keeps L frames."""
        k = self.kernel
        left = k - 1 if self.causal else (k - 1) // 2
        return F.pad(x, (left, k - 1 - left))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[T, N, L, C_in]`` -> ``[T, N, L, C_out]``."""
        lead = x.shape[:-2]
        length = x.shape[-2]
        flat = x.reshape(-1, length, self.channels_in)
        if self.fused is not None:
            if isinstance(self.fused, nn.Linear):
                y: torch.Tensor = self.fused(flat)
            else:
                y = self.fused(self._pad(flat.transpose(1, 2))).transpose(1, 2)
            return y.reshape(*lead, length, self.channels_out)
        if self.qat_weight_bits != FLOAT_BITS:
            return self._qat_forward(flat).reshape(*lead, length, self.channels_out)
        assert self.linear is not None and self.bn_linear is not None
        y = batch_norm_last(self.bn_linear, self.linear(flat))
        if self.temporal is not None and self.bn_temporal is not None:
            t = self.temporal(self._pad(flat.transpose(1, 2))).transpose(1, 2)
            y = y + batch_norm_last(self.bn_temporal, t)
        return y.reshape(*lead, length, self.channels_out)

    def set_qat_weight_bits(self, bits: int, per_tap: bool = False) -> None:
        """Train the fused form at ``bits`` (quantisation-aware training); 32: train the branches.

        With bits below 32 the training-form forward computes what the chip computes: the
        branches folded into one layer (batch statistics while training, running statistics in
        eval, as :meth:`fuse` does), its weight fake-quantised per output channel with a
        straight-through gradient (``quantise_weight``), then one convolution. The branch
        weights and batch norms stay the trained parameters, so :meth:`fuse` and the chip's
        scoring read them unchanged. ``per_tap``: a scale per (output channel, kernel tap), as a
        chip with ``tap_scales`` holds the fused weight.
        """
        weight_levels(bits)  # raises ValueError for a width a chip cannot hold
        self.qat_weight_bits = bits
        self.qat_tap_scales = per_tap

    def _fold(
        self, scale1: torch.Tensor, shift1: torch.Tensor, scale2: torch.Tensor | None, shift2: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight and bias of the one layer equal to both branches, each followed by the affine
        ``scale * y + shift`` its batch norm applies. ``[out, in]`` (linear only) or ``[out, in, k]``."""
        assert self.linear is not None
        weight_linear = self.linear.weight * scale1[:, None]
        bias = shift1.clone()
        if self.temporal is None or scale2 is None or shift2 is None:
            return weight_linear, bias
        k = self.kernel
        weight = torch.zeros(self.channels_out, self.channels_in, k, dtype=weight_linear.dtype,
                             device=weight_linear.device)
        # The linear branch acts on the current frame: the last tap (causal) or the centre.
        current = k - 1 if self.causal else (k - 1) // 2
        weight[:, :, current] += weight_linear
        diag = torch.arange(self.channels_in, device=weight.device)
        weight[diag, diag, :] += self.temporal.weight[:, 0, :] * scale2[:, None]
        bias += shift2
        return weight, bias

    def _qat_forward(self, flat: torch.Tensor) -> torch.Tensor:
        """The fused, fake-quantised layer on ``flat`` ``[B, L, C_in]`` -> ``[B, L, C_out]``."""
        assert self.linear is not None and self.bn_linear is not None
        if self.training:
            scale1, shift1 = _bn_batch_affine(self.bn_linear, self.linear(flat))
            scale2 = shift2 = None
            if self.temporal is not None and self.bn_temporal is not None:
                t = self.temporal(self._pad(flat.transpose(1, 2))).transpose(1, 2)
                scale2, shift2 = _bn_batch_affine(self.bn_temporal, t)
        else:
            scale1, shift1 = _bn_affine(self.bn_linear)
            scale2 = shift2 = None
            if self.bn_temporal is not None:
                scale2, shift2 = _bn_affine(self.bn_temporal)
        weight, bias = self._fold(scale1, shift1, scale2, shift2)
        weight = quantise_weight(weight, self.qat_weight_bits, self.qat_tap_scales)
        if weight.ndim == 2:
            return F.linear(flat, weight, bias)
        return F.conv1d(self._pad(flat.transpose(1, 2)), weight, bias).transpose(1, 2)

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the branches and batch norms into one layer (inference form); idempotent."""
        if self.fused is not None:
            return
        assert self.linear is not None and self.bn_linear is not None
        scale1, shift1 = _bn_affine(self.bn_linear)
        scale2 = shift2 = None
        if self.temporal is not None and self.bn_temporal is not None:
            scale2, shift2 = _bn_affine(self.bn_temporal)
        weight, bias = self._fold(scale1, shift1, scale2, shift2)
        if weight.ndim == 2:
            fused: nn.Linear | nn.Conv1d = nn.Linear(self.channels_in, self.channels_out, bias=True)
        else:
            fused = nn.Conv1d(self.channels_in, self.channels_out, self.kernel, bias=True)
        fused.weight.copy_(weight)
        assert fused.bias is not None  # built with bias=True
        fused.bias.copy_(bias)
        fused.to(self.linear.weight.device)
        self.fused = fused
        self.linear = self.bn_linear = self.temporal = self.bn_temporal = None


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode batch norm as ``scale * x + shift``."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _bn_batch_affine(bn: nn.BatchNorm1d, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Training-mode batch norm of channel-last ``y`` as ``scale * y + shift`` from the batch's
    statistics (differentiable, as batch norm's own gradient is); updates the running
    statistics as ``bn`` would."""
    flat = y.reshape(-1, y.shape[-1])
    mean = flat.mean(dim=0)
    var = flat.var(dim=0, unbiased=False)
    if bn.running_mean is not None and bn.running_var is not None and bn.num_batches_tracked is not None:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
            n = flat.shape[0]
            bn.running_mean.lerp_(mean, momentum)
            bn.running_var.lerp_(var * n / max(1, n - 1), momentum)
    scale = bn.weight / torch.sqrt(var + bn.eps)
    return scale, bn.bias - mean * scale


class RepSSA(Probed, nn.Module):
    """HD-RepSSA: softmax-free spiking self-attention with a per-head decay mask.

    Spiking: ``Q, K, V = SN(RepProjection(s))``, per head ``A = (Q Kᵀ ⊙ M_h) V × scale``, then
    batch norm, a neuron and a linear output projection with batch norm. ANN twin
    (``not cfg.is_spiking``): ``softmax(Q Kᵀ × scale + log M_h) V`` then the projection.

    Args:
        cfg: the model config (width, heads, decay range, neuron).
        layer: this block's index (sets the decay range).
    """

    #: Buffer: the decay ``γ_h`` of each head, ``[heads]``.
    gammas: torch.Tensor

    def __init__(self, cfg: SpikeformerConfig, layer: int) -> None:
        super().__init__()
        width, heads = cfg.width, cfg.heads
        self.heads = heads
        self.head_dim = width // heads
        self.spiking = cfg.is_spiking
        self.causal = cfg.causal
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.scale_by_mask_rows = cfg.attn_scale == "mask_rows"
        self.q_proj = RepProjection(width, width, cfg.rep_kernel, cfg.causal)
        self.k_proj = RepProjection(width, width, cfg.rep_kernel, cfg.causal)
        self.v_proj = RepProjection(width, width, cfg.rep_kernel, cfg.causal)
        self.register_buffer(
            "gammas",
            layer_gammas(cfg.decay_gamma_min, cfg.decay_gamma_max, heads, layer, cfg.depth, cfg.decay_layer_shift),
        )
        if self.spiking:
            self.q_sn = make_neuron(cfg, width)
            self.k_sn = make_neuron(cfg, width)
            self.v_sn = make_neuron(cfg, width)
            self.attn_bn = nn.BatchNorm1d(width)
            self.attn_sn = make_neuron(cfg, width)
        self.out_proj = nn.Linear(width, width, bias=False)
        self.out_bn = nn.BatchNorm1d(width)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        t, n, length, _ = x.shape
        return x.reshape(t, n, length, self.heads, self.head_dim).permute(0, 1, 3, 2, 4)

    def forward(self, s: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``s``: ``[T, N, L, C]`` activations; ``valid``: ``[N, L]`` bool; returns ``[T, N, L, C]``."""
        t, n, length, width = s.shape
        keep = valid[None, :, :, None].to(s.dtype)
        s = s * keep  # the temporal branch must not see padded frames
        q, k, v = self.q_proj(s), self.k_proj(s), self.v_proj(s)
        if self.spiking:
            q, k, v = self.q_sn(q), self.k_sn(k) * keep, self.v_sn(v) * keep
        qh, kh, vh = self._heads(q), self._heads(k), self._heads(v)
        mask = decay_mask(length, self.gammas.to(s.dtype), self.causal)  # [H, L, L]
        scores = qh @ kh.transpose(-1, -2)  # [T, N, H, L, L]
        probed = is_probed(self)
        if probed:
            probe_matmul(self, "qk", qh, kh.transpose(-1, -2), mask=mask, steps=t * length,
                         in_shape=(width,), out_shape=(self.heads, length))
        if self.spiking:
            scores = scores * mask
        else:
            bias = log_decay_mask(length, self.gammas.to(s.dtype), self.causal)
            key_pad = (~valid)[:, None, None, :]  # [N, 1, 1, L]
            scores = (scores * self.scale + bias).masked_fill(key_pad, float("-inf")).softmax(dim=-1)
        if probed:
            probe_op(self, "score", OpCounts(kind="elementwise", in_shape=(self.heads, length),
                     out_shape=(self.heads, length), steps=t * length,
                     aux_ops=float(t * n * int((mask != 0).sum()))))
            # V is the streamed operand: each nonzero v pairs with the nonzero scores of its key.
            probe_matmul(self, "av", vh.transpose(-1, -2), scores.transpose(-1, -2), steps=t * length,
                         in_shape=(width,), out_shape=(width,))
        attn = scores @ vh  # [T, N, H, L, d]
        if self.spiking and self.scale_by_mask_rows:
            # Frames near an edge, in short utterances or in short-range heads attend to less mask
            # mass; one per-frame constant (no data dependence) evens that out before the BN.
            rows = (mask[None] * valid[:, None, None, :].to(s.dtype)).sum(-1).clamp(min=1e-6)  # [N, H, L]
            attn = attn / rows[None, :, :, :, None]
        attn = attn.permute(0, 1, 3, 2, 4).reshape(t, n, length, width)
        if self.spiking:
            if not self.scale_by_mask_rows:
                attn = attn * self.scale
            attn = self.attn_sn(batch_norm_last(self.attn_bn, attn))
        return batch_norm_last(self.out_bn, self.out_proj(attn))
