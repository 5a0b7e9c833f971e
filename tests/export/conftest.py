"""Export tests reuse the report's real stored studies (tests/report/conftest.py)."""

from __future__ import annotations

from tests.report.conftest import own_sqlite_study, sqlite_study, stored_study

__all__ = ["own_sqlite_study", "sqlite_study", "stored_study"]
