"""Mamba for speech: the selective state-space block in three variants, and its model.

Owns :class:`MambaBlock` (input projection into ``x`` and gate ``z``, causal depthwise conv,
input-dependent Δ/B/C, selective scan, gated output, output projection) and
:class:`MambaModel` (front end, ``cfg.depth`` blocks, classification or CTC head).

Variants (``ModelConfig.variant``), all with the same weights and shapes:

- ``dense``: SiLU activations, the ANN reference.
- ``event``: FATReLU (threshold ``cfg.fatrelu_threshold``) in place of both SiLUs, so most
  activations feeding the projections are exactly zero and a chip can skip them.
- ``spiking``: spiking neurons (LIF or IMLS, ``cfg.neuron``) at the block's activations: on
  the block input (so the input projection sees spikes), on the conv output (feeding the
  scan and the Δ/B/C projection), on the gate, and on the gated output (so the output
  projection sees spikes). The scan state itself stays real-valued.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codesign.snn._config import ModelConfig
from codesign.snn._scan import ScanMethod, selective_scan

__all__ = ["MambaBlock", "MambaModel", "build_mamba", "stack_frames"]


# --------------------------------------------------------------------------------------
# TEMPORARY local activations, to be replaced by codesign.snn._neurons when it lands.
class _AtanSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: Tensor, slope: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(v)
        ctx.slope = slope
        return (v >= 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (v,) = ctx.saved_tensors
        slope = ctx.slope
        return grad * slope / 2 / (1 + (math.pi / 2 * slope * v) ** 2), None


class _FATReLU(nn.Module):
    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return torch.where(x > self.threshold, x, torch.zeros_like(x))


class _SeqNeuron(nn.Module):
    """Soft-reset LIF over the sequence axis; IMLS emits integer levels 0..D per step."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.levels = cfg.levels if cfg.neuron == "imls" else 1
        self.decay = cfg.decay
        self.slope = cfg.surrogate_slope
        self.adaptive = cfg.neuron == "imls" and cfg.threshold_adaptive
        self.threshold = nn.Parameter(torch.tensor(float(cfg.threshold)))

    def forward(self, x: Tensor) -> Tensor:
        theta = self.threshold.abs() + 1e-3
        if self.adaptive:
            theta = theta * x.detach().abs().mean(dim=-1, keepdim=True).clamp_min(1e-3)
        v = torch.zeros_like(x[:, 0])
        out = []
        for t in range(x.shape[1]):
            v = self.decay * v + x[:, t]
            th = theta[:, t] if theta.dim() else theta
            spikes = sum(_AtanSpike.apply(v - k * th, self.slope) for k in range(1, self.levels + 1))
            v = v - spikes.detach() * th
            out.append(spikes)
        return torch.stack(out, dim=1)


def _activation(cfg: ModelConfig) -> nn.Module:
    if cfg.variant == "dense":
        return nn.SiLU()
    if cfg.variant == "event":
        return _FATReLU(cfg.fatrelu_threshold)
    return _SeqNeuron(cfg)


# --------------------------------------------------------------------------------------


