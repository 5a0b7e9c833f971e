"""check_chip_space: a hw.* value that the study's chip preset refuses is one error naming the
space file, the preset's conflicting field and the fix; unsetting that field lets it through."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codesign.config import ConfigError
from codesign.search import load_study

ROOT = Path(__file__).resolve().parents[2]
LOIHI = str(ROOT / "hw_models" / "loihi_like.yaml")  # fixes mesh_cols: 16


def _study(tmp_path: Path, chip: object, cores: dict[str, object]) -> Path:
    space = tmp_path / "cores.yaml"
    space.write_text(yaml.safe_dump({"parameters": {"hw.cores": cores}}))
    data = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    data.update(space=[str(space)], chip=chip)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_space_value_the_preset_refuses_names_the_preset_field_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_study(_study(tmp_path, LOIHI, {"type": "categorical", "choices": [16, 4]}))
    err = info.value
    assert err.key == "space[0].parameters.hw.cores" and err.got == 4
    assert err.hint is not None and f"{tmp_path / 'cores.yaml'} varies hw.cores over [16, 4]" in err.hint
    assert "the preset fixes mesh_cols = 16" in err.hint and "mesh_cols <= cores" in err.hint
    assert f"(chip: {{preset: {LOIHI}, mesh_cols: null}})" in err.hint


def test_an_int_range_is_checked_value_by_value_and_unsetting_the_field_lets_it_through(tmp_path: Path) -> None:
    cores = {"type": "int", "low": 8, "high": 32}
    with pytest.raises(ConfigError) as info:
        load_study(_study(tmp_path, LOIHI, cores))
    assert info.value.got == 8  # the first value of the range the preset refuses
    spec = load_study(_study(tmp_path, {"preset": LOIHI, "mesh_cols": None}, cores))
    assert spec.chip.mesh_cols is None and spec.chip.cores == 128
