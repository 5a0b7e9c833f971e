"""TrainConfig: the budget and optimiser settings of one short training run, and the names of
how QAT trains (``QAT_FINETUNE_FRACTION``, ``QAT_FINETUNE_LR_FRACTION``, ``QAT_SCHEME``), which the training cache key reads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from codesign.config import Spec
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
#: Names how QAT trains (what it quantises and when), for the training cache key of a QAT
#: network: change it whenever QAT training changes what a given config learns ("pruning-held":
#: the fine-tune keeps every pruned weight at zero, not only the fused projections' branches).
QAT_SCHEME = f"fused-projections/float-then-finetune-{QAT_FINETUNE_FRACTION:.3f}-lr{QAT_FINETUNE_LR_FRACTION}/pruning-held"


#: Training options added after training cache keys existed, with the value that turns each off:
#: :meth:`TrainConfig.key_dict` leaves them out of the key while they are off.
OPT_IN_OFF: dict[str, object] = {"spec_augment": None, "label_smoothing": 0.0}


class TrainConfig(Spec):
    """How long and how a candidate is trained. Part of the training cache key."""

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
        "the learning rate with the synaptic weights fake-quantised to this many bits in every forward pass, in "
        "the fused form the chip runs (None or 32: float training; codesign.snn._precision has the convention)",
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

    def key_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the opt-in fields that are off (:data:`OPT_IN_OFF`), for the
        training cache key: a budget that does not use them keeps the key it had before they existed."""
        return {k: v for k, v in self.to_dict().items() if not (k in OPT_IN_OFF and v == OPT_IN_OFF[k])}

    @property
    def load_dependent(self) -> bool:
        """Whether the budget depends on machine load (a ``seconds`` budget)."""
        return self.seconds is not None

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.epochs is None and self.seconds is None:
            raise ValueError("a budget: epochs or seconds (or both)")
        return self
