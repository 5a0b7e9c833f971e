"""The short training run: one ModelConfig, one corpus, one budget, one seed -> TrainResult.

Owns the optimiser and schedule (AdamW, linear warmup then cosine), the activity regulariser,
gradual magnitude pruning, evaluation with the shared metrics, :class:`TrainResult` and
:class:`TrainCheckpoint` (their files are ``codesign.train._files``). The run is split by
responsibility: one step (:func:`_batch_loss`, :func:`_backward`), pruning (:class:`_Pruner`),
the stop policy and schedule clock (:class:`_StopPolicy`), quantisation-aware training (the
float run, then a fine-tune on the chip's grid, at 2 bits distilling the float network,
:class:`_Teacher`: :func:`_finetune_session`, and its float
control :func:`finetune_control`; :func:`finetune` runs only the fine-tune, from the float
run's checkpoint, so that one float run serves every width), and scoring (:func:`score_splits`).
A run is deterministic for a seed on CPU. A run whose loss turns NaN/inf raises
:class:`TrainingDiverged`; it never returns a score.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from codesign.data import spec_augment
from codesign.snn import (
    FLOAT_BITS,
    Head,
    ModelConfig,
    Precision,
    build_model,
    firing_rates,
    holds_hidden_state,
    synaptic_weights,
)
from codesign.train._config import (
    QAT_DISTIL_TEMPERATURE,
    QAT_DISTIL_WEIGHT,
    QAT_FEATURE_DISTIL_WEIGHT,
    QAT_FINETUNE_FRACTION,
    TrainConfig,
    qat_distils,
    qat_finetune_lr_fraction,
)
from codesign.train._metrics import (
    accuracy,
    char_error_rate,
    class_recall,
    ctc_greedy_decode,
    word_error_rate,
)

if TYPE_CHECKING:
    from codesign.data import Corpus, CorpusSplit

#: Fraction of the budget after which pruning has reached its target (Zhu & Gupta 2017 use
#: a cubic ramp that ends before training does, so the network recovers from the last cut).
PRUNE_END_FRACTION = 0.75
#: Pruning starts once warmup is over, at this fraction of the budget at the earliest.
PRUNE_START_FRACTION = 0.1
#: The cosine schedule decays to this fraction of the peak learning rate.
FINAL_LR_FRACTION = 0.05
#: Utterances per forward pass during evaluation.
EVAL_BATCH = 64


class TrainingDiverged(RuntimeError):
    """The loss (or gradient norm) became NaN or infinite; the run has no score."""


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Everything one training run produced.

    Attributes:
        model_config, train_config, seed: what was trained, how, with which seed.
        task, head, n_features, n_outputs: the corpus side, enough to rebuild the model.
        metrics: ``validation_*``/``test_*`` task metrics (accuracy, or WER and CER), plus
            ``final_loss``, ``weight_sparsity``, ``firing_rate`` (mean level / D of the spiking
            neurons on the last training batch; 0 without spiking neurons), ``wall_time_s``,
            ``time_per_epoch_s``, ``epochs_completed`` and ``steps`` (a fine-tune's, QAT or float, included).
        loss_curve: training loss per step.
        epoch_times_s: training wall time of each epoch (evaluation excluded).
        model: the trained network (eval mode), for tracing; not part of :meth:`to_dict`.
        checkpoint: the state to continue training from (see :class:`TrainCheckpoint`).
    """

    model_config: ModelConfig
    train_config: TrainConfig
    seed: int
    task: str
    head: str
    n_features: int
    n_outputs: int
    metrics: dict[str, float]
    loss_curve: tuple[float, ...]
    epoch_times_s: tuple[float, ...]
    model: nn.Module = field(repr=False)
    checkpoint: TrainCheckpoint | None = field(default=None, repr=False)

    @property
    def metric_name(self) -> str:
        """The task's headline metric: ``accuracy`` (classification) or ``wer`` (CTC)."""
        return "accuracy" if self.head == "classify" else "wer"

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights (training form, before re-parameterisation)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible summary (no tensors)."""
        return {
            "model_config": self.model_config.to_dict(),
            "train_config": self.train_config.to_dict(),
            "seed": self.seed,
            "task": self.task,
            "head": self.head,
            "n_features": self.n_features,
            "n_outputs": self.n_outputs,
            "metrics": dict(self.metrics),
            "loss_curve": list(self.loss_curve),
            "epoch_times_s": list(self.epoch_times_s),
        }


def lr_factor(progress: float, warmup_fraction: float) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1]: linear warmup, then cosine decay."""
    progress = min(max(progress, 0.0), 1.0)
    if warmup_fraction > 0 and progress < warmup_fraction:
        return max(progress / warmup_fraction, 1e-3)
    rest = (progress - warmup_fraction) / max(1e-9, 1.0 - warmup_fraction)
    return FINAL_LR_FRACTION + (1.0 - FINAL_LR_FRACTION) * 0.5 * (1.0 + math.cos(math.pi * rest))


def prune_schedule(progress: float, target: float) -> float:
    """Weight sparsity to hold at ``progress``: a cubic ramp from 0 to ``target`` (Zhu & Gupta 2017)."""
    if target <= 0 or progress <= PRUNE_START_FRACTION:
        return 0.0
    ramp = min(1.0, (progress - PRUNE_START_FRACTION) / (PRUNE_END_FRACTION - PRUNE_START_FRACTION))
    return target * (1.0 - (1.0 - ramp) ** 3)


def prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """Synaptic weights subject to pruning: the prunable weights ``codesign.snn.synaptic_weights``
    names (every ``nn.Linear`` and ``nn.Conv1d`` weight; its float original where QAT parametrizes it)."""
    from torch.nn.utils import parametrize

    out: dict[str, nn.Parameter] = {}
    for path, module, name in synaptic_weights(model, prunable_only=True):
        key = f"{path}.{name}" if path else name
        if parametrize.is_parametrized(module, name):
            out[key] = module.get_parameter(f"parametrizations.{name}.original")
        else:
            out[key] = module.get_parameter(name)
    return out


@torch.no_grad()
def magnitude_masks(weights: dict[str, nn.Parameter], sparsity: float) -> dict[str, torch.Tensor]:
    """Per layer, keep the largest-magnitude ``1 - sparsity`` of the weights (ties by index)."""
    masks = {}
    for name, weight in weights.items():
        n_zero = round(sparsity * weight.numel())
        mask = torch.ones(weight.numel(), dtype=torch.bool)
        if n_zero > 0:
            order = torch.argsort(weight.detach().abs().flatten(), stable=True)
            mask[order[:n_zero]] = False
        masks[name] = mask.reshape(weight.shape)
    return masks


@torch.no_grad()
def apply_masks(weights: dict[str, nn.Parameter], masks: dict[str, torch.Tensor]) -> None:
    for name, mask in masks.items():
        weights[name].mul_(mask)


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of zero weights over the prunable (synaptic) weights."""
    weights = prunable_weights(model)
    total = sum(w.numel() for w in weights.values())
    return 1.0 - sum(int((w != 0).sum()) for w in weights.values()) / max(1, total)


def _batch(split: CorpusSplit, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
    lengths = split.feature_lengths[index]
    frames = int(lengths.max())
    targets = split.targets[index]
    target_lengths = split.target_lengths[index]
    if targets.ndim == 2:
        targets = targets[:, : max(1, int(target_lengths.max()))]
    return split.features[index, :frames], lengths, targets, target_lengths


def _loss(out: torch.Tensor, out_lengths: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor,
          head: str, label_smoothing: float = 0.0) -> torch.Tensor:
    if head == "classify":
        return F.cross_entropy(out, targets, label_smoothing=label_smoothing)
    # zero_infinity: an alignment made impossible by a repeated token only drops that utterance.
    return F.ctc_loss(out.transpose(0, 1), targets, out_lengths, target_lengths, blank=0,
                      reduction="mean", zero_infinity=True)


@torch.no_grad()
def score_split(model: nn.Module, split: CorpusSplit, head: str, vocabulary: tuple[str, ...]) -> dict[str, float]:
    """Task metrics of ``model`` on ``split``: ``accuracy``, or ``wer`` and ``cer`` (greedy CTC),
    and ``distinct_outputs``: how many different answers it gave (classes predicted, or
    distinct transcripts, the empty one included); 1 marks a network that says one thing
    whatever it hears (``codesign.search.is_degenerate``).

    Raises:
        ValueError: an empty split.
    """
    if len(split) == 0:
        raise ValueError("cannot evaluate on an empty split")
    model.eval()
    outputs: list[torch.Tensor] = []
    refs: list[list[int]] = []
    hyps: list[list[int]] = []
    for start in range(0, len(split), EVAL_BATCH):
        index = torch.arange(start, min(len(split), start + EVAL_BATCH))
        features, lengths, targets, target_lengths = _batch(split, index)
        out, out_lengths = model(features, lengths)
        if head == "classify":
            outputs.append(out)
        else:
            hyps.extend(ctc_greedy_decode(out, out_lengths, blank=0))
            refs.extend(row[: int(n)].tolist() for row, n in zip(targets, target_lengths, strict=True))
    if head == "classify":
        return _classification_metrics(torch.cat(outputs), split.targets, vocabulary)
    return _ctc_metrics(refs, hyps, vocabulary)


def _classification_metrics(logits: torch.Tensor, targets: torch.Tensor, vocabulary: tuple[str, ...]) -> dict[str, float]:
    """``accuracy``, ``distinct_outputs`` and, where the vocabulary has ``unknown``, its recall."""
    metrics = {"accuracy": accuracy(logits, targets),
               "distinct_outputs": float(len(torch.unique(logits.argmax(dim=-1))))}
    # how often a word outside the keywords is answered `unknown` (a network can score well
    # on the keywords and still call every unknown word a keyword)
    from codesign.data import UNKNOWN

    recall = class_recall(logits, targets, vocabulary.index(UNKNOWN)) if UNKNOWN in vocabulary else None
    if recall is not None:
        metrics["unknown_recall"] = recall
    return metrics


def _ctc_metrics(refs: list[list[int]], hyps: list[list[int]], vocabulary: tuple[str, ...]) -> dict[str, float]:
    """``wer``, ``cer`` and ``distinct_outputs`` (distinct transcripts) of greedy CTC decodes."""
    ref_words = [[vocabulary[t] for t in r] for r in refs]
    hyp_words = [[vocabulary[t] for t in h] for h in hyps]
    return {
        "wer": word_error_rate(ref_words, hyp_words),
        "cer": char_error_rate([" ".join(r) for r in ref_words], [" ".join(h) for h in hyp_words]),
        "distinct_outputs": float(len({tuple(h) for h in hyps})),
    }


def score_splits(model: nn.Module, corpus: Corpus, head: str, splits: tuple[str, ...]) -> dict[str, float]:
    """:func:`score_split` on each of ``splits``, keyed ``<split>_<metric>`` (``validation_accuracy``...)."""
    metrics: dict[str, float] = {}
    for name in splits:
        for key, value in score_split(model, corpus.split(name), head, tuple(corpus.vocabulary)).items():
            metrics[f"{name}_{key}"] = value
    return metrics


@dataclass(frozen=True, eq=False)
class TrainCheckpoint:
    """Everything needed to continue a run exactly where it stopped (a rung of a multi-fidelity
    search): continuing gives the same weights, metrics and loss curve as one uninterrupted run.

    ``state`` maps names to tensors and plain values only, so it round-trips through
    ``torch.save``/``torch.load(weights_only=True)`` (:func:`save_checkpoint`, :func:`load_checkpoint`).
    """

    state: dict[str, Any]

    @property
    def epoch(self) -> int:
        return int(self.state["epoch"])


def resolve_device(budget: TrainConfig) -> torch.device:
    """The device ``budget.device`` asks for: ``auto`` is CUDA when available, else CPU.

    Raises:
        ValueError: ``cuda`` asked for where torch sees no GPU.
    """
    if budget.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("fidelity.device is 'cuda' but torch sees no CUDA device here")
    if budget.device in ("cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def train(
    model: ModelConfig,
    corpus: Corpus,
    budget: TrainConfig,
    seed: int,
    progress: bool = False,
    *,
    until_epoch: int | None = None,
    resume: TrainCheckpoint | None = None,
) -> TrainResult:
    """Train ``model`` on ``corpus`` within ``budget`` and score it on validation and test.

    The learning-rate schedule and the pruning ramp always span ``budget.epochs``; with
    ``until_epoch`` the run stops (and is scored) after that epoch and its ``checkpoint``
    continues it, so a run stopped at epoch 3 and resumed to 9 equals a run straight to 9.

    Args:
        model: the network to build (``codesign.snn.build_model``).
        corpus: the task; ``corpus.kind`` picks the head (classification or CTC).
        budget: epochs (or seconds: load-dependent), batch size, optimiser settings, threads,
            QAT bits, device. With ``qat_weight_bits`` below 32 the run is the float run of the
            budget, then a fine-tune of ``ceil(epochs * QAT_FINETUNE_FRACTION)`` more epochs
            (``ceil(epochs/3)``) on that weight grid (:func:`_finetune_session`): it trains
            ``1 + ceil(epochs/3)/epochs`` of the float epochs, and its ``epochs_completed`` and
            loss curve hold both parts.
        seed: seeds initialisation and batch order; equal seeds give equal results on CPU.
        progress: show a progress bar.
        until_epoch: stop after this epoch (a rung), at most ``budget.epochs``.
        resume: continue from a checkpoint of the same model, corpus, budget and seed.

    Returns:
        The result, holding the trained model in eval mode and the checkpoint to go on.

    Raises:
        TrainingDiverged: the loss or the gradient norm became NaN or infinite.
        ValueError: the corpus cannot be trained on (empty split, outputs shorter than
            targets), ``until_epoch``/``resume`` do not fit the budget, or QAT bits for a
            GRU/LSTM reference (refused before any training).
    """
    with _torch_threads(budget.threads):
        return _train(model, corpus, budget, seed, progress, until_epoch, resume)


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run the block with torch's intra-op threads set to ``threads`` (a budget's), then restore them."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)


def _refuse_qat_of_hidden_state(net: nn.Module, bits: int | None) -> None:
    """QAT (bits other than None or float) of a network holding a hidden state (the GRU/LSTM
    references) is refused: the chip models have no quantised recurrent weights for them."""
    if bits is not None and bits != FLOAT_BITS and holds_hidden_state(net):
        raise ValueError("quantisation-aware training of the gru/lstm references is not supported; use precision: ptq")


def _fused_qat_modules(net: nn.Module) -> list[nn.Module]:
    """Modules that the chip runs in a fused form and that train that form themselves under QAT
    (a ``set_qat_weight_bits`` method: the re-parameterisable projections)."""
    return [m for m in net.modules() if callable(getattr(m, "set_qat_weight_bits", None))]


def _qat_parametrize(net: nn.Module, bits: int | None, wide_bits: int | None = None, tap_scales: bool = False) -> bool:
    """Train on the weights the chip holds (QAT); True when applied.

    A module the chip runs fused (``_fused_qat_modules``) fake-quantises its fused weight
    itself; every other synaptic weight is fake-quantised in the forward pass by a
    parametrization. Either way the quantiser is ``quantise_weight``, the one scoring uses, at
    the bits ``quantise_network`` holds the layer in: ``wide_bits`` for the wide layers
    (``wide_weight_modules``) where given, else ``bits``; with ``tap_scales`` the wide layers
    have a scale per (output channel, kernel tap) (``Precision.tap_scales``).
    """
    from torch.nn.utils import parametrize

    from codesign.snn import FLOAT_BITS, Precision, WeightFakeQuant, wide_weight_modules

    if bits is None or bits == FLOAT_BITS:
        return False
    _refuse_qat_of_hidden_state(net, bits)
    precision = Precision(weight_bits=bits, wide_weight_bits=wide_bits, tap_scales=tap_scales)
    wide = wide_weight_modules(net)
    inside_fused: set[int] = set()
    for module in _fused_qat_modules(net):
        module.set_qat_weight_bits(  # type: ignore[operator]  # found by duck typing above
            precision.bits_of(id(module) in wide), precision.per_tap(id(module) in wide))
        inside_fused.update(id(m) for m in module.modules())
    for _, module, name in list(synaptic_weights(net, prunable_only=True)):
        if id(module) not in inside_fused:
            parametrize.register_parametrization(module, name, WeightFakeQuant(
                precision.bits_of(id(module) in wide), precision.per_tap(id(module) in wide)))
    return True


def _qat_remove(net: nn.Module) -> None:
    """Drop the QAT parametrizations, keeping the float weights they quantise (so the saved
    weights load into a plain model, and scoring quantises them the same way again)."""
    from torch.nn.utils import parametrize

    from codesign.snn import FLOAT_BITS

    for module in _fused_qat_modules(net):
        module.set_qat_weight_bits(FLOAT_BITS)  # type: ignore[operator]  # found by duck typing
    for module in list(net.modules()):
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)


@dataclass(frozen=True)
class _StopPolicy:
    """When a run stops, and how far through its budget it is (the clock of the schedules).

    Attributes:
        total_steps: steps of the whole epoch budget (None: a seconds budget only).
        seconds: the wall-time budget, if any (load-dependent).
        stop_epoch: the epoch after which this call stops (a rung, else the budget's last).
        completes_budget: this call runs to the end of the budget (so it also scores test).
    """

    total_steps: int | None
    seconds: float | None
    stop_epoch: int | None
    completes_budget: bool

    @classmethod
    def of(cls, budget: TrainConfig, steps_per_epoch: int, until_epoch: int | None) -> _StopPolicy:
        stop_epoch = until_epoch if until_epoch is not None else budget.epochs
        return cls(
            total_steps=budget.epochs * steps_per_epoch if budget.epochs is not None else None,
            seconds=budget.seconds,
            stop_epoch=stop_epoch,
            completes_budget=stop_epoch is None or stop_epoch == budget.epochs,
        )

    def progress(self, step: int, elapsed_s: float) -> float:
        """The fraction of the budget spent: the larger of steps and seconds, where each is set."""
        parts = []
        if self.total_steps is not None:
            parts.append(step / self.total_steps)
        if self.seconds is not None:
            parts.append(elapsed_s / self.seconds)
        return max(parts)

    def budget_spent(self, step: int, elapsed_s: float) -> bool:
        """Whether the step or seconds budget is used up (checked after every step)."""
        return (self.total_steps is not None and step >= self.total_steps) or (
            self.seconds is not None and elapsed_s >= self.seconds
        )

    def epoch_reached(self, epoch: int) -> bool:
        """Whether the run stops after ``epoch`` completed epochs."""
        return self.stop_epoch is not None and epoch >= self.stop_epoch


@dataclass
class _Pruner:
    """Gradual magnitude pruning: follows :func:`prune_schedule` and holds its masks.

    Masks are recomputed only when the scheduled sparsity has grown by at least 1 % (or
    reached the target), and re-applied after every optimiser step.
    """

    weights: dict[str, nn.Parameter]
    target_sparsity: float
    held_sparsity: float = 0.0
    masks: dict[str, torch.Tensor] = field(default_factory=dict)

    def follow(self, progress: float) -> None:
        """Prune to the schedule at ``progress`` and apply the held masks."""
        target = prune_schedule(progress, self.target_sparsity)
        reached = target >= self.target_sparsity > self.held_sparsity
        if target - self.held_sparsity >= 0.01 or (target > 0 and reached):
            self.masks = magnitude_masks(self.weights, target)
            self.held_sparsity = target
        if self.masks:
            apply_masks(self.weights, self.masks)

    def finish(self) -> None:
        """Prune to the target (a seconds budget may stop before the ramp ends)."""
        if self.target_sparsity > 0:
            apply_masks(self.weights, magnitude_masks(self.weights, self.target_sparsity))


@dataclass
class _RunState:
    """What a run has done so far; with the model, optimiser and RNG states, a checkpoint."""

    step: int = 0
    epoch: int = 0
    loss_curve: list[float] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)


def _batch_loss(net: nn.Module, batch: tuple[torch.Tensor, ...], head: str, cfg: ModelConfig,
                run: _RunState, budget: TrainConfig, teacher: _Teacher | None = None) -> torch.Tensor:
    """The training loss of one batch: the task loss plus the activity regulariser, plus, with a
    ``teacher`` (QAT's fine-tune), the distillation terms (:meth:`_Teacher.loss`).

    Raises:
        ValueError: CTC outputs shorter than their targets (checked on the first step).
        TrainingDiverged: the loss is NaN or infinite.
    """
    features, lengths, targets, target_lengths = batch
    out, out_lengths = net(features, lengths)
    if head == "ctc" and run.step == 0 and bool((out_lengths < target_lengths).any()):
        raise ValueError(
            "the model's output frames are fewer than the target tokens for some utterances; "
            "lower subsample or use longer utterances"
        )
    loss = _loss(out, out_lengths, targets, target_lengths, head, budget.label_smoothing)
    if teacher is not None:
        loss = loss + teacher.loss(out, features, lengths, out_lengths, head)
    if cfg.activity_target is not None and cfg.activity_weight > 0:
        rates = firing_rates(net)
        if rates:
            penalty = torch.stack([(r - cfg.activity_target) ** 2 for r in rates]).mean()
            loss = loss + cfg.activity_weight * penalty
    if not torch.isfinite(loss):
        raise TrainingDiverged(
            f"loss became {loss.item()} at epoch {run.epoch + 1}, step {run.step + 1} "
            f"(learning_rate={budget.learning_rate}); the run has no score"
        )
    return loss


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor, head: str,
                      temperature: float) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015): ``T² · KL(p_teacher,T ‖ p_student,T)``, the
    outputs softened at temperature ``T``; per utterance (``classify``: logits ``[B, V]``) or per
    output frame within ``lengths`` (``ctc``: log-probabilities ``[B, L, V]``, frames past an
    utterance's length masked out), averaged. The ``T²`` keeps its gradient's scale that of the
    task loss (Hinton et al.)."""
    log_p_student = F.log_softmax(student / temperature, dim=-1)
    log_p_teacher = F.log_softmax(teacher / temperature, dim=-1)
    per_item = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=-1)
    if head == "classify":
        return temperature**2 * per_item.mean()
    frames = torch.arange(per_item.shape[1], device=per_item.device)[None, :] < lengths.to(per_item.device)[:, None]
    return temperature**2 * (per_item * frames).sum() / frames.sum().clamp_min(1)


def feature_distillation_loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """Mean over paired layer outputs of ``mean((s − t)²) / (var(s) + var(t))`` (``s`` held
    constant in the denominator): how far each of the student's layers is from the teacher's,
    relative to both outputs' spread, so at most about 2 whatever their scales while their means
    agree (a teacher scored with running batch-norm statistics that a short run has not settled
    can be far smaller than its student under batch statistics; relative to the teacher's spread
    alone that gap was 1000× the task loss). A mean offset between them is not in the
    denominator and can lift the term above 2; ``mean(s²) + mean(t²)`` would bound it, but the
    2-bit figures in precision.json were measured with this form."""
    if len(student) != len(teacher) or not student:
        raise ValueError(f"paired layer outputs expected, got {len(student)} and {len(teacher)}")
    terms = [((s - t) ** 2).mean() / (s.detach().var() + t.var() + 1e-6)
             for s, t in zip(student, teacher, strict=True)]
    return torch.stack(terms).mean()


@dataclass
class _Teacher:
    """The float run's network, frozen (eval mode, no gradients), that QAT's fine-tune distils
    into the network on the grid (``QAT_DISTIL_*``): the outputs (:func:`distillation_loss`) and
    the outputs of the layers the chip runs fused (:func:`feature_distillation_loss`), which
    hold the grid worst (docs/models.md). Hooks on both networks keep those layers' outputs for
    one step; :meth:`close` removes them."""

    net: nn.Module
    student_layers: list[torch.Tensor] = field(default_factory=list)
    teacher_layers: list[torch.Tensor] = field(default_factory=list)
    hooks: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, student: nn.Module) -> _Teacher:
        """A frozen copy of ``student`` as it is now, hooked to it."""
        net = copy.deepcopy(student).eval()
        for param in net.parameters():
            param.requires_grad_(False)
        teacher = cls(net)
        if QAT_FEATURE_DISTIL_WEIGHT > 0:
            for module, kept in [(m, teacher.student_layers) for m in _fused_qat_modules(student)] + [
                    (m, teacher.teacher_layers) for m in _fused_qat_modules(net)]:
                teacher.hooks.append(module.register_forward_hook(functools.partial(_keep_output, kept)))
        return teacher

    def loss(self, out: torch.Tensor, features: torch.Tensor, lengths: torch.Tensor, out_lengths: torch.Tensor,
             head: str) -> torch.Tensor:
        """The distillation terms of a step whose student forward gave ``out`` on ``features``."""
        with torch.no_grad():
            teacher_out, _ = self.net(features, lengths)
        term = QAT_DISTIL_WEIGHT * distillation_loss(out, teacher_out, out_lengths, head, QAT_DISTIL_TEMPERATURE)
        if self.student_layers:
            term = term + QAT_FEATURE_DISTIL_WEIGHT * feature_distillation_loss(self.student_layers,
                                                                                self.teacher_layers)
        self.student_layers.clear()
        self.teacher_layers.clear()
        return term

    def close(self) -> None:
        """Remove the hooks (the student is scored and kept without them)."""
        for hook in self.hooks:
            hook.remove()
        self.hooks.clear()
        self.student_layers.clear()
        self.teacher_layers.clear()


