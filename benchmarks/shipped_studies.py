"""Benchmark: do the shipped studies' spaces hold networks that learn at the shipped budget?

For each study in ``studies/``: ``--draws`` random draws of its own space (``sampler: random``,
its own chip, strategy, precision and epochs), run by the real driver on a
``--corpus-size``-utterance corpus of the study's task (its other corpus keys kept). A drawn
network *learned* when its float network reaches the task's bar on validation: accuracy >= 0.5
(``commands``) or WER <= 0.5 (``digits``); draws pruned before training (an infeasible chip)
trained nothing and are counted apart. Figures per study (issue "Every shipped study and
family gives a front worth reading"):

- ``learned_fraction``: learned / trained draws (goal >= 0.5);
- ``best``: the best task metric on the study's feasible front (accuracy, or WER), as the
  chip computes it;
- ``failed``: FAILed trials (goal 0);
- ``cnn_reference`` (commands): what a plain conv net reaches on the same corpus, so that
  ``best`` has an honest target: ``transfer.py``'s reference (``corpus_learnability.py``'s
  KeywordNet, AdamW, its own training) trained for each of ``--reference-epochs`` (default: the
  study's epochs) with ``--reference-seeds`` seeds, its validation accuracy per seed and mean, and
  ``best_mean`` (the best of those means); ``gap_to_reference`` is ``best_mean - best``;
- ``unknown_recall`` (commands): the ``unknown`` class recall of the best design's network as
  its chip computes it, on the validation split (what the search selects on), with
  ``test_unknown_recall`` beside it and ``unknown_utterances`` (how many ``unknown`` words each
  split holds: at 1,500 utterances of 22 equally likely classes the validation split holds a
  handful, so its recall moves in steps of a quarter). Each trial carries its float network's
  ``float_validation_unknown_recall`` and ``float_test_unknown_recall``.

Writes benchmarks/results/shipped_studies.json (with ``--set``, which shrinks the runs for a
check of this script, shipped_studies-shrunk.json; ``--out NAME`` names another file, e.g. for a
variant of a study measured beside its shipped form with ``--set``).

    PYTHONPATH=$PWD nice -n 10 python benchmarks/shipped_studies.py [--draws 8] [--corpus-size 1500]
        [--studies quickstart ...] [--keep-others] [--set KEY=VALUE ...]
        [--reference-epochs 25 80] [--reference-seeds 0 1 2] [--out NAME]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from spikeformer_common import write_result

ROOT = Path(__file__).resolve().parents[1]
#: The bar a network must reach to count as learned, by task: (metric, direction, bar).
LEARNED = {"commands": ("accuracy", "max", 0.5), "digits": ("wer", "min", 0.5)}


def _value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def trial_unknown_recall(metrics: dict[str, float]) -> dict[str, float | None]:
    """A trial's float-network ``unknown`` recall on validation and test, from its record's
    metrics: ``float_<split>_unknown_recall`` beside a chip's figures (joint), or the training
    run's own ``<split>_unknown_recall`` (a nested record)."""
    return {f"float_{split}_unknown_recall": metrics.get(f"float_{split}_unknown_recall",
                                                         metrics.get(f"{split}_unknown_recall"))
            for split in ("validation", "test")}


def unknown_utterances(corpus: Any) -> dict[str, int]:
    """How many utterances of each evaluation split are ``unknown`` words."""
    from codesign.data import UNKNOWN

    label = corpus.vocabulary.index(UNKNOWN)
    return {split: int((corpus.split(split).targets == label).sum()) for split in ("validation", "test")}


def cnn_reference(corpus: Any, epochs: list[int], seeds: list[int]) -> dict[str, Any]:
    """The plain conv net of ``transfer.py`` (its ``_train_reference``, scored by its
    ``_classification_scores``) on ``corpus``: validation accuracy per training seed and epoch
    budget, the mean over seeds, and the best mean."""
    import torch
    from transfer import _classification_scores, _train_reference

    # one thread, as the studies' trials train: two OpenMP threads on a loaded 2-core machine
    # spin waiting for each other (corpus_learnability.py's note)
    torch.set_num_threads(1)
    by_epochs: dict[str, Any] = {}
    for n in epochs:
        runs = [_classification_scores(_train_reference(corpus, n, seed), corpus)["validation_accuracy"]
                for seed in seeds]
        by_epochs[str(n)] = {"validation_accuracy": runs, "mean": sum(runs) / len(runs)}
    return {"model": "transfer.py's reference: corpus_learnability.py's KeywordNet (3 strided convs, AdamW 3e-3)",
            "seeds": seeds, "epochs": by_epochs, "best_mean": max(e["mean"] for e in by_epochs.values())}


