"""Commands start fast: reading a study's spec imports neither torch, Ray nor Plotly.

Timing is measured by benchmarks/cli_startup.py; this test pins the cause (heavy imports) in a
fresh interpreter, which a loaded machine cannot make flaky.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "ray", "plotly")


def _heavy_after(code: str) -> str:
    probe = f"import sys; {code}; print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout
    return out.rsplit("HEAVY:", 1)[1].strip()


def test_help_imports_nothing_heavy() -> None:
    assert _heavy_after("from codesign.cli import build_parser; build_parser()") == ""


def test_study_status_and_front_import_nothing_heavy(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "search"))
    try:
        from _stored import write_stored_study
    finally:
        sys.path.pop(0)
    write_stored_study(tmp_path, "s", trials=3)
    for action in ("status", "front"):
        code = f"from codesign.cli import main; assert main(['study', {action!r}, 's', '--runs-dir', {str(tmp_path)!r}]) == 0"
        assert _heavy_after(code) == "", action


def test_networks_still_load_on_first_use() -> None:
    import codesign.snn as snn

    assert snn.build_model.__module__ == "codesign.snn._build" and "build_model" in dir(snn)
    with pytest.raises(AttributeError):
        snn.no_such_name  # noqa: B018
