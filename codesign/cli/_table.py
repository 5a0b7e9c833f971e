"""Design-point tables for the terminal: ``codesign study front`` and ``codesign study points``.

Rows are :func:`codesign.search.design_rows`; this module only chooses columns, sorts and
writes them (an aligned table that fits :data:`MAX_WIDTH` columns, csv, json, markdown or
parquet). No pandas, no Plotly: ``study front`` starts fast.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from codesign.config import ConfigError

#: The widest default ``study front`` table, in characters.
MAX_WIDTH = 120
#: Parameters the default front shows at most (the most important first).
MAX_PARAMS = 6
FRONT_FORMATS = ("table", "csv", "json", "markdown")


def objective_cell(row: Mapping[str, Any], name: str) -> str:
    """``mean±std`` over the confirmation seeds where confirmed, else the search's value."""
    mean, std = row.get(f"{name}.mean"), row.get(f"{name}.std")
    if mean is not None:
        return f"{mean:.4g}±{(std or 0.0):.2g}"
    value = row.get(name)
    return "-" if value is None else f"{value:.4g}"


def objective_legend(names: Sequence[str]) -> list[str]:
    """What each objective column measures, with its unit (the metric registry's labels),
    wrapped to :data:`MAX_WIDTH`; an unregistered name is left out."""
    from codesign.search import metric_named

    said = [f"{n} = {m.label}" for n in names if (m := metric_named(n)) is not None]
    return textwrap.wrap("objectives: " + "; ".join(said), MAX_WIDTH, subsequent_indent="  ") if said else []


def cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def check_columns(wanted: Sequence[str], available: Sequence[str], option: str = "--columns") -> list[str]:
    """``wanted`` columns, each one of ``available`` (a short parameter name such as ``width``
    stands for the one dotted name ending in it).

    Raises:
        ConfigError: a name that is no column (with a close match).
    """
    out = []
    for name in wanted:
        if name in available:
            out.append(name)
            continue
        suffix = [a for a in available if a.endswith("." + name) and not a.startswith(("metrics.", "constraints."))]
        if len(suffix) == 1:
            out.append(suffix[0])
            continue
        close = difflib.get_close_matches(name, list(available), n=1)
        raise ConfigError(None, option, "column names of the design-point table (codesign study points NAME "
                          "--format json lists them all)", got=name,
                          hint=f"did you mean '{close[0]}'?" if close else None)
    return out


def sort_rows(rows: list[dict[str, Any]], key: str | None, available: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` sorted by column ``key`` (``-name``: descending; an objective by its confirmed
    mean where it has one); rows without a value last."""
    if not key:
        return rows
    descending = key.startswith("-")
    name = check_columns([key.lstrip("-")], available, "--sort")[0]

    def value(row: Mapping[str, Any]) -> Any:
        v = row.get(f"{name}.mean")
        v = row.get(name) if v is None else v
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    present.sort(key=lambda r: (0, float(value(r)), "") if isinstance(value(r), (int, float))
                 else (1, 0.0, str(value(r))), reverse=descending)
    return present + missing


def aligned(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    """An aligned text table: header, rule, rows (right-aligned columns, two spaces apart)."""
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return lines


def width_of(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> int:
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    return sum(widths) + 2 * max(0, len(widths) - 1)


def machine_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """``rows`` restricted to ``columns`` as csv, json or markdown."""
    picked = [{c: _plain(r.get(c)) for c in columns} for r in rows]
    if fmt == "json":
        return json.dumps(picked, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(picked)
        return buf.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(cell(r[c]).replace("|", "\\|") for c in columns) + " |" for r in picked]
        return "\n".join(lines) + "\n"
    raise ConfigError(None, "--format", "one of " + ", ".join(FRONT_FORMATS), got=fmt)


def _plain(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = ["FRONT_FORMATS", "MAX_PARAMS", "MAX_WIDTH", "aligned", "cell", "check_columns", "machine_text",
           "objective_cell", "sort_rows", "width_of"]
