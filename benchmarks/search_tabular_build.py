"""Build the tabular search benchmark: a grid of small networks, each trained once and traced.

The networks are every combination of a small ``snn.*`` grid (width, depth, neuron and
levels, timesteps: 24 Spikeformers), trained with the real pipeline (``codesign.train``) on a
small synthetic command corpus and traced (``codesign.trace``). Entries go to the training
cache (``runs/_train_cache``); the table of networks and their metrics goes to
benchmarks/results/search_tabular_networks.json, which ``search_efficiency.py`` reads.

    PYTHONPATH=$PWD python benchmarks/search_tabular_build.py [--workers 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

RESULT = Path(__file__).parent / "results" / "search_tabular_networks.json"
CACHE = Path("runs") / "_train_cache"
CORPUS = {"task": "commands", "size": 800, "seed": 0, "n_speakers": 24}
FIDELITY = {"epochs": 6, "seconds": 20, "batch_size": 32, "threads": 1}
MODEL = {"family": "spikeformer", "subsample": 4, "heads": 2}
SEED = 0
TRACE_BATCH = 16
#: The snn.* grid: (name, values). ``levels`` only applies to IMLS neurons.
GRID = {
    "snn.width": [32, 64],
    "snn.depth": [1, 2],
    "snn.neuron_levels": [("lif", None), ("imls", 2), ("imls", 4)],
    "snn.timesteps": [1, 2],
}


def networks() -> list[dict[str, Any]]:
    """The grid as ``snn.*`` parameter dicts."""
    out = []
    for width, depth, (neuron, levels), timesteps in itertools.product(*GRID.values()):
        params = {"snn.width": width, "snn.depth": depth, "snn.neuron": neuron, "snn.timesteps": timesteps}
        if levels is not None:
            params["snn.levels"] = levels
        out.append(params)
    return out


def build_one(params: dict[str, Any]) -> dict[str, Any]:
    import torch

    from codesign.data import CorpusConfig, load_corpus
    from codesign.search import ArtifactStore, TrialRecord, TrialResult, parse_study, split_params
    from codesign.search._evaluate import _score_cached, _train_cached, _Workspace
    from codesign.snn import Precision, parse_model_config
    from codesign.train import TrainConfig

    torch.set_num_threads(1)
    model_over, _, _ = split_params(params)
    model_cfg = parse_model_config({**MODEL, **model_over})
    train_cfg = TrainConfig(**FIDELITY)
    corpus_cfg = CorpusConfig(**CORPUS)
    corpus = load_corpus(corpus_cfg, progress=False)
    study = parse_study({
        "name": "tabular", "corpus": CORPUS, "space": [{"parameters": {"snn.depth": 1}}],
        "objectives": {"accuracy": "max"}, "seed": SEED, "trace_batch": TRACE_BATCH,
    })
    started = time.perf_counter()
    store = ArtifactStore(CACHE.parent)  # the training cache is the store's _train_cache/
    with tempfile.TemporaryDirectory() as scratch:
        space = _Workspace(store, Path(scratch))
        cached = _train_cached(space, model_cfg, train_cfg, corpus_cfg, corpus, study)
        scored = _score_cached(space, cached, Precision(), model_cfg, corpus, study)  # float: the table's networks
        TrialResult(TrialRecord(), entries=space.entries).save(store)
    return {"params": params, "trace": str(store.local_file(scored.paths["trace"])), "metrics": scored.metrics,
            "seconds": round(time.perf_counter() - started, 2), "cache_hit": cached.hit}


def main() -> None:
    from codesign.data import CorpusConfig, load_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    load_corpus(CorpusConfig(**CORPUS), progress=True)  # once, before the workers read it
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(build_one, networks()))
    result = {
        "benchmark": "search_tabular_build",
        "command": "PYTHONPATH=$PWD python " + shlex.join(["benchmarks/search_tabular_build.py", *sys.argv[1:]]),
        "corpus": CORPUS, "fidelity": FIDELITY, "model": MODEL, "seed": SEED, "trace_batch": TRACE_BATCH,
        "seconds": round(time.perf_counter() - started, 1),
        "networks": rows,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    accs = [r["metrics"]["accuracy"] for r in rows]
    print(f"search_tabular_build: {len(rows)} networks trained and traced in {result['seconds']} s "
          f"(validation accuracy {min(accs):.2f}..{max(accs):.2f})")


if __name__ == "__main__":
    main()
