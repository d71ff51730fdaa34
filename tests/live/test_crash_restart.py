"""Exactly-once under SIGKILL (benchmarks/crash_restart.py): the engine is killed at random
points of a mass settlement and restarted; every policy must end final exactly once, no
transaction lost or doubled, the store equal to the chain."""

from __future__ import annotations

import pytest

from benchmarks.crash_restart import run

pytestmark = [pytest.mark.faults, pytest.mark.live]


def test_twenty_killed_and_restarted_settlements_on_the_models_devnet():
    got = run(trials=20, policies=60, executor="python", kills=2)
    assert got.kills == 40
    assert (got.double_settlements, got.lost, got.mismatches) == (0, 0, 0)


def test_killed_and_restarted_settlements_against_the_strict_double():
    got = run(trials=3, policies=60, executor="python", kills=2, seed=3, strict=True)
    assert got.kills == 6
    assert (got.double_settlements, got.lost, got.mismatches) == (0, 0, 0)


@pytest.mark.clarity
def test_killed_and_restarted_settlements_on_the_clarity_devnet():
    got = run(trials=2, policies=60, executor="lockstep", kills=2, seed=7)
    assert (got.double_settlements, got.lost, got.mismatches) == (0, 0, 0)
