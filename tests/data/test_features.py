"""Log-mel features: per-utterance normalisation (CMN, CMVN) and vocal-tract-length perturbation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.data import Corpus, CorpusConfig, FeatureConfig, load_corpus, log_mel, mel_filterbank
from codesign.data._features import normalise_utterance, vtlp_frequencies
from codesign.data._synthetic import plan_corpus, vtlp_warps

SR = 16000


def _noise(seed: int, seconds: float = 0.5) -> np.ndarray:
    """Coloured (1/f-ish, so every channel differs) noise without digital silence."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(SR * seconds))
    return np.cumsum(white) * 0.01 + white * 0.1


def test_mean_normalisation_cancels_a_gain_and_mean_var_also_scales_each_channel() -> None:
    wave = _noise(0)
    for mode in ("mean", "mean_var"):
        cfg = FeatureConfig(utterance_normalisation=mode)
        quiet, loud = log_mel([wave, 3.0 * wave], cfg)
        # a gain is a constant in the log domain: it cancels exactly (up to the log floor)
        assert torch.allclose(quiet, loud, atol=1e-3)
        assert torch.allclose(quiet.mean(0), torch.zeros(40), atol=1e-4)
        std = quiet.std(0, unbiased=False)
        if mode == "mean_var":
            assert torch.allclose(std, torch.ones(40), atol=1e-4)
        else:
            assert not torch.allclose(std, torch.ones(40), atol=0.1)
    raw_quiet, raw_loud = log_mel([wave, 3.0 * wave], FeatureConfig())
    assert torch.allclose(raw_loud - raw_quiet, torch.full_like(raw_quiet, float(np.log(9.0))), atol=1e-3)


def test_utterance_normalisation_sees_only_its_own_frames() -> None:
    short, long = _noise(1, 0.3), _noise(2, 0.9)
    cfg = FeatureConfig(utterance_normalisation="mean_var")
    alone = log_mel([short], cfg)[0]
    batched = log_mel([long, short], cfg)[1]
    assert alone.shape == batched.shape
    assert torch.allclose(alone, batched, atol=1e-5)


def test_a_constant_channel_normalises_to_zero_not_nan() -> None:
    features = torch.cat([torch.full((10, 1), -18.4), torch.arange(10.0)[:, None]], dim=1)
    out = normalise_utterance(features, "mean_var")
    assert torch.isfinite(out).all()
    assert torch.all(out[:, 0] == 0)
    assert torch.equal(normalise_utterance(features, "none"), features)


def test_vtlp_warp_is_monotonic_keeps_the_band_and_scales_low_frequencies() -> None:
    hz = np.linspace(0.0, SR / 2, 257)
    for factor in (0.9, 1.0, 1.1):
        warped = vtlp_frequencies(hz, factor, SR / 2)
        assert warped[0] == 0.0 and warped[-1] == pytest.approx(SR / 2)
        assert np.all(np.diff(warped) > 0)
        low = hz < 3000
        assert np.allclose(warped[low], hz[low] * factor)
    assert torch.equal(mel_filterbank(512, 40, SR, 20.0, 8000.0, 1.0), mel_filterbank(512, 40, SR, 20.0, 8000.0))


def test_vtlp_moves_a_tone_to_the_channel_of_its_warped_frequency() -> None:
    t = np.arange(SR // 2) / SR
    cfg = FeatureConfig()

    def peak(wave: np.ndarray, warp: float) -> int:
        return int(log_mel([wave], cfg, [warp])[0].mean(0).argmax())

    tone = np.sin(2 * np.pi * 1500.0 * t)
    assert peak(tone, 1.2) == peak(np.sin(2 * np.pi * 1800.0 * t), 1.0)
    assert peak(tone, 1.2) > peak(tone, 1.0) > peak(tone, 0.85)
    with pytest.raises(ValueError, match="one warp per waveform"):
        log_mel([tone, tone], cfg, [1.1])


def test_new_options_at_their_defaults_leave_every_cache_key_as_it_was() -> None:
    plain = CorpusConfig(size=100)
    dumped = plain.to_dict()
    assert "utterance_normalisation" not in dumped["features"]
    assert "vtlp_warp" not in dumped["difficulty"]
    cmvn = CorpusConfig.model_validate({"size": 100, "features": {"utterance_normalisation": "mean_var"}})
    vtlp = CorpusConfig.model_validate({"size": 100, "difficulty": {"vtlp_warp": [0.9, 1.1]}})
    assert len({plain.cache_key(), cmvn.cache_key(), vtlp.cache_key()}) == 3
    for cfg in (cmvn, vtlp):
        assert CorpusConfig.model_validate(cfg.to_dict()) == cfg


def test_vtlp_warps_only_the_training_split(commands_corpus: Corpus, tiny_commands_config: CorpusConfig,
                                            corpus_cache: Path) -> None:
    cfg = CorpusConfig.model_validate(
        {**tiny_commands_config.to_dict(), "difficulty": {**tiny_commands_config.difficulty.to_dict(),
                                                           "vtlp_warp": [0.9, 1.1]}}
    )
    plan = plan_corpus(cfg)
    warps = vtlp_warps(cfg, plan)
    train = [w for w, u in zip(warps, plan.utterances, strict=True) if u.split == "train"]
    assert all(0.9 <= w <= 1.1 for w in train) and len(set(train)) == len(train)
    assert all(w == 1.0 for w, u in zip(warps, plan.utterances, strict=True) if u.split != "train")
    assert vtlp_warps(tiny_commands_config, plan_corpus(tiny_commands_config)) == [1.0] * len(plan.utterances)

    warped = load_corpus(cfg, cache_dir=corpus_cache, progress=False)

    def raw(corpus: Corpus, split: str) -> torch.Tensor:
        return corpus.split(split).features * corpus.feature_std + corpus.feature_mean

    # the same audio: scored splits unchanged (before the corpus statistics), training features warped
    for split in ("validation", "test"):
        assert torch.allclose(raw(warped, split), raw(commands_corpus, split), atol=1e-3)
    assert not torch.allclose(raw(warped, "train"), raw(commands_corpus, "train"), atol=1e-2)
