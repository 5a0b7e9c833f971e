"""TrainConfig: the budget and optimiser settings of one short training run, and the names of
how QAT trains (``QAT_FINETUNE_FRACTION``, :func:`qat_finetune_lr_fraction`, the ``QAT_DISTIL_*``
weights, ``QAT_SCHEME``), which the training cache key reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from codesign.config import OmitAtDefault
from codesign.data._augment import SpecAugment

#: Quantisation-aware training fine-tunes the float network on the chip's grid (as QAT is
#: usually run, from a float-trained network: Krishnamoorthi 2018; Esser et al. 2020): the run
#: first trains in float for the whole budget (the very run a float training is), then for this
#: fraction of the budget again with the synaptic weights on the grid. Earlier schemes that put
#: the grid inside the float budget (from step 0, or for its second half) stayed 4-6 points of
#: WER behind float at 4 bits: docs/models.md.
QAT_FINETUNE_FRACTION = 1 / 3
#: The fine-tune's peak learning rate over the budget's (then cosine to the same floor fraction).
QAT_FINETUNE_LR_FRACTION = 0.1
#: The same on a ternary (2-bit) grid: a weight changes level only by crossing half a step, a
#: third of its channel's peak or more there against a fourteenth at 4 bits, so the fine-tune
#: moves the weights further (precision benchmark, 2 bits, 3 seeds, test WER with the teacher
#: below: 0.772 at 0.1, 0.702 at 0.3; docs/models.md).
QAT_TERNARY_LR_FRACTION = 0.3
#: The ternary (2-bit) fine-tune (:func:`qat_distils`) distils the float run's network (frozen,
#: eval mode, as it stood when the float run ended) into the network on the grid (Hinton et al. 2015; for low-bit QAT, e.g. Mishra &
#: Marr 2018): its loss is the task loss plus ``QAT_DISTIL_WEIGHT × T² · KL(teacher ‖ student)``
#: of the outputs at temperature ``T = QAT_DISTIL_TEMPERATURE`` (``codesign.train.distillation_loss``)
#: plus ``QAT_FEATURE_DISTIL_WEIGHT ×`` the normalised squared distance of the outputs of the
#: layers the chip runs fused (the RepSSA projections, which hold a 2-bit grid worst:
#: ``codesign.train.feature_distillation_loss``). 0 turns a term off.
QAT_DISTIL_WEIGHT = 1.0
QAT_DISTIL_TEMPERATURE = 2.0
QAT_FEATURE_DISTIL_WEIGHT = 2.0
#: Names how QAT trains (what it quantises and when), for the training cache key of a QAT
#: network: change it whenever QAT training changes what a given config learns ("pruning-held":
#: the fine-tune keeps every pruned weight at zero, not only the fused projections' branches;
#: "distil": the teacher's terms; "ternary-mse": the 2-bit grid's scale, codesign.snn._precision).
QAT_SCHEME = (
    f"fused-projections/float-then-finetune-{QAT_FINETUNE_FRACTION:.3f}-lr{QAT_FINETUNE_LR_FRACTION}"
    f"-ternary-lr{QAT_TERNARY_LR_FRACTION}/pruning-held"
    f"/ternary-distil-w{QAT_DISTIL_WEIGHT}-T{QAT_DISTIL_TEMPERATURE}-fused{QAT_FEATURE_DISTIL_WEIGHT}/ternary-mse"
)


def qat_distils(bits: int) -> bool:
    """Whether QAT's fine-tune at ``bits`` distils the float network (``QAT_DISTIL_*``): on the
    ternary (2-bit) grid only. At 4 bits, where the grid costs little, the teacher cost points
    (precision benchmark, test WER, seeds 0 / 1: 0.612 / 0.466 with it, 0.587 / 0.447 without),
    and so did the float control's fine-tune (0.573 / 0.427 against 0.544 / 0.432)."""
    return bits == 2


