"""Trial tables: one flat row per trial, written as CSV, Parquet or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from codesign._io import write_atomic
from codesign.config import ConfigError
from codesign.report._pareto import front_numbers
from codesign.search import StudyView, study_view

TABLE_FORMATS = ("csv", "parquet", "json")


def trials_dataframe(study: optuna.Study | StudyView, front_only: bool = False) -> pd.DataFrame:
    """One row per trial with flattened columns.

    Columns: ``number``, ``state``, ``feasible``, ``on_front``, ``reference``, ``error``,
    ``wall_time_s``, ``trained``, ``cache_hit``, ``degenerate`` (the network outputs a constant
    or nothing: ``codesign.search.is_degenerate``), ``worker_host``, ``worker_node_id``,
    ``worker_node_ip`` (the Ray node that ran it), then ``objectives.<name>``,
    ``constraints.<name>``, ``metrics.<name>``, ``energy_pj_by_category.<category>`` and
    ``params.<name>`` (``snn.*`` / ``hw.*``), each absent value NaN/None.

    Args:
        study: a loaded study or its view.
        front_only: keep only Pareto-front members.
    """
    view = study if isinstance(study, StudyView) else study_view(study)
    front = set(front_numbers(view))
    rows: list[dict[str, Any]] = []
    for t in view.trials:
        if front_only and t.number not in front:
            continue
        rec = t.record
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state,
            "feasible": t.feasible,
            "on_front": t.number in front,
            "reference": t.reference,
            "error": t.error,
            "wall_time_s": rec.wall_time_s if rec is not None else None,
            "trained": rec.trained if rec is not None else None,
            "cache_hit": rec.cache_hit if rec is not None else None,
            "degenerate": rec.degenerate if rec is not None else None,
            "worker_host": rec.worker_host if rec is not None else None,
            "worker_node_id": rec.worker_node_id if rec is not None else None,
            "worker_node_ip": rec.worker_node_ip if rec is not None else None,
        }
        row["objectives"] = {name: (t.values[i] if t.values is not None else None)
                             for i, name in enumerate(view.objective_names)}
        row["constraints"] = dict(t.constraints)
        row["metrics"] = dict(t.metrics)
        row["energy_pj_by_category"] = dict(rec.energy_by_category_pj) if rec is not None else {}
        row["params"] = dict(t.params)
        rows.append(row)
    # one level of groups, flattened to "<group>.<name>"; a dotted name (snn.width) is kept
    # whole and an empty group gives no column
    frame = pd.json_normalize(rows, max_level=1) if rows else pd.DataFrame()
    if frame.empty:
        frame = pd.DataFrame(
            columns=["number", "state", "feasible", "on_front", "reference", "error"]
            + [f"objectives.{n}" for n in view.objective_names]
        )
    for col in frame.columns:
        if col.startswith(("objectives.", "constraints.", "metrics.", "energy_pj_by_category.")):
            frame[col] = pd.to_numeric(frame[col])
    return frame


def write_table(frame: pd.DataFrame, fmt: str, out: str | Path | None) -> str | None:
    """Write ``frame`` as ``fmt`` to ``out`` atomically, or return the text when ``out`` is None.

    Raises:
        ConfigError: unknown format, or parquet without an output file (it is binary).
    """
    if fmt not in TABLE_FORMATS:
        raise ConfigError(None, "--format", "one of " + ", ".join(TABLE_FORMATS), got=fmt)
    if out is None:
        if fmt == "parquet":
            raise ConfigError(None, "--out", "an output file for parquet (a binary format)")
        return _text(frame, fmt)

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            # Columns mixing types (a param that is int in one trial, str in another) are not
            # representable in Arrow; store those as text rather than fail.
            safe = frame.copy()
            for col in safe.columns:
                if safe[col].dtype == object and safe[col].map(type).nunique() > 1:
                    safe[col] = safe[col].map(lambda v: None if v is None else str(v))
            safe.to_parquet(tmp, index=False)
        else:
            tmp.write_text(_text(frame, fmt), encoding="utf-8")

    write_atomic(out, write)
    return None


def _text(frame: pd.DataFrame, fmt: str) -> str:
    text: str = frame.to_csv(index=False) if fmt == "csv" else frame.to_json(orient="records", indent=2) + "\n"
    return text
