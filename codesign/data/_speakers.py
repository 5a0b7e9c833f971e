"""Synthetic speakers: an engine, its voice (for eSpeak NG an English accent and a variant), a rate and a pitch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from codesign.data._config import Difficulty
from codesign.data._espeak import data_path

#: English accents eSpeak NG may ship (``espeak-ng-data/lang/gmw``); those present are used.
ACCENT_CANDIDATES: tuple[str, ...] = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-us-nyc",
)  # fmt: skip

#: Voice variants (``espeak-ng-data/voices/!v``) that still sound like one human talker; the
#: robotic and novelty ones (robosoft*, UniRobot, Demonic, ...) are left out.
VARIANT_CANDIDATES: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "croak", "whisper", "whisperf",
    "adam", "Alex", "Andy", "Annie", "aunty", "belinda", "benjamin", "boris", "david", "ed",
    "edward", "grandma", "grandpa", "ian", "john", "linda", "max", "michel", "norbert",
    "paul", "quincy", "rob", "robert", "shelby", "steph", "travis", "victor", "zac",
)  # fmt: skip


@cache
def available_voices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (accents, variants) of the candidates that exist in the shipped voice data."""
    root = data_path()
    lang_files = {p.name.lower() for p in (root / "lang").rglob("*") if p.is_file()}
    accents = tuple(a for a in ACCENT_CANDIDATES if a in lang_files)
    variant_dir = root / "voices" / "!v"
    variants = tuple(v for v in VARIANT_CANDIDATES if (variant_dir / v).is_file())
    if not accents or not variants:
        raise RuntimeError(f"eSpeak NG data at {root} holds no English accents or voice variants")
    return accents, variants


@dataclass(frozen=True)
class Speaker:
    """One synthetic talker; equal tuples are the same talker.

    For eSpeak NG, ``accent`` and ``variant`` make the voice ``accent+variant`` and ``pitch``,
    ``pitch_range`` are eSpeak's 0..100 settings. For flite and festival ``accent`` is empty,
    ``variant`` is the engine's voice name and ``pitch``/``pitch_range`` are 0 (their voices
    keep their own intonation; the per-utterance speed perturbation still moves the pitch).
    """

    accent: str
    variant: str
    rate_wpm: int
    pitch: int
    pitch_range: int
    engine: str = "espeak"

    @property
    def voice(self) -> str:
        """The engine's voice name: ``accent+variant`` for eSpeak NG, else the variant."""
        return f"{self.accent}+{self.variant}" if self.engine == "espeak" else self.variant

    @property
    def id(self) -> str:
        """A readable unique id, e.g. ``espeak:en-us+f3/r172/p45/g50`` or ``flite:slt/r150``."""
        if self.engine == "espeak":
            return f"espeak:{self.voice}/r{self.rate_wpm}/p{self.pitch}/g{self.pitch_range}"
        return f"{self.engine}:{self.voice}/r{self.rate_wpm}"


def engine_of(speaker_id: str) -> str:
    """The engine of a synthetic speaker id (the part before ``:``); ``""`` for other ids."""
    engine, sep, _ = speaker_id.partition(":")
    return engine if sep else ""


def voice_of(speaker_id: str) -> str:
    """``engine:voice`` of a synthetic speaker id (without rate and pitch); ``""`` for other ids."""
    return speaker_id.split("/", 1)[0] if ":" in speaker_id else ""


def draw_speakers(
    rng: np.random.Generator,
    n: int,
    difficulty: Difficulty,
    engines: dict[str, tuple[str, ...]] | None = None,
) -> list[Speaker]:
    """Draw ``n`` distinct speakers: engines take turns, and within an engine the voices are
    spread over before one repeats.

    Args:
        rng: the corpus generator (consumed deterministically).
        n: how many speakers.
        difficulty: supplies the rate, pitch and pitch-range intervals.
        engines: voices per engine, in turn order (default: eSpeak NG's accent x variant pairs).

    Raises:
        ValueError: the engines' voices and the rate range cannot give ``n`` distinct speakers.
    """
    if engines is None:
        accents, variants = available_voices()
        engines = {"espeak": tuple(f"{a}+{v}" for a in accents for v in variants)}
    names = [e for e in engines if engines[e]]
    if not names:
        raise ValueError("no engine with voices to draw speakers from")
    orders = {e: rng.permutation(len(engines[e])) for e in names}
    drawn = dict.fromkeys(names, 0)
    speakers: list[Speaker] = []
    seen: set[Speaker] = set()
    attempts = 0
    while len(speakers) < n:
        attempts += 1
        if attempts > 100 * n + 1000:
            raise ValueError(f"cannot draw {n} distinct speakers from {', '.join(names)} with these ranges")
        engine = names[(attempts - 1) % len(names)]
        voices = engines[engine]
        i = drawn[engine]
        if i and i % len(voices) == 0:
            orders[engine] = rng.permutation(len(voices))
        voice = voices[orders[engine][i % len(voices)]]
        drawn[engine] = i + 1
        rate = int(rng.integers(difficulty.rate_wpm[0], difficulty.rate_wpm[1] + 1))
        pitch = int(rng.integers(difficulty.pitch[0], difficulty.pitch[1] + 1))
        pitch_range = int(rng.integers(difficulty.pitch_range[0], difficulty.pitch_range[1] + 1))
        if engine == "espeak":
            accent, variant = voice.split("+", 1)
            speaker = Speaker(accent, variant, rate, pitch, pitch_range)
        else:
            speaker = Speaker("", voice, rate, 0, 0, engine)
        if speaker not in seen:
            seen.add(speaker)
            speakers.append(speaker)
    return speakers
