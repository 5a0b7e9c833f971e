"""Training-time feature augmentation: SpecAugment's time and frequency masks (Park et al., 2019).

Owns :class:`SpecAugment` (how many masks of how many frames and mel bins; a typed config a
training budget holds, ``TrainConfig.spec_augment``) and :func:`spec_augment` (masking a batch
of log-mel features). The channel augmentation that changes the audio itself (speed, gain,
room, babble, noise, telephone) is rendered into the corpus once (``codesign.data._render``);
these masks are drawn afresh for every training batch, so a network never sees the same
masked utterance twice. Off unless a budget asks for it. This module imports no torch at
module level, so that reading a config does not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from codesign.config import Spec

if TYPE_CHECKING:
    import torch


class SpecAugment(Spec):
    """SpecAugment's masks, drawn for each training utterance in each batch.

    Each of ``freq_masks`` masks sets a band of ``0..freq_mask_bins`` (uniform) consecutive mel
    bins to zero over the whole utterance; each of ``time_masks`` masks sets ``0..time_mask_frames``
    (uniform, at most the utterance's own length) consecutive frames to zero in every bin. The
    features are normalised per bin, so zero is the corpus's mean, not silence. Masks may overlap.
    No time warping.
    """

    freq_masks: int = Field(2, ge=0, le=8, description="frequency masks per utterance")
    freq_mask_bins: int = Field(8, ge=1, le=64, description="widest frequency mask, in mel bins")
    time_masks: int = Field(2, ge=0, le=8, description="time masks per utterance")
    time_mask_frames: int = Field(10, ge=1, le=100, description="widest time mask, in feature frames")


def spec_augment(features: torch.Tensor, lengths: torch.Tensor, cfg: SpecAugment,
                 generator: torch.Generator) -> torch.Tensor:
    """``features`` (``[batch, frames, bins]``) with ``cfg``'s masks drawn from ``generator``.

    Time masks lie within each utterance's ``lengths`` frames (padding is never masked, so an
    utterance is masked the same whatever it is batched with); a frequency mask wider than the
    bins covers them all. Returns a new tensor; ``features`` is not changed. The draws come
    from ``generator`` only, so a seeded generator gives the same masks.
    """
    import torch

    batch, frames, bins = features.shape
    keep = torch.ones(batch, frames, bins, dtype=torch.bool)
    bin_index = torch.arange(bins)
    for _ in range(cfg.freq_masks):
        width = torch.randint(0, cfg.freq_mask_bins + 1, (batch,), generator=generator).clamp(max=bins)
        start = (torch.rand(batch, generator=generator) * (bins - width + 1)).long()
        band = (bin_index[None] >= start[:, None]) & (bin_index[None] < (start + width)[:, None])
        keep &= ~band[:, None, :]
    frame_index = torch.arange(frames)
    valid = lengths.to("cpu").long().clamp(min=0, max=frames)
    for _ in range(cfg.time_masks):
        width = torch.minimum(torch.randint(0, cfg.time_mask_frames + 1, (batch,), generator=generator), valid)
        start = (torch.rand(batch, generator=generator) * (valid - width + 1)).long()
        span = (frame_index[None] >= start[:, None]) & (frame_index[None] < (start + width)[:, None])
        keep &= ~span[:, :, None]
    return features * keep.to(features.device, features.dtype)
