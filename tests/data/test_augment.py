"""SpecAugment masks: where they fall, how wide they are, and that a seeded generator repeats them."""

from __future__ import annotations

import pytest
import torch

from codesign.config import ConfigError, parse_spec
from codesign.data import SpecAugment, spec_augment


def _features(batch: int = 6, frames: int = 50, bins: int = 20) -> torch.Tensor:
    return torch.randn(batch, frames, bins, generator=torch.Generator().manual_seed(0)) + 5.0  # no zero by chance


def test_masks_are_bands_and_spans_within_the_widths_and_the_utterance() -> None:
    x = _features()
    lengths = torch.tensor([50, 40, 30, 20, 10, 3])
    cfg = SpecAugment(freq_masks=1, freq_mask_bins=6, time_masks=1, time_mask_frames=12)
    out = spec_augment(x, lengths, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(x, _features())  # the input is left alone
    masked = out == 0
    widest_band, widest_span = 0, 0
    for i, n in enumerate(lengths.tolist()):
        bins = masked[i].all(dim=0)  # a frequency mask zeroes its bins in every frame
        frames = masked[i].all(dim=1) & ~bins.all()  # a time mask zeroes every bin of its frames
        band, span = bins.nonzero().flatten().tolist(), frames.nonzero().flatten().tolist()
        assert _consecutive(band) and len(band) <= 6
        assert _consecutive(span) and len(span) <= min(12, n) and all(t < n for t in span)  # never padding
        keep = ~(bins[None, :] | frames[:, None])
        assert torch.equal(out[i][keep], x[i][keep])  # every other value is the input's
        widest_band, widest_span = max(widest_band, len(band)), max(widest_span, len(span))
    assert widest_band > 0 and widest_span > 0  # six utterances: some mask is not empty


def _consecutive(index: list[int]) -> bool:
    return index == list(range(index[0], index[0] + len(index))) if index else True


def test_masks_are_drawn_from_the_generator_only() -> None:
    x, lengths = _features(), torch.full((6,), 50)
    cfg = SpecAugment()
    a = spec_augment(x, lengths, cfg, torch.Generator().manual_seed(7))
    b = spec_augment(x, lengths, cfg, torch.Generator().manual_seed(7))
    c = spec_augment(x, lengths, cfg, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert bool((a == 0).any())  # default masks mask something in six utterances


def test_no_masks_leave_the_features_as_they_are() -> None:
    x = _features()
    out = spec_augment(x, torch.full((6,), 50), SpecAugment(freq_masks=0, time_masks=0), torch.Generator())
    assert torch.equal(out, x)


def test_a_bad_setting_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"fidelity\.spec_augment\.time_mask_frames"):
        parse_spec(SpecAugment, {"time_mask_frames": 0}, key_prefix="fidelity.spec_augment")
