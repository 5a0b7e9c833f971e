"""Chip precision applied to a network: weights and state held as the chip holds them.

Owns the weight quantiser, the state fixed point and :func:`quantise_network`, which turns a
trained network into the network a chip of a :class:`Precision` computes (``weight_bits``,
``state_bits``, ``wide_weight_bits``, ``tap_scales``; 32 means float: the bits themselves live torch-free in
``codesign.snn._bits``, re-exported here). The network side knows bits, never chips:
``codesign.search`` reads the bits from a ``ChipConfig``.

Conventions (also in docs/models.md, "Precision"):

- **Weights** (every synaptic weight of the inference form, as ``codesign.snn._synapse``
  decides: the ``nn.Linear``/``nn.Conv1d`` weights, so the fused RepSSA projections too, and
  the GRU/LSTM matrices): symmetric, per output channel (axis 0),
  zero point 0, ``scale_c = max|W_c| / L`` with ``L = 2^(b−1) − 1``; integer levels
  ``−L..L``, so at most ``2^b − 1`` distinct values per channel. At 2 bits (ternary, ``L = 1``)
  the peak would put every weight under ``max|W_c| / 2`` on 0 (in a fused RepSSA projection,
  whose depthwise taps are about 10× the channel's RMS, all but those taps), so there
  ``scale_c`` is the fraction of ``max|W_c|`` (40 steps from 0.05 to 1,
  ``TERNARY_SCALE_FRACTIONS``) whose ternary levels hold the channel with the least squared error. Quantised with torch's own
  ``fake_quantize_per_channel_affine`` (its straight-through gradient serves QAT). Biases,
  batch-norm affines and the IMLS α stay in float: a chip folds them into the neuron's bias
  and threshold registers, which are state-precision words.
- **State** (LIF membranes, the IMLS membrane at its firing step, the SRNN's synaptic current
  and membrane, Mamba's scan states): signed ``state_bits`` fixed point with saturation,
  ``scale = max|s| / (2^(sb−1) − 1)`` per state site, calibrated on training utterances
  (:func:`calibrate_states`). A value beyond the range saturates and counts as an overflow
  (:func:`state_overflow_rate`); nothing is silently clipped without being counted.
- **Wide layers** (mixed precision, as 2-bit accelerators run it): a module that sets
  ``holds_wide_weights`` (:data:`WIDE_WEIGHTS_ATTR`; the re-parameterised RepSSA projections,
  whose conv-fused weights hold a low-bit grid worst: docs/models.md) has its weights held in
  ``Precision.wide_weight_bits`` when that is set (a chip's ``wide_weight_bits``), every other
  synaptic weight in ``weight_bits``. :func:`wide_weight_modules` finds them;
  :func:`quantise_network` marks every synaptic module with ``wide_weights`` and its
  ``weight_bits``, which the trace recorder reads, so the chip model prices each layer at the
  bits it holds.
- **Tap scales** (``Precision.tap_scales``, a chip's ``tap_scales``): the wide layers' weights
  ``[out, in, taps]`` get a scale per (output channel, kernel tap), each tap's weights on a grid
  of their own (the same rule: ``max / L``, the least-squares ternary scale at 2 bits). A fused
  projection's depthwise taps are about 10× the channel's RMS and sit at one tap per input, so
  a per-channel step set by them leaves the other taps' weights a few levels: at 4 bits the
  fused projections' relative error is 0.20–0.23 per channel against 0.09–0.11 elsewhere
  (docs/models.md). Every other layer keeps its per-channel scale.
- ``bits == 32`` is float (no quantisation): the reference precision.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from codesign.snn._bits import FLOAT_BITS, Precision, _check_bits
from codesign.snn._fuse import fuse_model
from codesign.snn._probe import WATCH_ATTR
from codesign.snn._synapse import check_layers, holds_hidden_state, synaptic_weights
from codesign.snn._time import Hold

__all__ = [
    "FLOAT_BITS",
    "WIDE_WEIGHTS_ATTR",
    "HoldsState",
    "Precision",
    "StateFormat",
    "WeightFakeQuant",
    "calibrate_states",
    "integer_weights",
    "quantise_network",
    "quantise_weight",
    "reset_state_counters",
    "scale_like",
    "state_overflow_rate",
    "weight_levels",
    "wide_weight_modules",
]

def weight_levels(bits: int) -> int:
    """Largest integer level ``L = 2^(b−1) − 1`` of a symmetric ``b``-bit weight."""
    _check_bits(bits, "weight_bits")
    return (1 << (bits - 1)) - 1


#: The fractions of ``max|W_c|`` a ternary (2-bit) channel's scale is chosen from (module docstring).
TERNARY_SCALE_FRACTIONS = torch.linspace(0.05, 1.0, 40)


def _rows(weight: torch.Tensor, per_tap: bool) -> torch.Tensor:
    """The rows one scale each holds: ``weight`` itself (per output channel), or with
    ``per_tap`` a ``[out, in, taps]`` weight as ``[out × taps, in]`` rows (per (output channel,
    tap), in that order); a weight of other rank has no taps and stays per output channel."""
    if not per_tap or weight.ndim != 3:
        return weight
    out, fan_in, taps = weight.shape
    return weight.permute(0, 2, 1).reshape(out * taps, fan_in)


def _from_rows(rows: torch.Tensor, weight: torch.Tensor, per_tap: bool) -> torch.Tensor:
    """:func:`_rows` undone: ``rows`` back in ``weight``'s shape."""
    if not per_tap or weight.ndim != 3:
        return rows
    out, fan_in, taps = weight.shape
    return rows.reshape(out, taps, fan_in).permute(0, 2, 1)


