"""The multi-bit output quantiser of the improved-recurrence SRNN (Ponghiran & Roy, 2022).

Owns :class:`MultiBitQuantiser`: values become integer levels times a scale, levels below an
integer threshold become zero (so outputs are sparse), the range follows an exponential
moving average of the batch extremes (the largest magnitude, or a high quantile of the
magnitudes so that a few outliers do not flatten every other value to level 0), and the
gradient passes straight through inside the range. :func:`quantise_with_error_feedback`
quantises a sequence while carrying each step's rounding error into the next (first-order
sigma-delta), which keeps the input's average. :func:`max_level` is the largest level of a
``b``-bit code.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from codesign.snn._config import max_level  # defined with the configs, which must not import torch
from codesign.snn._time import over_time

__all__ = ["MultiBitQuantiser", "max_level", "quantise_with_error_feedback"]


class MultiBitQuantiser(nn.Module):
    """``b``-bit quantiser with zeroing of small levels and an EMA-tracked range.

    Unsigned: levels ``0 .. 2^b − 1`` over ``[0, max]``. Signed: levels
    ``−L .. L`` with ``L = max(1, 2^(b−1) − 1)`` over ``[−max|x|, max|x|]``.
    Levels whose magnitude is below ``zero_threshold`` are set to zero.

    Args:
        bits: ``b``.
        zero_threshold: integer level below which outputs are zeroed (0 or 1: none beyond
            rounding).
        signed: whether negative levels exist.
        momentum: weight of the newest batch extreme in the moving average.
        range_quantile: which quantile of the batch's magnitudes is its "extreme": 1.0 is the
            largest (Ponghiran & Roy's definition); below 1 the top ``1 − q`` saturate at the
            largest level instead of setting the range.
    """

    #: Buffers (saved with the module, not trained): the moving range, and whether any batch
    #: has been seen yet.
    range_ema: Tensor
    seen: Tensor

    def __init__(
        self,
        bits: int,
        zero_threshold: int,
        signed: bool = False,
        momentum: float = 0.05,
        range_quantile: float = 1.0,
    ) -> None:
        super().__init__()
        if bits < 1:
            raise ValueError(f"bits >= 1, got {bits}")
        if not 0.0 < range_quantile <= 1.0:
            raise ValueError(f"range_quantile in (0, 1], got {range_quantile}")
        self.bits, self.zero_threshold, self.signed, self.momentum = bits, zero_threshold, signed, momentum
        self.range_quantile = float(range_quantile)
        self.max_level = max_level(bits, signed)
        self.register_buffer("range_ema", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))

    def observe(self, x: Tensor) -> None:
        """Fold the batch extreme of ``x`` into the moving range (training only; empty ``x``: no-op)."""
        if not self.training or x.numel() == 0:
            return
        with torch.no_grad():
            magnitudes = (x.abs() if self.signed else x.clamp_min(0.0)).flatten()
            # kthvalue, not torch.quantile: exact, deterministic and without a size limit
            rank = max(1, math.ceil(self.range_quantile * magnitudes.numel()))
            extreme = magnitudes.kthvalue(rank).values
            if bool(self.seen):
                self.range_ema.lerp_(extreme, self.momentum)
            else:
                self.range_ema.copy_(extreme)
                self.seen.fill_(True)

    def scale(self) -> Tensor:
        """Value of one level (a copy, so later range updates do not touch autograd graphs)."""
        return (self.range_ema / self.max_level).clamp_min(1e-6).clone()

    def levels(self, x: Tensor, scale: Tensor) -> Tensor:
        """Integer levels of ``x`` (as floats), zeroing applied; no gradient."""
        low = -self.max_level if self.signed else 0
        q = torch.clamp(torch.round(x.detach() / scale), low, self.max_level)
        return torch.where(q.abs() < self.zero_threshold, torch.zeros_like(q), q)

    def quantise(self, x: Tensor, scale: Tensor) -> Tensor:
        """``levels × scale`` forward; gradient of identity inside the range, zero outside."""
        low = -self.max_level * scale if self.signed else torch.zeros_like(scale)
        inside = (x >= low) & (x <= self.max_level * scale)
        q = self.levels(x, scale) * scale
        return torch.where(inside, x, x.detach()) + (q - x).detach()

    def forward(self, x: Tensor) -> Tensor:
        """Observe ``x``'s range (training), then quantise it."""
        self.observe(x)
        return self.quantise(x, self.scale())


def quantise_with_error_feedback(quantiser: MultiBitQuantiser, x: Tensor, bounded: bool = True) -> Tensor:
    """Quantise ``x [batch, steps, features]`` carrying the rounding error along ``steps``.

    ``x̃[n] = Q(x[n] + e[n−1])``, ``e[n] = x[n] + e[n−1] − x̃[n]``: over a window the
    quantised sequence has the same sum as the input up to one level, which a plain
    rounding of small values to zero would lose.

    Args:
        quantiser: the quantiser (its range is observed on ``x`` when training).
        x: the sequence.
        bounded: clip the carried error to ``max(1, zero_threshold)`` levels, so an input
            beyond the range does not pile up error without limit. Unbounded, the running sum
            of ``x̃`` tracks that of ``x`` however large a step is (it catches up at the largest
            level per step): what a delta code, whose sum is the signal, needs.

    Returns:
        ``x̃`` in the input's units (``levels × quantiser.scale()``).
    """
    quantiser.observe(x)
    scale = quantiser.scale()
    bound = max(1, quantiser.zero_threshold) * scale if bounded else None
    step = functools.partial(error_feedback_step, quantiser=quantiser, scale=scale, bound=bound)
    _, (out,) = over_time(step, torch.zeros_like(x[:, 0]), x.unbind(1), dim=1)
    return out


def error_feedback_step(
    error: Tensor, x: Tensor, *, quantiser: MultiBitQuantiser, scale: Tensor, bound: Tensor | None
) -> tuple[Tensor, tuple[Tensor]]:
    """One step of :func:`quantise_with_error_feedback`: ``(carried error, x[n]) -> (error, (x̃[n],))``,
    the error clipped to ``±bound`` when given."""
    target = x + error
    q = quantiser.quantise(target, scale)
    error = (target - q).detach()
    if bound is not None:
        error = torch.maximum(torch.minimum(error, bound), -bound)
    return error, (q,)
