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
from typing import Any, NamedTuple

import torch
from torch import nn

from codesign.snn._config import ModelConfig, NeuronModelBase, Surrogate
from codesign.snn._precision import HoldsState
from codesign.snn._probe import HookProbed, OpCounts
from codesign.snn._time import Hold, no_hold, over_time

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
    :func:`firing_rates`. Spiking neurons and the SRNN's recurrent layers report one. The
    module only says what its activity is (:meth:`activity`); a forward hook, attached at
    construction, keeps it, so no forward pass reports anything itself.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_rate: torch.Tensor | None = None
        self.register_forward_hook(_keep_activity)

    def activity(self, inputs: tuple[torch.Tensor, ...], output: object) -> torch.Tensor:
        """The differentiable activity rate of one call (mean level over the largest level)."""
        raise NotImplementedError

    def train(self, mode: bool = True) -> ActivityReporter:
        # A rate from an earlier pass holds its autograd graph; never carry it across modes.
        self.last_rate = None
        return super().train(mode)

    def __getstate__(self) -> dict[str, object]:
        # Pickling and deep copies (Ray, fuse_model) must not drag an autograd graph along.
        state: dict[str, object] = super().__getstate__()  # type: ignore[no-untyped-call]  # torch: Module.__getstate__ is unannotated
        return {**state, "last_rate": None}


