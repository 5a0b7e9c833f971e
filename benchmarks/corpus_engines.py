"""Benchmark: synthesis speed per engine, and the quickstart corpus with several engines.

For each installed engine, renders and featurises a ``--size``-utterance ``commands``
corpus spoken by that engine alone (1 worker process, default difficulty): utterances per
second end to end. Then prepares the quickstart's corpus (studies/quickstart.yaml: 2,000
utterances, 40 speakers, ``easy``) with the default engines (eSpeak NG + flite training,
festival held out) and, beside it, eSpeak NG alone, both on 2 worker processes from an
empty cache. Writes benchmarks/results/corpus_engines.json.

    PYTHONPATH=$PWD python benchmarks/corpus_engines.py [--size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from codesign.data import CorpusConfig, load_corpus
from codesign.data._engines import engine_status

RESULT = Path(__file__).parent / "results" / "corpus_engines.json"
QUICKSTART = Path(__file__).parent.parent / "studies" / "quickstart.yaml"


def _timed(cfg: CorpusConfig, workers: int) -> tuple[float, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        corpus = load_corpus(cfg, cache_dir=cache, progress=False, workers=workers)
        seconds = time.perf_counter() - started
        assert not corpus.cache_hit
        return seconds, corpus.manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)

    per_engine: dict[str, Any] = {}
    for engine in ("espeak", "flite", "festival"):
        status = engine_status(engine)
        if not status.available:
            per_engine[engine] = {"missing": status.missing_reason}
            continue
        cfg = CorpusConfig(
            task="commands", size=args.size, seed=0, n_speakers=20, engines={"train": [engine], "heldout": []}
        )
        seconds, _ = _timed(cfg, workers=1)
        per_engine[engine] = {
            "n_voices": len(status.voices),
            "voices": list(status.voices) if len(status.voices) <= 20 else [*list(status.voices[:5]), "..."],
            "version": status.version,
            "seconds_1_worker": round(seconds, 2),
            "utterances_per_s_1_worker": round(args.size / seconds, 1),
        }
        print(engine, per_engine[engine], flush=True)

    quick = yaml.safe_load(QUICKSTART.read_text())["corpus"]
    engines_cfg = CorpusConfig.model_validate(quick)
    espeak_cfg = CorpusConfig.model_validate({**quick, "engines": {"train": ["espeak"], "heldout": []}})
    engines_s, manifest = _timed(engines_cfg, workers=2)
    espeak_s, _ = _timed(espeak_cfg, workers=2)
    load = os.getloadavg()
    result = {
        "benchmark": "corpus_engines",
        "command": "PYTHONPATH=$PWD python " + shlex.join(["benchmarks/corpus_engines.py", *sys.argv[1:]]),
        "figures": {
            "per_engine": per_engine,
            "quickstart_corpus": {
                "size": engines_cfg.size,
                "seconds_2_workers_default_engines": round(engines_s, 2),
                "seconds_2_workers_espeak_only": round(espeak_s, 2),
                "engines": manifest["engines"],
                "voices": manifest["voices"],
                "sizes": manifest["sizes"],
            },
        },
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(load[0], 2),
        "note": "machine shared with other sessions (see the load average): times are noisy",
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["figures"]["quickstart_corpus"], indent=2))


if __name__ == "__main__":
    main()
