"""The improved-recurrence spiking RNN (Ponghiran & Roy, AAAI 2022) and its GRU/LSTM references.

Owns :class:`ImprovedRecurrenceLayer`, whose neuron keeps a synaptic current with a learnt,
input-dependent forget gate and a soft-reset membrane::

    F[n] = σ(BN(W_f x̃[n]) + U_f y[n−1])
    C[n] = ReLU(BN(W_c x̃[n]) + U_c y[n−1])
    I[n] = F[n] ⊙ I[n−1] + (1 − F[n]) ⊙ C[n]
    U[n] = U[n−1] − y[n−1] + I[n]
    y[n] = Q(U[n])                       (multi-bit quantiser, codesign.snn._quant)

and :class:`SRNNModel`: frame stacking, input quantisation with error feedback, 1–3 layers,
and a classification or CTC head. Variant ``spiking`` is the SNN; ``gru`` and ``lstm`` are
the dense references of the same width. :func:`multiplications_per_inference` counts
multiplications from a trace the way that paper does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codesign.snn._config import ModelConfig
from codesign.snn._mamba import stack_frames
from codesign.snn._quant import MultiBitQuantiser, quantise_with_error_feedback

__all__ = ["ImprovedRecurrenceLayer", "SRNNModel", "build_srnn", "valid_mask"]


def valid_mask(lengths: Tensor, steps: int) -> Tensor:
    """``[batch, steps]`` True on the frames inside each utterance."""
    return torch.arange(steps, device=lengths.device)[None] < lengths[:, None]


def _masked_batch_norm(norm: nn.BatchNorm1d, x: Tensor, mask: Tensor) -> Tensor:
    """Batch norm over the valid frames only, so padding does not bias the statistics."""
    out = torch.zeros_like(x)
    out[mask] = norm(x[mask])
    return out


class ImprovedRecurrenceLayer(nn.Module):
    """One layer of improved-recurrence spiking neurons; input and output ``[B, L, ·]``.

    Outputs are the integer spike levels ``0 .. 2^b − 1`` (as floats) a chip would
    transmit; the membrane's soft reset subtracts them in membrane units (``levels ×
    scale``), and the weights that read them absorb the scale.
    """

    def __init__(self, n_inputs: int, width: int, bits: int, zero_threshold: int) -> None:
        super().__init__()
        self.width = width
        self.w_in = nn.Linear(n_inputs, 2 * width, bias=False)  # W_f and W_c stacked
        self.bn_f = nn.BatchNorm1d(width)
        self.bn_c = nn.BatchNorm1d(width)
        self.u_rec = nn.Linear(width, 2 * width, bias=False)  # U_f and U_c stacked
        self.quantiser = MultiBitQuantiser(bits, zero_threshold, signed=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        wf, wc = self.w_in(x).chunk(2, dim=-1)
        wf, wc = _masked_batch_norm(self.bn_f, wf, mask), _masked_batch_norm(self.bn_c, wc, mask)
        batch, steps = x.shape[:2]
        current = x.new_zeros(batch, self.width)
        membrane = x.new_zeros(batch, self.width)
        y = x.new_zeros(batch, self.width)  # levels, read by the recurrent weights
        membrane_y = y  # the same output in membrane units, for the soft reset
        outputs = []
        for n in range(steps):
            rf, rc = self.u_rec(y).chunk(2, dim=-1)
            forget = torch.sigmoid(wf[:, n] + rf)
            candidate = torch.relu(wc[:, n] + rc)
            current = forget * current + (1 - forget) * candidate
            membrane = membrane - membrane_y + current
            valid = mask[:, n, None]
            # Padding frames must not move the range, so observe only valid membranes.
            self.quantiser.observe(membrane[mask[:, n]])
            scale = self.quantiser.scale()
            y = self.quantiser.quantise(membrane, scale) * valid
            membrane_y, y = y, y / scale
            outputs.append(y)
        return torch.stack(outputs, dim=1)


class SRNNModel(nn.Module):
    """Frame stacking, ``cfg.depth`` recurrent layers of ``cfg.width``, and a head.

    ``cfg.variant``: ``spiking`` (improved-recurrence SNN, inputs quantised with error
    feedback), ``gru`` or ``lstm`` (dense references). ``head="ctc"``: per-step
    log-probabilities; ``head="classify"``: logits from the mean over valid steps.
    """

    def __init__(self, cfg: ModelConfig, n_features: int, n_outputs: int, head: str) -> None:
        super().__init__()
        if head not in ("ctc", "classify"):
            raise ValueError(f"head one of ctc, classify; got {head!r}")
        if not 1 <= cfg.depth <= 3:
            raise ValueError(f"srnn depth 1..3, got {cfg.depth}")
        self.cfg, self.head = cfg, head
        n_inputs = n_features * cfg.subsample
        self.input_quantiser: MultiBitQuantiser | None = None
        self.rnn: nn.Module | None = None
        self.layers = nn.ModuleList()
        if cfg.variant == "spiking":
            self.input_quantiser = MultiBitQuantiser(cfg.quant_bits, cfg.quant_zero_threshold, signed=True)
            sizes = [n_inputs] + [cfg.width] * cfg.depth
            self.layers.extend(
                ImprovedRecurrenceLayer(sizes[i], cfg.width, cfg.quant_bits, cfg.quant_zero_threshold)
                for i in range(cfg.depth)
            )
        else:
            rnn_cls = nn.GRU if cfg.variant == "gru" else nn.LSTM
            self.rnn = rnn_cls(
                n_inputs, cfg.width, num_layers=cfg.depth, batch_first=True,
                dropout=cfg.dropout if cfg.depth > 1 else 0.0,
            )
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.width, n_outputs)

    def encode(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Features ``[B, frames, F]`` to the last layer's outputs ``[B, steps, width]`` and step lengths."""
        if self.input_quantiser is not None:
            # Integer input levels (signed); the first layer's weights absorb the scale.
            # (the range is observed once at the start, so scale() is the one used throughout)
            features = quantise_with_error_feedback(self.input_quantiser, features)
            features = features / self.input_quantiser.scale()
        x, out_lengths = stack_frames(features, lengths, self.cfg.subsample)
        mask = valid_mask(out_lengths, x.shape[1])
        if self.rnn is not None:
            h, _ = self.rnn(x)
            return h, out_lengths
        for i, layer in enumerate(self.layers):
            x = layer(self.dropout(x) if i else x, mask)
        return x, out_lengths

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Same contract as :meth:`codesign.snn._mamba.MambaModel.forward`."""
        h, out_lengths = self.encode(features, lengths)
        h = self.dropout(h)
        if self.head == "ctc":
            return F.log_softmax(self.classifier(h), dim=-1), out_lengths
        mask = valid_mask(out_lengths, h.shape[1]).to(h.dtype)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        return self.classifier(pooled), out_lengths


def build_srnn(cfg: ModelConfig, n_features: int, n_outputs: int, head: str) -> SRNNModel:
    """The ``"srnn"`` builder of :func:`codesign.snn.build_model`."""
    if cfg.family != "srnn":
        raise ValueError(f"build_srnn needs family 'srnn', got {cfg.family!r}")
    return SRNNModel(cfg, n_features, n_outputs, head)
