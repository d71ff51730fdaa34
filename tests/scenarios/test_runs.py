"""Every scenario end to end at a reduced size: the simulated lifecycle CI runs on each change."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from scenarios import config
from scenarios.runner import run


def small(name: str, *overrides: str):
    return config.load(name, list(overrides))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    scenario = small("flash-crash", "days=1.2", "drain_days=0.4", "policies=40",
                     "crash.start_hours=20")  # fmt: skip
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run(scenario, 7, a)
    run(scenario, 7, b)
    run(scenario, 8, c)
    for name in ("events.jsonl", "report.json", "metrics.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "events.jsonl").read_bytes() != (c / "events.jsonl").read_bytes()
    report = json.loads((a / "report.json").read_text())
    assert report["events_sha256"] == hashlib.sha256((a / "events.jsonl").read_bytes()).hexdigest()
    for key in ("scenario", "seed", "policies_purchased", "policies_settled", "policies_expired",
                "premiums_usd", "payouts_usd", "shortfall_usd", "min_coverage_ratio",
                "max_utilisation_ratio", "settlement_delay_blocks", "invariant_violations",
                "events_sha256"):  # fmt: skip
        assert key in report


def test_mass_settlement_settles_every_policy_and_says_how_long_it_took(tmp_path):
    report = run(small("mass-settlement", "policies=400"), 1, tmp_path)
    # v2 quotes live 60 s of chain time (10 s a transaction): in a burst of 400 purchases a
    # quote can go stale before its purchase is mined (u331/u333/u334); that buyer asks once
    # more for a fresh quote (sim/agents.py STALE_RETRIES), so a request ends bought, refused,
    # or failed twice
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").open()]
    stale = sum(
        e["kind"] == "tx"
        and e.get("call") == "policy-registry.purchase-policy"
        and e["status"] == "abort_by_response"
        and e["result"]["value"]["value"] in ("331", "333", "334")
        for e in events
    )
    retries = sum(e["kind"] == "quote-retry" for e in events)
    refused = sum(e["kind"] == "quote-refused" for e in events)
    assert 0 < retries <= stale <= 4
    assert report["policies_purchased"] + refused + (stale - retries) == 400
    assert report["policies_settled"] == report["policies_purchased"]  # deep in the money
    assert report["policies_active_at_end"] == 0
    assert report["payouts_usd"] > 0 and report["shortfall_usd"] == 0
    # v2: every claim paid up to its cap, and no lock outlives its policy (v1 left 229,534 STX
    # and 1.66 sBTC locked after 500 policies settled)
    assert report["unpaid_claims_usd"] == 0
    assert report["stuck_collateral"] == {"ustx": 0, "sats": 0}
    with (tmp_path / "metrics.csv").open() as f:
        last = list(csv.DictReader(f))[-1]  # the end of the run, after the last settlement
    assert (last["locked_ustx"], last["locked_sats"]) == ("0", "0")
    assert 1 <= report["settlement_span_stacks_blocks"] <= 20
    assert report["settlement_delay_blocks"]["max"] is not None
    assert report["invariant_violations"] == 0


def test_bank_run_shows_withdrawals_refused_while_collateral_is_locked(tmp_path):
    report = run(small("bank-run", "days=1.6", "drain_days=0.5", "policies=150",
                       "crash.start_hours=12", "burst.days=1.3"), 1, tmp_path)  # fmt: skip
    assert report["withdrawals"] > 0  # requests (protocol v2's first step)
    assert report["withdrawals_refused_locked"] > 0  # ready only once their policies settle
    assert report["invariant_violations"] == 0
    # a panicking provider never burns shares for nothing (v1: 2,534 withdrawals of 0 tokens)
    paid_nothing = [
        e for e in map(json.loads, (tmp_path / "events.jsonl").read_text().splitlines())
        if e["kind"] == "tx" and e["call"] == "liquidity-pool.complete-withdraw"
        and e["status"] == "success" and e["result"]["value"]["value"] == "0"
    ]  # fmt: skip
    assert paid_nothing == []


def test_flash_crash_pays_out():
    # drain to the burst's expiry: 1.3 days from minute 10, on the daily grid (burn 288)
    report = run(small("flash-crash", "days=1.3", "drain_days=0.8", "policies=60",
                       "crash.start_hours=20"), 2, None)  # fmt: skip
    assert report["policies_settled"] > 0 and report["payouts_usd"] > 0
    assert report["invariant_violations"] == 0


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("baseline", ["days=1.5", "buyers.rate_per_hour=10", "buyers.days_max=2"]),
        (
            "grinding-bear",
            [
                "days=2",
                "drain_days=0.5",
                "crash.duration_hours=48",
                "buyers.days_min=1.2",
                "buyers.days_max=2",
            ],
        ),
    ],
)
def test_other_scenarios_run_clean(name, overrides):
    report = run(small(name, *overrides), 1, None)
    assert report["policies_purchased"] > 0
    assert report["invariant_violations"] == 0


def test_an_invariant_violation_stops_the_run_and_keeps_the_trace(tmp_path, monkeypatch):
    """A pool model that books one unit too many on each deposit breaks invariant 1 (the
    vault's balance against its tranches): the run must stop there, loudly, with its folder."""
    from scenarios.runner import InvariantBroken
    from sim.models.pool import Pool

    honest = Pool._store

    def leaky(self, ctx, token, tier, state):
        return honest(self, ctx, token, tier, (state[0] + 1, state[1], state[2]))

    monkeypatch.setattr(Pool, "_store", leaky)
    out = tmp_path / "broken"
    with pytest.raises(InvariantBroken, match="invariant 1"):
        run(small("flash-crash", "days=0.2", "drain_days=0", "policies=0"), 1, out)
    report = json.loads((out / "report.json").read_text())
    assert report["stopped"].startswith("block 1: invariant 1")
    assert report["invariant_violations"] >= 1
    lines = (out / "events.jsonl").read_text().splitlines()
    assert any('"kind":"invariant-violation"' in line for line in lines)
