"""Chip precision as bits, torch-free: :class:`Precision` (``weight_bits``, ``state_bits``,
``wide_weight_bits``, ``tap_scales``; 32 means float) and the widths a chip can hold. The quantisers that apply
it to a network are ``codesign.snn._precision``'s (which re-exports these); commands that only
name a precision (``study front``, ``study status``) read it here without importing torch.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from codesign.config import Spec

__all__ = ["FLOAT_BITS", "MAX_FIXED_BITS", "TERNARY_GRID_VERSION", "Precision"]

#: Bits meaning "float": no quantisation.
FLOAT_BITS = 32
#: Largest fixed-point width modelled (wider is float for every purpose here).
MAX_FIXED_BITS = 24


def _check_bits(bits: int, what: str) -> None:
    if bits == FLOAT_BITS:
        return
    if not 2 <= bits <= MAX_FIXED_BITS:
        raise ValueError(
            f"{what} {bits} cannot be represented: signed fixed point needs 2..{MAX_FIXED_BITS} bits "
            f"(a 1-bit word has no zero and no sign), or {FLOAT_BITS} for float"
        )


#: Version of the ternary (2-bit) grid, in :attr:`Precision.cache_label`: 2 since its scale is the
#: least-squares one (1: ``max|W_c|``).
TERNARY_GRID_VERSION = 2


def _as_number(value: Any) -> float | None:
    """``value`` as a number, or None where it is none (the field's validation then refuses it)."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Precision(Spec):
    """How a chip holds a network's numbers.

    Attributes:
        weight_bits: synaptic weight word (2..24, or 32 = float).
        state_bits: neuron/scan state word (2..24, or 32 = float).
        wide_weight_bits: the weight word of the wide layers (``codesign.snn.wide_weight_modules``: the
            conv-fused RepSSA projections; a chip's ``wide_weight_bits``), 2..24; they are held
            in ``max(weight_bits, wide_weight_bits)``, so a value not wider than ``weight_bits``
            (or any, with float weights) is stored as None: every synaptic weight in
            ``weight_bits``. One precision has one form (its label, its cache keys).
        tap_scales: the wide layers (the conv-fused RepSSA projections, ``[out, in, taps]``)
            have a weight scale per (output channel, kernel tap) instead of per output channel
            (a chip's ``tap_scales``): each tap's weights on a grid of their own, so the
            depthwise taps (about 10x the channel's RMS) no longer set the step of the rest.
            False with float weights (nothing is quantised).
    """

    weight_bits: int = Field(FLOAT_BITS, ge=1, le=32)
    state_bits: int = Field(FLOAT_BITS, ge=1, le=32)
    wide_weight_bits: int | None = Field(None, ge=2, le=MAX_FIXED_BITS)
    tap_scales: bool = False

    @field_validator("weight_bits", "state_bits")
    @classmethod
    def _representable(cls, value: int, info: ValidationInfo) -> int:
        _check_bits(value, str(info.field_name))
        return value

    @model_validator(mode="before")
    @classmethod
    def _held_wide(cls, data: Any) -> Any:
        """``wide_weight_bits`` None where it holds no layer wider than ``weight_bits``."""
        if isinstance(data, dict) and data.get("wide_weight_bits") is not None:
            # any number (numpy's included) or numeric text, as the fields' own validation reads it
            weight_bits, wide = _as_number(data.get("weight_bits", FLOAT_BITS)), _as_number(data["wide_weight_bits"])
            if weight_bits is not None and wide is not None and (weight_bits == FLOAT_BITS or wide <= weight_bits):
                data = {**data, "wide_weight_bits": None}
        if isinstance(data, dict) and data.get("tap_scales") and \
                _as_number(data.get("weight_bits", FLOAT_BITS)) == FLOAT_BITS:
            data = {**data, "tap_scales": False}
        return data

    @property
    def order(self) -> tuple[int, int, int, bool]:
        """Sort key: by weight bits, then state bits, wide bits and tap scales (numeric, not by label)."""
        return self.weight_bits, self.state_bits, self.wide_weight_bits or 0, self.tap_scales

    def bits_of(self, wide: bool) -> int:
        """The weight bits of a layer that is (``wide``) or is not one of the wide layers."""
        return self.wide_weight_bits if wide and self.wide_weight_bits is not None else self.weight_bits

    def per_tap(self, wide: bool) -> bool:
        """Whether a layer that is (``wide``) or is not one of the wide layers has a weight scale
        per (output channel, kernel tap) (:attr:`tap_scales`), not per output channel."""
        return self.tap_scales and wide

    @property
    def is_float(self) -> bool:
        return self.weight_bits == FLOAT_BITS and self.state_bits == FLOAT_BITS

    @property
    def label(self) -> str:
        """``w4s12``-style short name (``fp32`` for float); with wide layers ``w2x4s12`` (the wide
        layers' weights in 4 bits); with a scale per kernel tap ``w4s12-tap``."""
        if self.is_float:
            return "fp32"
        wide = "" if self.wide_weight_bits is None else f"x{self.wide_weight_bits}"
        tap = "-tap" if self.tap_scales else ""
        return f"w{self.weight_bits}{wide}s{self.state_bits}{tap}"

    @property
    def cache_label(self) -> str:
        """:attr:`label` plus the version of its weight grid where that grid changed after
        scores were cached (2 bits: ``-t2``, the least-squares ternary scale), so a cached
        score at an older grid is never read as this one's."""
        return self.label + (f"-t{TERNARY_GRID_VERSION}" if self.weight_bits == 2 else "")
