"""Shared fixtures for the training tests: tiny real synthetic corpora, one thread, fixed seeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from codesign.data import Corpus, CorpusConfig, load_corpus

TINY_COMMANDS = CorpusConfig(task="commands", size=120, seed=7, n_speakers=10)
TINY_DIGITS = CorpusConfig(task="digits", size=60, seed=7, n_speakers=10, max_digits=4)


@pytest.fixture(autouse=True)
def _one_thread_fixed_seed() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def train_corpus_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("train-corpus-cache")


@pytest.fixture(scope="session")
def commands_corpus(train_corpus_cache: Path) -> Corpus:
    return load_corpus(TINY_COMMANDS, cache_dir=train_corpus_cache, progress=False)


@pytest.fixture(scope="session")
def digits_corpus(train_corpus_cache: Path) -> Corpus:
    return load_corpus(TINY_DIGITS, cache_dir=train_corpus_cache, progress=False)
