"""Project-wide test fixtures: one small real Ray cluster per session, single-threaded math.

The machine is shared, so tests keep to one BLAS/torch thread (set before torch is imported)
and at most one local Ray cluster (two CPUs), started on first use and shut down at the end.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A local Ray cluster with two CPUs; yields its GCS address (for ``--address`` joins)."""
    import ray

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
