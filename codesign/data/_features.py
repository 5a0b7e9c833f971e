"""Log-mel filterbank features in torch (torch.stft and a triangular mel matrix built here)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from codesign.data._config import FeatureConfig

#: Added to mel power before the log so silent (zero-padded) frames stay finite; far below
#: the power of REFERENCE_RMS speech in any band.
LOG_FLOOR = 1e-8


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595·log10(1 + f/700) (O'Shaughnessy, *Speech Communication*, 1987)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(
    n_fft: int, n_mels: int, sample_rate: int, f_min_hz: float, f_max_hz: float
) -> torch.Tensor:
    """Triangular filters equally spaced on the mel scale, ``[n_fft // 2 + 1, n_mels]``, peak 1."""
    bins_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min_hz), hz_to_mel(f_max_hz), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bins_hz[None, :]) / (upper - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    return torch.from_numpy(weights.T.astype(np.float32))


def frame_count(n_samples: int, n_fft: int, hop_samples: int) -> int:
    """Frames of an unpadded (``center=False``) STFT; a clip shorter than ``n_fft`` gives one."""
    return 1 + max(0, n_samples - n_fft) // hop_samples


def log_mel(waveforms: Sequence[np.ndarray], cfg: FeatureConfig) -> list[torch.Tensor]:
    """Log-mel energies of each waveform (at ``cfg.sample_rate``), ``[frames, n_mels]`` float32, not normalised.

    Waveforms are batched after zero-padding to the longest; each result keeps only its own
    frames, so the features do not depend on what else was in the batch.
    """
    n_fft, win_samples, hop_samples = cfg.n_fft, cfg.win_samples, cfg.hop_samples
    if not waveforms:
        return []
    lengths = [max(len(w), n_fft) for w in waveforms]
    batch = torch.zeros(len(waveforms), max(lengths))
    for i, w in enumerate(waveforms):
        batch[i, : len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float32))
    spec = torch.stft(
        batch,
        n_fft=n_fft,
        hop_length=hop_samples,
        win_length=win_samples,
        window=torch.hann_window(win_samples),
        center=False,
        return_complex=True,
    )  # [B, n_fft//2+1, frames]
    power = spec.real.square() + spec.imag.square()
    fb = mel_filterbank(n_fft, cfg.n_mels, cfg.sample_rate, cfg.f_min_hz, cfg.top_hz)
    mel = torch.log(torch.matmul(power.transpose(1, 2), fb) + LOG_FLOOR)  # [B, frames, n_mels]
    return [mel[i, : frame_count(n, n_fft, hop_samples)].contiguous() for i, n in enumerate(lengths)]
