"""Typed all the way: a network's config is its family's, training parameters are ``train.*``,
the study holds typed corpus and chip configs, and what older versions stored still reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from codesign.config import ConfigError, parse_spec
from codesign.data import CorpusConfig
from codesign.hardware import ChipConfig
from codesign.search import (
    StudySpec,
    TrialRecord,
    load_study,
    parse_space,
    record_of,
    split_params,
)
from codesign.search._evaluate import training_key
from codesign.search._spec import model_for
from codesign.search._strategy import Nested
from codesign.snn import MambaConfig, SpikeformerConfig, SRNNConfig, parse_model_config
from codesign.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def _flat_dump(family: str, **values: Any) -> dict[str, Any]:
    """What ``ModelConfig.to_dict()`` stored before the families were split: every field."""
    flat: dict[str, Any] = {}
    for cls in (SRNNConfig, MambaConfig, SpikeformerConfig):
        flat.update(cls().to_dict())
    return {**flat, "family": family, **values}


def test_each_family_holds_only_its_own_fields() -> None:
    assert "heads" in SpikeformerConfig.model_fields and "heads" not in MambaConfig.model_fields
    assert "state_size" not in SRNNConfig.model_fields and "neuron" not in SRNNConfig.model_fields
    assert parse_model_config({}) == SpikeformerConfig()  # no family: a Spikeformer
    with pytest.raises(ConfigError) as info:
        parse_model_config({"family": "srnn", "state_size": 4}, file="m.yaml", key_prefix="model")
    assert info.value.key == "model.state_size" and "family 'mamba'" in str(info.value)


def test_a_flat_config_stored_before_the_split_reads_as_its_family() -> None:
    cfg = parse_model_config(_flat_dump("mamba", variant="event", state_size=4, heads=2))
    assert isinstance(cfg, MambaConfig) and cfg.state_size == 4 and "heads" not in cfg.to_dict()


def test_training_key_hashes_only_the_fields_of_the_family() -> None:
    train, corpus = TrainConfig(), CorpusConfig()
    a = parse_model_config(_flat_dump("srnn", heads=2))
    b = parse_model_config(_flat_dump("srnn", heads=4, state_size=16))  # other families' fields differ
    assert training_key(a, train, corpus, 0, 16) == training_key(b, train, corpus, 0, 16)
    c = SRNNConfig(quant_bits=3)
    assert training_key(a, train, corpus, 0, 16) != training_key(c, train, corpus, 0, 16)


def test_a_family_override_keeps_only_the_base_fields_the_family_has() -> None:
    base = SpikeformerConfig(width=32, heads=2, subsample=4)
    cfg = model_for(base, {"family": "srnn", "quant_bits": 3})
    assert isinstance(cfg, SRNNConfig) and (cfg.width, cfg.subsample, cfg.quant_bits) == (32, 4, 3)
    with pytest.raises(ConfigError) as info:
        model_for(base, {"family": "srnn", "heads": 2})
    assert info.value.key == "snn.heads"


def test_training_parameters_have_their_own_namespace() -> None:
    model, train, chip = split_params({"snn.width": 32, "train.learning_rate": 1e-3, "hw.cores": 2})
    assert (model, train, chip) == ({"width": 32}, {"learning_rate": 1e-3}, {"cores": 2})
    with pytest.raises(ConfigError) as info:
        split_params({"snn.learning_rate": 1e-3})
    assert info.value.key == "snn.learning_rate" and "use 'train.learning_rate'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_space({"parameters": {"snn.batch_size": 16}}, file="s.yaml")
    assert info.value.key == "parameters.snn.batch_size" and "use 'train.batch_size'" in str(info.value)


def test_the_nested_strategy_asks_network_and_training_parameters() -> None:
    space = parse_space({"parameters": {"snn.width": {"type": "categorical", "choices": [32, 64]},
                                        "train.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2},
                                        "hw.cores": {"type": "categorical", "choices": [1, 2]}}})
    assert Nested().ask_space(space).names() == ["snn.width", "train.learning_rate"]


def test_a_field_of_another_family_needs_a_condition_on_the_family() -> None:
    family = {"type": "categorical", "choices": ["spikeformer", "mamba"]}
    with pytest.raises(ConfigError) as info:
        parse_space({"parameters": {"snn.family": family, "snn.heads": {"type": "int", "low": 1, "high": 2}}},
                    file="s.yaml")
    assert info.value.key == "parameters.snn.heads" and "when: {snn.family: spikeformer}" in str(info.value)
    shared = parse_space({"parameters": {
        "snn.family": family,
        "snn.heads": {"type": "int", "low": 1, "high": 2, "when": {"snn.family": "spikeformer"}},
        "snn.state_size": {"type": "int", "low": 4, "high": 8, "when": {"snn.family": ["mamba"]}},
        "snn.levels": {"type": "int", "low": 1, "high": 4},  # both families have it
    }})
    assert shared.names()[-1] == "snn.levels"


def test_a_space_without_a_family_is_checked_against_the_study_model(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text("parameters:\n  snn.heads: {type: int, low: 1, high: 2}\n")
    data = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    data.update(space=["net.yaml"], chip=str(ROOT / "hw_models" / "edge_kws.yaml"), strategy="joint",
                model={"family": "srnn"})
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_study(path)
    assert (info.value.file, info.value.key) == (str(path), "space[0].parameters.snn.heads")


def test_the_study_holds_typed_corpus_and_chip_and_stores_them_as_given() -> None:
    spec = load_study(ROOT / "studies" / "quickstart.yaml")
    assert isinstance(spec.corpus, CorpusConfig) and isinstance(spec.chip, ChipConfig)
    stored = spec.to_dict()
    assert stored["corpus"]["size"] == 2000 and "clip_s" not in stored["corpus"]  # the keys the study gave
    assert stored["chip"] == spec.chip.to_dict()  # a preset is inlined whole
    assert parse_spec(StudySpec, stored) == spec


def test_a_spec_and_record_stored_by_an_older_version_still_read() -> None:
    stored = load_study(ROOT / "studies" / "quickstart.yaml").to_dict()
    stored["model"] = _flat_dump("spikeformer", subsample=4)
    spec = parse_spec(StudySpec, stored)
    assert isinstance(spec.model, SpikeformerConfig) and spec.model.subsample == 4
    failed = {"params": {"snn.width": 32}, "model_config": {}, "chip_config": {}, "train_config": {},
              "error": "boom"}
    record = record_of({"codesign.record": failed})
    assert record is not None and record.model_config_ is None and record.train_config is None
    done = {"params": {}, "model_config": _flat_dump("srnn"), "chip_config": {"cores": 2},
            "train_config": {"epochs": 3}}
    record = record_of({"codesign.record": done})
    assert record is not None and isinstance(record.model_config_, SRNNConfig)
    assert record.chip_config is not None and record.chip_config.cores == 2
    assert record.train_config is not None and record.train_config.epochs == 3
    assert record_of({"codesign.record": record.to_dict()}) == record
    assert isinstance(TrialRecord(model_config=SRNNConfig()).model_config_, SRNNConfig)


def test_training_key_names_how_qat_trains_and_leaves_float_keys_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import codesign.search._evaluate as evaluate

    model, corpus = SRNNConfig(), CorpusConfig()
    float_train, qat_train = TrainConfig(), TrainConfig(qat_weight_bits=4)
    before = training_key(model, float_train, corpus, 0, 16), training_key(model, qat_train, corpus, 0, 16)
    monkeypatch.setattr(evaluate, "QAT_SCHEME", "some-later-scheme")
    after = training_key(model, float_train, corpus, 0, 16), training_key(model, qat_train, corpus, 0, 16)
    assert after[0] == before[0]  # float networks stay cached across QAT changes
    assert after[1] != before[1]  # a QAT network trained by another scheme is never reused