def _keep_activity(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
    """The activity observer: a training call leaves its rate on the module (eval: None)."""
    assert isinstance(module, ActivityReporter)  # the only modules that register it
    module.last_rate = module.activity(inputs, output) if module.training else None


def _neuron_counts(x: torch.Tensor, out: torch.Tensor, state_size: int, aux_ops: float,
                   membrane_changed: torch.Tensor | None = None) -> OpCounts:
    """What one call of a neuron over ``x`` ``[T, ..., C]`` does: every element is evaluated once."""
    channels = int(x.shape[-1])
    return OpCounts(
        kind="state_update", in_shape=(channels,), out_shape=(channels,),
        steps=max(1, x.numel() // max(1, channels)), inputs=x, outputs=out,
        neuron_evaluations=float(x.numel()), state_size=state_size, aux_ops=aux_ops, levels=0,
        membrane_changed=membrane_changed,
    )


def membrane_changes(membranes: list[torch.Tensor]) -> torch.Tensor:
    """``[steps, ...]``: whether each step's membrane differs from the previous step's (the
    first step's from the zero initial membrane): NeuroBench's membrane updates."""
    after = torch.stack(membranes)
    before = torch.cat([torch.zeros_like(after[:1]), after[:-1]])
    return after != before


class SpikingNeuron(HookProbed, HoldsState, ActivityReporter):
    """Base of the spiking neurons: integer outputs ``0..max_level``, a firing rate
    (``last_rate``, see :class:`ActivityReporter`) and a membrane a chip holds in
    ``state_bits`` words (site ``membrane``, see :class:`~codesign.snn._precision.HoldsState`).

    A neuron's dynamics are a pure step function of this module (``lif_step``,
    ``imls_fire``); its ``forward`` only runs them (over time with
    :func:`~codesign.snn._time.over_time`). Quantising its state, keeping its activity and
    reporting it to a trace all attach from outside: the state formats through :meth:`hold`,
    the activity hook, and :func:`~codesign.snn._probe.attach_probe`'s hooks, which ask
    :meth:`probe_counts` what a call counted.
    """

    max_level: int = 1

    def hparams(self) -> dict[str, object]:
        """The neuron's hyperparameters as plain values, for logs."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hparams().items())

    def activity(self, inputs: tuple[torch.Tensor, ...], output: object) -> torch.Tensor:
        assert isinstance(output, torch.Tensor)
        return output.mean() / self.max_level


class LIFParameters(NamedTuple):
    """The constants of :func:`lif_step` (see :class:`LIF`)."""

    threshold: float = 1.0
    decay: float = 0.5
    reset: str = "soft"
    surrogate: Surrogate = "atan"
    slope: float = 2.0


def lif_step(
    v: torch.Tensor, x: torch.Tensor, p: LIFParameters, hold: Hold = no_hold
) -> tuple[torch.Tensor, tuple[torch.Tensor]]:
    """One step of a LIF neuron: ``(membrane, input current) -> (membrane, (spikes,))``.

    ``v = hold(decay * v + x)`` (``hold``: the chip's state word, identity in float), a spike
    where ``v >= threshold``, then the soft (subtract) or hard (zero) reset.
    """
    v = hold(p.decay * v + x)
    s = spike(v - p.threshold, p.surrogate, p.slope)
    v = v - s * p.threshold if p.reset == "soft" else v * (1.0 - s)
    return v, (s,)


class LIF(SpikingNeuron):
    """Leaky integrate-and-fire neuron over the leading time dimension, trained with BPTT.

    ``v[t] = decay * v[t-1] + x[t]``; a spike when ``v[t] >= threshold``; soft reset subtracts
    the threshold, hard reset zeroes the membrane (:func:`lif_step`).

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
        self.p = LIFParameters(float(threshold), float(decay), reset, surrogate, float(slope))

    @property
    def threshold(self) -> float:
        return self.p.threshold

    @property
    def decay(self) -> float:
        return self.p.decay

    @property
    def reset(self) -> str:
        return self.p.reset

    @property
    def surrogate(self) -> Surrogate:
        return self.p.surrogate

    @property
    def slope(self) -> float:
        return self.p.slope

    def hparams(self) -> dict[str, object]:
        return dict(self.p._asdict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[T, ..., C]`` input currents; returns 0/1 spikes of the same shape."""
        hold = self.holder("membrane")
        _, (spikes,) = over_time(lambda v, x_t: lif_step(v, x_t, self.p, hold), torch.zeros_like(x[0]), x)
        return spikes

    def probe_counts(
        self, inputs: tuple[torch.Tensor, ...], output: object, watched: dict[str, list[torch.Tensor]]
    ) -> list[tuple[str, OpCounts]]:
        # NeuroBench's membrane: the integrated potential of each step (snnTorch's ``mem``),
        # compared with the previous step's (the first with the zero initial membrane).
        (x,) = inputs
        assert isinstance(output, torch.Tensor)
        state = int(x.shape[-1]) if x.shape[0] > 1 else 0
        return [("neuron", _neuron_counts(x, output, state, 0.0, membrane_changes(watched["membrane"])))]


class IMLSParameters(NamedTuple):
    """The constants of :func:`imls_fire` (see :class:`IMLS`)."""

    levels: int = 4
    adaptive: bool = True
    surrogate: Surrogate = "atan"
    slope: float = 2.0


def imls_theta(x: torch.Tensor, scale: torch.Tensor, adaptive: bool) -> torch.Tensor:
    """The IMLS threshold for input ``x`` (broadcastable to ``x``): ``alpha * mean|x|`` per
    token when adaptive, else ``theta``; ``scale`` is alpha or theta."""
    scale = scale.clamp(min=1e-3)
    if adaptive:
        return scale * x.abs().mean(dim=-1, keepdim=True) + 1e-6
    return scale


def imls_fire(x: torch.Tensor, scale: torch.Tensor, p: IMLSParameters, hold: Hold = no_hold) -> torch.Tensor:
    """The IMLS neuron's step, stateless: integer levels ``clamp(floor(D x / theta), 0, D)`` of the
    held input current ``hold(x)``. No state crosses timesteps, so it runs on every step at once."""
    x = hold(x)  # the integrated input current at the firing step
    u = p.levels * x / imls_theta(x, scale, p.adaptive)
    return staircase(u, p.levels, p.surrogate, p.slope)


class IMLS(SpikingNeuron):
    """Input-aware multi-level spike neuron: D timesteps of integrate-and-fire in one step.

    For input ``x`` it emits ``k = clamp(floor(D * x / theta), 0, D)``, the number of spikes a
    D-step integrate-and-fire neuron with soft reset and threshold ``theta`` fires for the
    constant input ``x``. With ``adaptive``, ``theta = alpha * mean(|x|)`` over the channels of
    each token, so the quantisation follows the input's scale; ``alpha`` is learnable. Else
    ``theta`` itself is a learnable scalar. Each timestep of ``[T, ...]`` is independent
    (:func:`imls_fire`).

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
        self.p = IMLSParameters(int(levels), bool(adaptive), surrogate, float(slope))
        # alpha (adaptive) or theta (fixed scale); learnable either way.
        self.scale = nn.Parameter(torch.tensor(float(threshold)))

    @property
    def levels(self) -> int:
        return self.max_level

    @property
    def adaptive(self) -> bool:
        return self.p.adaptive

    @property
    def surrogate(self) -> Surrogate:
        return self.p.surrogate

    @property
    def slope(self) -> float:
        return self.p.slope

    def hparams(self) -> dict[str, object]:
        return {"levels": self.max_level, "threshold_init_or_alpha": float(self.scale.detach()),
                "adaptive": self.adaptive, "surrogate": self.surrogate, "slope": self.slope}

    def theta(self, x: torch.Tensor) -> torch.Tensor:
        """The threshold for input ``x`` (broadcastable to ``x``)."""
        return imls_theta(x, self.scale, self.adaptive)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[T, ..., C]``; returns integer levels 0..D of the same shape."""
        return imls_fire(x, self.scale, self.p, self.holder("membrane"))

    def probe_counts(
        self, inputs: tuple[torch.Tensor, ...], output: object, watched: dict[str, list[torch.Tensor]]
    ) -> list[tuple[str, OpCounts]]:
        (x,) = watched["membrane"]  # the input current as held at the firing step
        assert isinstance(output, torch.Tensor)
        channels = int(x.shape[-1])
        tokens = x.numel() // max(1, channels)
        # Per token: C absolute values, C - 1 adds, a divide by C and a multiply by alpha.
        aux = float(tokens * (2 * channels + 2)) if self.adaptive else 0.0
        return [("neuron", _neuron_counts(x, output, 0, aux))]


class FATReLU(HookProbed, nn.Module):
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

    def hparams(self) -> dict[str, object]:
        return {"threshold": float(self.threshold.mean()), "per_channel": self.channels is not None}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hparams().items())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= self.threshold, x, torch.zeros_like(x))

    def probe_counts(
        self, inputs: tuple[torch.Tensor, ...], output: object, watched: dict[str, list[torch.Tensor]]
    ) -> list[tuple[str, OpCounts]]:
        (x,) = inputs
        assert isinstance(output, torch.Tensor)
        channels = int(x.shape[-1])
        return [("activation", OpCounts(
            kind="elementwise", in_shape=(channels,), out_shape=(channels,),
            steps=max(1, x.numel() // max(1, channels)), inputs=x, outputs=output,
            neuron_evaluations=float(x.numel()), aux_ops=float(x.numel()), levels=0,
        ))]


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
    0 when the config is not spiking (its units are ReLU-like); ``NeuronModelBase.spike_levels``."""
    if not isinstance(cfg, NeuronModelBase):
        raise ValueError(f"neuron_spike_levels needs a family with LIF/IMLS neurons, got {cfg.family!r}")
    return cfg.spike_levels


def firing_rates(model: nn.Module) -> list[torch.Tensor]:
    """Differentiable firing rates of every :class:`ActivityReporter` from the latest training pass."""
    return [m.last_rate for m in model.modules() if isinstance(m, ActivityReporter) and m.last_rate is not None]
