"""Several synthesis engines: held-out-engine splits, missing engines named, determinism, channel effects."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.config import ConfigError
from codesign.data import Corpus, CorpusConfig, plan_corpus
from codesign.data._engines import (
    EngineStatus,
    SynthesisRequest,
    engine_status,
    synthesize_festival,
    synthesize_flite,
)
from codesign.data._render import room_impulse_response, spectral_tilt, telephone_channel

needs_flite = pytest.mark.skipif(
    not engine_status("flite").available, reason="flite not installed (make engines)"
)
needs_festival = pytest.mark.skipif(
    not engine_status("festival").available, reason="festival not installed (make engines)"
)


@needs_flite
@needs_festival
def test_default_corpus_holds_out_festival_as_the_test_split(commands_corpus: Corpus) -> None:
    c = commands_corpus
    assert c.engines_of("test") == ("festival",) and c.heldout_engines == ("festival",)
    assert set(c.engines_of("train")) == {"espeak", "flite"}
    assert set(c.engines_of("validation")) <= {"espeak", "flite"}
    assert set(c.test.engines) == {"festival"} and set(c.train.engines) == {"espeak", "flite"}
    assert set(c.validation.engines) <= {"espeak", "flite"}
    assert all(v.startswith("festival:") for v in c.voices_of("test"))
    measured = c.measured_on("test")
    assert measured["heldout_engines"] == ["festival"] and measured["voices"] == list(c.voices_of("test"))
    assert c.measured_on("validation")["heldout_engines"] == []
    assert c.manifest["missing_engines"] == {} and c.manifest["notes"] == []
    assert c.manifest["engine_inventory"]["festival"]["available"]


def _missing(name: str):  # type: ignore[no-untyped-def]
    def status(engine: str) -> EngineStatus:
        if engine == name:
            return EngineStatus(engine, (), "", f"{engine} is not installed here")
        return engine_status(engine)

    return status


def test_a_missing_held_out_engine_is_named_with_the_split_it_affects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import codesign.data._synthetic as synthetic

    monkeypatch.setattr(synthetic, "engine_status", _missing("festival"))
    cfg = CorpusConfig(
        task="commands",
        size=60,
        seed=1,
        n_speakers=10,
        engines={"train": ["espeak"], "heldout": ["festival"]},
    )
    plan = plan_corpus(cfg)
    assert plan.missing_engines["festival"]["affects"] == ["test"]
    assert any("festival" in n and "test" in n for n in plan.notes)
    assert any("no held-out engine" in n for n in plan.notes)
    # the test split is then unseen eSpeak speakers, and says so
    assert {s.engine for s in plan.speakers["test"]} == {"espeak"}
    assert not set(plan.speakers["test"]) & set(plan.speakers["train"])


def test_a_missing_training_engine_is_named_and_all_missing_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import codesign.data._synthetic as synthetic

    monkeypatch.setattr(synthetic, "engine_status", _missing("flite"))
    cfg = CorpusConfig(
        task="commands", size=60, seed=1, n_speakers=10, engines={"train": ["espeak", "flite"], "heldout": []}
    )
    plan = plan_corpus(cfg)
    assert plan.missing_engines["flite"] == {
        "role": "train",
        "reason": "flite is not installed here",
        "affects": ["train", "validation"],
    }
    assert {s.engine for s in plan.speakers["train"]} == {"espeak"}
    only_flite = CorpusConfig(
        task="commands", size=60, seed=1, n_speakers=10, engines={"train": ["flite"], "heldout": []}
    )
    with pytest.raises(ConfigError, match=r"engines\.train"):
        plan_corpus(only_flite)


def test_mbrola_is_reported_missing_without_the_mbrola_program() -> None:
    import shutil

    status = engine_status("espeak-mbrola")
    if shutil.which("mbrola") is None:
        assert not status.available and "mbrola" in str(status.missing_reason)


def test_espeak_only_corpus_keeps_unseen_espeak_speakers_for_test() -> None:
    cfg = CorpusConfig(
        task="commands", size=60, seed=1, n_speakers=10, engines={"train": ["espeak"], "heldout": []}
    )
    plan = plan_corpus(cfg)
    assert all(s.engine == "espeak" for split in plan.speakers.values() for s in split)
    assert len(plan.speakers["test"]) == 1 and len(plan.speakers["validation"]) == 1 and plan.notes == ()


def test_engines_take_turns_over_the_training_speakers() -> None:
    plan = plan_corpus(CorpusConfig(task="commands", size=400, seed=2, n_speakers=20))
    engines = [s.engine for s in plan.speakers["train"] + plan.speakers["validation"]]
    expected = [e for e in ("espeak", "flite") if engine_status(e).available]
    assert sorted(set(engines)) == sorted(expected)
    if len(expected) == 2:
        assert abs(engines.count("espeak") - engines.count("flite")) <= 1


@needs_flite
def test_flite_speaks_each_text_the_same_whatever_was_said_before() -> None:
    voices = engine_status("flite").voices
    requests = [
        SynthesisRequest(i, voices[i % len(voices)], 150 + 10 * i, w)
        for i, w in enumerate(("seven", "marvin", "bird", "left", "yes", "tree", "go"))
    ]
    forward = synthesize_flite(requests)
    backward = synthesize_flite(requests[::-1])
    for r in requests:  # the unit-selection voices (awb, rms, slt) draw from libc's rand()
        assert forward[r.key][1] == backward[r.key][1] and np.array_equal(
            forward[r.key][0], backward[r.key][0]
        )
        assert forward[r.key][0].size > 0.1 * forward[r.key][1]
    # a slower rate makes longer speech
    fast = synthesize_flite([SynthesisRequest(0, voices[0], 200, "marvin")])[0][0]
    slow = synthesize_flite([SynthesisRequest(0, voices[0], 100, "marvin")])[0][0]
    assert slow.size > fast.size * 1.4


@needs_festival
def test_festival_speaks_each_text_the_same_whatever_was_said_before() -> None:
    for voice in engine_status("festival").voices:
        said = SynthesisRequest(0, voice, 150, "seven")
        alone = synthesize_festival([said])[0]
        before = [
            SynthesisRequest(1, voice, 200, "marvin went home"),
            SynthesisRequest(2, voice, 120, "bird"),
        ]
        after = synthesize_festival([*before, said])[0]
        assert alone[1] == after[1] and np.array_equal(alone[0], after[0])
        assert np.abs(alone[0]).max() > 0.05


def _band_power(x: np.ndarray, sr: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(spectrum[(f >= low) & (f < high)].sum())


def test_telephone_channel_keeps_300_to_3400_hz() -> None:
    x = np.random.default_rng(0).standard_normal(16000)
    y = telephone_channel(x, 16000)
    assert y.shape == x.shape
    inside = _band_power(y, 16000, 500, 3000) / _band_power(x, 16000, 500, 3000)
    above = _band_power(y, 16000, 4200, 8000) / _band_power(x, 16000, 4200, 8000)
    below = _band_power(y, 16000, 0, 100) / _band_power(x, 16000, 0, 100)
    assert inside > 0.5 and above < 1e-3 and below < 0.05


def test_room_impulse_response_decays_at_rt60_with_the_direct_to_reverb_ratio() -> None:
    rir = room_impulse_response(np.random.default_rng(0), 16000, rt60_s=0.5, drr_db=6.0)
    assert rir.size == 8000 and rir[0] == 1.0
    tail = rir[1:]
    assert 10 * np.log10(1.0 / np.sum(tail**2)) == pytest.approx(6.0, abs=1e-6)
    # energy of the first and the last 100 ms of the tail: 60 dB over 0.5 s is ~12 dB per 100 ms,
    # so ~48 dB between them
    first, last = np.sum(tail[:1600] ** 2), np.sum(tail[-1600:] ** 2)
    assert 40 < 10 * np.log10(first / last) < 56


def test_spectral_tilt_brightens_or_dulls_around_1_khz() -> None:
    x = np.random.default_rng(1).standard_normal(16000)
    ratio = _band_power(x, 16000, 3500, 4500) / _band_power(x, 16000, 200, 300)
    bright = spectral_tilt(x, 16000, 3.0)
    dull = spectral_tilt(x, 16000, -3.0)
    # 4 kHz vs 250 Hz is 4 octaves: +-12 dB of amplitude = x16 in power
    bright_ratio = _band_power(bright, 16000, 3500, 4500) / _band_power(bright, 16000, 200, 300)
    dull_ratio = _band_power(dull, 16000, 3500, 4500) / _band_power(dull, 16000, 200, 300)
    assert 10 < bright_ratio / ratio < 25 and 10 < ratio / dull_ratio < 25
    assert np.sqrt(np.mean(bright**2)) == pytest.approx(np.sqrt(np.mean(x**2)))


def test_easy_preset_has_no_channel_effects_and_hard_has_more() -> None:
    easy = CorpusConfig(difficulty="easy").difficulty
    default = CorpusConfig().difficulty
    hard = CorpusConfig(difficulty="hard").difficulty
    assert easy.reverb_probability == easy.telephone_probability == 0.0 and easy.tilt_db_per_octave == (
        0.0,
        0.0,
    )
    assert hard.reverb_probability > default.reverb_probability > 0
    assert hard.telephone_probability > default.telephone_probability > 0
