"""CorpusConfig validation: presets, overrides, and one clear message per bad input."""

from __future__ import annotations

import pytest

from codesign.config import ConfigError, parse_spec
from codesign.data import DIFFICULTY_PRESETS, CorpusConfig


def test_presets_resolve_and_keys_override_them() -> None:
    hard = parse_spec(CorpusConfig, {"difficulty": "hard"})
    assert hard.difficulty.preset == "hard"
    assert hard.difficulty.snr_db == DIFFICULTY_PRESETS["hard"]["snr_db"]
    tuned = parse_spec(CorpusConfig, {"difficulty": {"preset": "hard", "snr_db": [0, 5]}})
    assert tuned.difficulty.snr_db == (0.0, 5.0)
    assert tuned.difficulty.speed == hard.difficulty.speed
    # the dumped form round-trips to the same config and hash
    again = parse_spec(CorpusConfig, tuned.to_dict())
    assert again == tuned and again.cache_key() == tuned.cache_key()


def test_cache_key_follows_content_not_spelling() -> None:
    a = parse_spec(CorpusConfig, {"task": "digits", "size": 100})
    b = parse_spec(CorpusConfig, {"task": "digits", "size": 100, "difficulty": {"preset": "default"}})
    assert a.cache_key() == b.cache_key()
    assert a.cache_key() != parse_spec(CorpusConfig, {"task": "digits", "size": 100, "seed": 1}).cache_key()
    assert (
        a.cache_key()
        != parse_spec(CorpusConfig, {"task": "digits", "size": 100, "features": {"n_mels": 20}}).cache_key()
    )


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"task": "phonemes"}, "data.task", "'commands', 'digits', 'shd' or 'librispeech'"),
        ({"task": "shd"}, "data", "only with imported"),
        ({"difficulty": {"rt60_s": [0.5, 9]}}, "data.difficulty.rt60_s", "within [0.05, 3.0]"),
        (
            {"difficulty": {"tilt_db_per_octave": [3, -3]}},
            "data.difficulty.tilt_db_per_octave",
            "low <= high",
        ),
        (
            {"difficulty": {"telephone_probability": 2}},
            "data.difficulty.telephone_probability",
            "less than or equal to 1",
        ),
        ({"engines": {"train": ["espeak"], "heldout": ["espeak"]}}, "data.engines", "not both"),
        ({"engines": {"train": []}}, "data.engines", "at least one training engine"),
        (
            {"engines": {"train": ["sapi"]}},
            "data.engines.train.0",
            "'espeak', 'flite', 'festival' or 'espeak-mbrola'",
        ),
        ({"size": 5}, "data.size", "greater than or equal to 30"),
        ({"difficulty": "medium"}, "data.difficulty.preset", "'easy', 'default' or 'hard'"),
        ({"difficulty": {"snr_db": [20, 0]}}, "data.difficulty.snr_db", "low <= high"),
        ({"difficulty": {"snrdb": [0, 5]}}, "data.difficulty.snrdb", "did you mean 'snr_db'?"),
        ({"difficulty": {"speed": [0.1, 1.0]}}, "data.difficulty.speed", "within [0.5, 2.0]"),
        ({"split": {"train": 0.5, "validation": 0.1, "test": 0.1}}, "data.split", "sum to 1"),
        ({"features": {"hop_ms": 30}}, "data.features", "hop_ms <= win_ms"),
        ({"features": {"f_max_hz": 9000}}, "data.features", "sample_rate/2 = 8000"),
        (
            {"features": {"utterance_normalisation": "cmvn"}},
            "data.features.utterance_normalisation",
            "'none', 'mean' or 'mean_var'",
        ),
        ({"difficulty": {"vtlp_warp": [0.7, 1.1]}}, "data.difficulty.vtlp_warp", "within [0.8, 1.25]"),
        ({"task": "digits", "min_digits": 5, "max_digits": 3}, "data", "min_digits <= max_digits"),
        ({"size": 40, "n_speakers": 50}, "data", "n_speakers <= size"),
        ({"size": 30, "n_speakers": 4}, "data", "at least one speaker"),
    ],
)
def test_bad_corpus_config_gets_one_clear_message(data: dict[str, object], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(CorpusConfig, data, file="study.yaml", key_prefix="data")
    message = str(caught.value)
    assert message.startswith("study.yaml: ")
    assert f"key '{key}'" in message
    assert fragment in message
