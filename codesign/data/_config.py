"""CorpusConfig: what synthetic corpus to build (task, size, seed, difficulty, features, splits)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from codesign.config import SEED_MAX, OmitAtDefault, Spec, stable_hash

#: ``commands`` and ``digits`` are synthesised (or imported); ``shd`` and ``librispeech`` are
#: only imported (``codesign data import``).
Task = Literal["commands", "digits", "shd", "librispeech"]
DifficultyName = Literal["easy", "default", "hard"]
#: The synthesis engines a corpus may use (codesign.data._engines.ENGINES).
EngineName = Literal["espeak", "flite", "festival", "espeak-mbrola"]
#: Per-utterance normalisation of each log-mel channel, before the corpus statistics:
#: ``none``; ``mean`` (cepstral mean normalisation: each channel minus its mean over the
#: utterance's frames); ``mean_var`` (CMVN: also divided by its standard deviation).
UtteranceNormalisation = Literal["none", "mean", "mean_var"]

#: Background talkers synthesised per generation shard, so the most one utterance's babble mixes.
MAX_BABBLE_TALKERS = 6

#: Bumped whenever the generator's output for a given config changes, so stale caches miss.
GENERATOR_VERSION = 4


def _check_range(value: tuple[float, float], name: str) -> tuple[float, float]:
    low, high = value
    if low > high:
        raise ValueError(f"a {name} range [low, high] with low <= high")
    return value


#: What each named preset changes from the field defaults (which are the ``default`` preset).
#: ``default`` is tuned so a small reference model lands between 85 % and 97 % on
#: ``commands`` test speakers (benchmarks/corpus_learnability.py measures it).
DIFFICULTY_PRESETS: dict[str, dict[str, object]] = {
    "easy": {
        "rate_wpm": (150, 190),
        "pitch": (35, 65),
        "pitch_range": (40, 60),
        "speed": (1.0, 1.0),
        "gain_db": (-3.0, 3.0),
        "noise_probability": 0.2,
        "snr_db": (20.0, 30.0),
        "babble_probability": 0.0,
        "shift_s": 0.05,
        "reverb_probability": 0.0,
        "telephone_probability": 0.0,
        "tilt_db_per_octave": (0.0, 0.0),
    },
    "default": {},
    "hard": {
        "rate_wpm": (110, 260),
        "pitch": (10, 90),
        "pitch_range": (0, 100),
        "speed": (0.8, 1.25),
        "gain_db": (-12.0, 6.0),
        "noise_probability": 1.0,
        "snr_db": (-5.0, 10.0),
        "babble_probability": 0.8,
        "babble_snr_db": (0.0, 10.0),
        "babble_talkers": (2, 5),
        "shift_s": 0.2,
        "reverb_probability": 0.6,
        "rt60_s": (0.2, 1.0),
        "telephone_probability": 0.3,
        "tilt_db_per_octave": (-6.0, 6.0),
    },
}


class Difficulty(OmitAtDefault):
    """How hard the synthetic audio is: speaker spread, noise, babble and perturbations.

    Given as a preset name (``"hard"``) or a mapping; a mapping starts from its ``preset``
    (``default`` if absent) and overrides the keys it names, so ``{preset: hard, snr_db:
    [0, 5]}`` is the hard preset with a narrower SNR range. Every range is ``[low, high]``,
    drawn uniformly per utterance (per speaker for ``rate_wpm``, ``pitch``, ``pitch_range``).
    """

    preset: DifficultyName = Field("default", description="the preset the other keys override")

    rate_wpm: tuple[int, int] = Field((130, 210), description="speaker speaking rate, words per minute")
    pitch: tuple[int, int] = Field((25, 75), description="speaker base pitch, eSpeak's 0..100 scale")
    pitch_range: tuple[int, int] = Field((20, 80), description="speaker intonation range, 0..100")
    speed: tuple[float, float] = Field((0.9, 1.1), description="speed perturbation factor (resampling)")
    gain_db: tuple[float, float] = Field((-6.0, 6.0), description="random gain applied to the speech")
    noise_probability: float = Field(
        0.8, ge=0.0, le=1.0, description="chance an utterance gets additive noise"
    )
    snr_db: tuple[float, float] = Field(
        (5.0, 25.0), description="speech-to-noise ratio of the additive noise"
    )
    babble_probability: float = Field(0.5, ge=0.0, le=1.0, description="chance an utterance gets babble")
    babble_snr_db: tuple[float, float] = Field((8.0, 20.0), description="speech-to-babble ratio")
    babble_talkers: tuple[int, int] = Field((1, 3), description="other speakers mixed into the babble")
    shift_s: float = Field(0.1, ge=0.0, le=1.0, description="largest random time shift of the speech")
    reverb_probability: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="chance the speech is convolved with a synthetic room impulse response",
    )
    rt60_s: tuple[float, float] = Field(
        (0.15, 0.6), description="reverberation time of the synthetic room (60 dB decay), seconds"
    )
    direct_to_reverb_db: tuple[float, float] = Field(
        (0.0, 12.0), description="energy of the direct path over the reverberant tail"
    )
    telephone_probability: float = Field(
        0.15, ge=0.0, le=1.0,
        description="chance of a telephone channel: 300-3400 Hz band, resampled through 8 kHz",
    )  # fmt: skip
    tilt_db_per_octave: tuple[float, float] = Field(
        (-3.0, 3.0), description="spectral tilt of the microphone/channel around 1 kHz, dB per octave"
    )
    vtlp_warp: tuple[float, float] = Field(
        (1.0, 1.0),
        description="vocal-tract-length perturbation of the training split only: each training "
        "utterance's mel filterbank reads its spectrum warped by a factor drawn from this range",
    )

    _omit_at_default = ("vtlp_warp",)

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: object) -> object:
        if isinstance(data, str):
            data = {"preset": data}
        if isinstance(data, dict):
            name = data.get("preset", "default")
            base = DIFFICULTY_PRESETS.get(name) if isinstance(name, str) else None
            if base is not None:
                data = {**base, **data}
        return data

    @field_validator("rate_wpm")
    @classmethod
    def _rate(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 80 <= v[0] <= v[1] <= 450:
            raise ValueError("a rate_wpm range within [80, 450] words per minute with low <= high")
        return v

    @field_validator("pitch", "pitch_range")
    @classmethod
    def _pitch(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= v[0] <= v[1] <= 100:
            raise ValueError("a range within eSpeak's [0, 100] scale with low <= high")
        return v

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.5 <= v[0] <= v[1] <= 2.0:
            raise ValueError("a speed range within [0.5, 2.0] with low <= high")
        return v

    @field_validator("babble_talkers")
    @classmethod
    def _talkers(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1] <= MAX_BABBLE_TALKERS:
            raise ValueError(f"a babble_talkers range within [1, {MAX_BABBLE_TALKERS}] with low <= high")
        return v

    @field_validator("gain_db", "snr_db", "babble_snr_db", "direct_to_reverb_db")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_range(v, "decibel")

    @field_validator("rt60_s")
    @classmethod
    def _rt60(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.05 <= v[0] <= v[1] <= 3.0:
            raise ValueError("an rt60_s range within [0.05, 3.0] seconds with low <= high")
        return v

    @field_validator("vtlp_warp")
    @classmethod
    def _vtlp(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.8 <= v[0] <= v[1] <= 1.25:
            raise ValueError("a vtlp_warp range within [0.8, 1.25] with low <= high")
        return v

    @field_validator("tilt_db_per_octave")
    @classmethod
    def _tilt(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not -12.0 <= v[0] <= v[1] <= 12.0:
            raise ValueError("a tilt_db_per_octave range within [-12, 12] dB per octave with low <= high")
        return v


class EngineSplit(Spec):
    """Which synthesis engines speak the training speakers and which are held out.

    Validation holds unseen speakers of the ``train`` engines; the test split holds speakers
    of the ``heldout`` engines only, so a test score measures transfer to an engine never
    heard in training. With ``heldout`` empty the test split holds unseen speakers of the
    training engines (the corpus of generator version 3 and before, when ``train`` is
    ``[espeak]``). An engine that is not installed is left out and named in the manifest.
    """

    train: tuple[EngineName, ...] = Field(
        ("espeak", "flite"), description="engines whose speakers form the train and validation splits"
    )
    heldout: tuple[EngineName, ...] = Field(
        ("festival",), description="engines never heard in training; their speakers form the test split"
    )

    @model_validator(mode="after")
    def _check(self) -> EngineSplit:
        if not self.train:
            raise ValueError("at least one training engine")
        if len(set(self.train)) != len(self.train) or len(set(self.heldout)) != len(self.heldout):
            raise ValueError("each engine named once")
        both = set(self.train) & set(self.heldout)
        if both:
            raise ValueError(f"an engine either trains or is held out, not both ({', '.join(sorted(both))})")
        return self


class SplitFractions(Spec):
    """Share of speakers (and so of utterances) in each split; must sum to 1."""

    train: float = Field(0.8, gt=0.0, lt=1.0)
    validation: float = Field(0.1, gt=0.0, lt=1.0)
    test: float = Field(0.1, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _sum(self) -> SplitFractions:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test to sum to 1 (they sum to {total:g})")
        return self


class FeatureConfig(OmitAtDefault):
    """Log-mel filterbank settings, shared by the synthetic corpus and the real-corpus loaders."""

    _omit_at_default = ("utterance_normalisation",)

    sample_rate: int = Field(16000, ge=8000, le=48000, description="audio is resampled to this rate")
    n_mels: int = Field(40, ge=1, le=256, description="mel bins per frame")
    win_ms: float = Field(25.0, gt=0.0, le=100.0, description="analysis window (Hann)")
    hop_ms: float = Field(10.0, gt=0.0, le=100.0, description="time between frames")
    f_min_hz: float = Field(20.0, ge=0.0, description="bottom of the mel filterbank")
    f_max_hz: float | None = Field(None, gt=0.0, description="top of the mel filterbank; None: sample_rate/2")
    utterance_normalisation: UtteranceNormalisation = Field(
        "none",
        description="per-utterance normalisation of each channel before the corpus statistics: "
        "none, mean (cepstral mean normalisation) or mean_var (CMVN)",
    )

    @model_validator(mode="after")
    def _check(self) -> FeatureConfig:
        if self.hop_ms > self.win_ms:
            raise ValueError(f"hop_ms <= win_ms (got {self.hop_ms} > {self.win_ms})")
        nyquist = self.sample_rate / 2
        if self.top_hz > nyquist or self.f_min_hz >= self.top_hz:
            raise ValueError(f"0 <= f_min_hz < f_max_hz <= sample_rate/2 = {nyquist:g}")
        if self.n_mels > self.n_fft // 2 + 1:
            raise ValueError(
                f"n_mels <= {self.n_fft // 2 + 1}, the frequency bins of a {self.win_ms} ms window"
            )
        return self

    @property
    def top_hz(self) -> float:
        """The filterbank's top frequency (``f_max_hz`` or the Nyquist frequency)."""
        return self.f_max_hz if self.f_max_hz is not None else self.sample_rate / 2

    @property
    def win_samples(self) -> int:
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_samples(self) -> int:
        return max(1, round(self.sample_rate * self.hop_ms / 1000))

    @property
    def n_fft(self) -> int:
        """FFT size: the window length rounded up to a power of two."""
        return 1 << (self.win_samples - 1).bit_length()

    @property
    def frame_ms(self) -> float:
        """Exact time between frames after rounding the hop to whole samples."""
        return 1000.0 * self.hop_samples / self.sample_rate


