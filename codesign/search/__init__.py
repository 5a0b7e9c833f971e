"""Co-design search: spaces -> Optuna distributions, studies, objectives, the Ray ask/tell driver.

Owns choosing and scoring candidates and writing them to storage; never plots.
"""

from __future__ import annotations

from codesign.search._driver import (
    DUPLICATE_ATTR,
    INTERRUPTED_ATTR,
    EvaluateFn,
    StudyOutcome,
    make_sampler,
    resume_study,
    run_study,
    study_counts,
    with_overrides,
)
from codesign.search._front import (
    REFERENCE_MARGIN,
    DesignPoint,
    default_reference,
    hypervolume,
    pareto_front,
    pareto_mask,
    record_points,
    study_hypervolume,
    study_points,
)
from codesign.search._lease import (
    LEASE_PREFIX,
    OWNER_ATTR,
    Lease,
    StudyInUse,
    live_drivers,
    storage_policy,
)
from codesign.search._objectives import (
    METRICS,
    Constraint,
    constraint_values,
    objective_values,
    parse_constraint,
)
from codesign.search._record import (
    ARTIFACT_DIR_ATTR,
    RECORD_ATTR,
    SPEC_ATTR,
    VERSION_ATTR,
    HardwarePoint,
    TrialRecord,
    record_of,
)
from codesign.search._space import (
    SearchSpace,
    known_fields,
    load_space,
    merge_spaces,
    parse_space,
    sample_points,
    split_params,
    suggest,
)
from codesign.search._spec import StudySpec, load_study, parse_study
from codesign.search._storage import (
    default_storage_url,
    load_stored_study,
    open_storage,
    stored_spec,
    study_artifact_dir,
)

__all__ = [
    "ARTIFACT_DIR_ATTR",
    "DUPLICATE_ATTR",
    "INTERRUPTED_ATTR",
    "LEASE_PREFIX",
    "METRICS",
    "OWNER_ATTR",
    "RECORD_ATTR",
    "REFERENCE_MARGIN",
    "SPEC_ATTR",
    "VERSION_ATTR",
    "Constraint",
    "DesignPoint",
    "EvaluateFn",
    "HardwarePoint",
    "Lease",
    "SearchSpace",
    "StudyInUse",
    "StudyOutcome",
    "StudySpec",
    "TrialRecord",
    "constraint_values",
    "default_reference",
    "default_storage_url",
    "hypervolume",
    "known_fields",
    "live_drivers",
    "load_space",
    "load_stored_study",
    "load_study",
    "make_sampler",
    "merge_spaces",
    "objective_values",
    "open_storage",
    "pareto_front",
    "pareto_mask",
    "parse_constraint",
    "parse_space",
    "parse_study",
    "record_of",
    "record_points",
    "resume_study",
    "run_study",
    "sample_points",
    "split_params",
    "storage_policy",
    "stored_spec",
    "study_artifact_dir",
    "study_counts",
    "study_hypervolume",
    "study_points",
    "suggest",
    "with_overrides",
]
