"""The admin-key-compromise scenario at a small size (issue 11, property 5): a stolen admin key
queues its own quote key and oracle submitter; the guardian cancels both within the week's
delay; nothing the attacker queued ever applies, and nobody loses anything."""

from __future__ import annotations

import json

from scenarios import config
from scenarios.runner import run

SMALL = ["providers.count=4", "buyers.count=10", "buyers.rate_per_hour=1"]


def events(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def test_the_guardian_cancels_a_stolen_admin_keys_changes_and_nobody_loses(tmp_path):
    scenario = config.load("admin-key-compromise", [*SMALL, "admin_key.providers_leave=1"])
    report = run(scenario, 1, tmp_path)
    seen = events(tmp_path)
    kinds = [e["kind"] for e in seen]
    queued = next(e for e in seen if e["kind"] == "admin-key-queued")
    cancels = [e for e in seen if e["kind"] == "guardian-cancel"]
    assert {(e["contract"], e["key"]) for e in cancels} == {
        ("policy-registry", "quote-pubkey"),
        ("oracle", "submitter"),
    }
    # the engine saw both changes a week ahead of their effect, and their cancellation
    changes = [e for e in seen if e["kind"] == "admin-change"]
    assert [c["what"] for c in changes] == ["queued", "queued", "cancelled", "cancelled"]
    assert all(c["eta"] >= queued["height"] + 1008 for c in changes if c["what"] == "queued")
    # every provider saw the events and asked to leave (protocol v2: a request, completed once
    # the policies its shares back are settled); none was refused but for an unpaid expiry
    assert next(e for e in seen if e["kind"] == "providers-leave")["count"] == 4
    left = [e for e in seen if e["kind"] == "tx" and e["call"] == "liquidity-pool.request-withdraw"]
    assert any(e["status"] == "success" for e in left)
    refused = {e["result"]["value"]["value"] for e in left if e["status"] != "success"}
    assert refused <= {"414"}
    result = next(e for e in seen if e["kind"] == "admin-key-result")
    assert result["applied"] == [] and "admin-key-takeover" not in kinds
    assert report["policies_purchased"] > 0
    assert report["invariant_violations"] == 0
    assert report["unpaid_claims_usd"] == 0
    assert not any(report["stuck_collateral"].values())  # per token, whatever its unit
    assert report["attacker_profit_usd"] == 0
    assert report["attacker_profit_usd_by_kind"] == {"admin_key": 0}


def test_without_the_attack_the_guardian_sends_nothing(tmp_path):
    """The guardian is on in every run; with nothing queued it neither acts nor logs."""
    run(config.load("admin-key-compromise", [*SMALL, "admin_key.count=0", "days=1.2",
                                             "drain_days=0.2"]), 1, tmp_path)  # fmt: skip
    kinds = {e["kind"] for e in events(tmp_path)}
    assert not kinds & {"guardian-saw", "guardian-cancel", "admin-change", "admin-key-queued"}
