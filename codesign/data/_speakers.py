"""Synthetic speakers: an engine, its voice (for eSpeak NG an English accent and a variant), a rate and a pitch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.data._config import Difficulty
from codesign.data._espeak import available_voices


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


def _espeak_engines() -> dict[str, tuple[str, ...]]:
    """eSpeak NG alone, with its accent x variant pairs as voices."""
    accents, variants = available_voices()
    return {"espeak": tuple(f"{a}+{v}" for a in accents for v in variants)}


def _next_voice(rng: np.random.Generator, voices: tuple[str, ...], orders: dict[str, np.ndarray],
                drawn: dict[str, int], engine: str) -> str:
    """The engine's next voice in its shuffled order, shuffled again once every voice was used."""
    i = drawn[engine]
    if i and i % len(voices) == 0:
        orders[engine] = rng.permutation(len(voices))
    drawn[engine] = i + 1
    return voices[int(orders[engine][i % len(voices)])]


def _speaker(rng: np.random.Generator, engine: str, voice: str, difficulty: Difficulty) -> Speaker:
    """A speaker of ``voice`` with a drawn rate, pitch and pitch range (the last two eSpeak NG's only)."""
    rate = int(rng.integers(difficulty.rate_wpm[0], difficulty.rate_wpm[1] + 1))
    pitch = int(rng.integers(difficulty.pitch[0], difficulty.pitch[1] + 1))
    pitch_range = int(rng.integers(difficulty.pitch_range[0], difficulty.pitch_range[1] + 1))
    if engine == "espeak":
        accent, variant = voice.split("+", 1)
        return Speaker(accent, variant, rate, pitch, pitch_range)
    return Speaker("", voice, rate, 0, 0, engine)


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
        engines = _espeak_engines()
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
        voice = _next_voice(rng, engines[engine], orders, drawn, engine)
        speaker = _speaker(rng, engine, voice, difficulty)
        if speaker not in seen:
            seen.add(speaker)
            speakers.append(speaker)
    return speakers
