"""The engine's HTTP API, served by a real uvicorn on loopback in front of the engine on the
devnet: every route's happy path and its refusals, limits, CORS, wallet sign-in with a
signature made in Node, metrics, and that nothing secret is ever answered or logged.

One engine serves the whole module (starting the Clarity VM costs seconds); every response
and every log line of the module is captured, and the last test searches them for secrets.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from chain import sip018
from chain.clarity import UInt, deserialize
from chain.contracts import SATS, STX
from chain.payloads import sends
from live.api import openapi_document
from store import open_store
from tests.live.service_fixtures import (
    ORIGIN,
    loopback_world,
    node_sign_structured,
    start_engine,
    wallet_call,
)

pytestmark = [pytest.mark.live, pytest.mark.clarity]

USD = 100_000_000


def from_hex(text: str):
    return deserialize(bytes.fromhex(text.removeprefix("0x")))


OPENAPI = Path(__file__).resolve().parents[2] / "ops" / "openapi.json"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    capture = Capture()
    capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        with loopback_world(users=6) as (node, exchanges):
            r = start_engine(tmp, node, exchanges)
            r.responses = []  # every response body and header set the module saw
            r.capture = capture
            r.tokens = []

            def keep(response: httpx.Response) -> None:
                response.read()
                r.responses.append(f"{dict(response.headers)} {response.text}")

            r.http.event_hooks["response"].append(keep)
            try:
                r.fund()
                r.turn()
                yield r
            finally:
                r.close()
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)


def user(svc, i: int):
    return svc.devnet.deployment.accounts.users[i]


def quote_body(svc, who: str, **over) -> dict:
    height = svc.http.get("/v1/status").json()["burn_height"]
    body = {"buyer": who, "amount_sats": SATS // 10, "strike": 60_000 * USD,
            "expiration": height + 150, "token": "stx"}  # fmt: skip
    return {**body, **over}


def assert_400(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid"
    assert body["detail"].startswith(field), body
    assert "\n" not in body["detail"]


# -- schema ---------------------------------------------------------------------------------


def test_served_schema_is_the_checked_in_one(svc):
    served = svc.http.get("/openapi.json").json()
    assert served == json.loads(OPENAPI.read_text())
    assert served == openapi_document()
    paths = set(served["paths"])
    for route in ("/v1/quotes", "/v1/payloads/deposit", "/v1/payloads/withdraw/request",
                  "/v1/payloads/withdraw/complete", "/v1/prices", "/v1/pool", "/v1/policies",
                  "/v1/policies/{policy_id}", "/v1/providers/{provider}", "/v1/auth/challenge",
                  "/v1/auth/session", "/v1/me/policies", "/v1/me/positions", "/v1/status",
                  "/healthz", "/readyz", "/metrics"):  # fmt: skip
        assert route in paths


def test_every_read_is_typed_and_invalid_input_is_400_not_422():
    """Each GET answers a named model (or, /metrics, text); FastAPI's 422 validation error is
    listed nowhere, because this API answers invalid input with 400 ErrorOut; a 422 is left
    only where a route means it (a refused quote), and 400 only where there is input."""
    doc = openapi_document()
    assert "HTTPValidationError" not in json.dumps(doc)
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            responses = op["responses"]
            has_input = bool(op.get("parameters") or op.get("requestBody"))
            assert ("400" in responses) == has_input, where
            if "422" in responses:
                assert (method, path) == ("post", "/v1/quotes"), where
            if method != "get":
                continue
            ok = responses["200"]["content"]
            if path == "/metrics":
                assert list(ok) == ["text/plain"], where
                continue
            ref = ok["application/json"]["schema"].get("$ref", "")
            assert ref.startswith("#/components/schemas/"), where
            model = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
            assert model["type"] == "object" and model["properties"], where


# -- quotes and purchases -------------------------------------------------------------------


def test_a_quote_is_signed_bought_on_chain_and_listed(svc):
    buyer = user(svc, 2)
    r = svc.http.post("/v1/quotes", json=quote_body(svc, buyer.principal().address))
    assert r.status_code == 200, r.text
    got = r.json()
    q, payload = got["quote"], got["payload"]
    assert payload["functionName"] == "purchase-policy"
    assert payload["sender"] == buyer.principal().address
    pc = {"type": "stx-postcondition", "address": buyer.principal().address, "condition": "eq"}
    assert payload["postConditions"] == [{**pc, "amount": q["premium"]}]
    # the quote tuple in the payload is the one described, and the signature is the quote key's
    tup = from_hex(payload["functionArgs"][0])
    assert tup["premium"] == UInt(int(q["premium"])) and tup["quote-id"] == UInt(int(q["quote_id"]))
    assert from_hex(payload["functionArgs"][1]).value.hex() == got["signature"]
    # the buyer signs it as a wallet would, from the JSON alone
    pays = sends(svc.engine.config.contracts, buyer.principal(), STX, int(q["premium"]))
    call = wallet_call(payload, (pays,))
    raw = call.sign(buyer, nonce=svc.users.nonce(buyer.principal()), fee=1000).serialize()
    txid = svc.node.broadcast(raw)
    svc.turn()
    assert svc.users.status(txid).status == "success"
    pid = svc.users.status(txid).result.value.value
    listed = svc.http.get("/v1/policies", params={"owner": buyer.principal().address}).json()
    assert [p["id"] for p in listed["policies"]] == [pid]
    one = svc.http.get(f"/v1/policies/{pid}").json()
    assert one["status"] == "active" and one["premium"] == q["premium"]
    assert one["collateral"] == q["collateral"] and one["owner"] == buyer.principal().address
    assert svc.http.get("/v1/policies", params={"status": "active"}).json()["policies"]
    assert svc.http.get(f"/v1/policies/{pid + 1000}").status_code == 404
    pool = svc.http.get("/v1/pool").json()
    tranche = next(t for t in pool["tranches"] if (t["token"], t["tier"]) == ("stx", q["tier"]))
    assert int(tranche["locked"]) >= int(q["collateral"])
    assert int(tranche["premiums_30d"]) == int(q["premium"])


def test_refusals_name_the_reason_and_the_allowed_range(svc):
    buyer = user(svc, 3).principal().address
    status = svc.http.get("/v1/status").json()
    limits = status["limits"]
    r = svc.http.post("/v1/quotes", json=quote_body(svc, buyer, expiration=status["burn_height"]))
    assert r.status_code == 422
    assert r.json()["reason"] == "duration"
    assert r.json()["allowed"] == {"expiration": limits["expiration"]}
    r = svc.http.post("/v1/quotes", json=quote_body(svc, buyer, strike=10 * USD))
    assert r.json()["reason"] == "strike"
    lo, hi = int(r.json()["allowed"]["strike"]["min"]), int(r.json()["allowed"]["strike"]["max"])
    assert lo < 65_000 * USD < hi
    assert svc.http.post("/v1/quotes", json=quote_body(svc, buyer, strike=lo)).status_code == 200
    assert (
        svc.http.post("/v1/quotes", json=quote_body(svc, buyer, strike=lo - 1)).status_code == 422
    )
    r = svc.http.post("/v1/quotes", json=quote_body(svc, buyer, amount_sats=1))
    assert r.json()["reason"] == "amount" and "amount_sats" in r.json()["allowed"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"buyer": "not-an-address"}, "buyer"),
        ({"buyer": "SP000000000000000000002Q6VF78"}, "buyer"),  # a mainnet address on devnet
        ({"amount_sats": 0}, "amount_sats"),
        ({"amount_sats": "10000000"}, "amount_sats"),  # strict: no numbers as text
        ({"strike": -5}, "strike"),
        ({"expiration": 1.5}, "expiration"),
        ({"token": "doge"}, "token"),
        ({"tier": 3}, "tier"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_quote_input_is_validated(svc, change, field):
    body = quote_body(svc, user(svc, 3).principal().address, **change)
    assert_400(svc.http.post("/v1/quotes", json=body), field)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.dictionaries(
        st.sampled_from(["buyer", "amount_sats", "strike", "expiration", "token", "tier", "x"]),
        st.one_of(
            st.text(max_size=60),
            st.integers(),
            st.floats(),
            st.none(),
            st.booleans(),
            st.lists(st.integers()),
        ),
    )
)
def test_hostile_quote_bodies_get_a_clear_answer_never_a_500(svc, body):
    # encoded here, not by httpx (which refuses NaN and infinities): a hostile client sends the
    # `NaN` and `Infinity` tokens Python's json writes and reads
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {"content-type": "application/json"}
    r = svc.http.post("/v1/quotes", content=content, headers=headers)
    assert r.status_code in (400, 422, 429) or r.status_code == 200, r.text
    if r.status_code == 400:
        assert "\n" not in r.json()["detail"]


def test_a_body_that_is_not_json_is_400_and_a_huge_one_413(svc):
    r = svc.http.post("/v1/quotes", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = svc.http.post(
        "/v1/quotes", content=b"x" * 5000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "body-too-large"


def test_quotes_per_principal_are_rate_limited_with_retry_after(svc):
    body = quote_body(svc, user(svc, 4).principal().address)
    codes, retry = [], None
    for _ in range(25):  # the module's config allows 20 a minute per principal
        r = svc.http.post("/v1/quotes", json=body)
        codes.append(r.status_code)
        if r.status_code == 429:
            retry = r.headers["Retry-After"]
    assert codes.count(200) == 20 and codes.count(429) == 5, codes
    assert retry is not None and int(retry) >= 1
    # another principal from the same address is not held back by this one's limit
    other = quote_body(svc, user(svc, 5).principal().address)
    assert svc.http.post("/v1/quotes", json=other).status_code == 200


# -- payloads -------------------------------------------------------------------------------


def test_deposit_and_withdrawal_payloads(svc):
    provider = user(svc, 0).principal().address
    body = {"sender": provider, "token": "stx", "tier": 1}
    r = svc.http.post("/v1/payloads/deposit", json={**body, "amount": 5_000_000})
    assert r.status_code == 200, r.text
    p = r.json()["payload"]
    assert p["functionName"] == "deposit" and p["postConditionMode"] == "deny"
    assert p["postConditions"][0]["amount"] == "5000000"
    shares = int(svc.http.get(f"/v1/providers/{provider}").json()["positions"][1]["shares"])
    r = svc.http.post("/v1/payloads/withdraw/request", json={**body, "shares": shares // 2})
    assert r.status_code == 200, r.text
    p = r.json()["payload"]
    assert p["functionName"] == "request-withdraw"  # step 1 moves nothing
    assert p["postConditionMode"] == "deny" and p["postConditions"] == []
    r = svc.http.post("/v1/payloads/withdraw/complete",
                      json={"sender": provider, "token": "stx", "tier": 1})  # fmt: skip
    assert r.status_code == 400 and r.json()["error"] == "no-pending-withdrawal"
    assert_400(svc.http.post("/v1/payloads/deposit", json={"sender": provider, "token": "stx",
               "tier": 1, "amount": -1}), "amount")  # fmt: skip
    assert_400(svc.http.post("/v1/payloads/withdraw/request", json={"sender": "x", "token": "stx",
               "tier": 1, "shares": 1}), "sender")  # fmt: skip


# -- reads ----------------------------------------------------------------------------------


def test_pool_prices_and_providers_agree_with_the_store_and_chain(svc):
    pool = svc.http.get("/v1/pool").json()
    with open_store(svc.engine.config.store_url) as store:
        latest = store.tranches.latest()
        shares = store.shares.all()
    assert len(pool["tranches"]) == 6
    for t in pool["tranches"]:
        token = 0 if t["token"] == "stx" else 1
        assets, total, locked = latest[(token, t["tier"])]
        assert (int(t["assets"]), int(t["shares"]), int(t["locked"])) == (assets, total, locked)
        pending = svc.engine.chain.read_only(  # the chain's count of pending shares
            svc.engine.config.contracts.pool, "get-vault", [UInt(token), UInt(t["tier"])]
        )["pending"].value
        assert t["pending_withdrawals"] == str(pending)
    prices = svc.http.get("/v1/prices").json()
    assert prices["onchain"]["price"] == str(65_000 * USD)
    assert prices["aggregated"]["sources"] == 7 and prices["volatility"] >= 0.2
    assert prices["history"] and all(h["price"] == str(65_000 * USD) for h in prices["history"])
    t = prices["history"][0]["time"]
    assert (
        svc.http.get("/v1/prices", params={"since": t + 1, "until": t + 2}).json()["history"] == []
    )
    assert_400(svc.http.get("/v1/prices", params={"since": 10, "until": 5}), "since")
    assert_400(svc.http.get("/v1/prices", params={"asset": "ETH-USD"}), "query.asset")
    provider = user(svc, 1).principal().address
    got = svc.http.get(f"/v1/providers/{provider}").json()
    mine = {
        (0 if p["token"] == "stx" else 1, p["tier"]): int(p["shares"]) for p in got["positions"]
    }
    assert mine == {(tok, tier): n for (tok, tier, who), n in shares.items() if who == provider}
    assert all(int(p["value"]) > 0 for p in got["positions"])
    assert_400(svc.http.get("/v1/providers/nobody"), "provider")
    assert_400(svc.http.get("/v1/policies", params={"owner": "x"}), "owner")
    assert_400(svc.http.get("/v1/policies", params={"limit": 0}), "query.limit")


def test_a_providers_flows_share_prices_and_pnl_follow_the_chain(svc):
    """A fresh provider deposits, then withdraws half in two steps (request, then complete):
    the endpoint lists the three flows with their blocks, each tranche's share price over time,
    and P&L from the chain's own numbers (the request moves nothing)."""
    from chain import payloads
    from chain.clarity import principal

    key = user(svc, 4)
    who = key.principal()
    contracts = svc.engine.config.contracts
    amount = 1_000 * 1_000_000
    nonce = svc.users.nonce(who)
    deposit = payloads.deposit(contracts, who, STX, 0, amount)
    svc.node.broadcast(deposit.sign(key, nonce=nonce, fee=1000).serialize())
    svc.turn()

    def shares_on_chain() -> int:
        args = [UInt(STX), UInt(0), principal(who.address)]
        return svc.users.read_only(contracts.pool, "get-shares", args).value

    minted = shares_on_chain()
    before = svc.node.account(who.address).balance
    t = svc.users.read_only(contracts.pool, "get-tranche", [UInt(STX), UInt(0)])
    worth = (minted // 2) * t["total-assets"].value // t["total-shares"].value
    request = payloads.request_withdraw(contracts, who, STX, 0, minted // 2)
    svc.node.broadcast(request.sign(key, nonce=nonce + 1, fee=1000).serialize())
    svc.turn()
    assert svc.node.account(who.address).balance == before - 1000  # a request moves nothing

    # pending: typed, in the provider's view and the pool's, as the chain holds it
    asked = svc.users.read_only(contracts.pool, "get-pending",
                                [UInt(STX), UInt(0), principal(who.address)]).value  # fmt: skip
    body = svc.http.get(f"/v1/providers/{who.address}").json()
    (pending,) = body["pending_withdrawals"]
    request_flow = body["flows"][1]
    assert pending == {
        "provider": who.address,
        "token": "stx",
        "tier": 0,
        "epoch": asked["epoch"].value,
        "shares": str(minted // 2),
        "value_at_request": str(worth),
        "value_now": str(worth),  # nothing happened since: min(value now, at request)
        "requested_block": request_flow["block"],
        "requested_burn_height": request_flow["burn_height"],
        "ready_height": asked["ready-at"].value,
        "ready": True,  # no policy of this tranche unsettled: ready at once
    }
    assert asked["value"].value == worth and asked["shares"].value == minted // 2
    assert [int(p["shares"]) for p in body["positions"]] == [minted - minted // 2]
    (row,) = body["pnl"]  # the pending shares count at what they pay
    assert int(row["value"]) > worth
    pool = svc.http.get("/v1/pool").json()
    assert pending in pool["withdrawal_requests"]
    complete = payloads.complete_withdraw(svc.users, contracts, who, STX, 0)
    svc.node.broadcast(complete.sign(key, nonce=nonce + 2, fee=1000).serialize())
    svc.turn()
    paid_out = svc.node.account(who.address).balance - before + 2000
    assert paid_out > 0

    got = svc.http.get(f"/v1/providers/{who.address}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["pending_withdrawals"] == []  # completed
    assert all(p["provider"] != who.address for p in svc.http.get("/v1/pool").json()[
        "withdrawal_requests"])  # fmt: skip
    flows = [(f["kind"], f["token"], f["tier"], int(f["amount"]), int(f["shares"]))
             for f in body["flows"]]  # fmt: skip
    assert flows == [
        ("deposit", "stx", 0, amount, minted),
        ("withdraw-requested", "stx", 0, 0, minted // 2),
        ("withdraw", "stx", 0, paid_out, minted // 2),
    ]
    asked = body["flows"][1]
    assert asked["share_price"] is None and asked["ready_at"] <= asked["burn_height"]
    assert body["flows"][2]["ready_at"] is None
    blocks = [f["block"] for f in body["flows"]]
    assert None not in blocks and blocks[0] < blocks[1] < blocks[2]
    assert all(f["burn_height"] is not None for f in body["flows"])
    t = svc.users.read_only(contracts.pool, "get-tranche", [UInt(STX), UInt(0)])
    left = shares_on_chain()
    value = left * t["total-assets"].value // t["total-shares"].value
    (row,) = body["pnl"]
    assert (row["token"], row["tier"]) == ("stx", 0)
    assert (int(row["deposited"]), int(row["withdrawn"]), int(row["value"])) == (
        amount,
        paid_out,
        value,
    )
    assert int(row["pnl"]) == value + paid_out - amount
    (history,) = body["share_price_history"]
    last = history["points"][-1]
    assert (int(last["assets"]), int(last["shares"])) == (
        t["total-assets"].value,
        t["total-shares"].value,
    )
    assert [p["block"] for p in history["points"]] == sorted(p["block"] for p in history["points"])
    # a provider of six tranches, who never withdrew: six rows, nothing withdrawn
    other = svc.http.get(f"/v1/providers/{user(svc, 0).principal().address}").json()
    assert len(other["pnl"]) == 6 and all(r["withdrawn"] == "0" for r in other["pnl"])
    assert {f["kind"] for f in other["flows"]} == {"deposit"}
    # nobody's flows
    nobody = svc.http.get(f"/v1/providers/{user(svc, 5).principal().address}").json()
    assert nobody["flows"] == [] and nobody["pnl"] == [] and nobody["positions"] == []


# -- CORS -----------------------------------------------------------------------------------


def test_cors_answers_the_configured_origin_only(svc):
    pre = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    ok = svc.http.options("/v1/quotes", headers={"Origin": ORIGIN, **pre})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    bad = svc.http.options("/v1/quotes", headers={"Origin": "https://evil.test", **pre})
    assert bad.status_code == 400
    assert "access-control-allow-origin" not in bad.headers
    got = svc.http.get("/v1/pool", headers={"Origin": ORIGIN})
    assert got.headers["access-control-allow-origin"] == ORIGIN
    assert (
        "access-control-allow-origin"
        not in svc.http.get("/v1/pool", headers={"Origin": "https://evil.test"}).headers
    )


# -- sign-in ----------------------------------------------------------------------------------


def challenge(svc, who: str) -> dict:
    r = svc.http.post("/v1/auth/challenge", json={"principal": who})
    assert r.status_code == 200, r.text
    return r.json()


def test_sign_in_with_a_wallet_signature_and_the_me_endpoints(svc):
    wallet = user(svc, 2)
    who = wallet.principal().address
    c = challenge(svc, who)
    assert c["domain"]["chain-id"] == svc.engine.config.tx_network.chain_id
    signature = node_sign_structured(c["domain_hex"], c["message_hex"], wallet.secret_hex())
    r = svc.http.post("/v1/auth/session", json={"nonce": c["nonce"], "signature": signature})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert r.json()["principal"] == who
    auth = {"Authorization": f"Bearer {token}"}
    mine = svc.http.get("/v1/me/policies", headers=auth).json()["policies"]
    assert mine and all(p["owner"] == who for p in mine)
    assert svc.http.get("/v1/me/positions", headers=auth).json()["provider"] == who
    assert svc.http.get("/v1/me/policies").status_code == 401
    assert (
        svc.http.get("/v1/me/policies", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    # replay: the same challenge and signature again
    r = svc.http.post("/v1/auth/session", json={"nonce": c["nonce"], "signature": signature})
    assert r.status_code == 401 and r.json()["reason"] == "unknown-challenge"
    svc.tokens.append(token)


def test_wrong_principal_wrong_chain_and_expired_challenges_are_refused(svc):
    alice, mallory = user(svc, 2), user(svc, 3)
    # signed by another key than the challenge's principal
    c = challenge(svc, alice.principal().address)
    sig = node_sign_structured(c["domain_hex"], c["message_hex"], mallory.secret_hex())
    r = svc.http.post("/v1/auth/session", json={"nonce": c["nonce"], "signature": sig})
    assert r.status_code == 401 and r.json()["reason"] == "signature"
    # signed by the right key, for another chain (mainnet's chain id in the domain)
    c = challenge(svc, alice.principal().address)
    d = c["domain"]
    other = sip018.Domain(d["name"], d["version"], 1).to_clarity().serialize().hex()
    sig = node_sign_structured(other, c["message_hex"], alice.secret_hex())
    r = svc.http.post("/v1/auth/session", json={"nonce": c["nonce"], "signature": sig})
    assert r.status_code == 401 and r.json()["reason"] == "signature"
    # expired: the clock passes the challenge's expiry before it is used
    c = challenge(svc, alice.principal().address)
    sig = node_sign_structured(c["domain_hex"], c["message_hex"], alice.secret_hex())
    svc.clock.t = c["expires_at"] + 1
    r = svc.http.post("/v1/auth/session", json={"nonce": c["nonce"], "signature": sig})
    assert r.status_code == 401 and r.json()["reason"] == "expired"
    assert_400(svc.http.post("/v1/auth/session", json={"nonce": "zz", "signature": sig}), "nonce")
    assert_400(svc.http.post("/v1/auth/challenge", json={"principal": "ST1"}), "principal")


# -- operations -----------------------------------------------------------------------------


def test_metrics_parse_and_carry_the_engine_state(svc):
    text = svc.http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}  # fmt: skip
    assert samples[("bithedge_price_usd", (("asset", "BTC-USD"), ("kind", "onchain")))] == 65_000
    assert samples[("bithedge_quotes_total", (("outcome", "offered"),))] >= 1
    assert samples[("bithedge_quotes_total", (("outcome", "duration"),))] >= 1
    assert samples[("bithedge_oracle_pushes_total", (("asset", "BTC-USD"),))] >= 1
    assert samples[("bithedge_outbox_pending", ())] == 0
    assert samples[("bithedge_signer_balance_ustx", ())] > 0
    assert samples[("bithedge_tranche_assets", (("tier", "1"), ("token", "0")))] > 0
    assert samples[("bithedge_policies", (("status", "active"),))] >= 1
    assert any(n == "bithedge_http_request_seconds_count" for n, _ in samples)


def test_readyz_follows_the_feed_and_the_oracle(svc):
    svc.turn()
    assert svc.http.get("/readyz").status_code == 200
    assert svc.http.get("/healthz").json() == {"status": "ok"}
    # the exchanges stop answering: no quorum
    for source in ("coinbase", "kraken", "bitstamp", "binance", "gemini", "bitfinex", "okx"):
        svc.exchanges.set_mode(source, "down")
    svc.turn()
    r = svc.http.get("/readyz")
    assert r.status_code == 503 and not r.json()["checks"]["quorum"]["ok"]
    for source in ("coinbase", "kraken", "bitstamp", "binance", "gemini", "bitfinex", "okx"):
        svc.exchanges.set_mode(source, "ok")
    svc.turn()
    assert svc.http.get("/readyz").status_code == 200
    # no observation for longer than the readiness threshold: stale
    svc.clock.t += svc.engine.config.api.ready_price_age_seconds + 1
    r = svc.http.get("/readyz")
    assert r.status_code == 503 and not r.json()["checks"]["oracle_fresh"]["ok"]
    svc.turn()
    assert svc.http.get("/readyz").status_code == 200


def test_nothing_secret_in_any_response_or_log_line(svc):
    """Runs last: every response and log line of this module, sign-in included."""
    accounts = svc.devnet.deployment.accounts
    secrets = [accounts.deployer.secret_hex(), accounts.quote.secret_hex()]
    secrets += [u.secret_hex() for u in accounts.users]
    assert svc.tokens, "the sign-in test ran and kept its token"
    logs = "\n".join(svc.capture.lines) + (svc.tmp / "live-events.jsonl").read_text()
    assert "quote" in logs and "oracle-push" in logs  # the capture did see the run
    assert "price=65,000.00 USD" in logs and "tx-confirmed" in logs  # the console's lines
    answers = [a for a in svc.responses if not any(t in a and '"token"' in a for t in svc.tokens)]
    assert len(answers) == len(svc.responses) - len(svc.tokens)  # only the session answers
    text = logs + "\n".join(answers)
    for secret in secrets:
        assert secret not in text and secret[:16] not in text
    for token in svc.tokens:
        assert token not in text
