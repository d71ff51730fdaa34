"""Scenario files and --set overrides: every value validated, every mistake one clear line."""

from __future__ import annotations

import pytest

from scenarios.config import KNOBS, ConfigError, available, load


def test_the_scenarios_exist_and_load():
    names = available()
    assert set(names) == {
        "baseline", "flash-crash", "mass-settlement", "grinding-bear", "bank-run",
        "oracle-outage-crash", "congested-mass-settlement", "manipulated-source", "signer-outage",
        "late-settlement", "oracle-key-compromise",
        "admin-key-compromise",
        "front-run-settlement", "jit-liquidity",
    }  # fmt: skip
    assert all(names.values())  # each has a one-line description
    for name in names:
        scenario = load(name)
        assert set(scenario.values) == set(KNOBS)
    assert load("mass-settlement")["policies"] == 10_000
    assert load("flash-crash")["crash.change"] == -0.5


def test_overrides_are_typed():
    s = load("baseline", ["days=2", "policies=7", "price.model=jump", "buyers.rate_per_hour=1e2"])
    assert s["days"] == 2.0 and isinstance(s["days"], float)
    assert s["policies"] == 7 and isinstance(s["policies"], int)
    assert s["price.model"] == "jump" and s["buyers.rate_per_hour"] == 100.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["nope=1"], "unknown key 'nope'"),
        (["buyers.rate=1"], "unknown key 'buyers.rate'"),
        (["days"], "expected key=value"),
        (["days=abc"], "days: 'abc' is not valid; allowed: a number from 0.001 to 365"),
        (["days=400"], "days: '400' is out of range; allowed: a number from 0.001 to 365"),
        (["policies=1.5"], "policies: '1.5' is not valid; allowed: an integer from 0 to 1000000"),
        (["price.model=levy"], "price.model: 'levy' is not valid; allowed: one of gbm, jump"),
        (["buyers.days_min=20", "buyers.days_max=10"], "buyers.days_min (20) must not exceed"),
    ],
)
def test_bad_overrides_name_the_key_and_the_allowed_range(overrides, message):
    with pytest.raises(ConfigError) as info:
        load("baseline", overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_scenario_lists_the_known_ones():
    known = "unknown scenario 'moon'; available: admin-key-compromise, bank-run"
    with pytest.raises(ConfigError, match=known):
        load("moon")
