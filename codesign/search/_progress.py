"""The live progress line of a running study (tqdm): done, running, failed, best, hypervolume."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tqdm import tqdm

from codesign.search._front import DesignPoint, study_hypervolume
from codesign.search._record import TrialRecord


def best_per_objective(points: Sequence[DesignPoint], objectives: Mapping[str, str]) -> dict[str, float]:
    """Best value of each objective over the eligible points (feasible, above the floor, not
    degenerate; each objective's best may come from a different point)."""
    feasible = [p for p in points if p.eligible]
    out: dict[str, float] = {}
    for name, direction in objectives.items():
        values = [p.objectives[name] for p in feasible]
        if values:
            out[name] = min(values) if direction == "min" else max(values)
    return out


def trial_line(number: int, record: TrialRecord, finished: int, total: int | None) -> str:
    """One line for a finished trial: its objectives, feasibility, time and the study's count."""
    values = ", ".join(f"{k}={v:.4g}" for k, v in record.objectives.items())
    violated = [k for k, v in record.constraints.items() if v > 0]
    state = "infeasible (" + ", ".join(violated) + ")" if violated else "feasible"
    cached = ", cached training" if record.cache_hit else ""
    count = f"{finished}/{total}" if total else f"{finished}"
    return f"trial {number} complete: {values}; {state}; {record.wall_time_s:.1f} s{cached} [{count} done]"


class Progress:
    """Owns one tqdm bar for the lifetime of a driver run.

    Disabled (``--no-progress``), it draws no bar but still prints :meth:`write` lines, so a
    long run shows one line per finished trial rather than nothing.
    """

    def __init__(self, total: int | None, initial: int, enabled: bool, name: str) -> None:
        self._bar = tqdm(total=total, initial=initial, desc=name, unit="trial", disable=not enabled,
                         dynamic_ncols=True)

    def update(
        self,
        finished: int,
        running: int,
        failed: int,
        points: Sequence[DesignPoint],
        objectives: Mapping[str, str],
        reference: Mapping[str, float],
    ) -> None:
        """Redraw with the current counts, the best per objective and the hypervolume."""
        if self._bar.disable:
            return
        self._bar.n = finished
        best = best_per_objective(points, objectives)
        hv = study_hypervolume(points, objectives, reference)
        postfix: dict[str, int | str] = {"running": running, "failed": failed}
        postfix.update({name: f"{value:.4g}" for name, value in best.items()})
        postfix["hv"] = f"{hv:.4g}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.refresh()

    def write(self, message: str) -> None:
        if self._bar.disable:
            print(message, flush=True)
        else:
            self._bar.write(message)

    def close(self) -> None:
        self._bar.close()
