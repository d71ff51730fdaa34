"""One local Ray instance for every Ray test in the session: starting Ray costs seconds."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def local_ray():
    import ray  # a project dependency: its absence is a failure, not a skip

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield ray
    ray.shutdown()