def qat_finetune_lr_fraction(bits: int) -> float:
    """The QAT fine-tune's peak learning rate over the budget's at ``bits`` (32: the float
    control's): ``QAT_TERNARY_LR_FRACTION`` at 2 bits, else ``QAT_FINETUNE_LR_FRACTION``."""
    return QAT_TERNARY_LR_FRACTION if bits == 2 else QAT_FINETUNE_LR_FRACTION


class TrainConfig(OmitAtDefault):
    """How long and how a candidate is trained. Part of the training cache key; the options
    added after trained networks were cached (SpecAugment, label smoothing) leave its dumped
    form while they are off (:class:`~codesign.config.OmitAtDefault`)."""

    _omit_at_default = ("spec_augment", "label_smoothing", "qat_wide_weight_bits", "qat_tap_scales")

    epochs: int | None = Field(
        4, ge=1, description="budget in epochs: the schedule's length, reproducible from the seed (None: seconds)"
    )
    seconds: float | None = Field(
        None, gt=0.0,
        description="equal-time mode: a wall-clock budget that stops after the batch crossing it. LOAD-DEPENDENT: "
        "the same seed trains further on an idle machine than on a busy one, so scores are not reproducible",
    )
    batch_size: int = Field(32, ge=1, le=4096)
    learning_rate: float = Field(3e-3, gt=0.0, lt=1.0)
    weight_decay: float = Field(1e-2, ge=0.0)
    warmup_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    grad_clip: float = Field(1.0, gt=0.0)
    threads: int = Field(1, ge=1, le=64, description="torch intra-op threads for this run")
    qat_weight_bits: int | None = Field(
        None, ge=2, le=32,
        description="quantisation-aware training: the float budget, then a fine-tune of a third of it at a tenth of "
        "the learning rate (at 2 bits: three tenths, distilling the float network), with the synaptic weights "
        "fake-quantised to this many bits in every forward pass, in the fused form the chip runs (None or 32: "
        "float training; codesign.snn._precision has the convention)",
    )
    qat_wide_weight_bits: int | None = Field(
        None, ge=2, le=24,
        description="quantisation-aware training on a mixed-precision chip: the bits of the wide layers' weights "
        "(codesign.snn.wide_weight_modules: the conv-fused RepSSA projections), wider than qat_weight_bits; None: "
        "every synaptic weight at qat_weight_bits (a chip's wide_weight_bits)",
    )
    qat_tap_scales: bool = Field(
        False,
        description="quantisation-aware training on a chip with tap_scales: the wide layers (the conv-fused RepSSA "
        "projections) fake-quantised with a scale per (output channel, kernel tap), as that chip holds them",
    )
    spec_augment: SpecAugment | None = Field(
        None,
        description="SpecAugment: time and frequency masks drawn afresh for each training batch "
        "(codesign.data.spec_augment); None: off",
    )
    label_smoothing: float = Field(
        0.0, ge=0.0, lt=1.0, description="classification: cross-entropy label smoothing (0: off; no effect on CTC)"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where to train: cuda when available (auto) or asked for, else cpu"
    )

    def without_qat(self) -> TrainConfig:
        """This budget trained in float (no QAT bits): the float run a QAT run starts with."""
        return self.model_copy(update={"qat_weight_bits": None, "qat_wide_weight_bits": None, "qat_tap_scales": False})

    @property
    def load_dependent(self) -> bool:
        """Whether the budget depends on machine load (a ``seconds`` budget)."""
        return self.seconds is not None

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.epochs is None and self.seconds is None:
            raise ValueError("a budget: epochs or seconds (or both)")
        wide = self.qat_wide_weight_bits
        if wide is not None and not (self.qat_weight_bits is not None and self.qat_weight_bits < wide):
            raise ValueError(f"qat_wide_weight_bits ({wide}) needs a narrower qat_weight_bits (got {self.qat_weight_bits})")
        if self.qat_tap_scales and self.qat_weight_bits in (None, 32):
            raise ValueError("qat_tap_scales needs quantised weights: a qat_weight_bits below 32")
        return self
