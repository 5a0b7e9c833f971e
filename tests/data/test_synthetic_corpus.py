"""The synthetic corpus: contract shapes, normalisation, speaker-disjoint splits, determinism, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.data import COMMAND_CLASSES, DIGIT_TOKENS, Corpus, CorpusConfig, load_corpus, load_waveforms
from codesign.data._corpus import SPLITS


def _valid_mask(features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return torch.arange(features.shape[1])[None, :] < lengths[:, None]


@pytest.mark.parametrize("name", ["commands_corpus", "digits_corpus"])
def test_corpus_obeys_the_contract(name: str, request: pytest.FixtureRequest) -> None:
    corpus: Corpus = request.getfixturevalue(name)
    cfg: CorpusConfig = request.getfixturevalue(
        "tiny_commands_config" if name == "commands_corpus" else "tiny_digits_config"
    )
    assert corpus.n_features == cfg.features.n_mels == 40
    assert corpus.frame_ms == pytest.approx(10.0)
    assert sum(len(corpus.split(s)) for s in SPLITS) == cfg.size
    for split in SPLITS:
        part = corpus.split(split)
        n = len(part)
        assert n > 0
        assert part.features.dtype == torch.float32 and part.features.shape[0] == n
        assert part.features.shape[2] == corpus.n_features
        assert part.feature_lengths.dtype == torch.int64 and part.feature_lengths.shape == (n,)
        assert int(part.feature_lengths.max()) == part.features.shape[1]
        assert part.targets.dtype == torch.int64 and part.target_lengths.dtype == torch.int64
        assert len(part.speakers) == n
        # zero padding after each utterance's frames
        assert torch.all(part.features[~_valid_mask(part.features, part.feature_lengths)] == 0)
        assert torch.isfinite(part.features).all()
    if corpus.kind == "classification":
        assert corpus.vocabulary == COMMAND_CLASSES and corpus.metric == "accuracy"
        assert corpus.train.targets.ndim == 1
        assert torch.all(corpus.train.target_lengths == 1)
        assert int(corpus.train.targets.max()) < len(corpus.vocabulary)
        # 1 s clips: every utterance has the same frame count
        assert torch.all(corpus.train.feature_lengths == corpus.train.feature_lengths[0])
    else:
        assert corpus.vocabulary == DIGIT_TOKENS and corpus.vocabulary[0] == "<blank>"
        assert corpus.metric == "wer"
        t, lengths = corpus.train.targets, corpus.train.target_lengths
        assert t.ndim == 2 and int(lengths.min()) >= cfg.min_digits and int(lengths.max()) <= cfg.max_digits
        valid = torch.arange(t.shape[1])[None, :] < lengths[:, None]
        assert torch.all(t[valid] > 0) and torch.all(t[~valid] == 0)


def test_features_are_normalised_with_training_statistics(commands_corpus: Corpus) -> None:
    train = commands_corpus.train
    frames = train.features[_valid_mask(train.features, train.feature_lengths)]
    assert torch.allclose(frames.mean(0), torch.zeros(40), atol=1e-3)
    assert torch.allclose(frames.std(0), torch.ones(40), atol=1e-2)
    # validation/test use the training statistics, so they are close to but not exactly standard
    test = commands_corpus.test
    test_frames = test.features[_valid_mask(test.features, test.feature_lengths)]
    assert not torch.allclose(test_frames.mean(0), torch.zeros(40), atol=1e-3)


@pytest.mark.parametrize("name", ["commands_corpus", "digits_corpus"])
def test_splits_are_speaker_disjoint_and_match_the_manifest(
    name: str, request: pytest.FixtureRequest
) -> None:
    corpus: Corpus = request.getfixturevalue(name)
    listed = {s: set(corpus.manifest["speakers"][s]) for s in SPLITS}
    for split in SPLITS:
        assert set(corpus.split(split).speakers) <= listed[split]
        assert listed[split]
    assert not listed["train"] & listed["test"]
    assert not listed["train"] & listed["validation"]
    assert not listed["validation"] & listed["test"]


def test_same_seed_same_corpus_whatever_the_worker_count(
    tmp_path: Path, commands_corpus: Corpus, tiny_commands_config: CorpusConfig
) -> None:
    again = load_corpus(tiny_commands_config, cache_dir=tmp_path, progress=False, workers=1)
    assert not again.cache_hit
    for split in SPLITS:
        assert torch.equal(again.split(split).features, commands_corpus.split(split).features)
        assert torch.equal(again.split(split).targets, commands_corpus.split(split).targets)
        assert again.split(split).speakers == commands_corpus.split(split).speakers


def test_another_seed_gives_another_corpus(
    tmp_path: Path, commands_corpus: Corpus, tiny_commands_config: CorpusConfig
) -> None:
    other = load_corpus(
        tiny_commands_config.model_copy(update={"seed": 8}), cache_dir=tmp_path, progress=False
    )
    assert not torch.equal(other.train.targets, commands_corpus.train.targets)
    assert set(other.train.speakers) != set(commands_corpus.train.speakers)


def test_second_load_is_a_cache_hit_without_synthesis(
    corpus_cache: Path,
    commands_corpus: Corpus,
    tiny_commands_config: CorpusConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = tiny_commands_config
    import codesign.data._synthetic as synthetic

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("synthesis ran on a cache hit")

    monkeypatch.setattr(synthetic, "_generate", refuse)
    again = load_corpus(cfg, cache_dir=corpus_cache, progress=False)
    assert again.cache_hit and again.cache_path == commands_corpus.cache_path
    assert torch.equal(again.train.features, commands_corpus.train.features)
    assert again.manifest["cache_key"] == cfg.cache_key()
    # nothing but complete entries in the cache root
    assert all(not p.name.startswith(".") for p in corpus_cache.iterdir())


def test_waveforms_are_the_audio_the_features_came_from(
    commands_corpus: Corpus, tiny_commands_config: CorpusConfig
) -> None:
    from codesign.data._synthetic import _featurise

    cfg = tiny_commands_config
    waves = load_waveforms(cfg, "test", [0, 3])
    assert [w.shape for w in waves] == [(16000,), (16000,)]
    assert all(w.dtype == np.float32 for w in waves)
    feats = _featurise(cfg, waves, [1.0, 1.0])
    mean, std = commands_corpus.feature_mean, commands_corpus.feature_std
    for f, row in zip(feats, [0, 3], strict=True):
        assert torch.allclose((f - mean) / std, commands_corpus.test.features[row], atol=1e-4)


def test_silence_utterances_are_quieter_than_speech() -> None:
    cfg = CorpusConfig(task="commands", size=60, seed=1, n_speakers=6, difficulty="easy")
    from codesign.data import plan_corpus

    plan = plan_corpus(cfg)
    rows = [i for i, u in enumerate(u for u in plan.utterances if u.split == "train")]
    train = [u for u in plan.utterances if u.split == "train"]
    waves = load_waveforms(cfg, "train", rows)
    silence = COMMAND_CLASSES.index("silence")
    loud = [float(np.sqrt(np.mean(w**2))) for w, u in zip(waves, train, strict=True) if u.target != silence]
    quiet = [float(np.sqrt(np.mean(w**2))) for w, u in zip(waves, train, strict=True) if u.target == silence]
    assert quiet and loud and max(quiet) < np.median(loud)


def test_an_interrupted_write_leaves_no_cache_entry(
    tmp_path: Path, tiny_digits_config: CorpusConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codesign.data._cache as cache

    saved: list[object] = []
    real_save = torch.save

    def save_then_fail(obj: object, path: object) -> None:
        if saved:
            raise KeyboardInterrupt
        saved.append(path)
        real_save(obj, path)

    monkeypatch.setattr(cache.torch, "save", save_then_fail)
    with pytest.raises(KeyboardInterrupt):
        load_corpus(tiny_digits_config, cache_dir=tmp_path, progress=False, workers=1)
    assert saved and list(tmp_path.iterdir()) == []


def test_a_damaged_cache_file_is_named(
    tmp_path: Path, commands_corpus: Corpus, tiny_commands_config: CorpusConfig
) -> None:
    import shutil

    from codesign.config import ConfigError

    assert commands_corpus.cache_path is not None
    entry = tmp_path / commands_corpus.cache_path.name
    shutil.copytree(commands_corpus.cache_path, entry)
    (entry / "test.pt").write_bytes((entry / "test.pt").read_bytes()[:100])
    with pytest.raises(ConfigError, match=r"test\.pt.*delete"):
        load_corpus(tiny_commands_config, cache_dir=tmp_path, progress=False)
    (entry / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"manifest\.json.*readable JSON"):
        load_corpus(tiny_commands_config, cache_dir=tmp_path, progress=False)


def test_default_cache_root_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codesign.data import default_cache_root

    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path))
    assert default_cache_root() == tmp_path / "corpus"
    monkeypatch.delenv("CODESIGN_CACHE_DIR")
    assert default_cache_root() == Path.home() / ".cache" / "codesign" / "corpus"


def test_digit_tokens_read_back_as_words(digits_corpus: Corpus) -> None:
    row = digits_corpus.test.targets[0, : digits_corpus.test.target_lengths[0]].tolist()
    words = digits_corpus.to_words([0, *row, 0])  # blanks are dropped
    assert len(words) == len(row) and all(w in DIGIT_TOKENS[1:] for w in words)
