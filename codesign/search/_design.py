"""The stored files of one design point, for the readers that re-cost a design without
re-training it (the report's breakdowns, the export's bundles).

Owns, in one place:

- the chip of a design point (:func:`point_chip`): its record's chip with the point's ``hw.*``
  parameters, labelled as the chip it is (a preset's name and description describe the
  preset, not a chip the search made of it);
- the trace a design point was costed on (:func:`point_trace`): the one its strategy named
  (:attr:`DesignPoint.trace`);
- the folder a confirmation run writes into (:func:`confirmation_folder`) and the cost reports
  the confirmation runs of a design wrote (:func:`confirmation_cost_reports`);
- resolving a study-relative store path to a readable local file (:func:`study_file`).

Reads only; never runs or changes a trial.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from codesign.search._front import DesignPoint
from codesign.search._record import TrialRecord
from codesign.search._space import split_params

if TYPE_CHECKING:
    from codesign.hardware import ChipConfig
    from codesign.search._reader import StudyView

#: The file a trial's evaluation writes its chip's cost report to, in its trial folder.
COST_REPORT_FILE = "cost_report.json"


def confirmation_folder(trial: int, member: int | None, seed: int) -> str:
    """The folder under ``<study>/trials/`` that the confirmation run of design point
    (``trial``, ``member``) with ``seed`` writes its files into (its own, so the trial's files
    are never overwritten)."""
    return f"{trial:05d}-confirm-chip{'' if member is None else member}-seed{seed}"


def study_file(view: StudyView, rel: str) -> Path:
    """A path relative to the study's folder as a local file (:meth:`StudyView.file`)."""
    return view.file(rel)


def point_chip(record: TrialRecord, point: DesignPoint) -> ChipConfig:
    """The chip of ``point``: its record's chip (``chip_config``: the trial's chip, or the
    study's base chip of a hardware sweep) with the point's ``hw.*`` parameters. A chip the search set
    ``hw.*`` parameters of is named ``<base> [trial T chip K]`` and described by those
    parameters, so that no label still describes the preset it was derived from (a preset's
    "4-core ... 1 mm^2" is not true of the 16-core chip the search made of it).

    Raises:
        ValueError: the record stores no chip (written before the chip was recorded).
    """
    from codesign.hardware import ChipConfig

    if record.chip_config is None:
        raise ValueError(f"trial {point.trial}: its record stores no chip configuration")
    fields = record.chip_config.to_dict()
    searched = split_params({k: v for k, v in point.params.items() if k.startswith("hw.")})[2]
    if not searched:
        return record.chip_config
    fields.update(searched)
    base = str(fields.get("name", "custom")).split(" [", 1)[0]
    fields["name"] = f"{base} [{point.where}]"
    fields["description"] = (f"{base} with the search's {', '.join(f'{k}={v}' for k, v in sorted(searched.items()))}"
                             f" ({fields.get('cores')} cores, {fields.get('weight_bits')}-bit weights, "
                             f"{fields.get('state_bits')}-bit state)")
    return ChipConfig.model_validate(fields)


def point_trace(view: StudyView, point: DesignPoint) -> tuple[str, Path] | None:
    """The trace ``point`` was costed on (:attr:`DesignPoint.trace`, which its strategy
    named), as (the path the record names, the local file), or None when it names none."""
    return (point.trace, study_file(view, point.trace)) if point.trace else None


def point_cost_report(view: StudyView, point: DesignPoint) -> tuple[str, Path] | None:
    """The cost report stored for ``point`` itself (:attr:`DesignPoint.cost_report`), as (the
    path the record names, the local file), or None when none is: its cost is recomputed from
    its trace and chip."""
    return (point.cost_report, study_file(view, point.cost_report)) if point.cost_report else None


def confirmation_cost_reports(view: StudyView, point: DesignPoint) -> dict[int, tuple[str, Path]]:
    """Seed -> (the path relative to the study's folder, the local file) of the cost report
    each confirmation run of ``point`` wrote; empty when the point was not confirmed. A file
    may be missing (the study's files moved): callers check."""
    if point.confirmed is None:
        return {}
    out = {}
    for seed in point.confirmed.seeds:
        rel = posixpath.join("trials", confirmation_folder(point.trial, point.member, seed), COST_REPORT_FILE)
        out[int(seed)] = (rel, study_file(view, rel))
    return out
