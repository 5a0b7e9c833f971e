"""Rendering planned utterances to waveforms: synthesis, resampling, speed, gain, shift, room, babble,
noise, spectral tilt and telephone channel.

Runs inside generation worker processes, so it imports numpy and scipy only. A block of
utterances (a shard) is rendered in order by one fresh :class:`ESpeak` (and, for its flite
and festival utterances, fresh flite and festival processes), and every random choice comes
from the utterance's own seed, so the audio does not depend on which worker renders which
shard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import gcd

import numpy as np
from scipy.signal import butter, fftconvolve, firwin, resample_poly, sosfilt

from codesign.data._config import MAX_BABBLE_TALKERS, Difficulty
from codesign.data._engines import SynthesisRequest, synthesize_festival, synthesize_flite
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
#: The telephone channel: a 4th-order Butterworth band-pass, then down to 8 kHz and back.
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_RATE_HZ = 8000
#: Spectral tilt pivots here (0 dB change at 1 kHz) and stops growing below this frequency.
_TILT_PIVOT_HZ = 1000.0
_TILT_FLOOR_HZ = 50.0


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
        raw = synthesize_other_engines(plans)
        return [render_utterance(tts, plan, settings, bank, noise, raw.get(plan.index)) for plan in plans]


def synthesize_other_engines(plans: Sequence[UtterancePlan]) -> dict[int, tuple[np.ndarray, int]]:
    """Raw audio ``(samples in [-1, 1], rate)`` of the flite and festival utterances of a shard, by index.

    Neither engine keeps state between texts, so one process per engine and shard (one per
    text for flite) gives each utterance the audio it would get alone.
    """
    requests: dict[str, list[SynthesisRequest]] = {"flite": [], "festival": []}
    for plan in plans:
        if plan.words and plan.speaker.engine in requests:
            requests[plan.speaker.engine].append(
                SynthesisRequest(plan.index, plan.speaker.voice, plan.speaker.rate_wpm, " ".join(plan.words))
            )
        elif plan.words and plan.speaker.engine != "espeak":
            raise RuntimeError(f"no renderer for engine {plan.speaker.engine!r}")
    out = synthesize_flite(requests["flite"]) if requests["flite"] else {}
    out.update(synthesize_festival(requests["festival"]) if requests["festival"] else {})
    return out


def _speech(tts: ESpeak, plan: UtterancePlan, raw: tuple[np.ndarray, int] | None, sr: int, speed: float,
            gain: float) -> np.ndarray:
    """The words spoken at ``speed`` and ``gain`` (eSpeak NG here, other engines' audio from
    ``raw``); empty for an utterance without words."""
    if plan.words and plan.speaker.engine != "espeak":
        if raw is None:
            raise RuntimeError(f"utterance {plan.index}: no {plan.speaker.engine} audio was synthesised")
        return shape_speech(raw[0], raw[1], sr, speed) * gain
    if plan.words:
        speech = speak(tts, " ".join(plan.words), plan.speaker, sr, speed)
        speech *= gain
        return speech
    return np.zeros(0, dtype=np.float64)


def _placed(rng: np.random.Generator, speech: np.ndarray, settings: RenderSettings) -> tuple[np.ndarray, int, int]:
    """(speech cut to the clip, its offset, the clip length): centred in a fixed-length clip,
    or between margins, shifted at random by up to ``difficulty.shift_s``."""
    sr = settings.sample_rate
    shift = round(settings.difficulty.shift_s * sr)
    if settings.clip_s is not None:
        length = round(settings.clip_s * sr)
        speech = speech[:length]
        centre = (length - len(speech)) // 2
        offset = int(np.clip(centre + rng.integers(-shift, shift + 1), 0, length - len(speech)))
        return speech, offset, length
    margin = round(0.05 * sr)
    offset = margin + int(rng.integers(0, shift + 1))
    length = offset + len(speech) + margin + int(rng.integers(0, shift + 1))
    return speech, offset, length


def render_utterance(
    tts: ESpeak,
    plan: UtterancePlan,
    settings: RenderSettings,
    babble_bank: Sequence[np.ndarray],
    noise_bank: Mapping[str, np.ndarray],
    raw: tuple[np.ndarray, int] | None = None,
) -> np.ndarray:
    """One utterance's waveform at ``settings.sample_rate``, float32.

    ``raw`` is the engine's audio for a flite or festival speaker (eSpeak NG speaks through
    ``tts`` here, in shard order). The chain is: speech at its speed and gain, placed in the
    clip, the room (reverberation), babble and noise in that room, the microphone's spectral
    tilt, and last the telephone channel. Babble and noise are random segments of the shard's
    banks (unit-RMS noise per colour). Every random value is drawn whether or not its effect
    applies, so changing one probability does not reshuffle the others.
    """
    rng = np.random.default_rng(plan.seed)
    d = settings.difficulty
    sr = settings.sample_rate
    speed = rng.uniform(*d.speed)
    gain = 10 ** (rng.uniform(*d.gain_db) / 20)
    level = REFERENCE_RMS * gain
    reverb = rng.random() < d.reverb_probability
    rt60_s = rng.uniform(*d.rt60_s)
    drr_db = rng.uniform(*d.direct_to_reverb_db)
    rir_seed = int(rng.integers(2**63))
    tilt_db = rng.uniform(*d.tilt_db_per_octave)
    telephone = rng.random() < d.telephone_probability

    speech = _speech(tts, plan, raw, sr, speed, gain)
    if reverb and speech.size:
        speech = reverberate(
            speech, room_impulse_response(np.random.default_rng(rir_seed), sr, rt60_s, drr_db)
        )

    speech, offset, length = _placed(rng, speech, settings)
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
    if tilt_db != 0.0:
        out = spectral_tilt(out, sr, tilt_db)
    if telephone:
        out = telephone_channel(out, sr)
    return out.astype(np.float32)


def speak(tts: ESpeak, text: str, speaker: Speaker, sample_rate: int, speed: float = 1.0) -> np.ndarray:
    """Synthesise ``text``, trim silence, resample to ``sample_rate`` at ``speed``, scale to REFERENCE_RMS."""
    raw = tts.synthesize(text, speaker.voice, speaker.rate_wpm, speaker.pitch, speaker.pitch_range)
    return shape_speech(raw.astype(np.float64) / 32768.0, tts.sample_rate_hz, sample_rate, speed)


def shape_speech(audio: np.ndarray, source_rate: int, sample_rate: int, speed: float = 1.0) -> np.ndarray:
    """Trim an engine's silence, resample from ``source_rate`` to ``sample_rate`` at ``speed``, scale to REFERENCE_RMS."""
    audio = _trim(audio, source_rate)
    # Playing a signal resampled to sample_rate/speed at sample_rate makes it speed times faster.
    target = max(_RATE_STEP_HZ, round(sample_rate / speed / _RATE_STEP_HZ) * _RATE_STEP_HZ)
    g = gcd(target, source_rate)
    up, down = target // g, source_rate // g
    if up != down:
        audio = resample_poly(audio, up, down, window=_lowpass(up, down))
    return audio * (REFERENCE_RMS / _rms(audio))