class CorpusConfig(Spec):
    """One synthetic speech corpus. Its resolved form (:meth:`cache_key`) names the cache entry."""

    task: Task = Field(
        "commands", description="commands: keyword classes; digits: connected digit strings (CTC)"
    )
    size: int = Field(4000, ge=30, le=1_000_000, description="utterances in all splits together")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="seeds speakers, texts and augmentation")
    difficulty: Difficulty = Field(Difficulty(), description="preset name or settings over a preset")
    n_speakers: int | None = Field(
        None, ge=3, le=100_000, description="distinct speakers; None: size/20 clamped to [10, 500]"
    )
    split: SplitFractions = SplitFractions()
    engines: EngineSplit = Field(EngineSplit(), description="training and held-out synthesis engines")
    features: FeatureConfig = FeatureConfig()
    imported: str | None = Field(
        None,
        description="a folder written by `codesign data import`: read that recorded corpus instead of synthesising",
    )
    clip_s: float = Field(1.0, ge=0.5, le=5.0, description="commands: fixed clip length in seconds")
    min_digits: int = Field(1, ge=1, le=20, description="digits: shortest string")
    max_digits: int = Field(7, ge=1, le=20, description="digits: longest string")
    oh_probability: float = Field(
        0.3, ge=0.0, le=1.0, description="digits: chance a zero is spoken and labelled 'oh'"
    )

    @model_validator(mode="after")
    def _check(self) -> CorpusConfig:
        if self.task in ("shd", "librispeech") and self.imported is None:
            raise ValueError(
                f"task {self.task!r} only with imported: a folder written by `codesign data import`"
            )
        if self.min_digits > self.max_digits:
            raise ValueError(f"min_digits <= max_digits (got {self.min_digits} > {self.max_digits})")
        speakers = self.speaker_count
        if speakers > self.size:
            raise ValueError(f"n_speakers <= size (got {speakers} speakers for {self.size} utterances)")
        for name, share in self.split.to_dict().items():
            if round(speakers * share) < 1 or round(self.size * share) < 1:
                raise ValueError(
                    f"a size and n_speakers that give the {name} split at least one speaker and "
                    f"utterance (size={self.size}, n_speakers={speakers}, {name}={share:g})"
                )
        return self

    # -- derived values -----------------------------------------------------------------
    @property
    def speaker_count(self) -> int:
        if self.n_speakers is not None:
            return self.n_speakers
        return max(10, min(500, self.size // 20))

    def cache_key(self) -> str:
        """Hash naming this corpus on disk: the config (presets expanded), the speaker count
        and the generator version, so a preset retuned in code never serves an old cache; and
        the engines found on this machine (versions and voices), so installing or removing
        one never serves a corpus made without it."""
        from codesign.data._engines import engine_inventory

        data = self.to_dict()
        if self.imported is not None:
            manifest = Path(self.imported).expanduser() / "manifest.json"
            data["imported_manifest"] = manifest.read_text() if manifest.is_file() else None
            return stable_hash(data)
        data["n_speakers"] = self.speaker_count
        data["generator_version"] = GENERATOR_VERSION
        data["engine_inventory"] = engine_inventory(self.engines.train + self.engines.heldout)
        return stable_hash(data)
