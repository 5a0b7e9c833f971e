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

from codesign.snn._config import MambaConfig, ModelConfig
from codesign.snn._neurons import FATReLU, make_neuron
from codesign.snn._precision import HoldsState
from codesign.snn._probe import OpCounts, Probed, is_probed, probe_op
from codesign.snn._scan import ScanMethod, scan_states, selective_scan

__all__ = ["MambaBlock", "MambaModel", "build_mamba", "stack_frames"]


def _activation(cfg: MambaConfig, channels: int) -> nn.Module:
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


class MambaBlock(Probed, HoldsState, nn.Module):
    """One pre-norm residual Mamba block; the activations follow ``cfg.variant``.

    Works on ``[T, batch, steps, width]``: ``T`` spiking timesteps (1 for ``dense`` and
    ``event``), each run through the causal conv and the scan over ``steps`` independently.
    Its scan states are the state a chip holds in ``state_bits`` words (site ``scan``).
    """

    state_sites = ("scan",)
    state_op = "scan"
    #: A and D of the scan, reported with the scan's own ``probe_op`` (``weight_count``).
    non_synaptic_parameters = ("a_log", "d_skip")

    def __init__(self, cfg: MambaConfig, scan_method: ScanMethod = "auto") -> None:
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
        x_flat, delta, b = x.reshape(*flat, self.inner), delta.reshape(*flat, self.inner), b.reshape(*flat, -1)
        # a fixed-point state word needs each state in turn (the loop); float state may take the chunked scan
        hold = self.holder("scan") if self.state_formats() else None
        y = selective_scan(x_flat, delta, a, b, c.reshape(*flat, -1), method=self.scan_method, hold=hold)
        y = y.reshape(timesteps, batch, steps, self.inner)
        gate = self.act_z(z)
        if is_probed(self):
            self._probe_scan_and_gate(x, scan_states(x_flat, delta, a, b), gate)
        y = self.act_out((y + self.d_skip * x) * gate)
        update: Tensor = self.out_proj(y)
        return h + update

    def _probe_scan_and_gate(self, x: Tensor, states: Tensor, gate: Tensor) -> None:
        """Report the scan and the gating, which are not layers, to an attached recorder.

        Per step and channel the scan updates ``N`` states (``exp(Δ·A)·s`` and ``+ Δ·B·x``)
        and reads them out (``C·s``): ``2·N`` multiply-accumulates whatever ``x`` is, plus
        ``N + 1`` for the input term only when ``x`` is nonzero, which an event-driven chip
        skips. ``exp(Δ·A)`` (``N`` per channel) and the softplus of Δ are auxiliary ops.
        The gate ``(y + D·x) ⊙ act(z)`` is two multiplications per nonzero gate value.
        The scan's outputs are its states, so activity metrics see them as dense updates.
        """
        steps = x.shape[0] * x.shape[2]  # T x frames (the recorder runs one utterance)
        n, inner = self.n_state, self.inner
        events = float((x != 0).sum())
        probe_op(
            self, "scan", OpCounts(kind="state_update", in_shape=(inner,), out_shape=(inner,), steps=steps,
            inputs=x, outputs=states, effective_ops=2.0 * n * inner * steps + (n + 1) * events,
            dense_macs=(3.0 * n + 1) * inner * steps, neuron_evaluations=float(n * inner * steps),
            state_size=n * inner, aux_ops=float((n + 1) * inner * steps),
            # the scan stores A (``a_log``, inner x n) and D (``d_skip``, inner)
            weight_count=self.a_log.numel() + self.d_skip.numel(),
            weight_nonzero=int((self.a_log.exp() != 0).sum()) + int((self.d_skip != 0).sum()), levels=0),
        )
        probe_op(
            self, "gate", OpCounts(kind="elementwise", in_shape=(inner,), out_shape=(inner,), steps=steps,
            inputs=gate, effective_ops=2.0 * float((gate != 0).sum()), dense_macs=2.0 * inner * steps,
            aux_ops=2.0 * float((gate != 0).sum())),
        )


class MambaModel(nn.Module):
    """Front end (frame stacking + linear), ``cfg.depth`` Mamba blocks, and a head.

    The spiking variant repeats the front end's output over ``cfg.timesteps`` (direct
    encoding), ends with a neuron before the classifier, and averages the classifier's
    output over the timesteps. Keeps the forward contract of docs/models.md.
    """

    def __init__(
        self, cfg: MambaConfig, n_features: int, n_outputs: int, head: str, scan_method: ScanMethod = "auto"
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
    if not isinstance(cfg, MambaConfig):
        raise ValueError(f"build_mamba needs family 'mamba', got {cfg.family!r}")
    return MambaModel(cfg, n_features, n_outputs, head)
