"""A tiny real study (small corpus, small networks, one epoch) for pipeline and cluster tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.search import load_study

ROOT = Path(__file__).resolve().parents[2]


def tiny_spec_data(strategy: str, trials: int, **extra: object) -> dict[str, Any]:
    """The quickstart study shrunk to seconds per trial, as a plain mapping."""
    data = load_study(ROOT / "studies" / "quickstart.yaml").to_dict()
    data.update(multi_fidelity=None, confirm={"seeds": 0})
    data.update(
        name=f"tiny_{strategy}",
        corpus={"task": "commands", "size": 60, "seed": 1, "n_speakers": 10},
        fidelity={"epochs": 1, "batch_size": 16, "threads": 1},
        budget={"trials": trials},
        strategy=strategy,
        trace_batch=4,
        floor="none",  # one epoch on 60 utterances learns nothing: these studies test the plumbing
        **extra,
    )
    data["sampler"] = {"name": "random"}
    data["model"] = {**data["model"], "width": 32, "depth": 1, "heads": 2}
    # shrink the network side to a few small configurations
    data["space"][0]["parameters"]["snn.width"] = {"type": "categorical", "choices": [32]}
    data["space"][0]["parameters"]["snn.depth"] = {"type": "fixed", "value": 1}
    return data
