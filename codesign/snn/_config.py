"""ModelConfig: the one typed description of a network, shared by builders, search and export."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from codesign.config import Spec


def max_level(bits: int, signed: bool) -> int:
    """Largest level of a ``bits``-bit code: ``2^b − 1``, or ``max(1, 2^(b−1) − 1)`` signed."""
    return max(1, 2 ** (bits - 1) - 1) if signed else 2**bits - 1


Family = Literal["spikeformer", "mamba", "srnn"]
NeuronKind = Literal["lif", "imls"]
Surrogate = Literal["atan", "sigmoid", "triangle", "straight_through"]

#: Variants each family accepts. ``ann``/``dense``/``gru``/``lstm`` are the non-spiking references.
VARIANTS: dict[str, tuple[str, ...]] = {
    "spikeformer": ("spiking", "ann"),
    "mamba": ("spiking", "event", "dense"),
    "srnn": ("spiking", "gru", "lstm"),
}


class ModelConfig(Spec):
    """Everything that defines a network's topology and spiking behaviour.

    The search samples ``snn.*`` parameters straight into these fields, so names are the
    search-space names. Fields irrelevant to a family are ignored by its builder but still
    part of the hash; the search leaves them at their defaults.
    """

    family: Family = "spikeformer"
    variant: str = "spiking"

    # -- spiking neurons ----------------------------------------------------------------
    neuron: NeuronKind = "imls"
    levels: int = Field(4, ge=1, le=15, description="IMLS levels D: spikes per timestep 0..D")
    timesteps: int = Field(1, ge=1, le=16, description="T: timesteps per input frame")
    threshold: float = Field(1.0, gt=0.0, description="initial threshold (LIF) or scale alpha (IMLS)")
    threshold_adaptive: bool = Field(True, description="IMLS threshold follows input statistics")
    decay: float = Field(0.5, gt=0.0, lt=1.0, description="LIF membrane decay beta")
    reset: Literal["soft", "hard"] = "soft"
    surrogate: Surrogate = "atan"
    surrogate_slope: float = Field(2.0, gt=0.0)

    # -- topology -----------------------------------------------------------------------
    width: int = Field(64, ge=8, le=1024)
    depth: int = Field(2, ge=1, le=12)
    heads: int = Field(4, ge=1, le=16)
    ffn_ratio: int = Field(2, ge=1, le=8)
    subsample: Literal[1, 2, 4] = 2
    front_kernel: Literal[1, 3, 5] = Field(
        3, description="frames seen by the first (real-input, MAC-costed) Spikeformer conv; 1 makes it pointwise"
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    # -- HD-RepSSA ----------------------------------------------------------------------
    decay_gamma_min: float = Field(0.5, gt=0.0, le=1.0)
    decay_gamma_max: float = Field(0.95, gt=0.0, le=1.0)
    decay_layer_shift: float = Field(
        0.5, ge=0.0, le=1.0, description="how far the gamma range moves toward 1 from first to last layer"
    )
    causal: bool = False
    attn_scale: Literal["fixed", "mask_rows"] = Field(
        "fixed",
        description="spiking attention scale: fixed 1/sqrt(head_dim) (paper) or 1/(row sum of the decay "
        "mask over valid keys), so the product's size does not depend on position or utterance length",
    )
    rep_kernel: int = Field(
        3, ge=1, le=9, description="frames seen by the re-parameterised depthwise temporal conv of Q/K/V"
    )
    ffn_activation: Literal["spike", "fatrelu"] = "spike"

    # -- event-driven / sparsity ----------------------------------------------------------
    fatrelu_threshold: float = Field(0.1, ge=0.0)
    activity_target: float | None = Field(None, gt=0.0, lt=1.0, description="target firing rate")
    activity_weight: float = Field(0.1, ge=0.0)
    prune_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="target weight sparsity")

    # -- Mamba ------------------------------------------------------------------------------
    state_size: int = Field(8, ge=1, le=64)
    expand: int = Field(2, ge=1, le=4)
    conv_kernel: int = Field(4, ge=1, le=8)

    # -- improved-recurrence SRNN -------------------------------------------------------------
    quant_bits: int = Field(4, ge=1, le=8, description="multi-bit output quantiser bits b")
    quant_zero_threshold: int = Field(1, ge=0, description="integer level below which outputs are zeroed")
    quant_input_bits: int | None = Field(
        None, ge=2, le=8, description="bits of the signed input quantiser (None: quant_bits)"
    )
    quant_input_zero_threshold: int | None = Field(
        None, ge=0, description="zero threshold of the input quantiser (None: quant_zero_threshold)"
    )
    quant_input_coding: Literal["level", "delta"] = Field(
        "level",
        description="level: each input frame quantised with error feedback; delta: the change of the "
        "stacked input since the previous step, quantised with error feedback and integrated by the first "
        "layer (a delta layer: W x[n] = W x[n-1] + W dx[n]), so slowly changing features send few events",
    )
    quant_range_quantile: float = Field(
        0.98, gt=0.0, le=1.0,
        description="quantile of a batch's magnitudes taken as its extreme for the quantiser range (1: the max)",
    )

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        allowed = VARIANTS[self.family]
        if self.variant not in allowed:
            raise ValueError(f"variant one of {allowed} for family '{self.family}', got '{self.variant}'")
        if self.decay_gamma_min > self.decay_gamma_max:
            raise ValueError("decay_gamma_min <= decay_gamma_max")
        if self.family == "srnn" and self.variant == "spiking":
            input_max = max_level(self.input_quant_bits, signed=True)
            output_max = max_level(self.quant_bits, signed=False)
            if self.quant_zero_threshold > output_max:
                raise ValueError(
                    f"quant_zero_threshold {self.quant_zero_threshold} would zero every output level: the "
                    f"largest is {output_max} ({self.quant_bits}-bit outputs)"
                )
            if self.input_zero_threshold > input_max:
                name = "quant_zero_threshold" if self.quant_input_zero_threshold is None else "quant_input_zero_threshold"
                raise ValueError(
                    f"{name} {self.input_zero_threshold} would zero every input level: the largest is "
                    f"{input_max} (signed {self.input_quant_bits}-bit input quantiser)"
                )
        if self.family == "spikeformer" and self.width % self.heads:
            raise ValueError(f"width divisible by heads ({self.width} % {self.heads} != 0)")
        return self

    @property
    def input_quant_bits(self) -> int:
        """Bits of the SRNN's signed input quantiser (``quant_input_bits``, else ``quant_bits``)."""
        return self.quant_bits if self.quant_input_bits is None else self.quant_input_bits

    @property
    def input_zero_threshold(self) -> int:
        """Zero threshold of the SRNN's input quantiser (``quant_input_zero_threshold``, else
        ``quant_zero_threshold``)."""
        return self.quant_zero_threshold if self.quant_input_zero_threshold is None else self.quant_input_zero_threshold

    @property
    def is_spiking(self) -> bool:
        """Whether the network communicates with spikes (as opposed to an ANN reference)."""
        return self.variant == "spiking"
