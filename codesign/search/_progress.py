"""The live progress line of a running study (tqdm): done, running, failed, best, hypervolume."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tqdm import tqdm

from codesign.search._front import DesignPoint, study_hypervolume


def best_per_objective(points: Sequence[DesignPoint], objectives: Mapping[str, str]) -> dict[str, float]:
    """Best feasible value of each objective (each may come from a different point)."""
    feasible = [p for p in points if p.feasible]
    out: dict[str, float] = {}
    for name, direction in objectives.items():
        values = [p.objectives[name] for p in feasible]
        if values:
            out[name] = min(values) if direction == "min" else max(values)
    return out


class Progress:
    """Owns one tqdm bar for the lifetime of a driver run (no-op when disabled)."""

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
        postfix = {"running": running, "failed": failed}
        postfix.update({name: f"{value:.4g}" for name, value in best.items()})
        postfix["hv"] = f"{hv:.4g}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.refresh()

    def write(self, message: str) -> None:
        if not self._bar.disable:
            self._bar.write(message)

    def close(self) -> None:
        self._bar.close()
