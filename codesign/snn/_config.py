"""ModelConfig: the one typed description of a network, shared by builders, search and export.

A network's config is one of three families, told apart by ``family`` (a discriminated union):
:class:`SpikeformerConfig`, :class:`MambaConfig` and :class:`SRNNConfig`. Fields every family
reads (topology size, dropout, the activity regulariser and pruning) live in
:class:`ModelBase`; the spiking-neuron fields shared by Spikeformer and Mamba in
:class:`NeuronModelBase`; each family's own fields in its class. A field of another family is
refused, so a config (and its hash, the training-cache key) holds only what can change the
network. A mapping without ``family`` is a Spikeformer.

Configs stored before the split (one flat config holding every family's fields, in old study
specs, trial records, training results and bundles) still read: :func:`parse_model_config`
keeps their own family's fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BeforeValidator, Field, TypeAdapter, model_validator

from codesign.config import Spec, load_yaml, parse_typed

#: A network's output head: one label per utterance, or a CTC token sequence.
Head = Literal["classify", "ctc"]
#: What one traced operation is (``codesign.snn.probe_op`` reports it; ``codesign.trace`` keeps it).
LayerKind = Literal["synaptic_dense", "synaptic_conv", "spike_matmul", "state_update", "elementwise"]


def max_level(bits: int, signed: bool) -> int:
    """Largest level of a ``bits``-bit code: ``2^b − 1``, or ``max(1, 2^(b−1) − 1)`` signed."""
    return max(1, (1 << (bits - 1)) - 1) if signed else (1 << bits) - 1


#: The families' names (the CLI's choices; ``FAMILY_CONFIGS``' keys, which a test checks).
Family = Literal["spikeformer", "mamba", "srnn"]
NeuronKind = Literal["lif", "imls"]
Surrogate = Literal["atan", "sigmoid", "triangle", "straight_through"]


class ModelBase(Spec):
    """Fields every family reads. The search samples ``snn.*`` parameters straight into the
    fields of the family's config, so names are the search-space names.

    A family's config class is the family's whole registration: its ``family`` literal, its
    ``variant`` literal, where its builder lives (:attr:`builder`) and how large its spikes get
    (:attr:`spike_levels`); ``codesign.snn.build_model`` and the trace read them from the config.
    """

    #: ``"<module>:<function>"`` of the family's builder ``(cfg, n_features, n_outputs, head) ->
    #: nn.Module``, imported on first build (so reading a config never imports torch).
    builder: ClassVar[str] = ""

    family: str
    variant: str = "spiking"

    # -- topology -----------------------------------------------------------------------
    width: int = Field(64, ge=8, le=1024)
    depth: int = Field(2, ge=1, le=12)
    subsample: Literal[1, 2, 4] = 2
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    # -- activity regulariser and pruning (read by the training run) ----------------------
    activity_target: float | None = Field(None, gt=0.0, lt=1.0, description="target firing rate")
    activity_weight: float = Field(0.1, ge=0.0)
    prune_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="target weight sparsity")

    @model_validator(mode="before")
    @classmethod
    def _known_variant(cls, data: object) -> object:
        family = cls.model_fields["family"].default
        if isinstance(data, dict) and "variant" in data and family in VARIANTS:
            allowed = VARIANTS[family]
            if data["variant"] not in allowed:
                raise ValueError(f"variant one of {allowed} for family '{family}', got '{data['variant']}'")
        return data

    @property
    def is_spiking(self) -> bool:
        """Whether the network communicates with spikes (as opposed to an ANN reference)."""
        return self.variant == "spiking"

    @property
    def spike_levels(self) -> int:
        """The largest spike level the network emits (0 when it does not spike)."""
        raise ValueError(f"family {self.family!r} does not say how large its spikes get (ModelBase.spike_levels)")


class NeuronModelBase(ModelBase):
    """Spikeformer and Mamba: networks of LIF or IMLS neurons (``codesign.snn.make_neuron``)."""

    neuron: NeuronKind = "imls"
    levels: int = Field(4, ge=1, le=15, description="IMLS levels D: spikes per timestep 0..D")
    timesteps: int = Field(1, ge=1, le=16, description="T: timesteps per input frame")
    threshold: float = Field(1.0, gt=0.0, description="initial threshold (LIF) or scale alpha (IMLS)")
    threshold_adaptive: bool = Field(True, description="IMLS threshold follows input statistics")
    decay: float = Field(0.5, gt=0.0, lt=1.0, description="LIF membrane decay beta")
    reset: Literal["soft", "hard"] = "soft"
    surrogate: Surrogate = "atan"
    surrogate_slope: float = Field(2.0, gt=0.0)
    fatrelu_threshold: float = Field(
        0.1, ge=0.0, description="FATReLU threshold (Spikeformer fatrelu FFN, event-driven Mamba)"
    )

    @property
    def spike_levels(self) -> int:
        """D for IMLS, 1 for LIF, 0 when not spiking (the units are ReLU-like)."""
        if not self.is_spiking:
            return 0
        return self.levels if self.neuron == "imls" else 1


class SpikeformerConfig(NeuronModelBase):
    """The HD-RepSSA Spikeformer (``codesign.snn.build_spikeformer``)."""

    builder: ClassVar[str] = "codesign.snn._spikeformer:build_spikeformer"
    family: Literal["spikeformer"] = "spikeformer"
    variant: Literal["spiking", "ann"] = "spiking"

    heads: int = Field(4, ge=1, le=16)
    ffn_ratio: int = Field(2, ge=1, le=8)
    front_kernel: Literal[1, 3, 5] = Field(
        3, description="frames seen by the first (real-input, MAC-costed) Spikeformer conv; 1 makes it pointwise"
    )

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

    @model_validator(mode="after")
    def _check(self) -> SpikeformerConfig:
        if self.decay_gamma_min > self.decay_gamma_max:
            raise ValueError("decay_gamma_min <= decay_gamma_max")
        if self.width % self.heads:
            raise ValueError(f"width divisible by heads ({self.width} % {self.heads} != 0)")
        return self


class MambaConfig(NeuronModelBase):
    """Spiking, event-driven or dense Mamba (``codesign.snn.build_mamba``)."""

    builder: ClassVar[str] = "codesign.snn._mamba:build_mamba"
    family: Literal["mamba"] = "mamba"
    variant: Literal["spiking", "event", "dense"] = "spiking"

    state_size: int = Field(8, ge=1, le=64)
    expand: int = Field(2, ge=1, le=4)
    conv_kernel: int = Field(4, ge=1, le=8)


class SRNNConfig(ModelBase):
    """The improved-recurrence spiking RNN and its GRU/LSTM references (``codesign.snn.build_srnn``)."""

    builder: ClassVar[str] = "codesign.snn._srnn:build_srnn"
    family: Literal["srnn"] = "srnn"
    variant: Literal["spiking", "gru", "lstm"] = "spiking"

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
    def _check(self) -> SRNNConfig:
        if self.variant == "spiking":
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
        return self

    @property
    def spike_levels(self) -> int:
        """``2^b − 1`` for the b-bit multi-bit quantiser of the spiking variant, 0 for GRU/LSTM."""
        return max_level(self.quant_bits, signed=False) if self.is_spiking else 0

    @property
    def input_quant_bits(self) -> int:
        """Bits of the SRNN's signed input quantiser (``quant_input_bits``, else ``quant_bits``)."""
        return self.quant_bits if self.quant_input_bits is None else self.quant_input_bits

    @property
    def input_zero_threshold(self) -> int:
        """Zero threshold of the SRNN's input quantiser (``quant_input_zero_threshold``, else
        ``quant_zero_threshold``)."""
        return self.quant_zero_threshold if self.quant_input_zero_threshold is None else self.quant_input_zero_threshold


