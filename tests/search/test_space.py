"""Search spaces: YAML -> Optuna distributions in one place, conditions, clear errors."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from codesign.config import ConfigError
from codesign.search import load_space, merge_spaces, parse_space, sample_points, split_params, suggest

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


@pytest.mark.parametrize("path", sorted(SPACES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_spaces_parse_and_sample(path: Path) -> None:
    space = load_space(path)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(8):
        trial = study.ask()
        params = suggest(trial, space)
        for name, param in space.parameters.items():
            assert (name in params) == param.active(params)
        model, train, chip = split_params(params)
        study.tell(trial, 0.0)
        if chip:
            from codesign.hardware import ChipConfig

            ChipConfig(**chip)
        else:  # a network space: every sample builds a network that runs
            import torch

            from codesign.snn import build_model, parse_model_config
            from codesign.train import TrainConfig

            TrainConfig(**train)
            net = build_model(parse_model_config(model), 8, 3, "classify").eval()
            with torch.no_grad():
                logits, _ = net(torch.randn(1, 12, 8), torch.tensor([12]))
            assert logits.shape == (1, 3)


def test_distributions_types_and_condition() -> None:
    space = parse_space({"parameters": {
        "snn.neuron": {"type": "categorical", "choices": ["lif", "imls"]},
        "snn.levels": {"type": "int", "low": 1, "high": 8, "when": {"snn.neuron": "imls"}},
        "train.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "snn.family": "spikeformer",
    }})
    dists = space.distributions()
    assert list(dists) == ["snn.neuron", "snn.levels", "train.learning_rate"]  # fixed: not searched
    assert isinstance(dists["snn.neuron"], CategoricalDistribution)
    assert dists["snn.levels"] == IntDistribution(1, 8)
    assert dists["train.learning_rate"] == FloatDistribution(1e-4, 1e-2, log=True)
    lif = suggest(optuna.trial.FixedTrial({"snn.neuron": "lif", "train.learning_rate": 1e-3}), space)
    assert lif == {"snn.neuron": "lif", "train.learning_rate": 1e-3, "snn.family": "spikeformer"}
    imls = suggest(optuna.trial.FixedTrial({"snn.neuron": "imls", "snn.levels": 3, "train.learning_rate": 1e-3}), space)
    assert imls["snn.levels"] == 3
    model, train, _ = split_params(imls)
    assert model == {"neuron": "imls", "levels": 3, "family": "spikeformer"} and train == {"learning_rate": 1e-3}


@pytest.mark.parametrize(
    ("params", "key", "fragment"),
    [
        ({"snn.levles": {"type": "int", "low": 1, "high": 4}}, "parameters.snn.levles", "did you mean 'snn.levels'?"),
        ({"levels": {"type": "int", "low": 1, "high": 4}}, "parameters.levels", "'snn.<field>', 'train.<field>' or 'hw.<field>'"),
        ({"snn.levels": {"type": "int", "low": 5, "high": 4}}, "parameters.snn.levels", "low <= high"),
        ({"snn.threshold": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "parameters.snn.threshold",
         "low > 0 with log"),
        ({"snn.levels": {"type": "integer", "low": 1, "high": 4}}, "parameters.snn.levels.type", "one of 'float', 'int'"),
        ({"snn.levels": {"type": "int", "low": 1, "high": 4, "when": {"snn.neuron": "imls"}},
          "snn.neuron": {"type": "categorical", "choices": ["lif", "imls"]}},
         "parameters.snn.levels.when.snn.neuron", "defined earlier"),
        ({"snn.neuron": {"type": "categorical", "choices": ["lif", "imls"]},
          "snn.levels": {"type": "int", "low": 1, "high": 4, "when": {"snn.neuron": "imsl"}}},
         "parameters.snn.levels.when.snn.neuron", "one of the values snn.neuron can take"),
    ],
)
def test_bad_space_gets_one_clear_message(params: dict, key: str, fragment: str, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"parameters": params}, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        load_space(path)
    assert info.value.file == str(path) and info.value.key == key
    assert fragment in str(info.value)


def test_a_parameter_in_two_files_names_both(tmp_path: Path) -> None:
    a = parse_space({"parameters": {"snn.depth": {"type": "int", "low": 1, "high": 2}}})
    with pytest.raises(ConfigError, match=r"also defined in a\.yaml"):
        merge_spaces([(a, "a.yaml"), (a, "b.yaml")])


def test_sweep_points_enumerate_a_finite_space_with_conditions() -> None:
    space = parse_space({"parameters": {
        "snn.neuron": {"type": "categorical", "choices": ["lif", "imls"]},
        "snn.levels": {"type": "int", "low": 1, "high": 3, "when": {"snn.neuron": "imls"}},
        "snn.depth": {"type": "int", "low": 1, "high": 2},
    }})
    points = sample_points(space, n=100, seed=0)
    assert len(points) == (1 + 3) * 2  # lif ignores levels: its duplicates collapse
    assert all(("snn.levels" in p) == (p["snn.neuron"] == "imls") for p in points)
    drawn = sample_points(space, n=5, seed=0)  # grid larger than n: random draws, seeded
    assert len(drawn) == 5 and drawn == sample_points(space, n=5, seed=0)


@pytest.mark.parametrize("name", ["spikeformer.yaml", "spikeformer_quickstart.yaml", "mamba.yaml"])
def test_shipped_spaces_never_draw_imls_at_more_than_one_timestep(name: str) -> None:
    space = load_space(Path(__file__).resolve().parents[2] / "search_spaces" / name)
    points = sample_points(space, 400, seed=0)
    assert any(p.get("snn.neuron") == "imls" for p in points) and any(p.get("snn.timesteps", 1) > 1 for p in points)
    assert not [p for p in points if p.get("snn.neuron") == "imls" and p.get("snn.timesteps", 1) > 1]


_REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("study", sorted(p.name for p in (_REPO / "studies").glob("*.yaml")))
def test_no_shipped_study_trains_imls_at_more_than_one_timestep(study: str) -> None:
    # IMLS keeps no state across timesteps: T > 1 repeats T = 1 at T times the work (docs/search.md);
    # checked on the networks a study builds (its base model with the drawn snn.* overrides)
    from codesign.search import load_study

    spec = load_study(_REPO / "studies" / study)
    for point in sample_points(spec.search_space(), 200, seed=0):
        model = spec.model_for(split_params(point)[0])
        assert not (getattr(model, "neuron", None) == "imls" and getattr(model, "timesteps", 1) > 1), point


@pytest.mark.parametrize("name", sorted(p.name for p in (_REPO / "search_spaces").glob("*.yaml")))
def test_no_shipped_space_draws_imls_at_more_than_one_timestep(name: str) -> None:
    points = sample_points(load_space(_REPO / "search_spaces" / name), 400, seed=0)
    # a space that leaves the neuron to the base model (IMLS by default) must not draw T > 1 either
    assert not [p for p in points if p.get("snn.neuron", "imls") == "imls" and p.get("snn.timesteps", 1) > 1]