def room_impulse_response(
    rng: np.random.Generator, sample_rate: int, rt60_s: float, drr_db: float
) -> np.ndarray:
    """A synthetic room: a unit direct path, then exponentially decaying Gaussian noise.

    The tail starts 2.5 ms after the direct path (early reflections), decays by 60 dB in
    ``rt60_s`` seconds, is cut at that point, and carries ``drr_db`` less energy than the
    direct path.
    """
    onset = max(1, round(0.0025 * sample_rate))
    n = max(onset + 1, round(rt60_s * sample_rate))
    t = np.arange(n - onset) / sample_rate
    tail = rng.standard_normal(n - onset) * np.exp(-6.9078 * t / rt60_s)  # ln(1000): 60 dB in amplitude
    tail *= np.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail**2)), 1e-12))
    rir = np.zeros(n)
    rir[0] = 1.0
    rir[onset:] = tail
    return rir


def reverberate(speech: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``speech`` heard in the room ``rir``, its tail cut to the speech's length plus 0.1 of the RIR, at the same RMS."""
    wet: np.ndarray = fftconvolve(speech, rir)[: len(speech) + len(rir) // 10]
    return wet * (_rms(speech) / _rms(wet))


def spectral_tilt(audio: np.ndarray, sample_rate: int, db_per_octave: float) -> np.ndarray:
    """Tilt the spectrum by ``db_per_octave`` around 1 kHz (a brighter or duller microphone), same RMS."""
    if audio.size == 0:
        return audio
    spectrum = np.fft.rfft(audio)
    f = np.maximum(np.fft.rfftfreq(len(audio), 1.0 / sample_rate), _TILT_FLOOR_HZ)
    spectrum *= 10 ** (db_per_octave * np.log2(f / _TILT_PIVOT_HZ) / 20)
    tilted = np.fft.irfft(spectrum, n=len(audio))
    return tilted * (_rms(audio) / _rms(tilted))


def telephone_channel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A narrow-band telephone line: 300-3400 Hz band-pass, resampled to 8 kHz and back, same length."""
    if audio.size == 0:
        return audio
    low, high = TELEPHONE_BAND_HZ
    high = min(high, 0.45 * sample_rate)
    sos = butter(4, (low, high), btype="bandpass", fs=sample_rate, output="sos")
    band: np.ndarray = sosfilt(sos, audio)
    g = gcd(TELEPHONE_RATE_HZ, sample_rate)
    up, down = TELEPHONE_RATE_HZ // g, sample_rate // g
    if up != down:
        narrow = resample_poly(band, up, down, window=_lowpass(up, down))
        band = resample_poly(narrow, down, up, window=_lowpass(down, up))[: len(audio)]
        band = np.pad(band, (0, len(audio) - len(band)))
    return band


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
