"""Shadow risk on the live book: the Monte Carlo forecast published in /v1/pool and /metrics,
and the circuit breaker stopping and resuming quotes for a tranche through the Registry."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chain import payloads
from chain.contracts import SATS, STX
from tests.live.service_fixtures import API_TOML, start_engine, wallet_call

pytestmark = [pytest.mark.live, pytest.mark.clarity]
USD = 100_000_000

RISK = (
    API_TOML
    + """
[risk]
every_blocks = 10000
paths = 500
horizon_days = 10
breaker_ruin_upper = 0.0
"""
)


def test_forecast_published_and_breaker_opens_and_lifts(tmp_path, devnet, exchanges):
    r = start_engine(tmp_path, devnet, exchanges, RISK)
    try:
        r.fund()
        r.turn()
        buyer = devnet.deployment.accounts.users[2]
        height = r.http.get("/v1/status").json()["burn_height"]
        body = {
            "buyer": buyer.principal().address,
            "amount_sats": SATS // 10,
            "strike": 60_000 * USD,
            "expiration": height + 300,
            "token": "stx",
            "tier": 1,
        }
        got = r.http.post("/v1/quotes", json=body).json()
        premium = int(got["quote"]["premium"])
        pays = payloads.sends(r.engine.config.contracts, buyer.principal(), STX, premium)
        call = wallet_call(got["payload"], (pays,))
        raw = call.sign(buyer, nonce=r.users.nonce(buyer.principal()), fee=1000).serialize()
        txid = r.node.broadcast(raw)
        r.turn()
        assert r.users.status(txid).status == "success"

        risk = r.engine.risk
        risk.join()
        report = risk.run(r.users.tip().burn_height)
        by = {(t["token"], t["tier"]): t for t in report["tranches"]}
        assert by[("stx", 1)]["policies"] == 1 and by[("stx", 0)]["policies"] == 0
        assert 0 <= by[("stx", 1)]["ruin"] <= by[("stx", 1)]["ruin_ci95_high"] <= 1
        assert by[("stx", 1)]["ruin_ci95_high"] > 0  # Wilson: never 0 from finitely many paths
        assert by[("stx", 1)]["coverage_min"]["p50"] > 0
        assert set(by[("stx", 1)]["loss_usd"]) == {"0.95", "0.99", "0.995"}
        pool = r.http.get("/v1/pool").json()
        assert pool["risk"]["height"] == report["height"]
        states = {(t["token"], t["tier"]): t["circuit_breaker_open"] for t in pool["tranches"]}
        assert states[("stx", 1)] is True and states[("stx", 0)] is False

        # the Registry refuses the tranche whose upper bound passed the limit (0 here) ...
        r.engine.sync()
        refused = r.http.post("/v1/quotes", json=body)
        assert refused.status_code == 422 and refused.json()["reason"] == "circuit-breaker"
        other = r.http.post("/v1/quotes", json={**body, "tier": 0, "strike": 50_000 * USD})
        assert other.status_code == 200, other.text
        text = r.http.get("/metrics").text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip
        key = (("bound", "upper"), ("tier", "1"), ("token", "0"))
        assert samples[("bithedge_risk_ruin", key)] == by[("stx", 1)]["ruin_ci95_high"]
        opened = (("state", "open"), ("tier", "1"), ("token", "0"))
        assert samples[("bithedge_circuit_breaker_total", opened)] == 1

        # ... and lifts it when a forecast falls back within a (raised) limit
        risk.settings = dataclasses.replace(risk.settings, breaker_ruin_upper=0.5)
        risk.run(r.users.tip().burn_height)
        r.engine.sync()
        assert r.http.post("/v1/quotes", json=body).status_code == 200
        log = (tmp_path / "live-events.jsonl").read_text()
        assert '"kind": "quote-circuit-open"' in log and '"kind": "quote-circuit-closed"' in log
    finally:
        r.close()
