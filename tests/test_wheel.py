"""codesign runs from its wheel alone: the shipped YAML (presets, technology constants, search
spaces, studies) is installed with it and found without a checkout, from any working folder.

The wheel is installed into a fresh environment outside the checkout (``tests/_wheel.py``), and a
2-trial study shipped with codesign runs there from an empty folder.
"""

from __future__ import annotations

import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from _wheel import ROOT, build_wheel, clean_env, wheel_venv

pytestmark = pytest.mark.slow


def test_every_package_and_shipped_file_is_in_the_wheel(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {".".join(p.relative_to(ROOT).parent.parts) for p in (ROOT / "codesign").rglob("__init__.py")}
    assert packages <= set(config["packages"]), "add the new package to [tool.setuptools] packages"

    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    for folder in ("hw_models", "search_spaces", "studies"):
        shipped = {f"codesign/_shipped/{folder}/{p.name}" for p in (ROOT / folder).glob("*.yaml")}
        assert shipped and shipped <= names, shipped - names
    assert "codesign/_shipped/hw_models/technology.yaml" in names
    # the report pages' Jinja2 templates, read through importlib.resources
    templates = {f"codesign/report/templates/{p.name}" for p in (ROOT / "codesign" / "report" / "templates").glob("*.j2")}
    assert "codesign/report/templates/page.html.j2" in templates and templates <= names, templates - names


def test_a_study_runs_from_the_wheel_in_a_folder_outside_the_checkout(tmp_path: Path) -> None:
    bin_dir = wheel_venv(tmp_path / "env")
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(CODESIGN_CACHE_DIR=str(tmp_path / "cache"), OMP_NUM_THREADS="1")

    where = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import codesign; from codesign._resources import checkout_root, shipped_dir; "
         "print(codesign.__file__); print(checkout_root()); print(shipped_dir('hw_models'))"],
        cwd=work, env=env, capture_output=True, text=True, check=True, timeout=120).stdout.splitlines()
    venv = bin_dir.parent
    assert Path(where[0]).is_relative_to(venv), where  # the wheel's codesign, not a checkout's
    assert where[1] == "None"
    assert Path(where[2]).is_relative_to(venv) and (Path(where[2]) / "technology.yaml").is_file()

    tiny = ["corpus.size=60", "corpus.n_speakers=10", "fidelity.epochs=1", "budget.trials=2", "confirm.seeds=0",
            "trace_batch=4", "nested.hw_points=8", "execution.workers=1"]
    run = subprocess.run(
        [str(bin_dir / "codesign"), "study", "run", "studies/quickstart.yaml", "--no-progress",
         *[a for s in tiny for a in ("--set", s)]],
        cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr

    states = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import optuna; s = optuna.load_study(study_name='quickstart', storage='sqlite:///runs/quickstart/study.db'); "
         "print(' '.join(t.state.name for t in s.trials)); "
         "print([t.user_attrs.get('error') for t in s.trials])"],
        cwd=work, env=env, capture_output=True, text=True, check=True, timeout=120).stdout.splitlines()
    assert states[0].split() == ["COMPLETE", "COMPLETE"], states
    # the report page, rendered from the templates the wheel installed (no checkout to read them from)
    page = (work / "runs" / "quickstart" / "report.html").read_text(encoding="utf-8")
    assert "<h1>codesign study quickstart</h1>" in page and "id='design-data'" in page
