"""Shared fixtures: tiny synthetic corpora built once per test session in a temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codesign.data import Corpus, CorpusConfig, load_corpus

TINY_COMMANDS = CorpusConfig(task="commands", size=120, seed=7, n_speakers=10)
TINY_DIGITS = CorpusConfig(task="digits", size=60, seed=7, n_speakers=10, max_digits=4)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_commands_config() -> CorpusConfig:
    return TINY_COMMANDS


@pytest.fixture(scope="session")
def tiny_digits_config() -> CorpusConfig:
    return TINY_DIGITS


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus-cache")


@pytest.fixture(scope="session")
def commands_corpus(corpus_cache: Path) -> Corpus:
    return load_corpus(TINY_COMMANDS, cache_dir=corpus_cache, progress=False)


@pytest.fixture(scope="session")
def digits_corpus(corpus_cache: Path) -> Corpus:
    return load_corpus(TINY_DIGITS, cache_dir=corpus_cache, progress=False)