def run_study_draws(path: Path, draws: int, corpus_size: int, sets: dict[str, Any], runs: Path,
                    reference_epochs: list[int] | None = None, reference_seeds: tuple[int, ...] = (0, 1, 2),
                    ) -> dict[str, Any]:
    from optuna.trial import TrialState

    from codesign.search import load_stored_study, load_study, record_of, run_study, study_points
    from codesign.search._front import pareto_front

    overrides = {"corpus.size": corpus_size, "budget.trials": draws, "sampler.name": "random",
                 "confirm.seeds": 0, **sets}
    spec = load_study(path, overrides)
    metric, direction, bar = LEARNED[spec.corpus.task]
    start, cpu = time.perf_counter(), time.process_time()
    outcome = run_study(spec, runs_dir=runs, progress=False)
    study = load_stored_study(spec.name, outcome.storage_url)
    trials = []
    for t in study.get_trials(deepcopy=False):
        record = record_of(t.user_attrs)
        # the float network's validation metric: ``float_validation_*`` beside the chip's figures
        # (joint), or the training run's own ``validation_*`` (a nested record's metrics)
        float_metric = None if record is None else record.metrics.get(
            f"float_validation_{metric}", record.metrics.get(f"validation_{metric}"))
        trials.append({
            "number": t.number, "state": t.state.name, "params": t.params,
            "float_validation": float_metric,
            "objectives": None if record is None else record.objectives,
            **({} if record is None else trial_unknown_recall(record.metrics)),
            "error": None if record is None else record.error,
            "pruned": None if record is None else record.pruned,
            "cpu_time_s": None if record is None else record.cpu_time_s,
        })
    trained = [t for t in trials if t["float_validation"] is not None]
    learned = [t for t in trained if (t["float_validation"] >= bar if direction == "max" else t["float_validation"] <= bar)]
    front = pareto_front(study_points(study.get_trials(deepcopy=False), spec.floor_condition()), spec.objectives)
    best_point = (max if direction == "max" else min)(front, key=lambda p: p.objectives[metric], default=None)
    figures: dict[str, Any] = {
        "learned_fraction": len(learned) / len(trained) if trained else None,
        "best": best_point.objectives[metric] if best_point is not None else None,
        "metric": metric,
        "failed": sum(1 for t in trials if t["state"] == TrialState.FAIL.name),
        "trained": len(trained),
        "pruned": sum(1 for t in trials if t["state"] == TrialState.PRUNED.name),
        "learned": len(learned),
    }
    if spec.corpus.task == "commands":
        from codesign.data import load_corpus

        figures["unknown_recall"] = None if best_point is None else best_point.metrics.get("unknown_recall")
        figures["test_unknown_recall"] = None if best_point is None else best_point.metrics.get("test_unknown_recall")
        corpus = load_corpus(spec.corpus, progress=False)
        figures["unknown_utterances"] = unknown_utterances(corpus)
        epochs = reference_epochs or [spec.fidelity.epochs or 20]
        figures["cnn_reference"] = cnn_reference(corpus, epochs, list(reference_seeds))
        if figures["best"] is not None:
            figures["gap_to_reference"] = figures["cnn_reference"]["best_mean"] - figures["best"]
    details = {"overrides": {k: v for k, v in overrides.items()}, "epochs": spec.fidelity.epochs,
               "wall_s": time.perf_counter() - start, "driver_cpu_s": time.process_time() - cpu,
               "worker_utilisation": outcome.worker_utilisation, "trials": trials}
    return {"figures": figures, "details": details}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--corpus-size", type=int, default=1500)
    parser.add_argument("--studies", nargs="*", help="study names, run in this order (default: every file in studies/)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a study override for a shrunken check of this script")
    parser.add_argument("--keep-others", action="store_true",
                        help="keep the figures of the studies not run now from the existing result file")
    parser.add_argument("--runs-dir", help="where the studies are stored (default: a temporary folder)")
    parser.add_argument("--reference-epochs", type=int, nargs="+",
                        help="commands studies: the plain conv net's training epochs (default: the study's)")
    parser.add_argument("--reference-seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="commands studies: the plain conv net's training seeds")
    parser.add_argument("--out", metavar="NAME",
                        help="write benchmarks/results/NAME.json (default: shipped_studies, or "
                        "shipped_studies-shrunk with --set)")
    args = parser.parse_args()
    sets = {k: _value(v) for k, _, v in (kv.partition("=") for kv in args.set)}
    paths = sorted((ROOT / "studies").glob("*.yaml"))
    if args.studies:  # in the order given, so that the cheap studies can be measured first
        unknown = sorted(set(args.studies) - {p.stem for p in paths})
        if unknown:
            parser.error(f"no such study in studies/: {', '.join(unknown)}")
        paths = [ROOT / "studies" / f"{stem}.yaml" for stem in args.studies]
    name = args.out or ("shipped_studies-shrunk" if args.set else "shipped_studies")
    figures, details = {}, {}
    if args.keep_others:  # studies measured by an earlier run stay, each with the command that made it
        earlier = json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())
        for stem, figs in earlier["figures"].items():
            if stem not in {p.stem for p in paths}:
                figures[stem] = figs
                details[stem] = {**earlier["details"][stem], "command": earlier["details"][stem].get(
                    "command", earlier["command"]), "when_utc": earlier["details"][stem].get(
                    "when_utc", earlier["when_utc"])}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(args.runs_dir) if args.runs_dir else Path(tmp)
        for path in paths:
            result = run_study_draws(path, args.draws, args.corpus_size, sets, runs,
                                     args.reference_epochs, tuple(args.reference_seeds))
            figures[path.stem] = result["figures"]
            details[path.stem] = {**result["details"], "command": COMMAND, "when_utc": _now()}
            print(path.stem, result["figures"], flush=True)
            write_result(name, figures, details)  # each study as it finishes
    print(RESULTS_NOTE.format(name=name))


RESULTS_NOTE = "wrote benchmarks/results/{name}.json"
COMMAND = "PYTHONPATH=$PWD python benchmarks/" + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


if __name__ == "__main__":
    main()
