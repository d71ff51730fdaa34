"""report.json's tranche accounts, redone from the chain's own events in events.jsonl.

The sums here are written independently of scenarios/tranches.py: if the report and this
recomputation ever disagree by one token unit, the report is wrong about who lost what.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from scenarios import config
from scenarios.runner import run
from scenarios.tranches import PROVIDER_EXITS

UNIT = {0: "ustx", 1: "sats"}
NAME = {0: "stx", 1: "sbtc"}


@pytest.fixture(scope="module")
def bank_run(tmp_path_factory):
    """A bank run at reduced size: deposits, panicked withdrawal requests (each waiting for the
    policies it backs: none completes before this short run ends), premiums and payouts in every
    token."""
    out = tmp_path_factory.mktemp("bank-run")
    scenario = config.load("bank-run", ["days=1.6", "drain_days=0.5", "policies=150",
                                        "crash.start_hours=12", "burst.days=1.3"])  # fmt: skip
    report = run(scenario, 1, out)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    return report, events


def test_every_tranche_pnl_is_the_sum_of_the_chains_events_to_the_unit(bank_run):
    report, events = bank_run
    sums: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    last_assets: dict[tuple[int, int], int] = {}
    for e in events:
        if e["kind"] != "pool-event":
            continue
        key, s = (e["token"], e["tier"]), sums[(e["token"], e["tier"])]
        if e["event"] == "deposit":
            s["deposits"] += e["amount"]
        elif e["event"] in PROVIDER_EXITS:
            s["withdrawals"] += e["amount"]
        elif e["event"] == "locked":
            s["premiums"] += e["premium"]
        elif e["event"] == "payout":
            s["payouts"] += e["amount"]
        last_assets[key] = e["total_assets"]
    assert len(sums) == 6  # every tranche had money in this run
    pnl_total = {0: 0, 1: 0}
    for (token, tier), s in sums.items():
        row, u = report["tranches"][f"{NAME[token]}-{tier}"], UNIT[token]
        pnl = s["premiums"] - s["payouts"]
        assert row[f"deposits_{u}"] == s["deposits"]
        assert row[f"withdrawals_{u}"] == s["withdrawals"]
        assert row[f"premiums_{u}"] == s["premiums"]
        assert row[f"payouts_{u}"] == s["payouts"]
        assert row[f"pnl_{u}"] == pnl
        # what the tranche holds at the end is exactly what came in and went out
        assert row[f"assets_end_{u}"] == last_assets[(token, tier)]
        assert last_assets[(token, tier)] == s["deposits"] - s["withdrawals"] + pnl
        pnl_total[token] += pnl
    assert report["pool"]["pnl_ustx"] == pnl_total[0]
    assert report["pool"]["pnl_sats"] == pnl_total[1]
    # the story the run exists for: payouts exceeded premiums in some tranche
    assert any(row["pnl_usd"] < 0 for row in report["tranches"].values())


def test_the_logged_pool_events_are_the_chains(bank_run):
    """Each pool-event record is the print of a transaction in the log: a withdrawal's amount
    is the call's `(ok amount)`, a deposit's shares the call's `(ok shares)`."""
    _, events = bank_run
    results = {e["txid"]: e for e in events if e["kind"] == "tx" and e["status"] == "success"}
    checked = 0
    for e in events:
        if e["kind"] == "pool-event" and e["event"] in ("deposit", *PROVIDER_EXITS):
            tx = results[e["txid"]]
            assert tx["block"] == e["block"]
            field = "shares" if e["event"] == "deposit" else "amount"
            assert tx["result"]["type"] == "ok"
            assert int(tx["result"]["value"]["value"]) == e[field]
            checked += 1
    assert checked > 20


def test_totals_and_coverage_fields_add_up(bank_run):
    report, _ = bank_run
    tranches = report["tranches"].values()
    assert report["pool"]["premiums_usd"] == pytest.approx(report["premiums_usd"], abs=0.06)
    assert report["pool"]["payouts_usd"] == pytest.approx(report["payouts_usd"], abs=0.06)
    assert report["min_coverage_ratio"] == min(
        t["min_coverage_ratio"] for t in tranches if t["min_coverage_ratio"] is not None
    )
    # two-step withdrawals: a provider's exit waits for the policies it backed, so the panic
    # drains no backing and the crash leaves every tranche's coverage above 1 (under the one-step
    # withdraw it fell below 1 for hours)
    assert report["withdrawals"] > 0
    assert report["withdrawals_refused_locked"] == report["withdrawals"]
    assert 1 <= report["min_coverage_ratio"] < float("inf")
    assert report["hours_below_coverage_1"] == 0
    assert report["first_below_coverage_1_at_hours"] is None
    for t in tranches:
        # deposits and withdrawals trade at the share price: only P&L moves it
        pnl = t["pnl_ustx"] if t["token"] == "STX" else t["pnl_sats"]
        assert (t["share_price_return"] < 0) == (pnl < 0)
        assert (t["annualised_return"] < 0) == (pnl < 0)


def test_the_console_story_says_what_this_run_was_about(bank_run):
    from scenarios.story import run_story

    report, _ = bank_run
    text = "\n".join(run_story(report))
    n = report["withdrawals"]
    assert f"{n:,} withdrawal attempts (requests), {n:,} made to wait for the policies" in text
    assert "refused because collateral was locked" not in text
    assert "lost most" in text and "no ruin" in text and "below 1" not in text
