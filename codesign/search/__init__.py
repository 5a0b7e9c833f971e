"""Co-design search: spaces -> Optuna distributions, objectives, the Ray ask/tell driver.

Owns choosing and scoring candidates and writing them to storage; never plots.
"""

from __future__ import annotations

from codesign.search._record import RECORD_ATTR, SPEC_ATTR, VERSION_ATTR, TrialRecord, record_of

__all__ = ["RECORD_ATTR", "SPEC_ATTR", "VERSION_ATTR", "TrialRecord", "record_of"]
