"""Parameter importances per objective (``optuna.importance``), or the reason there are none.

In ``codesign.search`` (beside the study reader) so that ``codesign study front`` ranks its
columns by importance without loading the report package (Plotly); ``codesign.report``
re-exports it for its page.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from codesign.search._reader import StudyView

#: Below this many finished candidates an importance is noise: optuna's default evaluator
#: (PED-ANOVA) splits the trials into a top quantile and the rest, and with a handful of trials
#: either side holds one or two points (with one trial it returns an even split).
MIN_TRIALS_FOR_IMPORTANCE = 8
#: Below this many finished candidates importances are shown with a caveat: they are ranks
#: from a small sample and can change order as trials are added.
RELIABLE_TRIALS_FOR_IMPORTANCE = 30


@dataclass(frozen=True)
class ImportanceInfo:
    """Importances of the parameters for one objective.

    Attributes:
        objective: the objective's name.
        importances: parameter -> normalised importance (sums to 1), most important first;
            empty when ``reason`` says why.
        n_trials: finished candidates the importances were computed from.
        evaluator: the Optuna evaluator used.
        reason: why no importances were computed (too few trials, no varying parameter).
    """

    objective: str
    importances: dict[str, float]
    n_trials: int
    evaluator: str
    reason: str | None

    @property
    def caveat(self) -> str | None:
        """Why these importances are rough (fewer than 30 trials), or None."""
        if self.reason is None and self.n_trials < RELIABLE_TRIALS_FOR_IMPORTANCE:
            return (f"from only {self.n_trials} trials: a rough ranking that can change as trials are added "
                    f"(read it with care below {RELIABLE_TRIALS_FOR_IMPORTANCE})")
        return None


def combined_importance(infos: tuple[ImportanceInfo, ...]) -> dict[str, float]:
    """Parameter -> its largest importance over the objectives, most important first."""
    out: dict[str, float] = {}
    for info in infos:
        for name, value in info.importances.items():
            out[name] = max(out.get(name, 0.0), value)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def importance_infos(
    study: optuna.Study, view: StudyView, min_trials: int = MIN_TRIALS_FOR_IMPORTANCE
) -> tuple[ImportanceInfo, ...]:
    """One :class:`ImportanceInfo` per objective, over finished candidates (not references).

    Args:
        study: the study ``view`` was read from (importances need its FrozenTrials).
        view: the study's view.
        min_trials: the fewest finished candidates to compute importances from.
    """
    wanted = {t.number for t in view.trials if t.is_candidate}
    trials = [t for t in study.get_trials(deepcopy=False) if t.number in wanted]
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    name = type(evaluator).__name__
    varying = _varying_params(trials)
    reason = _no_importance_reason(len(trials), min_trials, varying)
    infos = []
    for i, objective in enumerate(view.objective_names):
        if reason is not None:
            infos.append(ImportanceInfo(objective, {}, len(trials), name, reason))
            continue
        values = _importances(trials, view.directions, i, evaluator, varying)
        infos.append(ImportanceInfo(objective, dict(values), len(trials), name, None))
    return tuple(infos)


def _no_importance_reason(n_trials: int, min_trials: int, varying: list[str]) -> str | None:
    """Why no importance can be computed (too few trials, or no parameter varies), or None."""
    if n_trials < min_trials:
        return f"too few finished trials for importances: {n_trials} < {min_trials}"
    if not varying:
        return "no parameter takes more than one value across the finished trials"
    return None


def _importances(trials: list[FrozenTrial], directions: Sequence[str], index: int,
                 evaluator: optuna.importance.PedAnovaImportanceEvaluator, varying: list[str]) -> dict[str, float]:
    """The parameter importances of objective ``index`` over ``trials``, by ``evaluator``, for
    the ``varying`` parameters (a maximised objective is negated first)."""
    sign = 1.0 if directions[index] == "minimize" else -1.0
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created in memory" line per objective
    try:
        sub = optuna.create_study(directions=[StudyDirection[d.upper()] for d in directions])
    finally:
        optuna.logging.set_verbosity(verbosity)
    sub.add_trials(trials)
    with warnings.catch_warnings():
        # PED-ANOVA warns that it explains low target values; the sign above makes that so.
        warnings.simplefilter("ignore", UserWarning)
        return optuna.importance.get_param_importances(
            sub,
            evaluator=evaluator,
            params=varying,
            target=partial(_signed_value, index=index, sign=sign),
        )


def _varying_params(trials: list[FrozenTrial]) -> list[str]:
    seen: dict[str, set[str]] = {}
    for t in trials:
        for k, v in t.params.items():
            seen.setdefault(k, set()).add(repr(v))
    return [k for k, vals in seen.items() if len(vals) > 1]


def _signed_value(trial: FrozenTrial, index: int, sign: float) -> float:
    """Objective ``index`` of ``trial`` times ``sign`` (-1 turns a maximised value into a loss)."""
    return sign * float(trial.values[index])
