"""Contract tests: the project's JSON schemas of every endpoint the node client uses
(tests/chain/schemas/), against every recorded body and every devnet response.

The schemas are written from the official specifications, as of these commits:

- stacks-network/stacks-core @ 1efa4a9bf6bd0f670ac10d1f5a5f24491b7a827a (2026-08-21):
  `docs/rpc/openapi.yaml` (`/v2/info`, `/v2/accounts/{principal}`, `/v2/fees/transaction`,
  `/v2/transactions`: 200 a JSON txid, 400 JSON `TransactionSubmissionError` or text/plain,
  `/v2/contracts/call-read/...`) and `docs/rpc/components/schemas/`: `node-info`,
  `account-data`, `fee-transaction-request`, `fee-transaction-response`, `execution-cost`,
  `transaction-submission-error`, `read-only-function-result` (`.schema.yaml`). Also the code
  behind them: `stackslib/src/net/api/getinfo.rs` (`RPCPeerInfoData`: `unanchored_seq` is always
  serialized), `stackslib/src/net/api/posttransaction.rs` (text/plain 400s, `{tx}` JSON bodies,
  200 for bytes already in the mempool), `stackslib/src/chainstate/stacks/db/blocks.rs`
  (`MemPoolRejection::into_json`, `can_include_tx`: 1 uSTX a byte, nonce window confirmed + 26).
- hirosystems/stacks-blockchain-api @ 759c4a586b3f0cba330426a525d543d7d8fa2d9f (9.0.2,
  2026-08-20): `openapi.yaml`; `src/api/routes/v3/transactions.ts`,
  `src/api/routes/v2/smart-contracts.ts`, `src/api/pagination.ts` (events: default 20, at most
  100), `src/api/schemas/v3/cursors.ts`, `src/api/schemas/v3/entities/` (`transactions.ts`,
  `mempool-transactions.ts`, `transaction-summaries.ts` with `problematic_skipped`,
  `mempool-transaction-summaries.ts`, `transaction-events.ts`, `common.ts`),
  `src/api/deprecation-plugin.ts` (`Warning: 299`, 410 Gone), `src/datastore/pg-store-v2.ts`
  (`getSmartContractEvents`: newest first, position cursors) and
  `src/datastore/v3/pg-store-v3.ts` (`getTransactionEvents`: event-index cursors).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from chain import transactions as txs
from chain.clarity import StringAscii, UInt
from chain.contracts import Contracts
from chain.wallet import Wallet

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
RECORDED = HERE / "recorded" / "node"

# every recorded body and the schema it must satisfy
RECORDED_SCHEMA = {
    "info.json": "node-info",
    "account.json": "account",
    "fee-request.json": "fee-request",
    "fee-estimate.json": "fee-estimate",
    "broadcast-rejected.json": "broadcast-rejected",
    "read-only-success.json": "read-only",
    "read-only-failure.json": "read-only",
    "tx-contract-call.json": "tx",
    "tx-token-transfer.json": "tx",
    "tx-pending.json": "tx",
    "tx-events.json": "tx-events",
    "contract-logs.json": "contract-logs",
    "tx-not-found.json": "api-error",
    "gone.json": "api-error",
    "limit-too-large.json": "api-error",
}


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def check(name: str, body: Any) -> None:
    jsonschema.validate(body, schema(name), cls=jsonschema.Draft202012Validator)


def test_the_schemas_are_valid_json_schemas():
    names = sorted(p.stem for p in SCHEMAS.glob("*.json"))
    assert set(RECORDED_SCHEMA.values()) | {"broadcast-accepted"} == set(names)
    for name in names:
        jsonschema.Draft202012Validator.check_schema(schema(name))


def test_every_recorded_body_is_listed():
    assert sorted(p.name for p in RECORDED.glob("*.json")) == sorted(RECORDED_SCHEMA)


@pytest.mark.parametrize(("file", "name"), sorted(RECORDED_SCHEMA.items()))
def test_recorded_body_validates(file, name):
    check(name, json.loads((RECORDED / file).read_text()))


def _edit(file: str, **changes: Any) -> Any:
    body = json.loads((RECORDED / file).read_text())
    for key, value in changes.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("node-info", _edit("info.json", pox_consensus=None)),  # a 2.x-era body lacks ten fields
        ("node-info", _edit("info.json", stacks_tip="0x" + "ab" * 32)),  # the node sends no 0x
        ("fee-estimate", _edit("fee-estimate.json", estimations=None, estimated_fees={})),
        ("tx", _edit("tx-contract-call.json", status="weird")),
        ("tx", _edit("tx-pending.json", status="success")),
        ("tx", _edit("tx-contract-call.json", tx_status="success", status=None)),  # the v1 shape
        ("tx-events", _edit("tx-events.json", limit=200)),
        ("contract-logs", _edit("contract-logs.json", cursor="12:0:3")),
        ("broadcast-accepted", "0x" + "ab" * 32),
    ],
)
def test_the_schemas_refuse_what_the_apis_never_send(name, body):
    with pytest.raises(jsonschema.ValidationError):
        check(name, body)


# --- every devnet response ------------------------------------------------------------------


@pytest.mark.live
def test_every_devnet_response_validates():
    """Each endpoint the client uses, in each of its shapes: success, refusals and errors."""
    from sim.devnet import Devnet, DevnetServer, StrictHiro

    node = Devnet(users=2, executor="python", block_seconds=3600, burn_seconds=36000)
    server = DevnetServer(node)
    server.start()
    strict = DevnetServer(node, strict=StrictHiro(limit=10_000))
    strict.start()
    accounts = node.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    admin = Wallet(accounts.deployer, node.chain)
    seen: list[tuple[str, int]] = []

    def get(http: httpx.Client, path: str, name: str, status: int = 200, **params) -> Any:
        resp = http.get(path, params=params)
        assert resp.status_code == status, (path, resp.text)
        assert resp.headers["content-type"] == "application/json"
        check(name, resp.json())
        seen.append((name, status))
        return resp.json()

    try:
        http = httpx.Client(base_url=server.url, timeout=10)
        with node.lock:
            mined = admin.call(contracts.oracle, "set-price", StringAscii("BTC-USD"), UInt(7))
            node.chain.mine()
            transfer = admin.transfer(accounts.users[0].principal(), 5_000)
            node.chain.mine()
        user = accounts.users[1]
        raw = txs.contract_call(user, contracts.oracle, "set-price",
                                [StringAscii("BTC-USD"), UInt(8)], nonce=0, fee=1000)  # fmt: skip
        raw = raw.serialize()
        octets = {"content-type": "application/octet-stream"}
        resp = http.post("/v2/transactions", content=raw, headers=octets)
        check("broadcast-accepted", resp.json())
        resp = http.post("/v2/transactions", json={"tx": raw.hex()})  # the same bytes, as JSON
        assert resp.status_code == 200 and resp.json() == txs.decode(raw).txid.hex()
        low = txs.contract_call(user, contracts.oracle, "set-price",
                                [StringAscii("BTC-USD"), UInt(9)], nonce=1, fee=10)  # fmt: skip
        resp = http.post("/v2/transactions", content=low.serialize(), headers=octets)
        assert resp.status_code == 400 and resp.json()["reason"] == "FeeTooLow"
        check("broadcast-rejected", resp.json())
        pending = txs.decode(raw).txid.hex()

        get(http, "/v2/info", "node-info")
        get(http, f"/v2/accounts/{user.principal().address}", "account", proof="0")
        resp = http.post("/v2/fees/transaction", json={
            "transaction_payload": txs.payload_bytes(txs.decode(raw)).hex(),
            "estimated_len": len(raw)})  # fmt: skip
        check("fee-estimate", resp.json())
        path = f"/v2/contracts/call-read/{accounts.deployer.principal().address}/oracle/get-price"
        arg = "0x" + StringAscii("BTC-USD").serialize().hex()
        sender = accounts.deployer.principal().address
        check("read-only", http.post(path, json={"sender": sender, "arguments": [arg]}).json())
        check("read-only", http.post(path, json={"sender": sender, "arguments": []}).json())
        for txid in (mined, transfer, pending):
            get(http, f"/extended/v3/transactions/0x{txid}", "tx", include="result")
            get(http, f"/extended/v3/transactions/0x{txid}", "tx")
        page = get(http, f"/extended/v3/transactions/0x{mined}/events", "tx-events", limit=100)
        assert page["total"] == len(page["results"]) >= 1
        get(http, f"/extended/v3/transactions/0x{transfer}/events", "tx-events", limit=1)
        logs = f"/extended/v2/smart-contracts/{contracts.oracle.address}/logs"
        top = get(http, logs, "contract-logs", limit=100)
        get(http, logs, "contract-logs", limit=1, cursor=top["cursor"])
        get(http, f"/extended/v3/transactions/0x{'ee' * 32}", "api-error", 404)
        get(http, f"/extended/v3/transactions/0x{mined}/events", "api-error", 400, limit=101)
        get(http, f"/extended/v3/transactions/0x{mined}/events", "api-error", 400, limit="abc")
        get(http, logs, "api-error", 400, limit=101)
        get(http, logs, "api-error", 404, cursor="0:0:0:0")
        http.close()
        gone = httpx.Client(base_url=strict.url, timeout=10)
        get(gone, f"/extended/v1/tx/0x{mined}", "api-error", 410)
        get(gone, f"/extended/v1/contract/{contracts.oracle.address}/events", "api-error", 410)
        gone.close()
    finally:
        strict.shutdown()
        server.shutdown()
        node.close()
    assert {"node-info", "account", "tx", "tx-events", "contract-logs", "api-error"} <= {
        name for name, _ in seen
    }