def _keep_output(kept: list[torch.Tensor], module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
    """A forward hook: append ``output`` to ``kept``."""
    kept.append(output)


def _backward(net: nn.Module, loss: torch.Tensor, optimiser: torch.optim.Optimizer, grad_clip: float,
              step: int) -> None:
    """Gradients of ``loss``, clipped to ``grad_clip``.

    Raises:
        TrainingDiverged: the gradient norm is NaN or infinite.
    """
    optimiser.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]  # torch: Tensor.backward is unannotated
    grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    if not torch.isfinite(grad_norm):
        raise TrainingDiverged(f"gradient norm became {float(grad_norm)} at step {step + 1}")


def _restore(resume: TrainCheckpoint, net: nn.Module, optimiser: torch.optim.Optimizer,
             generator: torch.Generator, pruner: _Pruner, device: torch.device) -> _RunState:
    """Load a checkpoint into the run's model, optimiser, RNGs and pruner; its counters."""
    state = resume.state
    net.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    pruner.held_sparsity = float(state["held_sparsity"])
    pruner.masks = {k: v.to(device) for k, v in state["masks"].items()}
    return _RunState(
        step=int(state["step"]), epoch=int(state["epoch"]),
        loss_curve=[float(x) for x in state["loss_curve"]], epoch_times=[float(x) for x in state["epoch_times"]],
    )


