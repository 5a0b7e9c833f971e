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
# TEMPORARY stand-ins with the documented API of codesign.snn._neurons (docs/models.md),
# deleted when that module lands on main.
class _StaircaseFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: Tensor, levels: int, slope: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(u)
        ctx.levels, ctx.slope = levels, slope
        return torch.clamp(torch.floor(u), 0, levels)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        (u,) = ctx.saved_tensors
        slope = ctx.slope
        surrogate = sum(
            slope / 2 / (1 + (math.pi / 2 * slope * (u - k)) ** 2) for k in range(1, ctx.levels + 1)
        )
        return grad * surrogate, None, None


class FATReLU(nn.Module):
    def __init__(self, threshold: float = 0.1) -> None:
        super().__init__()
        self.register_buffer("threshold", torch.tensor(float(threshold)))

    def forward(self, x: Tensor) -> Tensor:
        return torch.where(x >= self.threshold, x, torch.zeros_like(x))


class _Neuron(nn.Module):
    """IMLS (levels D, input-aware threshold) or LIF over the leading time dim ``[T, ...]``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.kind, self.max_level, self.adaptive = cfg.neuron, cfg.levels, cfg.threshold_adaptive
        self.decay, self.slope = cfg.decay, cfg.surrogate_slope
        self.scale = nn.Parameter(torch.tensor(float(cfg.threshold)))

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "imls":
            theta = self.scale.clamp(min=1e-3)
            if self.adaptive:
                theta = theta * x.abs().mean(dim=-1, keepdim=True) + 1e-6
            return _StaircaseFn.apply(self.max_level * x / theta, self.max_level, self.slope)
        v = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            v = self.decay * v + x[t]
            s = _StaircaseFn.apply(v / self.scale.detach() , 1, self.slope)
            v = v - s * self.scale.detach()
            out.append(s)
        return torch.stack(out)


def make_neuron(cfg: ModelConfig, channels: int) -> nn.Module:
    return _Neuron(cfg)


# --------------------------------------------------------------------------------------


def _activation(cfg: ModelConfig, channels: int) -> nn.Module:
    """The block's activation for ``cfg.variant``: SiLU, FATReLU, or a spiking neuron."""
    if cfg.variant == "dense":
        return nn.SiLU()
    if cfg.variant == "event":
        return FATReLU(cfg.fatrelu_threshold)
    return make_neuron(cfg, channels)


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
    """One pre-norm residual Mamba block; the activations follow ``cfg.variant``.

    Works on ``[T, batch, steps, width]``: ``T`` spiking timesteps (1 for ``dense`` and
    ``event``), each run through the causal conv and the scan over ``steps`` independently.
    """

    def __init__(self, cfg: ModelConfig, scan_method: ScanMethod = "auto") -> None:
        super().__init__()
        width, inner, n_state = cfg.width, cfg.expand * cfg.width, cfg.state_size
        self.inner, self.n_state = inner, n_state
        self.dt_rank = math.ceil(width / 16)
        self.scan_method: ScanMethod = scan_method
        self.norm = nn.LayerNorm(width)
        spiking = cfg.variant == "spiking"
        # Spiking: neurons also on the block input and the gated output, so that every
        # projection with a wide fan-out receives spikes.
        self.act_in = make_neuron(cfg, width) if spiking else nn.Identity()
        self.in_proj = nn.Linear(width, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, cfg.conv_kernel, groups=inner, padding=cfg.conv_kernel - 1)
        self.act_x = _activation(cfg, inner)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * n_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner)
        self.act_z = _activation(cfg, inner)
        self.act_out = make_neuron(cfg, inner) if spiking else nn.Identity()
        self.out_proj = nn.Linear(inner, width, bias=False)
        # S4D-real initialisation: A_n = -n, so channels span a range of memory lengths.
        self.a_log = nn.Parameter(torch.log(torch.arange(1, n_state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.d_skip = nn.Parameter(torch.ones(inner))
        # Δ initialised log-uniformly in [1e-3, 1e-1] (Gu & Dao, 2023) through softplus⁻¹.
        dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, h: Tensor) -> Tensor:
        """``[T, batch, steps, width] -> [T, batch, steps, width]``, causal along steps."""
        timesteps, batch, steps, _ = h.shape
        x, z = self.in_proj(self.act_in(self.norm(h))).chunk(2, dim=-1)
        x = x.reshape(timesteps * batch, steps, self.inner).transpose(1, 2)
        x = self.conv(x)[..., :steps].transpose(1, 2).reshape(timesteps, batch, steps, self.inner)
        x = self.act_x(x)
        dt, b, c = self.x_proj(x).split([self.dt_rank, self.n_state, self.n_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        a = -torch.exp(self.a_log)
        flat = (timesteps * batch, steps)
        y = selective_scan(
            x.reshape(*flat, self.inner), delta.reshape(*flat, self.inner), a,
            b.reshape(*flat, self.n_state), c.reshape(*flat, self.n_state), method=self.scan_method,
        ).reshape(timesteps, batch, steps, self.inner)
        y = self.act_out((y + self.d_skip * x) * self.act_z(z))
        return h + self.out_proj(y)


class MambaModel(nn.Module):
    """Front end (frame stacking + linear), ``cfg.depth`` Mamba blocks, and a head.

    The spiking variant repeats the front end's output over ``cfg.timesteps`` (direct
    encoding), ends with a neuron before the classifier, and averages the classifier's
    output over the timesteps. Keeps the forward contract of docs/models.md.
    """

    def __init__(
        self, cfg: ModelConfig, n_features: int, n_outputs: int, head: str, scan_method: ScanMethod = "auto"
    ) -> None:
        super().__init__()
        if head not in ("ctc", "classify"):
            raise ValueError(f"head one of ctc, classify; got {head!r}")
        self.cfg, self.head = cfg, head
        self.timesteps = cfg.timesteps if cfg.variant == "spiking" else 1
        self.front = nn.Linear(n_features * cfg.subsample, cfg.width)
        self.blocks = nn.ModuleList(MambaBlock(cfg, scan_method) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        self.act_head = make_neuron(cfg, cfg.width) if cfg.variant == "spiking" else nn.Identity()
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.width, n_outputs)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Run the model.

        Args:
            features: ``[batch, frames, n_features]``.
            lengths: valid frames per utterance ``[batch]``.

        Returns:
            ``(output, out_lengths)``: log-probabilities ``[batch, steps, n_outputs]`` (CTC)
            or logits ``[batch, n_outputs]`` (classification), and valid steps ``[batch]``.
        """
        x, out_lengths = stack_frames(features, lengths, self.cfg.subsample)
        h = self.front(x)
        h = h.unsqueeze(0).expand(self.timesteps, *h.shape)
        for block in self.blocks:
            h = block(h)
        logits = self.classifier(self.dropout(self.act_head(self.norm(h)))).mean(dim=0)
        if self.head == "ctc":
            return F.log_softmax(logits, dim=-1), out_lengths
        mask = (torch.arange(logits.shape[1], device=logits.device)[None] < out_lengths[:, None])
        mask = mask.to(logits.dtype)[..., None]
        return (logits * mask).sum(1) / mask.sum(1).clamp_min(1.0), out_lengths


def build_mamba(cfg: ModelConfig, n_features: int, n_outputs: int, head: str) -> MambaModel:
    """The ``"mamba"`` builder of :func:`codesign.snn.build_model`."""
    if cfg.family != "mamba":
        raise ValueError(f"build_mamba needs family 'mamba', got {cfg.family!r}")
    return MambaModel(cfg, n_features, n_outputs, head)
