"""StudySpec: shipped studies validate, specs are self-contained, bad input is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codesign.config import ConfigError, parse_spec
from codesign.search import StudySpec, load_study

ROOT = Path(__file__).resolve().parents[2]
STUDIES = sorted((ROOT / "studies").glob("*.yaml"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_shipped_studies_validate_and_store_self_contained(path: Path) -> None:
    spec = load_study(path)
    stored = spec.to_dict()
    assert isinstance(stored["chip"], dict) and all(isinstance(s, dict) for s in stored["space"])
    assert parse_spec(StudySpec, stored) == spec  # what storage holds is enough to resume


def _write(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    data["space"] = [str(ROOT / "search_spaces" / "spikeformer.yaml"), str(ROOT / "search_spaces" / "accelerator.yaml")]
    data["chip"] = str(ROOT / "hw_models" / "edge_kws.yaml")
    data.update(changes)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("changes", "key", "fragment"),
    [
        ({"objectives": {"acuracy": "max"}}, "objectives", "did you mean 'accuracy'?"),
        ({"constraints": ["area_mm2 < 4"]}, "constraints", "'<metric> <= <number>'"),
        ({"sampler": {"name": "cmaes"}}, "sampler.name", "'nsga2', 'tpe', 'gp' or 'random'"),
        ({"budget": {"trials": None, "seconds": None}}, "budget", "a budget"),
        ({"corpus": {"task": "command"}}, "corpus.task", "'commands', 'digits', 'shd' or 'librispeech'"),
        ({"chip": {"cores": 0}}, "chip.cores", "greater than or equal to 1"),
        ({"fidelity": {"epochs": 0}}, "fidelity.epochs", "greater than or equal to 1"),
        ({"reference": {"wer": 1.0}}, "", "reference points only for objectives"),
        ({"strategy": "nested", "space": [str(ROOT / "search_spaces" / "srnn.yaml")]}, "", "hw.* parameters"),
    ],
)
def test_bad_study_gets_one_clear_message(tmp_path: Path, changes: dict, key: str, fragment: str) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(ConfigError) as info:
        load_study(path)
    assert info.value.file == str(path) and info.value.key == key, str(info.value)
    assert fragment in str(info.value)


def test_paths_are_relative_to_the_study_file(tmp_path: Path) -> None:
    path = _write(tmp_path, space=["spaces/net.yaml"], chip="missing_chip.yaml", strategy="joint")  # no hw.* here
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "net.yaml").write_text("parameters:\n  snn.depth: {type: int, low: 1, high: 2}\n")
    with pytest.raises(ConfigError) as info:  # the chip is looked for next to the study file
        load_study(path)
    assert info.value.key == "chip" and str(tmp_path / "missing_chip.yaml") in str(info.value)
    (tmp_path / "missing_chip.yaml").write_text("cores: 2\n")
    spec = load_study(path)
    assert spec.search_space().names() == ["snn.depth"] and spec.chip.cores == 2


def test_a_preset_field_that_conflicts_with_the_space_is_named_when_the_study_loads(tmp_path: Path) -> None:
    # loihi_like fixes a 16-column mesh; accelerator.yaml draws hw.cores from 1..16
    path = _write(tmp_path, chip=str(ROOT / "hw_models" / "loihi_like.yaml"))
    with pytest.raises(ConfigError) as info:
        load_study(path)
    err = info.value
    assert err.file == str(path) and err.key == "space[1].parameters.hw.cores" and err.got == 1
    text = str(err)
    assert "loihi_like.yaml" in text and "accelerator.yaml" in text and "mesh_cols = 16" in text
    assert "mesh_cols <= cores (16 > 1)" in text and "mesh_cols: null" in text
    # the study may change the preset's field (and --set may too): then it loads
    path = _write(tmp_path, chip={"preset": str(ROOT / "hw_models" / "loihi_like.yaml"), "mesh_cols": None})
    spec = load_study(path)
    assert spec.chip.mesh_cols is None and spec.chip.cores == 128 and spec.chip_preset.endswith("loihi_like.yaml")
    assert parse_spec(StudySpec, spec.to_dict()) == spec
    spec = load_study(_write(tmp_path, chip=str(ROOT / "hw_models" / "loihi_like.yaml")), {"chip.mesh_cols": None})
    assert spec.chip.mesh_cols is None


def test_the_old_wall_clock_timeout_key_reads_as_the_cpu_limit() -> None:
    spec = load_study(ROOT / "studies" / "quickstart.yaml")
    data = spec.to_dict()
    data["execution"] = {"workers": 2, "trial_timeout_s": 99.0}  # a spec stored before the change
    execution = parse_spec(StudySpec, data).execution
    assert execution.trial_cpu_s == 99.0 and execution.in_flight == 2 * (1 + execution.lookahead)


def test_label_smoothing_is_refused_on_a_ctc_task_and_kept_on_a_classification_one(tmp_path: Path) -> None:
    """CTC ignores label smoothing: asked for on digits it changed trial cache keys and nothing else."""
    digits = ROOT / "studies" / "digits_srnn_nested.yaml"
    with pytest.raises(ConfigError, match=r"--set fidelity\.label_smoothing") as err:
        load_study(digits, {"fidelity.label_smoothing": 0.1})
    assert "classification task" in str(err.value) and "task 'digits' trains with CTC" in str(err.value)
    data = yaml.safe_load(digits.read_text())
    data["space"] = [*([data["space"]] if isinstance(data["space"], str) else data["space"]),
                     {"parameters": {"train.label_smoothing": {"type": "float", "low": 0.0, "high": 0.2}}}]
    data["space"] = [str((digits.parent / s).resolve()) if isinstance(s, str) else s for s in data["space"]]
    data["chip"] = str((digits.parent / data["chip"]).resolve())  # paths are relative to the study file
    searched = tmp_path / "digits.yaml"
    searched.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"train\.label_smoothing searched") as err:
        load_study(searched)
    assert str(searched) in str(err.value)
    assert load_study(digits).fidelity.label_smoothing == 0.0
    quick = load_study(ROOT / "studies" / "quickstart.yaml", {"fidelity.label_smoothing": 0.1})
    assert quick.fidelity.label_smoothing == 0.1
    # a study stored before the check still opens (resume, confirm, export, report read it so)
    stored = load_study(digits).to_dict()
    stored["fidelity"] = {**stored["fidelity"], "label_smoothing": 0.1}
    assert parse_spec(StudySpec, stored).fidelity.label_smoothing == 0.1
