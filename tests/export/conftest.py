"""Export tests reuse the report tests' real stored studies (tests/report/report_studies.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The helper lives beside the report tests; make it importable however pytest is started.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))

from report_studies import own_sqlite_study, sqlite_study, stored_study

__all__ = ["own_sqlite_study", "sqlite_study", "stored_study"]