def stack_frames(features: Tensor, lengths: Tensor, factor: int) -> tuple[Tensor, Tensor]:
    """Concatenate ``factor`` consecutive frames: ``[B, L, F] -> [B, ceil(L/factor), F*factor]``.

    Subsampling by stacking costs no arithmetic, so it adds nothing to a chip's workload.
    """
    if factor == 1:
        return features, lengths
    batch, steps, n_features = features.shape
    pad = (-steps) % factor
    features = F.pad(features, (0, 0, 0, pad))
    stacked = features.reshape(batch, (steps + pad) // factor, n_features * factor)
    return stacked, torch.div(lengths + factor - 1, factor, rounding_mode="floor")


class MambaBlock(nn.Module):
    """One pre-norm residual Mamba block; the activations follow ``cfg.variant``."""

    def __init__(self, cfg: ModelConfig, scan_method: ScanMethod = "auto") -> None:
        super().__init__()
        width, inner, n_state = cfg.width, cfg.expand * cfg.width, cfg.state_size
        self.inner, self.n_state = inner, n_state
        self.dt_rank = math.ceil(width / 16)
        self.scan_method: ScanMethod = scan_method
        self.norm = nn.LayerNorm(width)
        spiking = cfg.variant == "spiking"
        self.act_in = _activation(cfg) if spiking else nn.Identity()
        self.in_proj = nn.Linear(width, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, cfg.conv_kernel, groups=inner, padding=cfg.conv_kernel - 1)
        self.act_x = _activation(cfg)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * n_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner)
        self.act_z = _activation(cfg)
        self.act_out = _activation(cfg) if spiking else nn.Identity()
        self.out_proj = nn.Linear(inner, width, bias=False)
        # S4D-real initialisation: A_n = -n, so channels span a range of memory lengths.
        self.a_log = nn.Parameter(torch.log(torch.arange(1, n_state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.d_skip = nn.Parameter(torch.ones(inner))
        # Δ initialised log-uniformly in [1e-3, 1e-1] (Gu & Dao, 2023) through softplus⁻¹.
        dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, h: Tensor) -> Tensor:
        """``[batch, steps, width] -> [batch, steps, width]``, causal along steps."""
        steps = h.shape[1]
        x, z = self.in_proj(self.act_in(self.norm(h))).chunk(2, dim=-1)
        x = self.conv(x.transpose(1, 2))[..., :steps].transpose(1, 2)
        x = self.act_x(x)
        dt, b, c = self.x_proj(x).split([self.dt_rank, self.n_state, self.n_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        a = -torch.exp(self.a_log)
        y = selective_scan(x, delta, a, b, c, method=self.scan_method) + self.d_skip * x
        y = self.act_out(y * self.act_z(z))
        return h + self.out_proj(y)


class MambaModel(nn.Module):
    """Front end (frame stacking + linear), ``cfg.depth`` Mamba blocks, and a head.

    ``head="ctc"`` returns per-step log-probabilities ``[batch, steps, n_outputs]``;
    ``head="classify"`` returns class logits ``[batch, n_outputs]`` from the mean over the
    valid steps.
    """

    def __init__(
        self, cfg: ModelConfig, n_features: int, n_outputs: int, head: str, scan_method: ScanMethod = "auto"
    ) -> None:
        super().__init__()
        if head not in ("ctc", "classify"):
            raise ValueError(f"head one of ctc, classify; got {head!r}")
        self.cfg, self.head = cfg, head
        self.front = nn.Linear(n_features * cfg.subsample, cfg.width)
        self.blocks = nn.ModuleList(MambaBlock(cfg, scan_method) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.width, n_outputs)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Run the model.

        Args:
            features: ``[batch, frames, n_features]``.
            lengths: valid frames per utterance ``[batch]``.

        Returns:
            ``(output, out_lengths)``: log-probabilities ``[batch, steps, n_outputs]`` and
            valid steps ``[batch]`` (CTC), or logits ``[batch, n_outputs]`` and the same
            step lengths (classification).
        """
        x, out_lengths = stack_frames(features, lengths, self.cfg.subsample)
        h = self.front(x)
        for block in self.blocks:
            h = block(h)
        h = self.dropout(self.norm(h))
        if self.head == "ctc":
            return F.log_softmax(self.classifier(h), dim=-1), out_lengths
        mask = (torch.arange(h.shape[1], device=h.device)[None] < out_lengths[:, None]).to(h.dtype)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        return self.classifier(pooled), out_lengths


def build_mamba(cfg: ModelConfig, n_features: int, n_outputs: int, head: str) -> MambaModel:
    """The ``"mamba"`` builder of :func:`codesign.snn.build_model`."""
    if cfg.family != "mamba":
        raise ValueError(f"build_mamba needs family 'mamba', got {cfg.family!r}")
    return MambaModel(cfg, n_features, n_outputs, head)
