"""codesign built as a wheel and installed into a fresh virtual environment outside the checkout
(for the wheel test and the two-node cluster test).

The wheel is built from a copy of the files ``pyproject.toml`` packages, so the build leaves
nothing in the checkout. The environment is new (``python -m venv`` from the base interpreter,
no system site-packages) and gets codesign only from the wheel (``pip install --no-deps``).
Its other requirements (torch, Ray, Optuna, ...) are not downloaded again: one ``.pth`` line puts
this interpreter's site-packages folder on its path as a plain folder, whose own ``.pth`` files
(among them an editable install of codesign pointing at a checkout) are therefore never run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the build needs: the package, its shipped YAML folders and the project files.
BUILD_INPUTS = ("pyproject.toml", "README.md", "codesign", "hw_models", "search_spaces", "studies")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would point Python at a checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def build_wheel(out: Path) -> Path:
    """Build codesign's wheel from a copy of the checkout's build inputs; the wheel's path."""
    src = out / "src"
    src.mkdir(parents=True)
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    wheels = out / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(wheels), str(src)], check=True, capture_output=True, text=True,
                   env=clean_env(), timeout=600)
    (wheel,) = wheels.glob("codesign-*.whl")
    return wheel


def wheel_venv(out: Path) -> Path:
    """A fresh environment in ``out`` with codesign installed from its wheel; its ``bin`` folder."""
    wheel = build_wheel(out)
    venv = out / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True, env=clean_env()).stdout.strip())
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_codesign_test_shared.pth").write_text("".join(f"{p}\n" for p in sorted(shared)))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, capture_output=True, text=True,
                   env=clean_env(), timeout=600)
    return venv / "bin"
