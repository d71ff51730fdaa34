"""The models' `stacks-block-time` (sim/models/clock.py) against the simnet's own clock.

Quotes expire by `stacks-block-time`, so the Python executor must stamp every block with the
second the VM stamps it with, or a purchase near its `valid-until` would succeed on one executor
and fail on the other. Random runs of Stacks blocks (some long enough that a tenure outlasts its
600 s) and burn blocks, compared after every step."""

from __future__ import annotations

import random

import pytest

from sim.models.clock import BlockClock, deployed

pytestmark = pytest.mark.clarity


@pytest.mark.parametrize("seed", range(3))
def test_the_models_clock_follows_the_simnet(bridge, seed):
    rng = random.Random(seed)
    info = bridge.request("init")
    clock = BlockClock.at(info["burn_height"], info["time"])
    for step in range(150):
        if rng.random() < 0.3:
            tip = bridge.request("mine_burn", n=rng.randint(1, 3))
            clock.sync(tip["burn_height"])
        else:
            n = rng.choice([1, 2, 5, 45, 70])
            tip = bridge.request("mine", n=n)
            for _ in range(n):
                clock.mine()
        assert (tip["burn_height"], tip["time"]) == (clock.burn, clock.time()), f"step {step}"


def test_the_deployed_clock_is_where_the_clarity_executor_starts(bridge):
    """What `PythonContracts` starts from equals the VM after `init` deploys the contracts."""
    deployer = bridge.request("init")["accounts"]["wallet_8"]
    info = bridge.request("init", deployer=deployer)
    assert BlockClock.at(info["burn_height"], info["time"]) == deployed()
