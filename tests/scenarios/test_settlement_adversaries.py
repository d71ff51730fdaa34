"""The settlement adversaries at a small size: a backend that never settles (buyers settle
themselves, late, at the fixings) and a leaked oracle submitter key (issue 11, PROTOCOL.md v2)."""

from __future__ import annotations

import csv
import json

import pytest

from scenarios import config
from scenarios.runner import run

# purchases until hour 16 expire at burn 288 (the grid), settled by their buyers 30 blocks on
LATE = ["days=1.3", "drain_days=1.0", "late_settlement.buy_hours=16",
        "late_settlement.wait_blocks=30", "crash.start_hours=20"]  # fmt: skip
ORACLE_KEY = ["days=1.4", "drain_days=0.7", "buyers.days_max=1.2", "buyers.rate_per_hour=1",
              "oracle_key.days=1.05"]  # fmt: skip
# nobody watches the oracle, and the key pushes the cap
UNGUARDED = ["guardian.oracle_gap_bps=0", "oracle_key.stay_within_bps=0"]


def records(folder, kind: str) -> list[dict]:
    lines = (folder / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def test_late_settlement_buyers_settle_themselves_and_the_provider_gains_nothing(tmp_path):
    """The backend never settles; each buyer proves the fixings and settles 30 blocks after
    its expiry. Every claim is paid at the fixings: the provider who hoped the delay would
    pay its buyers less gains 0 (v1 would have settled at the price of the settlement's
    moment: its logged `v1_gain_usd`)."""
    report = run(config.load("late-settlement", LATE), 3, tmp_path)
    assert report["policies_purchased"] > 0 and report["policies_active_at_end"] == 0
    assert report["policies_settled"] + report["policies_expired"] == report["policies_purchased"]
    assert report["settlement_delay_blocks"]["p50"] >= 30  # the buyers', never the backend's
    assert records(tmp_path, "settle-batch") == []
    assert len(records(tmp_path, "buyer-settles")) >= report["policies_purchased"]
    assert report["unpaid_claims_usd"] == 0
    assert report["stuck_collateral"] == {"ustx": 0, "sats": 0}
    assert report["attacker_profit_usd_by_kind"] == {"late_settlement": 0.0}
    assert report["invariant_violations"] == 0
    gains = records(tmp_path, "late-settlement-v1-gain")
    assert gains and all(g["owed"] == g["paid"] for g in gains)


def test_a_leaked_submitter_key_profits_up_to_its_collateral_and_no_claim_goes_unpaid(tmp_path):
    """The attacker pushes -5% (the one-block cap) in each of the six blocks before its
    expiries and holds at-the-money puts on them: the fixing averages its prices, so its puts
    pay more than honest fixings would. Measured, not hidden: its profit is positive, and
    bounded by its policies' collateral (each payout is min(claim, collateral)). Every claim is
    still paid in full and nothing stays locked."""
    report = run(config.load("oracle-key-compromise", ORACLE_KEY + UNGUARDED), 1, tmp_path)
    assert report["unpaid_claims_usd"] == 0
    assert report["stuck_collateral"] == {"ustx": 0, "sats": 0}
    assert report["invariant_violations"] == 0
    pushes = records(tmp_path, "oracle-key-push")
    gains = records(tmp_path, "oracle-key-gain")
    assert pushes and gains
    assert report["attacker_profit_usd"] == pytest.approx(
        sum(g["gain_usd"] for g in gains), abs=0.1
    )
    assert report["attacker_profit_usd"] > 0  # the cap slows the attack; it does not stop it
    with (tmp_path / "policies.csv").open() as f:
        collateral = {
            int(row["id"]): int(row["collateral_token_units"]) for row in csv.DictReader(f)
        }
    for g in gains:
        assert g["fixing"] < g["honest_fixing"]  # it moved each fixing down
        assert g["honest"] <= g["paid"] <= collateral[g["id"]]  # the bound: its collateral


@pytest.mark.clarity
def test_late_settlement_is_byte_identical_on_the_clarity_vm(tmp_path):
    scenario = config.load("late-settlement", [*LATE, "late_settlement.count=3"])
    py, vm = tmp_path / "python", tmp_path / "clarity"
    run(scenario, 5, py, executor="python")
    run(scenario, 5, vm, executor="clarity")
    assert (py / "events.jsonl").read_bytes() == (vm / "events.jsonl").read_bytes()
    a = json.loads((py / "report.json").read_text())
    assert a["policies_settled"] + a["policies_expired"] > 0


@pytest.mark.parametrize("stay_within_bps", [0, 90])
def test_a_guardian_watching_the_oracle_makes_the_leaked_key_lose(tmp_path, stay_within_bps):
    """The scenario as shipped: the guardian removes a submitter whose observation strays more
    than 1% from the exchanges' price, moving away from it (sim/guardian.py). Pushing the cap
    gets the key removed at its first push; staying 0.9% under the exchanges keeps it, but a
    fixing 0.9% low pays less than its puts' premiums. Either way the attacker loses money and
    every claim is paid in full."""
    knobs = [*ORACLE_KEY, f"oracle_key.stay_within_bps={stay_within_bps}"]
    report = run(config.load("oracle-key-compromise", knobs), 1, tmp_path)
    assert report["unpaid_claims_usd"] == 0
    assert report["invariant_violations"] == 0
    assert records(tmp_path, "oracle-key-push")  # it did try
    assert report["attacker_profit_usd"] < 0
    removed = records(tmp_path, "guardian-remove")
    if stay_within_bps == 0:
        assert len(removed) == 1 and records(tmp_path, "oracle-key-removed")


@pytest.mark.parametrize("name", ["flash-crash", "manipulated-source"])
def test_the_oracle_watch_leaves_an_honest_oracle_alone(tmp_path, name):
    """An honest oracle lagging a 50% crash by the cap moves towards the exchanges' price, and
    one fed two manipulated sources of five keeps to the median: the watch at 1% judges none of
    their observations (a removal of the only submitter would be refused, u116, anyway)."""
    report = run(config.load(name, ["policies=100", "guardian.oracle_gap_bps=100"]), 1, tmp_path)
    assert report["invariant_violations"] == 0
    assert records(tmp_path, "guardian-saw-price") == []


@pytest.mark.clarity
def test_the_leaked_oracle_key_is_byte_identical_on_the_clarity_vm(tmp_path):
    """The deployment step `init-submitter`, the attacker's pushes and the guardian's
    `remove-submitter` run the same in the VM as in the models."""
    scenario = config.load("oracle-key-compromise", [*ORACLE_KEY, "oracle_key.stay_within_bps=0"])
    py, vm = tmp_path / "python", tmp_path / "clarity"
    run(scenario, 1, py, executor="python")
    run(scenario, 1, vm, executor="clarity")
    assert (py / "events.jsonl").read_bytes() == (vm / "events.jsonl").read_bytes()
    assert records(py, "guardian-remove") and records(py, "oracle-key-push")