#: The one table of families: a new family is its config class (above) and one member here.
_FAMILIES = SpikeformerConfig | MambaConfig | SRNNConfig

#: The config class of each family, by ``family`` (read-only by convention; from :data:`_FAMILIES`).
FAMILY_CONFIGS: dict[str, type[ModelBase]] = {
    cls.model_fields["family"].default: cls for cls in get_args(_FAMILIES)
}

#: Variants each family accepts. ``ann``/``dense``/``gru``/``lstm`` are the non-spiking references.
VARIANTS: dict[str, tuple[str, ...]] = {
    family: get_args(cls.model_fields["variant"].annotation) for family, cls in FAMILY_CONFIGS.items()
}

#: Every field name of every family (what ``snn.*`` may name in a search space).
MODEL_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(f for f, cls in FAMILY_CONFIGS.items() if name in cls.model_fields)
    for name in dict.fromkeys(n for cls in FAMILY_CONFIGS.values() for n in cls.model_fields)
}


def _family_and_legacy(data: object) -> object:
    """A mapping without ``family`` is a Spikeformer; a flat config stored before the families
    were split (it holds fields of every family) keeps its own family's fields."""
    if not isinstance(data, dict):
        return data
    family = data.get("family", "spikeformer")
    data = {"family": family, **data}
    own = FAMILY_CONFIGS.get(family) if isinstance(family, str) else None
    if own is not None and _is_flat_dump(data):
        data = {k: v for k, v in data.items() if k in own.model_fields}
    return data


def _is_flat_dump(data: dict[str, Any]) -> bool:
    """Whether ``data`` is a pre-split flat config's ``to_dict()``: it names a field that only
    one family has for every family (a person writes one family's fields)."""
    keys = set(data)
    return all(
        any(name in keys and MODEL_FIELDS[name] == (family,) for name in cls.model_fields)
        for family, cls in FAMILY_CONFIGS.items()
    )


ModelConfig = Annotated[
    Annotated[_FAMILIES, Field(discriminator="family")],
    BeforeValidator(_family_and_legacy),
]
"""A network's config: one of the families, by ``family`` (see the module docstring)."""

_MODEL_CONFIG: TypeAdapter[ModelConfig] = TypeAdapter(ModelConfig)


def parse_model_config(data: object, file: str | Path | None = None, key_prefix: str = "") -> ModelConfig:
    """Validate a mapping into its family's config.

    Raises:
        ConfigError: the first problem, naming the file and key; a field of another family
            says which family has it.
    """
    return parse_typed(_MODEL_CONFIG, data, file=file, key_prefix=key_prefix)


def load_model_config(path: str | Path) -> ModelConfig:
    """Read a YAML file holding one model config (see :func:`parse_model_config`)."""
    return parse_model_config(load_yaml(path), file=path)


def default_model_config() -> ModelConfig:
    """The default network: a Spikeformer with every field at its default."""
    return SpikeformerConfig()
