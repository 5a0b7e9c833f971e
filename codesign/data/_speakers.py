"""Synthetic speakers: an eSpeak NG English accent, a voice variant, a speaking rate and a pitch."""

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
    """One synthetic talker; equal tuples are the same talker."""

    accent: str
    variant: str
    rate_wpm: int
    pitch: int
    pitch_range: int

    @property
    def voice(self) -> str:
        """The eSpeak NG voice name, ``accent+variant``."""
        return f"{self.accent}+{self.variant}"

    @property
    def id(self) -> str:
        """A readable unique id, e.g. ``en-us+f3/r172/p45/g50``."""
        return f"{self.voice}/r{self.rate_wpm}/p{self.pitch}/g{self.pitch_range}"


def draw_speakers(rng: np.random.Generator, n: int, difficulty: Difficulty) -> list[Speaker]:
    """Draw ``n`` distinct speakers, spreading them over accent x variant pairs before repeating one.

    Args:
        rng: the corpus generator (consumed deterministically).
        n: how many speakers.
        difficulty: supplies the rate, pitch and pitch-range intervals.
    """
    accents, variants = available_voices()
    pairs = [(a, v) for a in accents for v in variants]
    speakers: list[Speaker] = []
    seen: set[Speaker] = set()
    order = rng.permutation(len(pairs))
    i = 0
    while len(speakers) < n:
        if i and i % len(pairs) == 0:
            order = rng.permutation(len(pairs))
        accent, variant = pairs[order[i % len(pairs)]]
        i += 1
        speaker = Speaker(
            accent=accent,
            variant=variant,
            rate_wpm=int(rng.integers(difficulty.rate_wpm[0], difficulty.rate_wpm[1] + 1)),
            pitch=int(rng.integers(difficulty.pitch[0], difficulty.pitch[1] + 1)),
            pitch_range=int(rng.integers(difficulty.pitch_range[0], difficulty.pitch_range[1] + 1)),
        )
        if speaker not in seen:
            seen.add(speaker)
            speakers.append(speaker)
    return speakers
