"""A bundle's config.yaml holds typed configs, and bundles written before they were typed load."""

from __future__ import annotations

from pathlib import Path

import yaml

from codesign.config import parse_spec
from codesign.data import CorpusConfig
from codesign.export import BundleConfig, load_bundle_config
from codesign.hardware import CORE_CATEGORIES, ChipConfig, load_chip
from codesign.snn import SpikeformerConfig
from codesign.train import TrainConfig

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_bundle_written_with_plain_mappings_loads_into_the_typed_configs() -> None:
    # written by the code of the time the configs were mappings (see the file's first line)
    config = load_bundle_config(FIXTURES / "untyped_bundle", verify=False)
    assert isinstance(config.corpus, CorpusConfig) and config.corpus.size == 120 and config.corpus.seed == 1
    assert config.corpus.task == "commands" and config.corpus == CorpusConfig(task="commands", size=120, seed=1)
    assert config.model == SpikeformerConfig(width=32, depth=1, heads=2)
    assert isinstance(config.chip, ChipConfig)
    assert config.chip == load_chip("edge_kws").model_copy(update={"weight_bits": 4})
    assert config.train == TrainConfig(epochs=1, batch_size=16, threads=1)
    assert config.precision.label == "w4s12"
    assert config.network_config is config.model


def test_a_typed_bundle_config_writes_the_mappings_it_always_wrote() -> None:
    old = yaml.safe_load((FIXTURES / "untyped_bundle" / "config.yaml").read_text())
    config = parse_spec(BundleConfig, old)
    # the corpus as the study gave it (its defaults fill in again when read), the rest whole;
    # the chip also writes the fields added to ChipConfig since the fixture, at their defaults
    added_since = {"energy_categories": list(CORE_CATEGORIES)}
    assert config.to_dict() == old | {"chip": old["chip"] | added_since}
    assert parse_spec(BundleConfig, config.to_dict()) == config
