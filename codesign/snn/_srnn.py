"""The improved-recurrence spiking RNN (Ponghiran & Roy, AAAI 2022) and its GRU/LSTM references.

Owns :class:`ImprovedRecurrenceLayer`, whose neuron keeps a synaptic current with a learnt,
input-dependent forget gate and a soft-reset membrane::

    F[n] = σ(BN(W_f x̃[n]) + U_f y[n−1])
    C[n] = ReLU(BN(W_c x̃[n]) + U_c y[n−1])
    I[n] = F[n] ⊙ I[n−1] + (1 − F[n]) ⊙ C[n]
    U[n] = U[n−1] − y[n−1] + I[n]
    y[n] = Q(U[n])                       (multi-bit quantiser, codesign.snn._quant)

and :class:`SRNNModel`: frame stacking, input quantisation with error feedback (of each frame,
or of the stacked input's change since the previous step: a delta code that the first layer
integrates), 1–3 layers, and a classification or CTC head. Variant ``spiking`` is the SNN;
``gru`` and ``lstm`` are the dense references of the same width. :func:`srnn_spike_levels` says
how large its spikes get (the trace records them with it); counting its multiplications the
way that paper does is ``codesign.trace.multiplications_per_inference``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codesign.snn._config import ModelConfig, SRNNConfig
from codesign.snn._mamba import stack_frames
from codesign.snn._neurons import ActivityReporter, membrane_changes
from codesign.snn._precision import HoldsState
from codesign.snn._probe import HookProbed, OpCounts, Probed, is_probed, probe_op
from codesign.snn._quant import MultiBitQuantiser, quantise_with_error_feedback
from codesign.snn._time import Hold, over_time

__all__ = [
    "ImprovedRecurrenceLayer",
    "ReferenceRNNLayer",
    "SRNNModel",
    "build_srnn",
    "srnn_spike_levels",
    "valid_mask",
]


#: What the weights reading an SRNN layer's output see for its largest level.
READ_FULL_SCALE = 3.0


def valid_mask(lengths: Tensor, steps: int) -> Tensor:
    """``[batch, steps]`` True on the frames inside each utterance."""
    return torch.arange(steps, device=lengths.device)[None] < lengths[:, None]


def _masked_batch_norm(norm: nn.BatchNorm1d, x: Tensor, mask: Tensor) -> Tensor:
    """Batch norm over the valid frames only, so padding does not bias the statistics."""
    out = torch.zeros_like(x)
    out[mask] = norm(x[mask])
    return out


class RecurrenceState(NamedTuple):
    """What an improved-recurrence neuron keeps between steps: ``I``, ``U`` and its last level."""

    current: Tensor
    membrane: Tensor
    level: Tensor


def improved_recurrence_step(
    state: RecurrenceState,
    inputs: tuple[Tensor, Tensor, Tensor],
    *,
    recurrent: Callable[[Tensor], Tensor],
    quantiser: MultiBitQuantiser,
    scale: Tensor,
    read_scale: Tensor,
    hold_current: Hold,
    hold_membrane: Hold,
) -> tuple[RecurrenceState, tuple[Tensor, Tensor]]:
    """One step of a layer of improved-recurrence neurons (the equations of the module docstring).

    Args:
        state: ``I``, ``U`` and the level ``y`` of the previous step (``[B, width]`` each).
        inputs: this step's ``BN(W_f x̃)``, ``BN(W_c x̃)`` and its valid-frame mask ``[B, 1]``.
        recurrent: ``U`` stacked (``y -> [U_f y, U_c y]``).
        quantiser: the output quantiser; ``scale``: its level value for the pass.
        read_scale: what the reading weights give one level.
        hold_current, hold_membrane: the state words of ``I`` and ``U`` (identity in float).

    Returns:
        The new state, and (the level, the membrane held this step, detached).
    """
    wf, wc, valid = inputs
    rf, rc = (recurrent(state.level) * read_scale).chunk(2, dim=-1)
    forget = torch.sigmoid(wf + rf)
    candidate = torch.relu(wc + rc)
    current = hold_current(forget * state.current + (1 - forget) * candidate)
    membrane = hold_membrane(state.membrane - state.level * scale + current)
    level = quantiser.quantise(membrane, scale) * valid / scale
    # exact integers forward (q × scale / scale is not), straight-through backward
    level = level + (level.detach().round() - level.detach())
    return RecurrenceState(current, membrane, level), (level, membrane.detach())


class ImprovedRecurrenceLayer(HookProbed, HoldsState, ActivityReporter):
    """One layer of improved-recurrence spiking neurons; input and output ``[B, L, ·]``.

    ``y = Q(U)`` is ``level × scale`` in membrane units, as in the paper, and the soft reset
    subtracts it; what the layer emits, and what a chip transmits, is the integer level
    ``0 .. 2^b − 1`` (as floats). The weights that read levels see them as a fraction of full
    scale, ``level × READ_FULL_SCALE / (2^b − 1)``, whatever ``b`` and the range are: the
    recurrent product is ``(U · level) × read_scale``, the next layer's ``W`` is followed by
    batch norm (which removes any scale), and the head multiplies by the ``read_scale`` that
    :meth:`forward` returns. (Reading the levels raw makes the recurrent input grow with
    ``2^b``; reading them in membrane units ties it to the range: both trained far worse in
    exploratory runs on the ``srnn_vs_rnn`` benchmark's corpus; docs/models.md.) On a chip the
    constant is folded into the weights.

    The quantiser's range is observed once per training batch, over every valid membrane
    value of the pass, and the scale stays fixed within a pass (before the first batch it is
    estimated from the feed-forward candidate ``ReLU(BN(W_c x̃))``).

    Its ``last_rate`` (:class:`~codesign.snn._neurons.ActivityReporter`) is the mean level over
    ``2^b − 1`` on valid frames, so ``activity_target`` regularises the SRNN as it does the
    spiking neurons: a lower mean level leaves more membranes under the zero threshold.

    Its state, the synaptic current ``I`` and the membrane ``U``, is what a chip holds in
    ``state_bits`` words (sites ``current`` and ``membrane``).
    """

    state_sites = ("current", "membrane")

    def __init__(
        self,
        n_inputs: int,
        width: int,
        bits: int,
        zero_threshold: int,
        range_quantile: float = 1.0,
        integrate_input: bool = False,
    ) -> None:
        super().__init__()
        self.width, self.integrate_input = width, integrate_input
        self.w_in = nn.Linear(n_inputs, 2 * width, bias=False)  # W_f and W_c stacked
        self.bn_f = nn.BatchNorm1d(width)
        self.bn_c = nn.BatchNorm1d(width)
        self.u_rec = nn.Linear(width, 2 * width, bias=False)  # U_f and U_c stacked
        self.quantiser = MultiBitQuantiser(bits, zero_threshold, signed=False, range_quantile=range_quantile)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Levels ``[B, L, width]`` and the value the reading weights give one level.

        With ``integrate_input`` the inputs are changes (a delta code) and the layer keeps the
        running products ``W x[n] = W x[n−1] + W Δx[n]``: its synapses work once per nonzero
        change, and one addition per output and step updates the running sums.
        """
        pre = self.w_in(x)
        if self.integrate_input:
            pre = pre.cumsum(dim=1)
            if is_probed(self):
                steps_total = int(mask.sum())
                probe_op(
                    self, "input_accumulator", OpCounts(kind="elementwise", in_shape=(2 * self.width,),
                    out_shape=(2 * self.width,), steps=steps_total,
                    neuron_evaluations=float(2 * self.width * steps_total), aux_ops=float(2 * self.width * steps_total),
                    state_size=2 * self.width, levels=0),
                )
        wf, wc = pre.chunk(2, dim=-1)
        wf, wc = _masked_batch_norm(self.bn_f, wf, mask), _masked_batch_norm(self.bn_c, wc, mask)
        if not bool(self.quantiser.seen):
            self.quantiser.observe(torch.relu(wc[mask]))
        scale = self.quantiser.scale()
        read_scale = x.new_tensor(READ_FULL_SCALE / self.quantiser.max_level)
        step = functools.partial(
            improved_recurrence_step, recurrent=self.u_rec, quantiser=self.quantiser, scale=scale,
            read_scale=read_scale, hold_current=self.holder("current"), hold_membrane=self.holder("membrane"),
        )
        zeros = x.new_zeros(x.shape[0], self.width)
        inputs = zip(wf.unbind(1), wc.unbind(1), mask[..., None].unbind(1), strict=True)
        _, (levels, membranes) = over_time(step, RecurrenceState(zeros, zeros, zeros), inputs, dim=1)
        # Padding frames must not move the range, so only valid membranes are observed (in step order).
        self.quantiser.observe(membranes.transpose(0, 1)[mask.T])
        return levels, read_scale

    def activity(self, inputs: tuple[Tensor, ...], output: object) -> Tensor:
        _, mask = inputs
        assert isinstance(output, tuple)
        levels: Tensor = output[0]
        return levels[mask].mean() / self.quantiser.max_level

    def probe_counts(
        self, inputs: tuple[Tensor, ...], output: object, watched: dict[str, list[Tensor]]
    ) -> list[tuple[str, OpCounts]]:
        # W and U are nn.Linear layers, recorded by the recorder's hooks (their inputs are
        # the nonzero levels); the neuron itself pays two elementwise multiplications per
        # unit and step (F ⊙ I and (1 − F) ⊙ C), recorded as aux_ops. State: I and U.
        # NeuroBench's membrane updates: U's value changed in the step (valid frames).
        _, mask = inputs
        assert isinstance(output, tuple)
        levels: Tensor = output[0]
        steps_total = int(mask.sum())
        changed = membrane_changes(watched["membrane"]) & mask.T[..., None]
        return [("neuron", OpCounts(
            kind="state_update", in_shape=(self.width,), out_shape=(self.width,), steps=steps_total,
            outputs=levels[mask], neuron_evaluations=float(self.width * steps_total), state_size=2 * self.width,
            aux_ops=2.0 * self.width * steps_total, membrane_changed=changed,
        ))]


class ReferenceRNNLayer(HookProbed, nn.Module):
    """One GRU or LSTM layer (``torch.nn``), reporting its dense work to a trace recorder.

    Per step a GRU multiplies ``3H × (inputs + H)`` weights and does ``3H`` elementwise
    multiplications (``r ⊙ (W h + b)``, ``z ⊙ h``, ``(1 − z) ⊙ n``); an LSTM ``4H × (inputs
    + H)`` and ``3H`` (``f ⊙ c``, ``i ⊙ g``, ``o ⊙ tanh c``).
    """

    def __init__(self, kind: str, n_inputs: int, width: int) -> None:
        super().__init__()
        if kind not in ("gru", "lstm"):
            raise ValueError(f"reference kind 'gru' or 'lstm', got {kind!r}")
        self.kind, self.n_inputs, self.width = kind, n_inputs, width
        self.gates = 3 if kind == "gru" else 4
        self.rnn = nn.GRU(n_inputs, width, batch_first=True) if kind == "gru" else nn.LSTM(
            n_inputs, width, batch_first=True
        )
        if kind == "lstm":
            # The usual forget-gate bias of 1 (Jozefowicz et al., ICML 2015): without it the
            # LSTM forgets too fast early in training and is a weak reference at short budgets.
            with torch.no_grad():
                self.rnn.get_parameter("bias_ih_l0")[width : 2 * width].fill_(1.0)
                self.rnn.get_parameter("bias_hh_l0")[width : 2 * width].zero_()

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Hidden states ``[B, L, width]`` and a unit scale (same contract as the SNN layer)."""
        h, _ = self.rnn(x)
        return h, h.new_ones(())

    def probe_counts(
        self, inputs: tuple[Tensor, ...], output: object, watched: dict[str, list[Tensor]]
    ) -> list[tuple[str, OpCounts]]:
        x, mask = inputs
        assert isinstance(output, tuple)
        h: Tensor = output[0]
        steps = int(mask.sum())
        rows = self.gates * self.width
        previous = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)[mask]
        ops = []
        for op, op_inputs, n_in, weight in (
            ("input", x[mask], self.n_inputs, self.rnn.get_parameter("weight_ih_l0")),
            ("recurrent", previous, self.width, self.rnn.get_parameter("weight_hh_l0")),
        ):
            ops.append((op, OpCounts(
                kind="synaptic_dense", in_shape=(n_in,), out_shape=(rows,), steps=steps, inputs=op_inputs,
                effective_ops=float((op_inputs != 0).sum()) * rows, dense_macs=float(rows * n_in * steps),
                weight_count=weight.numel() + rows, weight_nonzero=int((weight != 0).sum()) + rows, levels=0,
            )))
        ops.append(("cell", OpCounts(
            kind="state_update", in_shape=(rows,), out_shape=(self.width,), steps=steps, outputs=h[mask],
            neuron_evaluations=float(self.width * steps), state_size=self.width * (1 if self.kind == "gru" else 2),
            aux_ops=3.0 * self.width * steps,
        )))
        return ops


class SRNNModel(Probed, nn.Module):
    """Frame stacking, ``cfg.depth`` recurrent layers of ``cfg.width``, and a head.

    ``cfg.variant``: ``spiking`` (improved-recurrence SNN, inputs quantised with error
    feedback; ``cfg.quant_input_coding`` ``level`` quantises each frame before stacking,
    ``delta`` the stacked input's change since the previous step, which the first layer
    integrates), ``gru`` or ``lstm`` (dense references, on the stacked real features).
    ``head="ctc"``: per-step log-probabilities; ``head="classify"``: logits from the mean over
    valid steps.
    """

    #: The head's bias, added after the level scale (a neuron bias register on a chip).
    non_synaptic_parameters = ("head_bias",)

    def __init__(self, cfg: SRNNConfig, n_features: int, n_outputs: int, head: str) -> None:
        super().__init__()
        if head not in ("ctc", "classify"):
            raise ValueError(f"head one of ctc, classify; got {head!r}")
        if not 1 <= cfg.depth <= 3:
            raise ValueError(f"srnn depth 1..3, got {cfg.depth}")
        self.cfg, self.head = cfg, head
        n_inputs = n_features * cfg.subsample
        self.input_quantiser: MultiBitQuantiser | None = None
        sizes = [n_inputs] + [cfg.width] * cfg.depth
        self.layers = nn.ModuleList()
        if cfg.variant == "spiking":
            self.input_quantiser = MultiBitQuantiser(
                cfg.input_quant_bits, cfg.input_zero_threshold, signed=True, range_quantile=cfg.quant_range_quantile
            )
            self.layers.extend(
                ImprovedRecurrenceLayer(
                    sizes[i], cfg.width, cfg.quant_bits, cfg.quant_zero_threshold, cfg.quant_range_quantile,
                    integrate_input=(i == 0 and cfg.quant_input_coding == "delta"),
                )
                for i in range(cfg.depth)
            )
        else:
            self.layers.extend(ReferenceRNNLayer(cfg.variant, sizes[i], cfg.width) for i in range(cfg.depth))
        self.dropout = nn.Dropout(cfg.dropout)
        # logits = (W · h) × scale + b: the SNN's head reads integer levels and takes their
        # scale back afterwards, so the recorded head inputs stay spikes (references: scale 1)
        self.classifier = nn.Linear(cfg.width, n_outputs, bias=False)
        self.head_bias = nn.Parameter(torch.zeros(n_outputs))

    def encode(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Features ``[B, frames, F]`` to the last layer's outputs ``[B, steps, width]``, step
        lengths, and the value the head gives one output level (1 for the references)."""
        if self.input_quantiser is not None and self.cfg.quant_input_coding == "level":
            features = self._quantise_input(features, lengths.sum(), delta=False)
        x, out_lengths = stack_frames(features, lengths, self.cfg.subsample)
        mask = valid_mask(out_lengths, x.shape[1])
        if self.input_quantiser is not None and self.cfg.quant_input_coding == "delta":
            # the change of each stacked input since the previous step (x[-1] = 0)
            x = x * mask[..., None]
            change = x - F.pad(x, (0, 0, 1, 0))[:, :-1]
            x = self._quantise_input(change, out_lengths.sum(), delta=True) * mask[..., None]
        scale = x.new_ones(())
        for i, layer in enumerate(self.layers):
            x, scale = layer(self.dropout(x) if i else x, mask)
        return x, out_lengths, scale

    def _quantise_input(self, x: Tensor, rows: Tensor, delta: bool) -> Tensor:
        """Signed integer levels of ``x [B, L, n]`` (error feedback along ``L``); the first
        layer's weights absorb the scale. ``rows``: valid rows, for the trace; ``delta``: ``x``
        is a change, whose running sum is the signal."""
        assert self.input_quantiser is not None
        # A delta code's running sum is the signal, so its carried error must not be clipped.
        quantised = quantise_with_error_feedback(self.input_quantiser, x, bounded=not delta)
        # exact integers (level × scale / scale is not, in floating point); the range is
        # observed once at the start, so scale() is the one used throughout
        quantised = torch.round(quantised / self.input_quantiser.scale())
        if is_probed(self):
            # per value: (delta: subtract the previous input,) add the carried error, round and
            # clamp, subtract; a signed level of magnitude k is k events, hence the absolute value
            n_in, steps = x.shape[-1], int(rows)
            per_value = 4.0 if delta else 3.0
            probe_op(
                self, "input_quantiser", OpCounts(kind="elementwise", in_shape=(n_in,), out_shape=(n_in,),
                steps=steps, inputs=x, outputs=quantised.abs(),
                neuron_evaluations=float(n_in * steps), aux_ops=per_value * n_in * steps),
            )
        return quantised

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Same contract as :meth:`codesign.snn._mamba.MambaModel.forward`."""
        h, out_lengths, scale = self.encode(features, lengths)
        h = self.dropout(h)
        if self.head == "ctc":
            return F.log_softmax(self.classifier(h) * scale + self.head_bias, dim=-1), out_lengths
        mask = valid_mask(out_lengths, h.shape[1]).to(h.dtype)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        return self.classifier(pooled) * scale + self.head_bias, out_lengths


def build_srnn(cfg: ModelConfig, n_features: int, n_outputs: int, head: str) -> SRNNModel:
    """The ``"srnn"`` builder of :func:`codesign.snn.build_model`."""
    if not isinstance(cfg, SRNNConfig):
        raise ValueError(f"build_srnn needs family 'srnn', got {cfg.family!r}")
    return SRNNModel(cfg, n_features, n_outputs, head)


def srnn_spike_levels(cfg: ModelConfig) -> int:
    """The largest spike level an ``srnn`` config emits: ``2^b − 1`` for the b-bit multi-bit
    quantiser of the spiking variant, 0 for the GRU/LSTM references."""
    if not isinstance(cfg, SRNNConfig):
        raise ValueError(f"srnn_spike_levels needs family 'srnn', got {cfg.family!r}")
    return cfg.spike_levels
