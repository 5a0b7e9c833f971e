"""Log-mel filterbank features in torch (torch.stft and a triangular mel matrix built here),
their optional per-utterance normalisation (cepstral mean / mean-and-variance) and the
filterbank's vocal-tract-length perturbation (VTLP, a training augmentation)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial

import numpy as np
import torch

from codesign.data._config import FeatureConfig, UtteranceNormalisation

#: Added to mel power before the log so silent (zero-padded) frames stay finite; far below
#: the power of REFERENCE_RMS speech in any band.
LOG_FLOOR = 1e-8
#: Smallest standard deviation ``mean_var`` divides by: a channel constant over an utterance
#: (digital silence at LOG_FLOOR) becomes 0, not NaN.
MIN_UTTERANCE_STD = 1e-3


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595·log10(1 + f/700) (O'Shaughnessy, *Speech Communication*, 1987)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


#: VTLP's warp is linear up to this frequency (scaled by the factor, Jaitly & Hinton 2013's
#: 4.8 kHz at 16 kHz), then a second linear piece that keeps the Nyquist frequency fixed.
VTLP_BOUNDARY_HZ = 4800.0


def vtlp_frequencies(hz: np.ndarray, factor: float, nyquist_hz: float) -> np.ndarray:
    """Frequencies warped by a vocal-tract-length factor: ``f * factor`` below the boundary,
    then linear to ``nyquist_hz`` (which maps to itself), so the warp is monotonic and keeps
    the band (Jaitly & Hinton, *VTLP improves speech recognition*, ICML workshop 2013)."""
    boundary = VTLP_BOUNDARY_HZ * nyquist_hz / 8000.0 * min(factor, 1.0) / factor
    high = nyquist_hz - (nyquist_hz - boundary * factor) / (nyquist_hz - boundary) * (nyquist_hz - hz)
    return np.where(hz <= boundary, hz * factor, high)


@lru_cache(maxsize=8)
def mel_filterbank(
    n_fft: int, n_mels: int, sample_rate: int, f_min_hz: float, f_max_hz: float, warp: float = 1.0
) -> torch.Tensor:
    """Triangular filters equally spaced on the mel scale, ``[n_fft // 2 + 1, n_mels]``, peak 1.

    ``warp`` != 1 is vocal-tract-length perturbation: each FFT bin at ``f`` is read as if at
    :func:`vtlp_frequencies` ``(f, warp)``, so the spectrum's formants move by ``warp``.
    """
    bins_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    if warp != 1.0:
        bins_hz = vtlp_frequencies(bins_hz, warp, sample_rate / 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min_hz), hz_to_mel(f_max_hz), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bins_hz[None, :]) / (upper - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    return torch.from_numpy(weights.T.astype(np.float32))


def frame_count(n_samples: int, n_fft: int, hop_samples: int) -> int:
    """Frames of an unpadded (``center=False``) STFT; a clip shorter than ``n_fft`` gives one."""
    return 1 + max(0, n_samples - n_fft) // hop_samples


def normalise_utterance(features: torch.Tensor, mode: UtteranceNormalisation) -> torch.Tensor:
    """One utterance's ``[frames, n_features]`` normalised per channel over its own frames.

    ``mean`` subtracts each channel's mean (cepstral mean normalisation: a fixed channel or
    synthesiser colouring, a gain in the log domain, cancels); ``mean_var`` also divides by
    each channel's standard deviation (CMVN, at least :data:`MIN_UTTERANCE_STD`); ``none``
    returns ``features`` unchanged.
    """
    if mode == "none":
        return features
    centred = features - features.mean(dim=0, keepdim=True)
    if mode == "mean":
        return centred
    std = centred.square().mean(dim=0, keepdim=True).sqrt().clamp_min(MIN_UTTERANCE_STD)
    return centred / std


def log_mel(
    waveforms: Sequence[np.ndarray], cfg: FeatureConfig, warps: Sequence[float] | None = None
) -> list[torch.Tensor]:
    """Log-mel energies of each waveform (at ``cfg.sample_rate``), ``[frames, n_mels]`` float32,
    normalised per utterance as ``cfg.utterance_normalisation`` says (not with corpus statistics).

    Waveforms are batched after zero-padding to the longest; each result keeps only its own
    frames (and its normalisation sees only those), so the features do not depend on what else
    was in the batch. ``warps`` (one per waveform, default all 1) are VTLP factors
    (:func:`mel_filterbank`'s ``warp``), a training augmentation.
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
    if warps is not None and len(warps) != len(waveforms):
        raise ValueError(f"one warp per waveform ({len(warps)} warps, {len(waveforms)} waveforms)")
    bank = partial(mel_filterbank, n_fft, cfg.n_mels, cfg.sample_rate, cfg.f_min_hz, cfg.top_hz)
    if warps is None or all(w == 1.0 for w in warps):
        mel_power = torch.matmul(power.transpose(1, 2), bank())
    else:  # one filterbank per waveform: [B, n_fft//2+1, n_mels]
        mel_power = torch.bmm(power.transpose(1, 2), torch.stack([bank(float(w)) for w in warps]))
    mel = torch.log(mel_power + LOG_FLOOR)  # [B, frames, n_mels]
    return [
        normalise_utterance(mel[i, : frame_count(n, n_fft, hop_samples)], cfg.utterance_normalisation).contiguous()
        for i, n in enumerate(lengths)
    ]
