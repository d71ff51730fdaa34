"""The strategic providers of issue 11 (sim/adversaries/front_run.py, jit.py) at small size:
they act, the chain makes them wait for the risk they backed, and nobody loses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios import config
from scenarios.runner import run

SMALL = {
    "front-run-settlement": ["days=1.6", "drain_days=0.5", "policies=80", "burst.days=1.2",
                             "crash.start_hours=12", "buyers.rate_per_hour=0"],
    "jit-liquidity": ["days=1.5", "drain_days=0.5", "policies=60", "burst.days=1.2",
                      "buyers.rate_per_hour=0"],
}  # fmt: skip
SECTION = {"front-run-settlement": "front_run", "jit-liquidity": "jit"}


def events(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_attack_runs_and_gains_nothing(tmp_path, name):
    report = run(config.load(name, SMALL[name]), 3, tmp_path)
    assert report["invariant_violations"] == 0  # invariant 8 among them
    assert report["unpaid_claims_usd"] == 0
    assert report["stuck_collateral"] == {"ustx": 0, "sats": 0}
    assert report["attacker_profit_usd"] == 0
    assert report["attacker_profit_usd_by_kind"] == {SECTION[name]: 0}
    log = events(tmp_path)
    deposits = [e for e in log if e["kind"] == "adversary-deposit"]
    exits = [e for e in log if e["kind"] == "adversary-exit"]
    assert deposits and len(exits) == len(deposits)  # each attacker got in and out
    assert all(e["beyond_passive"] == 0 for e in exits)
    # the exits completed only after the policies they backed were settled
    settled = [e["t"] for e in log if e["kind"] == "tx" and e["status"] == "success"
               and e["call"] == "policy-registry.settle-policies"]  # fmt: skip
    assert settled and min(e["t"] for e in exits) >= min(settled)
    requests = [e for e in log if e["kind"] == "tx"
                and e["call"] == "liquidity-pool.request-withdraw"]  # fmt: skip
    assert requests and report["withdrawals_refused_locked"] == len(requests)  # all waited


def test_front_runners_bear_the_crash_like_everyone(tmp_path):
    """v1: the first to leave after a crash took its full share and left the payouts to the
    others (F2). Here the front-runners' requests on the fall wait for the settlement, so
    their exits carry their share of the payouts: a loss in tokens, as for a passive holder."""
    run(config.load("front-run-settlement", SMALL["front-run-settlement"]), 3, tmp_path)
    exits = [e for e in events(tmp_path) if e["kind"] == "adversary-exit"]
    assert exits and all(e["pnl"] < 0 for e in exits)


@pytest.mark.clarity
@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_attack_is_byte_identical_on_the_clarity_executor(tmp_path, name):
    scenario = config.load(name, [*SMALL[name], "policies=20", "providers.count=3",
                                  f"{SECTION[name]}.count=1"])  # fmt: skip
    py, vm = tmp_path / "python", tmp_path / "clarity"
    run(scenario, 5, py, executor="python")
    run(scenario, 5, vm, executor="clarity")
    assert (py / "events.jsonl").read_bytes() == (vm / "events.jsonl").read_bytes()
    assert any(e["kind"] == "adversary-exit" for e in events(py))
