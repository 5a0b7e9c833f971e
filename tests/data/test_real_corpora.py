"""Real-corpus loaders on tiny fixtures written here in each dataset's own layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from codesign.config import ConfigError
from codesign.data import (
    LIBRISPEECH_TOKENS,
    FeatureConfig,
    load_librispeech,
    load_shd,
    load_speech_commands,
)
from codesign.data._espeak import ESpeak
from codesign.data._render import speak
from codesign.data._speakers import Speaker

SPEAKERS = ("0a7c2a8d", "0b09edd3", "1e02ffc5", "3b195250")


def _say(tts: ESpeak, text: str, speaker: int, rate: int) -> np.ndarray:
    voice = Speaker("en-us", ("m1", "f2", "m3", "f4")[speaker], 160 + 10 * speaker, 40 + 5 * speaker, 50)
    return speak(tts, text, voice, rate).astype(np.float32)


@pytest.fixture(scope="module")
def speech_commands(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three words x four speakers x two takes, 16 kHz wav (one at 22.05 kHz), with SC's lists."""
    root = tmp_path_factory.mktemp("speech_commands")
    (root / "_background_noise_").mkdir()
    soundfile.write(root / "_background_noise_" / "white.wav", np.zeros(1600, dtype=np.float32), 16000)
    validation, testing = [], []
    with ESpeak(seed=1) as tts:
        for word in ("yes", "no", "bird"):
            (root / word).mkdir()
            for s, speaker in enumerate(SPEAKERS):
                for take in range(2):
                    rate = 22050 if (word, s, take) == ("no", 0, 1) else 16000
                    rel = f"{word}/{speaker}_nohash_{take}.wav"
                    soundfile.write(root / rel, _say(tts, word, s, rate), rate)
                    if s == 2:
                        validation.append(rel)
                    if s == 3:
                        testing.append(rel)
    (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (root / "testing_list.txt").write_text("\n".join(testing) + "\n")
    return root


def test_speech_commands_layout_loads_with_the_lists_splits(speech_commands: Path) -> None:
    corpus = load_speech_commands(speech_commands, progress=False)
    assert corpus.task == "commands" and corpus.kind == "classification"
    assert corpus.vocabulary == ("bird", "no", "yes")
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (12, 6, 6)
    assert set(corpus.test.speakers) == {SPEAKERS[3]} and set(corpus.validation.speakers) == {SPEAKERS[2]}
    assert corpus.train.features.shape == (12, 97, 40)
    assert sorted(corpus.train.targets.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    frames = corpus.train.features.reshape(-1, 40)
    assert torch.allclose(frames.mean(0), torch.zeros(40), atol=1e-3)


def test_speech_commands_keywords_map_other_words_to_unknown(speech_commands: Path) -> None:
    corpus = load_speech_commands(speech_commands, keywords=["yes", "no"], progress=False)
    assert corpus.vocabulary == ("yes", "no", "unknown")
    assert corpus.train.targets.bincount().tolist() == [4, 4, 4]
    with pytest.raises(ConfigError, match="keywords"):
        load_speech_commands(speech_commands, keywords=["yes", "maybe"], progress=False)


def test_speech_commands_missing_and_corrupt_files_are_named(speech_commands: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory not found"):
        load_speech_commands(tmp_path / "nowhere", progress=False)
    broken = tmp_path / "sc"
    broken.mkdir()
    (broken / "yes").mkdir()
    (broken / "yes" / "a_nohash_0.wav").write_bytes(b"RIFF not really a wav")
    with pytest.raises(ConfigError, match=r"validation_list\.txt.*file not found"):
        load_speech_commands(broken, progress=False)
    (broken / "validation_list.txt").write_text("yes/b_nohash_0.wav\n")
    (broken / "testing_list.txt").write_text("")
    with pytest.raises(ConfigError, match=r"b_nohash_0\.wav.*listed in validation_list\.txt"):
        load_speech_commands(broken, progress=False)
    (broken / "validation_list.txt").write_text("")
    with pytest.raises(ConfigError, match=r"a_nohash_0\.wav.*readable wav or flac"):
        load_speech_commands(broken, progress=False)


@pytest.fixture(scope="module")
def librispeech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two speakers per subset, one chapter each, two flac utterances per chapter."""
    root = tmp_path_factory.mktemp("LibriSpeech")
    texts = ("SEVEN THREE", "IT'S ONE TWO", "NO GO", "LEFT RIGHT UP")
    with ESpeak(seed=2) as tts:
        for sub_i, subset in enumerate(("train-clean-100", "dev-clean", "test-clean")):
            for k in range(2):
                speaker, chapter = str(100 + 10 * sub_i + k), "7"
                folder = root / subset / speaker / chapter
                folder.mkdir(parents=True)
                lines = []
                for u, text in enumerate(texts[k * 2 : k * 2 + 2]):
                    utt = f"{speaker}-{chapter}-{u:04d}"
                    soundfile.write(folder / f"{utt}.flac", _say(tts, text.lower(), k, 16000), 16000)
                    lines.append(f"{utt} {text}")
                (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def test_librispeech_layout_loads_as_character_ctc(librispeech: Path) -> None:
    corpus = load_librispeech(librispeech, progress=False)
    assert corpus.task == "librispeech" and corpus.kind == "ctc" and corpus.metric == "wer"
    assert corpus.vocabulary == LIBRISPEECH_TOKENS and corpus.vocabulary[0] == "<blank>"
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (4, 4, 4)
    first = corpus.train.targets[0, : corpus.train.target_lengths[0]].tolist()
    assert corpus.to_words(first) == ["seven", "three"]
    assert set(corpus.train.speakers) == {"100", "101"} and set(corpus.test.speakers) == {"120", "121"}
    assert corpus.token_unit == "character"
    assert torch.all(
        corpus.train.targets[
            ~(torch.arange(corpus.train.targets.shape[1]) < corpus.train.target_lengths[:, None])
        ]
        == 0
    )
    assert len(load_librispeech(librispeech, max_utterances=1, progress=False).test) == 1


def test_librispeech_problems_are_named(librispeech: Path, tmp_path: Path) -> None:
    subsets = {"train": "train-clean-100", "validation": "missing", "test": "test-clean"}
    with pytest.raises(ConfigError, match=r"missing: .*validation split.*directory not found"):
        load_librispeech(librispeech, subsets=subsets, progress=False)
    flac = next((librispeech / "test-clean").rglob("*.flac"))
    saved = flac.read_bytes()
    try:
        flac.write_bytes(b"fLaC garbage")
        with pytest.raises(ConfigError, match=flac.name):
            load_librispeech(librispeech, progress=False)
    finally:
        flac.write_bytes(saved)
    transcript = next((librispeech / "dev-clean").rglob("*.trans.txt"))
    saved_text = transcript.read_text()
    try:
        transcript.write_text(saved_text + "100-7-0009 SEVEN & THREE\n")
        with pytest.raises(ConfigError, match="line 3"):
            load_librispeech(librispeech, progress=False)
    finally:
        transcript.write_text(saved_text)


def _write_shd(path: Path, n: int, speakers: list[int], seed: int) -> None:
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            count = int(rng.integers(20, 60))
            times[i] = np.sort(rng.uniform(0, 0.2 + 0.05 * (i % 3), count)).astype(np.float32)
            units[i] = rng.integers(0, 700, count).astype(np.uint16)
        f.create_dataset("labels", data=np.arange(n) % 20, dtype=np.uint8)
        f.create_dataset(
            "extra/speaker", data=np.array([speakers[i % len(speakers)] for i in range(n)]), dtype=np.uint8
        )
        f.create_dataset("extra/keys", data=np.array([f"digit-{i}".encode() for i in range(20)]))


def test_shd_bins_spikes_into_frames(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    _write_shd(tmp_path / "shd_train.h5", 40, [0, 1, 2, 3, 4], seed=0)
    _write_shd(tmp_path / "shd_test.h5", 20, [5, 6], seed=1)
    raw = load_shd(tmp_path, bin_ms=10.0, unit_pool=7, normalise=False)
    assert raw.task == "shd" and raw.n_features == 100 and raw.frame_ms == 10.0
    assert raw.vocabulary[3] == "digit-3" and len(raw.vocabulary) == 20
    assert len(raw.train) + len(raw.validation) == 40 and len(raw.test) == 20
    assert not set(raw.train.speakers) & set(raw.validation.speakers)
    # every spike lands in exactly one bin
    import h5py

    with h5py.File(tmp_path / "shd_test.h5") as f:
        expected = [len(t) for t in f["spikes/times"]]
        frames = [int(np.ceil(t.max() * 100)) for t in f["spikes/times"]]
    assert raw.test.features.sum(dim=(1, 2)).round().long().tolist() == expected
    assert raw.test.feature_lengths.tolist() == frames
    normalised = load_shd(tmp_path, bin_ms=10.0, unit_pool=7)
    assert not torch.equal(normalised.train.features, raw.train.features)


def test_shd_missing_and_corrupt_files_are_named(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    with pytest.raises(ConfigError, match=r"shd_train\.h5.*file not found"):
        load_shd(tmp_path)
    (tmp_path / "shd_train.h5").write_bytes(b"not hdf5")
    (tmp_path / "shd_test.h5").write_bytes(b"not hdf5")
    with pytest.raises(ConfigError, match=r"shd_train\.h5.*readable SHD HDF5"):
        load_shd(tmp_path)
    import h5py

    with h5py.File(tmp_path / "shd_train.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(3, dtype=np.uint8))
    with pytest.raises(ConfigError, match=r"spikes/times"):
        load_shd(tmp_path)


def test_feature_config_is_honoured(speech_commands: Path) -> None:
    corpus = load_speech_commands(
        speech_commands, features=FeatureConfig(n_mels=20, hop_ms=20), progress=False
    )
    assert corpus.n_features == 20 and corpus.frame_ms == 20.0
    assert corpus.train.features.shape[1:] == (49, 20)


def _import_and_use(fmt: str, root: Path, out: Path, task: str, extra: list[str] | None = None) -> None:
    """``codesign data import`` writes a folder that ``load_corpus`` reads as the same corpus."""
    from codesign.cli import main
    from codesign.data import CorpusConfig, load_corpus

    assert (
        main(
            ["data", "import", str(root), "--format", fmt, "--out", str(out), "--no-progress", *(extra or [])]
        )
        == 0
    )
    corpus = load_corpus(CorpusConfig(task=task, imported=str(out)))  # type: ignore[arg-type]
    assert corpus.task == task and corpus.cache_hit and corpus.engines_of("test") == ()
    assert corpus.measured_on("test")["source"] == str(root.resolve())
    return None


def test_import_speech_commands_is_a_study_corpus(
    speech_commands: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codesign.data import CorpusConfig, load_corpus

    out = tmp_path / "sc"
    _import_and_use("speech_commands", speech_commands, out, "commands", ["--keywords", "yes,no"])
    assert f"imported: {out}" in capsys.readouterr().out
    direct = load_speech_commands(speech_commands, keywords=["yes", "no"], progress=False)
    imported = load_corpus(CorpusConfig(task="commands", imported=str(out)))
    assert imported.vocabulary == direct.vocabulary == ("yes", "no", "unknown")
    for split in ("train", "validation", "test"):
        assert torch.equal(imported.split(split).features, direct.split(split).features)
        assert torch.equal(imported.split(split).targets, direct.split(split).targets)
        assert imported.split(split).speakers == direct.split(split).speakers
    # the task must match what was imported
    with pytest.raises(ConfigError, match="task"):
        load_corpus(CorpusConfig(task="digits", imported=str(out)))
    with pytest.raises(ConfigError, match="codesign data import"):
        load_corpus(CorpusConfig(task="commands", imported=str(tmp_path / "nothing")))


def test_import_librispeech_keeps_character_tokens(librispeech: Path, tmp_path: Path) -> None:
    from codesign.data import CorpusConfig, load_corpus

    _import_and_use("librispeech", librispeech, tmp_path / "ls", "librispeech")
    corpus = load_corpus(CorpusConfig(task="librispeech", imported=str(tmp_path / "ls")))
    direct = load_librispeech(librispeech)
    assert corpus.token_unit == "character" and corpus.vocabulary == LIBRISPEECH_TOKENS
    assert torch.equal(corpus.test.targets, direct.test.targets)
    assert corpus.to_words(corpus.test.targets[0].tolist()) == direct.to_words(
        direct.test.targets[0].tolist()
    )


def test_import_shd(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    root = tmp_path / "shd"
    root.mkdir()
    _write_shd(root / "shd_train.h5", 40, [0, 1, 2, 3, 4], seed=0)
    _write_shd(root / "shd_test.h5", 20, [5, 6], seed=1)
    _import_and_use("shd", root, tmp_path / "out", "shd")


def test_import_bad_format_or_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from codesign.cli import main

    assert main(["data", "import", str(tmp_path), "--format", "timit"]) == 2
    assert "--format" in capsys.readouterr().err
    assert main(["data", "import", str(tmp_path / "absent"), "--format", "shd"]) == 2
    # spike input has no log-mel features to normalise: asking for it is refused, not recorded
    assert main(["data", "import", str(tmp_path), "--format", "shd", "--utterance-normalisation", "mean_var"]) == 2
    assert "none for shd" in capsys.readouterr().err
    with pytest.raises(ValueError, match="imported"):
        from codesign.data import CorpusConfig

        CorpusConfig(task="shd")


def test_import_with_cmvn_is_read_only_by_a_config_that_names_it(
    speech_commands: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codesign.cli import main
    from codesign.data import CorpusConfig, FeatureConfig, load_corpus

    out = tmp_path / "sc_cmvn"
    argv = ["data", "import", str(speech_commands), "--format", "speech_commands", "--out", str(out)]
    assert main([*argv, "--no-progress", "--utterance-normalisation", "mean_var"]) == 0
    assert "features: {utterance_normalisation: mean_var}" in capsys.readouterr().out
    cmvn = FeatureConfig(utterance_normalisation="mean_var")
    imported = load_corpus(CorpusConfig(task="commands", imported=str(out), features=cmvn))
    direct = load_speech_commands(speech_commands, features=cmvn, progress=False)
    assert torch.equal(imported.test.features, direct.test.features)
    # a config that does not name the folder's normalisation is refused, naming the key
    with pytest.raises(ConfigError, match="utterance_normalisation") as err:
        load_corpus(CorpusConfig(task="commands", imported=str(out)))
    assert "--utterance-normalisation none" in str(err.value)
    assert main([*argv[:-2], "--out", str(tmp_path / "x"), "--utterance-normalisation", "cmvn"]) == 2
    assert "--utterance-normalisation" in capsys.readouterr().err


def test_reimport_into_a_folder_made_with_other_options_is_refused_and_keeps_it(
    speech_commands: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The folder was kept while the command printed the new setting as if it had been applied."""
    from codesign.cli import main

    out = tmp_path / "sc"
    argv = ["data", "import", str(speech_commands), "--format", "speech_commands", "--out", str(out), "--no-progress"]
    assert main([*argv, "--utterance-normalisation", "mean_var"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(argv) == 2  # default: none
    err = capsys.readouterr().err
    assert "features.utterance_normalisation: mean_var there, none now" in err
    assert str(out / "manifest.json") in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # the same options again find the folder as it is
    assert main([*argv, "--utterance-normalisation", "mean_var"]) == 0
    assert "features: {utterance_normalisation: mean_var}" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