def _channel_scale(weight: torch.Tensor, bits: int, per_tap: bool = False) -> torch.Tensor:
    """Per-output-channel scale (float32, never 0): ``max|W_c| / L``, or at 2 bits (ternary)
    :func:`_ternary_scale`; with ``per_tap`` one per (output channel, kernel tap) of a
    ``[out, in, taps]`` weight, ``[out, taps]``, each chosen the same way over its tap's weights."""
    rows = _rows(weight.detach(), per_tap)
    flat = rows.reshape(rows.shape[0], -1)
    peak = flat.abs().amax(dim=1)
    levels = weight_levels(bits)
    scale = _ternary_scale(flat, peak) if levels == 1 else (peak / levels).clamp_min(1e-12).to(torch.float32)
    return scale.reshape(weight.shape[0], weight.shape[2]) if per_tap and weight.ndim == 3 else scale


def _ternary_scale(flat: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """Per row of ``flat`` ``[out, n]``, the scale among ``TERNARY_SCALE_FRACTIONS × peak`` whose
    levels ``−1, 0, 1`` hold the row with the least squared error (the first such, on a tie)."""
    fractions = TERNARY_SCALE_FRACTIONS.to(device=flat.device, dtype=flat.dtype)
    scales = (fractions[:, None] * peak[None, :]).clamp_min(1e-12)  # [fractions, out]
    levels = torch.clamp(torch.round(flat[None] / scales[..., None]), -1, 1)
    error = ((levels * scales[..., None] - flat[None]) ** 2).sum(dim=-1)
    best = error.argmin(dim=0)
    return scales.gather(0, best[None])[0].to(torch.float32)


def quantise_weight(weight: torch.Tensor, bits: int, per_tap: bool = False) -> torch.Tensor:
    """``weight`` fake-quantised to ``bits`` (see the module docstring); float for 32 bits.
    With ``per_tap`` a ``[out, in, taps]`` weight has a scale per (output channel, tap)
    (``Precision.tap_scales``).

    Uses ``torch.fake_quantize_per_channel_affine``: forward rounds to the grid, backward
    passes the gradient straight through inside the range.
    """
    if bits == FLOAT_BITS:
        return weight
    levels = weight_levels(bits)
    rows = _rows(weight, per_tap)
    scale = _channel_scale(rows, bits)
    zero = torch.zeros(rows.shape[0], dtype=torch.int32, device=weight.device)
    return _from_rows(torch.fake_quantize_per_channel_affine(rows, scale, zero, 0, -levels, levels), weight, per_tap)


#: The attribute (True on the module's class or instance) that makes every synaptic weight
#: inside a module one of the wide layers (``Precision.wide_weight_bits``).
WIDE_WEIGHTS_ATTR = "holds_wide_weights"


def wide_weight_modules(model: nn.Module) -> set[int]:
    """The ids of the modules whose synaptic weights a chip with ``wide_weight_bits`` holds in
    those bits: every module inside (or being) one that sets :data:`WIDE_WEIGHTS_ATTR`."""
    wide: set[int] = set()
    for module in model.modules():
        if getattr(module, WIDE_WEIGHTS_ATTR, False):
            wide.update(id(m) for m in module.modules())
    return wide


class WeightFakeQuant(nn.Module):
    """A ``torch.nn.utils.parametrize`` parametrization: the weight as a ``bits``-bit chip holds it."""

    def __init__(self, bits: int, per_tap: bool = False) -> None:
        super().__init__()
        _check_bits(bits, "weight_bits")
        self.bits = bits
        self.per_tap = per_tap

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return quantise_weight(weight, self.bits, self.per_tap)


@torch.no_grad()
def integer_weights(model: nn.Module, precision: Precision) -> dict[str, tuple[torch.Tensor, torch.Tensor, int]]:
    """Integer levels and per-channel scales of every synaptic weight, as a chip of
    ``precision`` stores them (the wide layers in ``wide_weight_bits``, and with ``tap_scales``
    a scale per (output channel, tap)).

    Returns:
        ``{"<module>.<param>": (levels int8|int16|int32, scale float32 [out] or [out, taps], bits)}``;
        ``levels × scale[:, None, ...]`` (per tap: ``levels × scale[:, None, :]``) is the
        fake-quantised weight.
    """
    if precision.weight_bits == FLOAT_BITS:
        raise ValueError("float weights (32 bits) have no integer form")
    wide = wide_weight_modules(model)
    out = {}
    for path, module, name in synaptic_weights(model):
        bits = precision.bits_of(id(module) in wide)
        dtype = torch.int8 if bits <= 8 else torch.int16 if bits <= 16 else torch.int32
        weight = getattr(module, name).detach()
        scale = _channel_scale(weight, bits, precision.per_tap(id(module) in wide))
        levels = torch.clamp(torch.round(weight / scale_like(scale, weight)), -weight_levels(bits), weight_levels(bits))
        out[f"{path}.{name}" if path else name] = (levels.to(dtype), scale, bits)
    return out


def scale_like(scale: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A per-channel ``[out]`` or per-(channel, tap) ``[out, taps]`` scale
    (:func:`integer_weights`) shaped to multiply ``weight``'s integer levels."""
    if scale.ndim == 2:
        return scale[:, None, :]
    return scale.reshape((-1,) + (1,) * (weight.ndim - 1))


class StateFormat:
    """Signed fixed point of one state site, with saturation and overflow counting.

    Starts calibrating (values pass unchanged, the largest magnitude is kept); after
    :meth:`freeze` values are rounded to ``scale`` steps and saturated at ``±L·scale``
    (``L = 2^(b−1) − 1``), each saturated value counted in ``overflows``.
    """

    def __init__(self, bits: int) -> None:
        _check_bits(bits, "state_bits")
        self.bits = bits
        self.max_level = 2 ** (bits - 1) - 1 if bits != FLOAT_BITS else 0
        self.peak = 0.0
        self.scale: float | None = None
        self.updates = 0
        self.overflows = 0

    @property
    def calibrating(self) -> bool:
        return self.scale is None

    def freeze(self) -> None:
        """End calibration: the observed peak becomes full scale."""
        self.scale = max(self.peak, 1e-12) / max(1, self.max_level)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits == FLOAT_BITS:
            return x
        if self.scale is None:
            if x.numel():
                self.peak = max(self.peak, float(x.detach().abs().max()))
            return x
        limit = self.max_level * self.scale
        self.updates += x.numel()
        self.overflows += int((x.detach().abs() > limit * (1 + 1e-6)).sum())
        q = torch.clamp(torch.round(x.detach() / self.scale), -self.max_level, self.max_level) * self.scale
        return x + (q - x).detach()


class HoldsState:
    """Mixin for modules whose state a chip holds in ``state_bits`` words.

    A subclass names its sites in ``state_sites`` and passes each state tensor through
    :meth:`hold` (a step function takes it as ``hold``, :meth:`holder`); with no format
    attached (training, float scoring) and no probe watching, :meth:`hold` is the identity. ``state_op`` names the trace entry its overflows are reported under.
    """

    state_sites: tuple[str, ...] = ("membrane",)
    state_op: str = "neuron"

    def hold(self, site: str, x: torch.Tensor) -> torch.Tensor:
        """``x`` as the state word of ``site`` holds it (the identity without a format); a probe
        attached from outside (``codesign.snn._probe``) sees every held value, in step order."""
        formats: dict[str, StateFormat] | None = self.__dict__.get("_state_formats")
        if formats:
            x = formats[site](x)
        watched: dict[str, list[torch.Tensor]] | None = self.__dict__.get(WATCH_ATTR)
        if watched is not None:
            watched.setdefault(site, []).append(x.detach())
        return x

    def holder(self, site: str) -> Hold:
        """:meth:`hold` of ``site`` as the ``hold`` a step function takes (``codesign.snn._time``)."""
        return functools.partial(self.hold, site)

    def state_formats(self) -> dict[str, StateFormat]:
        return dict(self.__dict__.get("_state_formats") or {})

    def set_state_bits(self, bits: int | None) -> None:
        """Attach fresh (calibrating) formats of ``bits`` to every site; None detaches them."""
        if bits is None or bits == FLOAT_BITS:
            self.__dict__.pop("_state_formats", None)
        else:
            self.__dict__["_state_formats"] = {site: StateFormat(bits) for site in self.state_sites}


def _state_holders(model: nn.Module) -> list[HoldsState]:
    return [m for m in model.modules() if isinstance(m, HoldsState)]


def calibrate_states(model: nn.Module, run: Callable[[nn.Module], None]) -> None:
    """Calibrate every state format of ``model`` on what ``run(model)`` feeds it, then freeze."""
    holders = _state_holders(model)
    with torch.no_grad():
        run(model)
    for holder in holders:
        for fmt in holder.state_formats().values():
            fmt.freeze()


def state_overflow_rate(model: nn.Module) -> float:
    """Saturated state updates over all state updates since calibration (0 with float state)."""
    updates = overflows = 0
    for holder in _state_holders(model):
        for fmt in holder.state_formats().values():
            updates += fmt.updates
            overflows += fmt.overflows
    return overflows / updates if updates else 0.0


def reset_state_counters(model: nn.Module) -> None:
    """Zero the update and overflow counters (the calibrated scales stay)."""
    for holder in _state_holders(model):
        for fmt in holder.state_formats().values():
            fmt.updates = fmt.overflows = 0


@dataclass(frozen=True)
class QuantisedSummary:
    """What :func:`quantise_network` did: weight tensors quantised and state sites held."""

    weight_tensors: int
    state_sites: int


@torch.no_grad()
def quantise_network(
    model: nn.Module, precision: Precision, calibrate: Callable[[nn.Module], None] | None = None
) -> tuple[nn.Module, QuantisedSummary]:
    """The network a chip of ``precision`` computes: a fused copy with weights on the chip's
    grid and state in its fixed point (calibrated by ``calibrate(net)``, e.g. a forward pass
    over training utterances).

    Every synaptic module gets a ``weight_bits`` attribute (the bits it is held in: the wide
    layers' ``wide_weight_bits`` where set), a ``wide_weights`` one (whether it is one of the
    wide layers, :func:`wide_weight_modules`) and a ``tap_scales`` one (whether its weights have
    a scale per kernel tap), which the trace recorder reads.

    Raises:
        ValueError: a precision the chip cannot represent, or state quantisation of a module
            whose state torch keeps internally (the GRU/LSTM references).
        UnsupportedLayer: parameters in a layer that is neither synaptic nor declared otherwise.
    """
    net = fuse_model(model)  # a deep copy in inference form: the argument is untouched
    check_layers(net)
    tensors = 0
    wide = wide_weight_modules(net)
    for _, module, name in synaptic_weights(net):
        bits = precision.bits_of(id(module) in wide)
        param = getattr(module, name)
        param.copy_(quantise_weight(param, bits, precision.per_tap(id(module) in wide)))
        module.weight_bits = bits  # type: ignore[assignment]  # torch: Module attrs typed as tensors
        module.wide_weights = id(module) in wide  # type: ignore[assignment]  # torch: Module attrs typed as tensors
        module.tap_scales = precision.per_tap(id(module) in wide)  # type: ignore[assignment]  # as above
        tensors += 1
    if precision.state_bits != FLOAT_BITS and holds_hidden_state(net):
        raise ValueError(
            "state_bits below 32 cannot be applied to the gru/lstm references (torch keeps their state "
            "internally); score them with state_bits: 32"
        )
    holders = _state_holders(net)
    for holder in holders:
        holder.set_state_bits(precision.state_bits)
    if precision.state_bits != FLOAT_BITS:
        if calibrate is None:
            raise ValueError("state quantisation needs calibration data")
        calibrate_states(net, calibrate)
    return net.eval(), QuantisedSummary(weight_tensors=tensors, state_sites=len(holders))
