"""Project-wide test fixtures: one small real Ray cluster and tiny real corpora per session,
single-threaded math and fixed seeds.

The machine is shared, so tests keep to one BLAS/torch thread (set before torch is imported)
and at most one local Ray cluster (two CPUs), started on first use and shut down at the end.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# Imported after the thread settings above, which torch reads once at import.
import torch

from codesign.data import Corpus, CorpusConfig, load_corpus

#: The tiny real corpora every test that trains or records uses (synthesised once a session).
TINY_COMMANDS = CorpusConfig(task="commands", size=120, seed=7, n_speakers=10)
TINY_DIGITS = CorpusConfig(task="digits", size=60, seed=7, n_speakers=10, max_digits=4)
#: A small corpus a small network really learns in seconds (about 0.5 accuracy in 10 epochs),
#: for tests that compare trained accuracies (precision, promotion).
LEARNABLE_COMMANDS = CorpusConfig(task="commands", size=400, seed=7, n_speakers=12, difficulty="easy")


@pytest.fixture(autouse=True)
def _one_thread_fixed_seed() -> Iterator[None]:
    """Every test: one torch thread (the machine is shared) and a fixed seed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_commands_config() -> CorpusConfig:
    return TINY_COMMANDS


@pytest.fixture(scope="session")
def tiny_digits_config() -> CorpusConfig:
    return TINY_DIGITS


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One corpus cache directory for the whole session."""
    return tmp_path_factory.mktemp("corpus-cache")


@pytest.fixture(scope="session")
def commands_corpus(corpus_cache: Path) -> Corpus:
    return load_corpus(TINY_COMMANDS, cache_dir=corpus_cache, progress=False)


@pytest.fixture(scope="session")
def learnable_commands_config() -> CorpusConfig:
    return LEARNABLE_COMMANDS


@pytest.fixture(scope="session")
def learnable_commands_corpus(corpus_cache: Path) -> Corpus:
    return load_corpus(LEARNABLE_COMMANDS, cache_dir=corpus_cache, progress=False)


@pytest.fixture(scope="session")
def digits_corpus(corpus_cache: Path) -> Corpus:
    return load_corpus(TINY_DIGITS, cache_dir=corpus_cache, progress=False)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray cluster with two CPUs; yields its GCS address (for ``--address`` joins).
    Its workers see ``TOY_MARKER_DIR``, a folder of this session for toy evaluators' own files."""
    import ray

    os.environ["TOY_MARKER_DIR"] = str(tmp_path_factory.mktemp("toy-markers"))

    if ray.is_initialized():  # pragma: no cover - another fixture or test left one running
        ray.shutdown()
    # address="local": always a new cluster, never one another process on this machine started.
    ctx = ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        object_store_memory=128 * 1024 * 1024,
    )
    try:
        yield ctx.address_info["gcs_address"]
    finally:
        ray.shutdown()
