"""Fixtures of the report tests: the real stored studies of report_studies.py."""

from __future__ import annotations

from report_studies import own_sqlite_study, sqlite_study, stored_study

__all__ = ["own_sqlite_study", "sqlite_study", "stored_study"]
