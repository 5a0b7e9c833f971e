"""Rendering planned utterances to waveforms: synthesis, resampling, speed, gain, shift, babble, noise.

Runs inside generation worker processes, so it imports numpy and scipy only. A block of
utterances (a shard) is rendered in order by one fresh :class:`ESpeak`, and every random
choice comes from the utterance's own seed, so the audio does not depend on which worker
renders which shard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import gcd

import numpy as np
from scipy.signal import firwin, resample_poly

from codesign.data._config import MAX_BABBLE_TALKERS, Difficulty
from codesign.data._espeak import ESpeak
from codesign.data._speakers import Speaker

#: Speech is scaled to this RMS before gain (-26 dBFS, ITU-T P.56's usual active speech level).
REFERENCE_RMS = 0.05
#: Speed-perturbed rates are rounded to this step so the resampling ratio stays small
#: (22050 = 2·3²·5²·7², so the reduced denominator is at most 441).
_RATE_STEP_HZ = 50
#: A sample belongs to speech when above this fraction of the peak (trims eSpeak's silence).
_TRIM_FRACTION = 0.02
_TRIM_MARGIN_S = 0.01
#: Background talkers synthesised per shard, from which each utterance's babble is mixed.
BABBLE_BANK = MAX_BABBLE_TALKERS
#: Noise colours and the length of each shard's noise bank (2^15 samples, 2 s at 16 kHz,
#: one FFT per colour per shard instead of one per utterance).
NOISE_COLOURS: tuple[str, ...] = ("white", "pink", "brown")
NOISE_BANK_SAMPLES = 1 << 15


@dataclass(frozen=True)
class UtterancePlan:
    """Everything needed to render one utterance; ``words`` empty means background only."""

    index: int
    speaker: Speaker
    words: tuple[str, ...]
    seed: int


@dataclass(frozen=True)
class RenderSettings:
    """Corpus-wide rendering settings shared by every utterance."""

    sample_rate: int
    clip_s: float | None  # fixed clip length (commands) or None: speech plus random margins
    difficulty: Difficulty
    accents: tuple[str, ...]
    variants: tuple[str, ...]
    babble_words: tuple[str, ...]


def render_shard(
    plans: Sequence[UtterancePlan], settings: RenderSettings, shard_seed: int
) -> list[np.ndarray]:
    """Render a block of utterances, in order, with one fresh eSpeak; float32 waveforms.

    The shard first synthesises a small bank of background talkers (:data:`BABBLE_BANK`)
    from ``shard_seed``; each utterance's babble mixes a few of them at random offsets.
    """
    with ESpeak(seed=shard_seed) as tts:
        rng = np.random.default_rng(shard_seed)
        needs_babble = settings.difficulty.babble_probability > 0
        bank = [_babble_talker(tts, rng, settings) for _ in range(BABBLE_BANK)] if needs_babble else []
        noise = {colour: coloured_noise(rng, NOISE_BANK_SAMPLES, colour) for colour in NOISE_COLOURS}
        return [render_utterance(tts, plan, settings, bank, noise) for plan in plans]


def render_utterance(
    tts: ESpeak,
    plan: UtterancePlan,
    settings: RenderSettings,
    babble_bank: Sequence[np.ndarray],
    noise_bank: Mapping[str, np.ndarray],
) -> np.ndarray:
    """One utterance's waveform at ``settings.sample_rate``, float32.

    Babble and noise are random segments of the shard's banks (unit-RMS noise per colour).
    """
    rng = np.random.default_rng(plan.seed)
    d = settings.difficulty
    sr = settings.sample_rate
    speed = rng.uniform(*d.speed)
    gain = 10 ** (rng.uniform(*d.gain_db) / 20)
    level = REFERENCE_RMS * gain

    if plan.words:
        speech = speak(tts, " ".join(plan.words), plan.speaker, sr, speed)
        speech *= gain
    else:
        speech = np.zeros(0, dtype=np.float64)

    shift = round(d.shift_s * sr)
    if settings.clip_s is not None:
        length = round(settings.clip_s * sr)
        speech = speech[:length]
        centre = (length - len(speech)) // 2
        offset = int(np.clip(centre + rng.integers(-shift, shift + 1), 0, length - len(speech)))
    else:
        margin = round(0.05 * sr)
        offset = margin + int(rng.integers(0, shift + 1))
        length = offset + len(speech) + margin + int(rng.integers(0, shift + 1))
    out = np.zeros(length, dtype=np.float64)
    out[offset : offset + len(speech)] = speech

    if rng.random() < d.babble_probability and babble_bank:
        talkers = int(rng.integers(d.babble_talkers[0], d.babble_talkers[1] + 1))
        babble = np.zeros(length)
        for k in rng.choice(len(babble_bank), size=talkers, replace=False):
            voice = babble_bank[int(k)]
            start = int(rng.integers(0, len(voice)))
            babble += voice[(start + np.arange(length)) % len(voice)]
        babble *= 1.0 / _rms(babble)
        out += babble * level / 10 ** (rng.uniform(*d.babble_snr_db) / 20)
    if rng.random() < d.noise_probability:
        source = noise_bank[str(rng.choice(NOISE_COLOURS))]
        start = int(rng.integers(0, len(source)))
        noise = source[(start + np.arange(length)) % len(source)]
        out += noise * (level / _rms(noise) / 10 ** (rng.uniform(*d.snr_db) / 20))
    return out.astype(np.float32)


def speak(tts: ESpeak, text: str, speaker: Speaker, sample_rate: int, speed: float = 1.0) -> np.ndarray:
    """Synthesise ``text``, trim silence, resample to ``sample_rate`` at ``speed``, scale to REFERENCE_RMS."""
    raw = tts.synthesize(text, speaker.voice, speaker.rate_wpm, speaker.pitch, speaker.pitch_range)
    audio = _trim(raw.astype(np.float64) / 32768.0, tts.sample_rate_hz)
    # Playing a signal resampled to sample_rate/speed at sample_rate makes it speed times faster.
    target = max(_RATE_STEP_HZ, round(sample_rate / speed / _RATE_STEP_HZ) * _RATE_STEP_HZ)
    g = gcd(target, tts.sample_rate_hz)
    up, down = target // g, tts.sample_rate_hz // g
    if up != down:
        audio = resample_poly(audio, up, down, window=_lowpass(up, down))
    return audio * (REFERENCE_RMS / _rms(audio))


def coloured_noise(rng: np.random.Generator, length: int, colour: str) -> np.ndarray:
    """Unit-RMS white, pink (1/f power) or brown (1/f² power) noise."""
    white = rng.standard_normal(length)
    if colour == "white":
        return white / _rms(white)
    spectrum = np.fft.rfft(white)
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    spectrum /= np.sqrt(f) if colour == "pink" else f
    noise = np.fft.irfft(spectrum, n=length)
    return noise / _rms(noise)


@lru_cache(maxsize=64)
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing filter ``resample_poly`` designs by default, designed once per ratio."""
    max_rate = max(up, down)
    taps: np.ndarray = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps.setflags(write=False)
    return taps


def _babble_talker(tts: ESpeak, rng: np.random.Generator, s: RenderSettings) -> np.ndarray:
    d = s.difficulty
    talker = Speaker(
        accent=str(rng.choice(s.accents)),
        variant=str(rng.choice(s.variants)),
        rate_wpm=int(rng.integers(d.rate_wpm[0], d.rate_wpm[1] + 1)),
        pitch=int(rng.integers(d.pitch[0], d.pitch[1] + 1)),
        pitch_range=int(rng.integers(d.pitch_range[0], d.pitch_range[1] + 1)),
    )
    words = rng.choice(s.babble_words, size=int(rng.integers(5, 9)))
    return speak(tts, " ".join(str(w) for w in words), talker, s.sample_rate)


def _trim(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    magnitude = np.abs(audio)
    loud = np.flatnonzero(magnitude > _TRIM_FRACTION * magnitude.max())
    if loud.size == 0:
        return audio
    margin = int(_TRIM_MARGIN_S * sample_rate)
    return audio[max(0, loud[0] - margin) : loud[-1] + margin + 1]


def _rms(x: np.ndarray) -> float:
    value = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
    return value if value > 1e-12 else 1.0
