"""Parameter importances: :mod:`codesign.search._importance` (``codesign study front`` ranks its
columns with them without loading Plotly); the report's modules import them from here."""

from __future__ import annotations

from codesign.search._importance import (
    MIN_TRIALS_FOR_IMPORTANCE,
    RELIABLE_TRIALS_FOR_IMPORTANCE,
    ImportanceInfo,
    combined_importance,
    importance_infos,
)

__all__ = [
    "MIN_TRIALS_FOR_IMPORTANCE",
    "RELIABLE_TRIALS_FOR_IMPORTANCE",
    "ImportanceInfo",
    "combined_importance",
    "importance_infos",
]
