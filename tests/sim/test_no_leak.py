"""Scenario runs in one process free their runtime and chain once they finish.

Sweep workers are reused, so anything a run leaves reachable grows run after run. Issue 14
found `actors.base.bind` under `functools.cache`: each `SimRuntime` binds the actor classes to
a base class holding the runtime, so the cache kept every runtime, its SimPy environment and
its SimChain alive. On that code this test fails with 4 of 4 runtimes and chains still alive.
"""

from __future__ import annotations

import gc
import weakref

import pytest

from scenarios import config
from scenarios.runner import run
from sim.chain import SimChain
from sim.runtime import SimRuntime

RUNS = 4


def _track(monkeypatch: pytest.MonkeyPatch, cls: type, made: list[weakref.ref]) -> None:
    """Record a weak reference to every instance of `cls` built from now on."""
    init = cls.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(cls, "__init__", recording_init)


def test_runs_free_their_runtime_and_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    runtimes: list[weakref.ref] = []
    chains: list[weakref.ref] = []
    _track(monkeypatch, SimRuntime, runtimes)
    _track(monkeypatch, SimChain, chains)
    scenario = config.load("baseline", ["days=0.02", "drain_days=0"])
    purchased = [run(scenario, seed, None)["policies_purchased"] for seed in range(1, RUNS + 1)]
    gc.collect()
    assert len(runtimes) == len(chains) == RUNS
    assert sum(purchased) > 0  # the actors did real work, so the runs were not trivially empty
    alive = (sum(r() is not None for r in runtimes), sum(c() is not None for c in chains))
    assert alive == (0, 0), f"{alive[0]} runtimes and {alive[1]} chains of {RUNS} runs alive"
