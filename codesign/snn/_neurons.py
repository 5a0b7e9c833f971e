"""Spiking neurons (LIF, IMLS), FATReLU, and the named surrogate gradients they train with.

Every neuron is an ``nn.Module`` whose membranes are local tensors of one forward pass (no
state survives between calls, no class-level registries). Inputs are time-major and
channel-last: ``[T, ..., C]`` where ``T`` is the spiking timestep. Outputs are integer spike
levels held in float tensors (0/1 for LIF, 0..D for IMLS), so the trace counts them exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from codesign.snn._config import ModelConfig, NeuronModelBase, Surrogate
from codesign.snn._precision import HoldsState
from codesign.snn._probe import Probed, is_probed, probe_op

SurrogateGrad = Callable[[torch.Tensor, float], torch.Tensor]


def _atan_grad(x: torch.Tensor, slope: float) -> torch.Tensor:
    # Fang et al. 2021 (spikingjelly ATan): d/dx [atan(pi/2 * a * x) / pi + 1/2]
    return (slope / 2.0) / (1.0 + (math.pi / 2.0 * slope * x) ** 2)


def _sigmoid_grad(x: torch.Tensor, slope: float) -> torch.Tensor:
    s = torch.sigmoid(slope * x)
    return slope * s * (1.0 - s)


def _triangle_grad(x: torch.Tensor, slope: float) -> torch.Tensor:
    # Unit-area triangle of half-width 1/slope (Esser et al. 2016 style).
    return slope * torch.clamp(1.0 - slope * x.abs(), min=0.0)


def _straight_through_grad(x: torch.Tensor, slope: float) -> torch.Tensor:
    # Unit box around the threshold: passes the gradient unchanged where the step is "close".
    del slope
    return (x.abs() <= 0.5).to(x.dtype)


#: The surrogate derivative of a unit step at 0, by name (read-only).
SURROGATE_GRADS: MappingProxyType[str, SurrogateGrad] = MappingProxyType(
    {
        "atan": _atan_grad,
        "sigmoid": _sigmoid_grad,
        "triangle": _triangle_grad,
        "straight_through": _straight_through_grad,
    }
)


class _SpikeFn(torch.autograd.Function):
    """Heaviside step forward, surrogate derivative backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, surrogate: str, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return grad * SURROGATE_GRADS[ctx.surrogate](x, ctx.slope), None, None


class _StaircaseFn(torch.autograd.Function):
    """``clamp(floor(u), 0, D)`` forward; the sum of D surrogate steps (or identity on [0, D]) backward."""

    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, levels: int, surrogate: str, slope: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.levels = levels
        ctx.surrogate = surrogate
        ctx.slope = slope
        return torch.clamp(torch.floor(u), 0.0, float(levels))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (u,) = ctx.saved_tensors
        if ctx.surrogate == "straight_through":
            local = ((u >= 0) & (u <= ctx.levels)).to(u.dtype)
        else:
            local = staircase_surrogate(u, ctx.levels, ctx.surrogate, ctx.slope)
        return grad * local, None, None, None


def staircase_surrogate(u: torch.Tensor, levels: int, surrogate: str, slope: float) -> torch.Tensor:
    """The staircase's surrogate derivative: the sum of D unit-step surrogates at u = 1..D.

    For ``atan`` (the default) each step's term is built with in-place operations on one
    buffer and added into one accumulator: one allocation per level instead of about seven,
    which is what a CPU training step is bound by (benchmarks/training_step.py). Equal to
    ``sum(SURROGATE_GRADS[surrogate](u - j, slope) for j in 1..D)`` up to float rounding.
    """
    if surrogate != "atan":
        fn = SURROGATE_GRADS[surrogate]
        return sum((fn(u - j, slope) for j in range(2, levels + 1)), fn(u - 1, slope))
    scale = math.pi / 2.0 * slope
    local = torch.zeros_like(u)
    term = torch.empty_like(u)
    for j in range(1, levels + 1):
        torch.sub(u, float(j), out=term)
        term.mul_(scale).square_().add_(1.0).reciprocal_()
        local.add_(term)
    return local.mul_(slope / 2.0)


def spike(x: torch.Tensor, surrogate: Surrogate = "atan", slope: float = 2.0) -> torch.Tensor:
    """Unit step ``x >= 0`` with the named surrogate gradient."""
    if surrogate not in SURROGATE_GRADS:
        raise ValueError(f"surrogate one of {sorted(SURROGATE_GRADS)}, got {surrogate!r}")
    spikes: torch.Tensor = _SpikeFn.apply(x, surrogate, float(slope))  # type: ignore[no-untyped-call]  # torch: Function.apply is unannotated
    return spikes


def staircase(u: torch.Tensor, levels: int, surrogate: Surrogate = "atan", slope: float = 2.0) -> torch.Tensor:
    """Integer levels ``clamp(floor(u), 0, levels)`` with a surrogate gradient over ``[0, levels]``."""
    if surrogate not in SURROGATE_GRADS:
        raise ValueError(f"surrogate one of {sorted(SURROGATE_GRADS)}, got {surrogate!r}")
    out: torch.Tensor = _StaircaseFn.apply(u, int(levels), surrogate, float(slope))  # type: ignore[no-untyped-call]  # torch: Function.apply is unannotated
    return out


