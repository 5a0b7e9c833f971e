"""The HD-RepSSA Spikeformer for speech and its ANN twin.

Owns the conv subsampling front end, the Spikeformer block (attention + FFN on a membrane
shortcut), the classification and CTC heads, and :func:`build_spikeformer`. The forward
contract shared by every family is in docs/models.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codesign.snn._attention import RepSSA, batch_norm_last
from codesign.snn._config import Head, ModelConfig, SpikeformerConfig
from codesign.snn._neurons import FATReLU, make_neuron
from codesign.snn._probe import HookProbed, OpCounts

#: Front-end conv strides per total subsampling factor.
_STRIDES: dict[int, tuple[int, int]] = {1: (1, 1), 2: (2, 1), 4: (2, 2)}


def conv_out_lengths(lengths: torch.Tensor, stride: int, kernel: int = 3, padding: int = 1) -> torch.Tensor:
    """Valid output frames of a ``Conv1d`` for each input length."""
    return torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1


def valid_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """``[N, frames]`` bool, True on each utterance's valid frames."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


class SpikeformerBlock(HookProbed, nn.Module):
    """``u = u + RepSSA(SN(u))``; ``u = u + FFN(SN(u))`` on a real-valued residual stream.

    Args:
        cfg: the model config.
        layer: the block's index.
    """

    def __init__(self, cfg: SpikeformerConfig, layer: int) -> None:
        super().__init__()
        width, hidden = cfg.width, cfg.width * cfg.ffn_ratio
        self.attn_in = make_neuron(cfg, width)
        self.attn = RepSSA(cfg, layer)
        self.ffn_in = make_neuron(cfg, width)
        self.fc1 = nn.Linear(width, hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.ffn_act: nn.Module = (
            FATReLU(cfg.fatrelu_threshold) if cfg.ffn_activation == "fatrelu" else make_neuron(cfg, hidden)
        )
        self.fc2 = nn.Linear(hidden, width, bias=False)
        self.bn2 = nn.BatchNorm1d(width)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, u: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``u``: ``[T, N, L, C]``; ``valid``: ``[N, L]``."""
        u = u + self.dropout(self.attn(self.attn_in(u), valid))
        h = self.ffn_act(batch_norm_last(self.bn1, self.fc1(self.ffn_in(u))))
        out: torch.Tensor = u + self.dropout(batch_norm_last(self.bn2, self.fc2(h)))
        return out

    def probe_counts(
        self, inputs: tuple[torch.Tensor, ...], output: object, watched: dict[str, list[torch.Tensor]]
    ) -> list[tuple[str, OpCounts]]:
        # the two residual additions, on every element of the stream
        assert isinstance(output, torch.Tensor)
        return [("residual", OpCounts(kind="elementwise", in_shape=(output.shape[-1],), out_shape=(output.shape[-1],),
                                      steps=output.shape[0] * output.shape[2], aux_ops=float(2 * output.numel())))]


class Spikeformer(nn.Module):
    """HD-RepSSA Spikeformer (``variant: spiking``) or its ANN twin (``variant: ann``).

    Follows the forward contract in docs/models.md: ``(features [N, frames, F], lengths [N])
    -> (logits [N, n_outputs] | log-probs [N, frames_out, n_outputs], out_lengths [N])``.

    Args:
        cfg: the model config.
        n_features: F, input features per frame.
        n_outputs: classes, or CTC tokens including the blank at index 0.
        head: ``"classify"`` or ``"ctc"``.
    """

    def __init__(self, cfg: SpikeformerConfig, n_features: int, n_outputs: int, head: Head) -> None:
        super().__init__()
        if head not in ("classify", "ctc"):
            raise ValueError(f"head 'classify' or 'ctc', got {head!r}")
        self.cfg = cfg
        self.head = head
        self.timesteps = cfg.timesteps if cfg.is_spiking else 1
        width = cfg.width
        self.strides = _STRIDES[cfg.subsample]
        # The first layer reads real features, so it is costed as MACs for both twins; a shorter
        # kernel (conv2 and the Q/K/V temporal branches still see neighbouring frames) cuts that.
        k1 = cfg.front_kernel
        self.conv1 = nn.Conv1d(n_features, width, k1, stride=self.strides[0], padding=(k1 - 1) // 2, bias=False)
        self.bn_conv1 = nn.BatchNorm1d(width)
        self.front_sn = make_neuron(cfg, width)
        self.conv2 = nn.Conv1d(width, width, 3, stride=self.strides[1], padding=1, bias=False)
        self.bn_conv2 = nn.BatchNorm1d(width)
        self.blocks = nn.ModuleList(SpikeformerBlock(cfg, i) for i in range(cfg.depth))
        self.head_in = make_neuron(cfg, width)
        self.classifier = nn.Linear(width, n_outputs)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid output frames for input lengths (after the front end's subsampling)."""
        k1 = self.conv1.kernel_size[0]
        out = conv_out_lengths(lengths, self.strides[0], k1, (k1 - 1) // 2)
        return conv_out_lengths(out, self.strides[1])

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if features.ndim != 3:
            raise ValueError(f"features must be [N, frames, F], got shape {tuple(features.shape)}")
        n = features.shape[0]
        t = self.timesteps
        # The first layer sees the same real-valued frame at every timestep (direct encoding),
        # so its convolution runs once and its output is repeated over T.
        x = self.bn_conv1(self.conv1(features.transpose(1, 2)))  # [N, C, L1]
        x = x.transpose(1, 2).unsqueeze(0).expand(t, -1, -1, -1)  # [T, N, L1, C]
        length1 = x.shape[2]
        k1 = self.conv1.kernel_size[0]
        lengths1 = conv_out_lengths(lengths, self.strides[0], k1, (k1 - 1) // 2).clamp(min=1, max=length1)
        # Padded frames must not leak into valid ones through the next convolution.
        s = self.front_sn(x) * valid_mask(lengths1, length1)[None, :, :, None].to(x.dtype)
        x = self.conv2(s.reshape(t * n, length1, -1).transpose(1, 2))  # [T*N, C, L2]
        x = self.bn_conv2(x)
        u = x.transpose(1, 2).reshape(t, n, x.shape[-1], -1)  # [T, N, L2, C]
        out_lengths = self.output_lengths(lengths).clamp(min=1, max=u.shape[2])
        valid = valid_mask(out_lengths, u.shape[2])
        for block in self.blocks:
            u = block(u, valid)
        logits = self.classifier(self.head_in(u)).mean(dim=0)  # [N, L, n_outputs]
        if self.head == "ctc":
            return F.log_softmax(logits, dim=-1), out_lengths
        weights = valid.to(logits.dtype)[:, :, None]
        pooled = (logits * weights).sum(dim=1) / weights.sum(dim=1)
        return pooled, out_lengths

    def fuse(self) -> None:
        """Rewrite every re-parameterisable projection into its single-layer inference form."""
        for module in self.modules():
            fuse = getattr(module, "fuse", None)
            if module is not self and callable(fuse):
                fuse()


def build_spikeformer(cfg: ModelConfig, n_features: int, n_outputs: int, head: Head) -> nn.Module:
    """Builder registered for ``family: spikeformer`` (variants ``spiking`` and ``ann``)."""
    if not isinstance(cfg, SpikeformerConfig):
        raise ValueError(f"build_spikeformer needs family 'spikeformer', got {cfg.family!r}")
    return Spikeformer(cfg, n_features, n_outputs, head)
