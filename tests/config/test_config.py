"""The configuration layer: one clear message per bad input, naming file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.config import ConfigError, apply_overrides, parse_set_args
from codesign.snn import SpikeformerConfig, load_model_config
from codesign.train import TrainConfig

BAD = Path(__file__).parent / "bad"


@pytest.mark.parametrize(
    ("name", "key", "fragment"),
    [
        ("unknown_key.yaml", "levles", "did you mean 'levels'?"),
        ("wrong_type.yaml", "width", "valid integer"),
        ("out_of_range.yaml", "levels", "less than or equal to 15"),
        ("duplicate_key.yaml", "levels", "duplicate key on line 3, first given on line 1"),
        ("empty.yaml", "", "the file is empty"),
        ("syntax.yaml", "", "valid YAML"),
        ("not_a_mapping.yaml", "", "a YAML mapping at the top level"),
        ("bad_variant.yaml", "", "variant one of ('spiking', 'ann')"),
        ("missing.yaml", "", "file not found"),
    ],
)
def test_bad_model_file_gets_one_clear_message(name: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_model_config(BAD / name)
    err = info.value
    assert err.file == str(BAD / name)
    assert err.key == key
    assert fragment in str(err)
    assert str(err).startswith(str(BAD / name))


def test_good_file_fills_defaults_and_is_frozen(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("family: spikeformer\nlevels: 2\nwidth: 32\nheads: 2\n")
    cfg = load_model_config(path)
    assert (cfg.levels, cfg.width, cfg.heads, cfg.neuron) == (2, 32, 2, "imls")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type varies by version
        cfg.levels = 3  # type: ignore[misc]


def test_config_hash_is_stable_and_sensitive() -> None:
    a = SpikeformerConfig(levels=2)
    assert a.config_hash() == SpikeformerConfig(levels=2).config_hash()
    assert a.config_hash() != SpikeformerConfig(levels=3).config_hash()


def test_train_config_needs_a_budget() -> None:
    with pytest.raises(ValueError, match="a budget"):
        TrainConfig(epochs=None, seconds=None)


def test_set_overrides_parse_yaml_scalars_and_nest() -> None:
    overrides = parse_set_args(["levels=4", "causal=true", "chip.cores=8", "name=x"])
    assert overrides == {"levels": 4, "causal": True, "chip.cores": 8, "name": "x"}
    merged = apply_overrides({"chip": {"cores": 2, "pes": 4}}, overrides)
    assert merged["chip"] == {"cores": 8, "pes": 4}
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_args(["levels"])


def test_config_error_survives_pickling() -> None:
    """Ray sends a worker's exception to the driver pickled; it must arrive whole."""
    import pickle

    err = ConfigError("s.yaml", "space.snn.levels", "an int", got="x", hint="did you mean 'level'?")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ConfigError
    assert (back.file, back.key, back.expected, back.got, back.hint) == ("s.yaml", "space.snn.levels", "an int", "x", "did you mean 'level'?")
    assert str(back) == str(err)