class ActivityReporter(nn.Module):
    """A module whose latest training pass leaves a differentiable activity rate.

    ``last_rate`` is the mean output level over the largest level, of the latest training
    forward pass (None in eval), read by the activity regulariser through
    :func:`firing_rates`. Spiking neurons and the SRNN's recurrent layers report one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_rate: torch.Tensor | None = None

    def train(self, mode: bool = True) -> ActivityReporter:
        # A rate from an earlier pass holds its autograd graph; never carry it across modes.
        self.last_rate = None
        return super().train(mode)

    def __getstate__(self) -> dict[str, Any]:
        # Pickling and deep copies (Ray, fuse_model) must not drag an autograd graph along.
        state: dict[str, Any] = super().__getstate__()  # type: ignore[no-untyped-call]  # torch: Module.__getstate__ is unannotated
        return {**state, "last_rate": None}


class SpikingNeuron(Probed, HoldsState, ActivityReporter):
    """Base of the spiking neurons: integer outputs ``0..max_level``, a firing rate
    (``last_rate``, see :class:`ActivityReporter`) and a membrane a chip holds in
    ``state_bits`` words (site ``membrane``, see :class:`~codesign.snn._precision.HoldsState`)."""

    max_level: int = 1

    def hparams(self) -> dict[str, Any]:
        """The neuron's hyperparameters as plain values, for logs."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hparams().items())

    def _finish(
        self,
        x: torch.Tensor,
        out: torch.Tensor,
        state_size: int,
        aux_ops: float,
        membrane_changed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        self.last_rate = out.mean() / self.max_level if self.training else None
        if is_probed(self):
            channels = int(x.shape[-1])
            probe_op(
                self,
                "neuron",
                kind="state_update",
                in_shape=(channels,),
                out_shape=(channels,),
                steps=max(1, x.numel() // max(1, channels)),
                inputs=x,
                outputs=out,
                neuron_evaluations=float(x.numel()),
                state_size=state_size,
                aux_ops=aux_ops,
                levels=0,
                membrane_changed=membrane_changed,
            )
        return out


class LIF(SpikingNeuron):
    """Leaky integrate-and-fire neuron over the leading time dimension, trained with BPTT.

    ``v[t] = decay * v[t-1] + x[t]``; a spike when ``v[t] >= threshold``; soft reset subtracts
    the threshold, hard reset zeroes the membrane.

    Args:
        threshold: firing threshold.
        decay: membrane decay per timestep, in (0, 1).
        reset: ``"soft"`` or ``"hard"``.
        surrogate: surrogate gradient name.
        slope: surrogate sharpness.
    """

    max_level = 1

    def __init__(
        self,
        threshold: float = 1.0,
        decay: float = 0.5,
        reset: str = "soft",
        surrogate: Surrogate = "atan",
        slope: float = 2.0,
    ) -> None:
        super().__init__()
        if reset not in ("soft", "hard"):
            raise ValueError(f"reset 'soft' or 'hard', got {reset!r}")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay in (0, 1), got {decay}")
        if threshold <= 0:
            raise ValueError(f"threshold > 0, got {threshold}")
        self.threshold = float(threshold)
        self.decay = float(decay)
        self.reset = reset
        self.surrogate: Surrogate = surrogate
        self.slope = float(slope)

    def hparams(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "decay": self.decay, "reset": self.reset,
                "surrogate": self.surrogate, "slope": self.slope}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[T, ..., C]`` input currents; returns 0/1 spikes of the same shape."""
        v = torch.zeros_like(x[0])
        out = []
        # NeuroBench's membrane: the integrated potential of each step (snnTorch's ``mem``),
        # compared with the previous step's (the first with the zero initial membrane).
        probed = is_probed(self)
        changed, before = [], v
        for t in range(x.shape[0]):
            v = self.hold("membrane", self.decay * v + x[t])
            if probed:
                changed.append(v != before)
                before = v
            s = spike(v - self.threshold, self.surrogate, self.slope)
            v = v - s * self.threshold if self.reset == "soft" else v * (1.0 - s)
            out.append(s)
        spikes = torch.stack(out)
        state = int(x.shape[-1]) if x.shape[0] > 1 else 0
        return self._finish(x, spikes, state_size=state, aux_ops=0.0,
                            membrane_changed=torch.stack(changed) if probed else None)


class IMLS(SpikingNeuron):
    """Input-aware multi-level spike neuron: D timesteps of integrate-and-fire in one step.

    For input ``x`` it emits ``k = clamp(floor(D * x / theta), 0, D)``, the number of spikes a
    D-step integrate-and-fire neuron with soft reset and threshold ``theta`` fires for the
    constant input ``x``. With ``adaptive``, ``theta = alpha * mean(|x|)`` over the channels of
    each token, so the quantisation follows the input's scale; ``alpha`` is learnable. Else
    ``theta`` itself is a learnable scalar. Each timestep of ``[T, ...]`` is independent.

    Args:
        levels: D, the largest level.
        threshold: initial ``alpha`` (adaptive) or ``theta``.
        adaptive: input-aware threshold.
        surrogate: surrogate gradient name (``straight_through``: identity on [0, D]).
        slope: surrogate sharpness (in level units).
    """

    #: ``scale`` (alpha or theta) is a threshold register, not a synapse.
    non_synaptic_parameters = ("scale",)

    def __init__(
        self,
        levels: int = 4,
        threshold: float = 1.0,
        adaptive: bool = True,
        surrogate: Surrogate = "atan",
        slope: float = 2.0,
    ) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels >= 1, got {levels}")
        if threshold <= 0:
            raise ValueError(f"threshold > 0, got {threshold}")
        self.max_level = int(levels)
        self.adaptive = bool(adaptive)
        self.surrogate: Surrogate = surrogate
        self.slope = float(slope)
        # alpha (adaptive) or theta (fixed scale); learnable either way.
        self.scale = nn.Parameter(torch.tensor(float(threshold)))

    @property
    def levels(self) -> int:
        return self.max_level

    def hparams(self) -> dict[str, Any]:
        return {"levels": self.max_level, "threshold_init_or_alpha": float(self.scale.detach()),
                "adaptive": self.adaptive, "surrogate": self.surrogate, "slope": self.slope}

    def theta(self, x: torch.Tensor) -> torch.Tensor:
        """The threshold for input ``x`` (broadcastable to ``x``)."""
        scale = self.scale.clamp(min=1e-3)
        if self.adaptive:
            return scale * x.abs().mean(dim=-1, keepdim=True) + 1e-6
        return scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[T, ..., C]``; returns integer levels 0..D of the same shape."""
        x = self.hold("membrane", x)  # the integrated input current at the firing step
        u = self.max_level * x / self.theta(x)
        out = staircase(u, self.max_level, self.surrogate, self.slope)
        channels = int(x.shape[-1])
        tokens = x.numel() // max(1, channels)
        # Per token: C absolute values, C - 1 adds, a divide by C and a multiply by alpha.
        aux = float(tokens * (2 * channels + 2)) if self.adaptive else 0.0
        return self._finish(x, out, state_size=0, aux_ops=aux)


class FATReLU(Probed, nn.Module):
    """Forced-activation-threshold ReLU: ``x if x >= t else 0`` (real-valued, sparse).

    Args:
        threshold: ``t`` (>= 0); ``0`` gives ReLU.
        channels: one threshold per channel (last dim) when given, else one per layer.
    """

    #: Buffer: ``t``, shape ``[channels]`` or ``[]``.
    threshold: torch.Tensor

    def __init__(self, threshold: float = 0.1, channels: int | None = None) -> None:
        super().__init__()
        if threshold < 0:
            raise ValueError(f"threshold >= 0, got {threshold}")
        shape = (channels,) if channels else ()
        self.register_buffer("threshold", torch.full(shape, float(threshold)))
        self.channels = channels

    def hparams(self) -> dict[str, Any]:
        return {"threshold": float(self.threshold.mean()), "per_channel": self.channels is not None}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hparams().items())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.where(x >= self.threshold, x, torch.zeros_like(x))
        if is_probed(self):
            channels = int(x.shape[-1])
            probe_op(self, "activation", kind="elementwise", in_shape=(channels,), out_shape=(channels,),
                     steps=max(1, x.numel() // max(1, channels)), inputs=x, outputs=out,
                     neuron_evaluations=float(x.numel()), aux_ops=float(x.numel()), levels=0)
        return out


def make_neuron(cfg: NeuronModelBase, channels: int, threshold_scale: float = 1.0) -> nn.Module:
    """The activation a config asks for: LIF or IMLS when spiking, ReLU (FATReLU at 0) otherwise.

    Args:
        cfg: the model config.
        channels: the channel count (last dim) of the inputs.
        threshold_scale: multiplies ``cfg.threshold`` (e.g. lower thresholds after attention).
    """
    if not cfg.is_spiking:
        return FATReLU(0.0)
    if cfg.neuron == "lif":
        return LIF(cfg.threshold * threshold_scale, cfg.decay, cfg.reset, cfg.surrogate, cfg.surrogate_slope)
    return IMLS(cfg.levels, cfg.threshold * threshold_scale, cfg.threshold_adaptive, cfg.surrogate,
                cfg.surrogate_slope)


def neuron_spike_levels(cfg: ModelConfig) -> int:
    """The largest spike level of the neuron :func:`make_neuron` builds: D for IMLS, 1 for LIF,
    0 when the config is not spiking (its units are ReLU-like)."""
    if not isinstance(cfg, NeuronModelBase):
        raise ValueError(f"neuron_spike_levels needs a family with LIF/IMLS neurons, got {cfg.family!r}")
    if not cfg.is_spiking:
        return 0
    return cfg.levels if cfg.neuron == "imls" else 1


def firing_rates(model: nn.Module) -> list[torch.Tensor]:
    """Differentiable firing rates of every :class:`ActivityReporter` from the latest training pass."""
    return [m.last_rate for m in model.modules() if isinstance(m, ActivityReporter) and m.last_rate is not None]