def _checkpoint(net: nn.Module, optimiser: torch.optim.Optimizer, generator: torch.Generator,
                pruner: _Pruner, run: _RunState) -> TrainCheckpoint:
    """The state that continues this run exactly (see :class:`TrainCheckpoint`)."""
    return TrainCheckpoint({
        "model": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "optimiser": optimiser.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "step": run.step, "epoch": run.epoch, "held_sparsity": pruner.held_sparsity,
        "masks": {k: v.cpu() for k, v in pruner.masks.items()},
        "loss_curve": list(run.loss_curve), "epoch_times": list(run.epoch_times),
    })


def _run_figures(net: nn.Module, run: _RunState, rates: list[float], wall_s: float,
                 steps_per_epoch: int) -> dict[str, float]:
    """The run's own figures beside the task metrics (``final_loss`` ... ``steps``)."""
    full_epochs = [t for t, _ in zip(run.epoch_times, range(run.step // steps_per_epoch), strict=False)]
    return {
        "final_loss": run.loss_curve[-1],
        "weight_sparsity": weight_sparsity(net),
        "firing_rate": sum(rates) / len(rates) if rates else 0.0,
        "wall_time_s": wall_s,
        "time_per_epoch_s": (sum(full_epochs) / len(full_epochs)) if full_epochs
        else wall_s * steps_per_epoch / run.step,
        "epochs_completed": run.step / steps_per_epoch,
        "steps": float(run.step),
    }


@dataclass
class _Session:
    """One training call's moving parts: the network, its optimiser, RNG, pruner, stop policy
    and counters, and the budget and config they follow."""

    net: nn.Module
    optimiser: torch.optim.Optimizer
    generator: torch.Generator
    pruner: _Pruner
    stop: _StopPolicy
    run: _RunState
    budget: TrainConfig
    cfg: ModelConfig
    head: str
    device: torch.device
    teacher: _Teacher | None = None
    start: float = field(default_factory=time.perf_counter)

    def progress(self) -> float:
        """The fraction of the budget spent now (see :meth:`_StopPolicy.progress`)."""
        return self.stop.progress(self.run.step, time.perf_counter() - self.start)


def _train_step(session: _Session, batch: tuple[torch.Tensor, ...]) -> None:
    """One optimiser step on ``batch``: loss, clipped gradients, the scheduled learning rate,
    then pruning to the schedule."""
    budget, run = session.budget, session.run
    loss = _batch_loss(session.net, batch, session.head, session.cfg, run, budget, session.teacher)
    _backward(session.net, loss, session.optimiser, budget.grad_clip, run.step)
    scale = lr_factor(session.progress(), budget.warmup_fraction)
    for group in session.optimiser.param_groups:
        group["lr"] = budget.learning_rate * scale
    session.optimiser.step()
    run.step += 1
    run.loss_curve.append(float(loss.detach()))
    session.pruner.follow(session.progress())


def _train_epoch(session: _Session, split: CorpusSplit, bar: tqdm[None]) -> bool:
    """One epoch (or its part up to the budget's end) in a seeded order; True when the run stops."""
    epoch_start = time.perf_counter()
    session.net.train()
    n_train, batch_size = len(split), session.budget.batch_size
    order = torch.randperm(n_train, generator=session.generator)
    done = False
    augment = session.budget.spec_augment
    for first in range(0, n_train, batch_size):
        batch = _batch(split, order[first : first + batch_size])
        if augment is not None:  # masks from the run's generator: a checkpoint continues them
            batch = (spec_augment(batch[0], batch[1], augment, session.generator), *batch[1:])
        _train_step(session, tuple(t.to(session.device) for t in batch))
        bar.update(1)
        done = session.stop.budget_spent(session.run.step, time.perf_counter() - session.start)
        if done:
            break
    session.run.epoch_times.append(time.perf_counter() - epoch_start)
    session.run.epoch += 1
    return done or session.stop.epoch_reached(session.run.epoch)


def _open_session(
    cfg: ModelConfig, corpus: Corpus, budget: TrainConfig, seed: int, head: Head,
    until_epoch: int | None, resume: TrainCheckpoint | None,
) -> _Session:
    """The seeded network, optimiser, pruner and stop policy of a run (continued from ``resume``).

    Raises:
        ValueError: an empty training split, or ``until_epoch``/``resume`` that do not fit the budget.
    """
    n_train = len(corpus.train)
    if n_train == 0:
        raise ValueError("the training split is empty")
    if until_epoch is not None and (budget.epochs is None or not 1 <= until_epoch <= budget.epochs):
        raise ValueError(f"until_epoch in 1..epochs ({budget.epochs}), got {until_epoch}")
    device = resolve_device(budget)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = build_model(cfg, corpus.n_features, len(corpus.vocabulary), head)
    net.to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=budget.learning_rate, weight_decay=budget.weight_decay)
    stop = _StopPolicy.of(budget, math.ceil(n_train / budget.batch_size), until_epoch)
    pruner = _Pruner(prunable_weights(net), cfg.prune_ratio)
    run = _RunState()
    if resume is not None:
        run = _restore(resume, net, optimiser, generator, pruner, device)
        if until_epoch is not None and until_epoch <= run.epoch:
            raise ValueError(f"the checkpoint is at epoch {run.epoch}; until_epoch must be later, got {until_epoch}")
    return _Session(net, optimiser, generator, pruner, stop, run, budget, cfg, head, device)


def _qat_bits(budget: TrainConfig) -> int | None:
    """The weight bits a run fine-tunes on (quantisation-aware training), None for float training."""
    bits = budget.qat_weight_bits
    return None if bits is None or bits == FLOAT_BITS else bits


def _finetune_session(float_session: _Session, budget: TrainConfig, bits: int, steps_per_epoch: int) -> _Session:
    """The QAT fine-tune after the float budget: the same network on the grid (the fused
    projections quantise themselves, the other synaptic weights through parametrizations), a
    fresh AdamW at ``qat_finetune_lr_fraction(bits)`` of the learning rate without warmup, for
    ``QAT_FINETUNE_FRACTION`` of the budget (``ceil(epochs/3)`` epochs); the float run's batch
    order goes on and its pruning holds at the target: every weight the float run pruned (the
    parametrized ones' float originals included) stays zero. On the ternary grid
    (``qat_distils``) the float run's network, frozen, is distilled into it (:class:`_Teacher`).
    """
    net, device, cfg = float_session.net, float_session.device, float_session.cfg
    teacher = _Teacher.of(net) if qat_distils(bits) else None  # the float run's network, before the grid
    # FLOAT_BITS: the same fine-tune in float (finetune_control)
    _qat_parametrize(net, bits, budget.qat_wide_weight_bits if bits != FLOAT_BITS else None,
                     budget.qat_tap_scales and bits != FLOAT_BITS)
    tune = budget.model_copy(update={
        "epochs": None if budget.epochs is None else max(1, math.ceil(budget.epochs * QAT_FINETUNE_FRACTION)),
        "seconds": None if budget.seconds is None else budget.seconds * QAT_FINETUNE_FRACTION,
        "learning_rate": budget.learning_rate * qat_finetune_lr_fraction(bits),
        "warmup_fraction": 0.0,
    })
    optimiser = torch.optim.AdamW(net.parameters(), lr=tune.learning_rate, weight_decay=tune.weight_decay)
    pruner = _Pruner(prunable_weights(net), cfg.prune_ratio)
    if cfg.prune_ratio > 0:  # pruned in the float run: the fine-tune keeps those weights at zero
        pruner.masks = magnitude_masks(pruner.weights, cfg.prune_ratio)
        pruner.held_sparsity = cfg.prune_ratio
    stop = _StopPolicy.of(tune, steps_per_epoch, None)
    return _Session(net, optimiser, float_session.generator, pruner, stop, _RunState(), tune, cfg,
                    float_session.head, device, teacher)


def _run_session(session: _Session, corpus: Corpus, progress: bool, desc: str) -> None:
    """Train ``session`` epoch by epoch until its stop policy says so."""
    bar = tqdm(total=session.stop.total_steps, initial=session.run.step, disable=not progress, desc=desc, unit="step")
    done = False
    try:
        while not done:
            done = _train_epoch(session, corpus.train, bar)
    finally:
        bar.close()


def finetune_control(
    model: ModelConfig, corpus: Corpus, budget: TrainConfig, seed: int, progress: bool = False,
    *, until_epoch: int | None = None, resume: TrainCheckpoint | None = None,
) -> TrainResult:
    """The float run of ``budget``, then QAT's fine-tune with the weights left in float: the
    control that tells what QAT's extra epochs give from what its grid costs (the precision
    benchmark's ``finetuned_float``), and the training of a 32-bit (float) chip in a
    ``precision: qat`` study, so that every width there trains the same epochs.

    Arguments and result as :func:`train` (``budget.qat_weight_bits`` is ignored); stopped at a
    rung (``until_epoch``), it is its float run so far, as a QAT run is.
    """
    float_budget = budget.without_qat()
    with _torch_threads(budget.threads):
        return _train(model, corpus, float_budget, seed, progress, until_epoch, resume, finetune_bits=FLOAT_BITS)


def _train(
    cfg: ModelConfig, corpus: Corpus, budget: TrainConfig, seed: int, progress: bool,
    until_epoch: int | None, resume: TrainCheckpoint | None, finetune_bits: int | None = None,
) -> TrainResult:
    """Float training over the budget; with ``qat_weight_bits`` (and the budget completed), then
    the QAT fine-tune (:func:`_finetune_session`). A QAT run stopped at a rung is its float run so far.
    ``finetune_bits`` (:func:`finetune_control`) fine-tunes at other bits than the budget's."""
    head: Head = "ctc" if corpus.kind == "ctc" else "classify"
    bits = _qat_bits(budget) if finetune_bits is None else finetune_bits
    float_budget = budget.without_qat() if bits is not None else budget
    session = _open_session(cfg, corpus, float_budget, seed, head, until_epoch, resume)
    # refused before the float run, not after it: a rung of such a run would pass as PTQ
    _refuse_qat_of_hidden_state(session.net, bits)
    steps_per_epoch = math.ceil(len(corpus.train) / budget.batch_size)
    _run_session(session, corpus, progress, f"train {cfg.family}/{cfg.variant}")
    return _finish(session, corpus, budget, seed, bits, progress, steps_per_epoch, earlier_wall_s=0.0)


def finetune(
    model: ModelConfig, corpus: Corpus, budget: TrainConfig, seed: int, start: TrainCheckpoint,
    progress: bool = False,
) -> TrainResult:
    """Only the fine-tune of a QAT run (or of :func:`finetune_control`, for ``qat_weight_bits``
    32), from the checkpoint of the float run that completed ``budget`` (``TrainResult.checkpoint``
    of a float :func:`train` of the same model, corpus, budget less its QAT bits, and seed).

    The result equals ``train`` (or ``finetune_control``) of ``budget`` straight through, weights
    and metrics, bar the wall times: the checkpoint holds the batch order's and torch's RNG states,
    so one float run serves every weight width of a ``precision: qat`` study. Its ``wall_time_s``
    is the float run's epochs plus this fine-tune; its ``checkpoint`` is ``start`` again.

    Raises:
        ValueError: ``budget`` asks for no QAT bits, the checkpoint is not at the last epoch of
            an epoch budget, or QAT bits for a GRU/LSTM reference.
    """
    bits = budget.qat_weight_bits
    if bits is None:
        raise ValueError("finetune needs qat_weight_bits (32: the float fine-tune of finetune_control)")
    if budget.seconds is None and budget.epochs is not None and start.epoch != budget.epochs:
        raise ValueError(f"the float run's checkpoint is at epoch {start.epoch}, not the budget's {budget.epochs}")
    head: Head = "ctc" if corpus.kind == "ctc" else "classify"
    float_budget = budget.without_qat()
    with _torch_threads(budget.threads):
        session = _open_session(model, corpus, float_budget, seed, head, None, start)
        _refuse_qat_of_hidden_state(session.net, bits)
        steps_per_epoch = math.ceil(len(corpus.train) / budget.batch_size)
        # finetune_control's result names the float budget it trained
        return _finish(session, corpus, float_budget if bits == FLOAT_BITS else budget, seed, bits, progress,
                       steps_per_epoch, earlier_wall_s=sum(session.run.epoch_times))


def _finish(session: _Session, corpus: Corpus, budget: TrainConfig, seed: int, bits: int | None, progress: bool,
            steps_per_epoch: int, earlier_wall_s: float) -> TrainResult:
    """After the float run of ``session`` (stopped at a rung or at the budget's end): its
    checkpoint, then, at the budget's end, pruning to the target and the fine-tune at ``bits``
    (None: none), and the scored result. ``earlier_wall_s``: wall time of the float run before
    this call (a run continued from its checkpoint)."""
    cfg, head = session.cfg, session.head
    net, stop, run, pruner = session.net, session.stop, session.run, session.pruner
    start = session.start
    checkpoint = _checkpoint(net, session.optimiser, session.generator, pruner, run)
    if stop.completes_budget:
        pruner.finish()
        if bits is not None:
            tune = _finetune_session(session, budget, bits, steps_per_epoch)
            try:
                _run_session(tune, corpus, progress,
                             "float fine-tune" if bits == FLOAT_BITS else f"qat {bits}-bit fine-tune")
                tune.pruner.finish()
            finally:  # a fine-tune that raises (e.g. diverges) leaves no hook or grid on the network
                if tune.teacher is not None:
                    tune.teacher.close()
                _qat_remove(net)
            run = _RunState(step=run.step + tune.run.step, epoch=run.epoch + tune.run.epoch,
                            loss_curve=run.loss_curve + tune.run.loss_curve,
                            epoch_times=run.epoch_times + tune.run.epoch_times)
    rates = [float(r.detach()) for r in firing_rates(net)]
    net.to("cpu")
    wall = earlier_wall_s + time.perf_counter() - start
    net.eval()
    # a run stopped at a rung is only ranked (validation); the full budget also scores test
    metrics = score_splits(net, corpus, head, ("validation", "test") if stop.completes_budget else ("validation",))
    metrics.update(_run_figures(net, run, rates, wall, steps_per_epoch))
    return TrainResult(
        model_config=cfg,
        train_config=budget,
        seed=seed,
        task=corpus.task,
        head=head,
        n_features=corpus.n_features,
        n_outputs=len(corpus.vocabulary),
        metrics=metrics,
        loss_curve=tuple(run.loss_curve),
        epoch_times_s=tuple(run.epoch_times),
        model=net,
        checkpoint=checkpoint,
    )


#: Training utterances a quantised network's state ranges are calibrated on.
CALIBRATION_UTTERANCES = 64


def score_at_precision(
    model: nn.Module, corpus: Corpus, head: str, precision: Precision,
    calibration_utterances: int = CALIBRATION_UTTERANCES,
    splits: tuple[str, ...] = ("validation", "test"),
) -> tuple[dict[str, float], nn.Module]:
    """Score ``model`` as a chip of ``precision`` computes it (post-training quantisation of a
    float network, or scoring of a QAT network at its bits).

    State ranges are calibrated on the first ``calibration_utterances`` training utterances
    (never on the split that is scored). ``splits`` names the splits scored (a search's rung
    needs only validation).

    Returns:
        ``(metrics, quantised network)``: ``validation_*``/``test_*`` task metrics,
        ``state_overflow_rate`` (saturated state updates over all, on validation and test),
        ``weight_bits`` and ``state_bits``; the network is the fused, quantised copy (for tracing).

    Raises:
        ValueError: a precision the network cannot be held in (see ``quantise_network``).
    """
    from codesign.snn import quantise_network, reset_state_counters, state_overflow_rate

    calibration = corpus.train
    n = min(calibration_utterances, len(calibration))

    def run(net: nn.Module) -> None:
        for first in range(0, n, EVAL_BATCH):
            features, lengths, _, _ = _batch(calibration, torch.arange(first, min(n, first + EVAL_BATCH)))
            net(features, lengths)

    net, _ = quantise_network(model, precision, calibrate=run)
    reset_state_counters(net)
    metrics = score_splits(net, corpus, head, splits)
    metrics.update(
        state_overflow_rate=state_overflow_rate(net),
        weight_bits=float(precision.weight_bits),
        state_bits=float(precision.state_bits),
    )
    reset_state_counters(net)
    return metrics, net
