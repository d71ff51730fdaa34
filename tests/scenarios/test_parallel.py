"""map_tasks: results in task order, a failing task an error result that stops nothing, the
same outcomes on the process pool and on Ray."""

from __future__ import annotations

import time

import pytest

from scenarios.config import ConfigError
from scenarios.parallel import Outcome, map_tasks


def square_or_fail(x: int) -> int:
    """Module-level so that worker processes can import it; the late tasks finish first."""
    time.sleep(0.02 * (5 - x % 5))
    if x % 4 == 3:
        raise ValueError(f"bad task {x}\nsecond line")
    return x * x


EXPECTED = [
    Outcome(error=f"ValueError: bad task {x} second line") if x % 4 == 3 else Outcome(x * x)
    for x in range(10)
]


def test_local_pool_keeps_task_order_and_each_failure_to_its_task():
    seen = []
    outcomes = map_tasks(square_or_fail, range(10), workers=2, progress=lambda *a: seen.append(a))
    assert outcomes == EXPECTED
    assert [o.ok for o in outcomes].count(False) == 2
    assert [done for done, _total, _failed in seen] == list(range(1, 11))
    assert seen[-1] == (10, 10, 2)


def test_ray_gives_the_same_outcomes_as_the_pool(local_ray):
    assert map_tasks(square_or_fail, range(10), backend="ray", workers=2) == EXPECTED
    assert local_ray.is_initialized()  # a Ray it did not start is left running for its owner


def test_no_tasks_no_workers():
    assert map_tasks(square_or_fail, [], workers=2) == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"backend": "dask"}, "--backend: 'dask' is not available; allowed: local, ray"),
        ({"workers": 0}, "--workers: 0 is out of range"),
        ({"address": "auto"}, "--address: only with --backend ray"),
    ],
)
def test_bad_backend_options_are_refused_before_anything_runs(kwargs, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        map_tasks(square_or_fail, [1], **kwargs)
