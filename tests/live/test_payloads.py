"""The calls users sign: `run.py quote` prints them (asking the running engine's API); a
wallet library signs them; the devnet (the node's rules, the Clarity VM) accepts them and they
do what they promise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chain import payloads
from chain import transactions as txs
from chain.clarity import Ok, UInt
from chain.contracts import SBTC, STX
from chain.node import NodeClient
from chain.stacks import StacksChain
from live.config import load
from live.engine import LiveEngine
from tests.live.conftest import live_toml
from tests.live.test_end_to_end import Clock, turn

pytestmark = [pytest.mark.live, pytest.mark.clarity]
ROOT = Path(__file__).resolve().parents[2]


def quote(*args: str) -> dict:
    got = subprocess.run([sys.executable, "run.py", "quote", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


def wallet_sign(payload: dict, key, nonce: int, fee: int = 1000) -> bytes:
    """@stacks/transactions signs the payload, as a wallet would."""
    request = json.dumps({"payload": payload, "key": key.secret_hex(), "nonce": nonce, "fee": fee})
    got = subprocess.run(["node", "scripts/sign_payload.mjs"], cwd=ROOT / "contracts",
                         input=request, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert got.returncode == 0, got.stderr
    return bytes.fromhex(got.stdout.strip())


def test_wallet_signed_payloads_for_deposit_purchase_and_withdrawal(tmp_path, devnet, exchanges):
    path = live_toml(tmp_path, devnet, exchanges)  # its [api] on a free port
    config = load(path)
    client = NodeClient(devnet.server_url)
    chain = StacksChain(client, config.contracts)
    provider, buyer = devnet.deployment.accounts.users[:2]
    clock = Clock()
    engine = LiveEngine(config, clock=clock)  # `run.py quote` asks this engine's API
    engine.start()
    engine.serve_api()
    try:
        _deposit_purchase_withdraw(path, config, client, chain, provider, buyer, devnet, engine,
                                   clock)  # fmt: skip
    finally:
        engine.stop()
        client.close()


def _deposit_purchase_withdraw(path, config, client, chain, provider, buyer, devnet, engine, clock):
    # a deposit, from the printed payload to a confirmed transaction
    body = quote("deposit", "--config", str(path), "--sender", provider.principal().address,
                 "--token", "stx", "--tier", "1", "--amount", "250000")  # fmt: skip
    assert body["postConditionMode"] == "deny"
    assert body["postConditions"] == [{"type": "stx-postcondition", "condition": "eq",
        "address": provider.principal().address, "amount": str(250_000 * 1_000_000)}]  # fmt: skip
    raw = wallet_sign(body, provider, nonce=0)
    assert txs.verify(txs.decode(raw), raw)  # the wallet's bytes are valid SIP-005 to us too
    deposit_txid = client.broadcast(raw)
    for token, tier in ((STX, 0), (STX, 2), (SBTC, 0), (SBTC, 1), (SBTC, 2)):
        amount = 250_000_000_000 if token == STX else 300_000_000
        call = payloads.deposit(config.contracts, provider.principal(), token, tier, amount)
        client.broadcast(call.sign(provider, nonce=chain.nonce(provider.principal()) + 1 + len(
            [t for t in ((STX, 0), (STX, 2), (SBTC, 0), (SBTC, 1), (SBTC, 2)) if t < (token, tier)]
        ), fee=1000).serialize())  # fmt: skip
    devnet.mine()
    assert chain.status(deposit_txid).status == "success"

    # prices on chain (the engine's oracle), then a purchase quoted by `run.py quote`
    turn(engine, devnet, clock)
    body = quote("purchase", "--config", str(path), "--sender", buyer.principal().address,
                 "--token", "stx", "--btc", "0.05", "--strike", "62000", "--days", "2")  # fmt: skip
    assert body["functionName"] == "purchase-policy"
    (pc,) = body["postConditions"]
    assert pc["address"] == buyer.principal().address and pc["condition"] == "eq"
    before = chain.balances(buyer.principal()).stx
    txid = client.broadcast(wallet_sign(body, buyer, nonce=0))
    devnet.mine()
    receipt = chain.status(txid)
    assert receipt.status == "success", receipt
    assert before - chain.balances(buyer.principal()).stx == int(pc["amount"]) + 1000  # + fee

    # a withdrawal: the request moves nothing; tranche 1 backs no policy (the purchase above
    # went to its strike's tier), so it is ready at once and the completion promises at least
    # what the pending shares are worth now
    vault = chain.read_only(config.contracts.pool, "get-vault", [UInt(0), UInt(1)])
    assert vault["unsettled"] == UInt(0)  # type: ignore[index]
    body = quote("withdraw", "--config", str(path), "--sender", provider.principal().address,
                 "--token", "stx", "--tier", "1", "--shares", "1000000")  # fmt: skip
    assert body["functionName"] == "request-withdraw" and body["postConditions"] == []
    txid = client.broadcast(wallet_sign(body, provider, nonce=chain.nonce(provider.principal())))
    devnet.mine()
    receipt = chain.status(txid)
    assert receipt.status == "success"
    assert receipt.result == Ok(UInt(chain.tip().burn_height))  # ready now
    body = quote("withdraw-complete", "--config", str(path), "--sender",
                 provider.principal().address, "--token", "stx", "--tier", "1")  # fmt: skip
    (pc,) = body["postConditions"]
    assert (pc["address"], pc["condition"]) == (config.contracts.pool.address, "gte")
    txid = client.broadcast(wallet_sign(body, provider, nonce=chain.nonce(provider.principal())))
    devnet.mine()
    assert chain.status(txid).status == "success"


def test_a_withdrawal_promise_that_the_chain_cannot_keep_aborts(tmp_path, devnet, exchanges):
    """The post-condition is real: ask for more than the pending shares give and the node
    aborts the completion."""
    path = live_toml(tmp_path, devnet, exchanges)
    config = load(path)
    client = NodeClient(devnet.server_url)
    chain = StacksChain(client, config.contracts)
    provider = devnet.deployment.accounts.users[0]
    call = payloads.deposit(config.contracts, provider.principal(), STX, 0, 10**12)
    client.broadcast(call.sign(provider, nonce=0, fee=1000).serialize())
    devnet.mine()
    asked = payloads.request_withdraw(config.contracts, provider.principal(), STX, 0, 10**6)
    client.broadcast(asked.sign(provider, nonce=1, fee=1000).serialize())
    devnet.mine()
    honest = payloads.complete_withdraw(chain, config.contracts, provider.principal(), STX, 0)
    (pc,) = honest.post_conditions
    greedy = payloads.CallPayload(honest.sender, honest.contract, honest.function, honest.args,
                                  (txs.STXPostCondition(pc.principal, pc.condition,
                                                        pc.amount + 1),))  # fmt: skip
    txid = client.broadcast(wallet_sign(greedy.to_json(), provider, nonce=2))
    devnet.mine()
    assert chain.status(txid).status == "abort_by_post_condition"
    client.close()
