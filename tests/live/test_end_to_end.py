"""Live mode end to end, from a clean start, against the local devnet and loopback exchanges;
once as the devnet answers by default and once as the strict double (`StrictHiro`: Hiro's API
after the /extended/v1 sunset, rate limited, so the run meets and waits out 429s).

Everything crosses the same boundaries as in production: the engine talks HTTP to a node
(the devnet: the Clarity VM behind the node's endpoints) and to exchange APIs (the loopback
server answering in each exchange's recorded shape); users sign their own transactions from
the payloads the engine prepares. Only the clock and the mining are driven by the test.
"""

from __future__ import annotations

import logging

import pytest

from actors.messages import QuoteOffer, QuoteRequest
from chain import payloads
from chain.clarity import Ok, Some, StringAscii, Tuple, UInt
from chain.contracts import SATS, SBTC, STX
from chain.node import NodeClient
from chain.stacks import StacksChain
from live.config import load
from live.engine import LiveEngine
from store import open_store
from tests.doubles import Clock, Mailbox
from tests.live.conftest import STRICT, live_toml, serve_devnet

pytestmark = [pytest.mark.live, pytest.mark.clarity]

USD = 100_000_000
STX_UNIT = 1_000_000


def turn(engine: LiveEngine, devnet, clock: Clock, seconds: float = 60.0) -> None:
    """A minute of the engine's life: tick and poll, let the actors act, mine, poll again."""
    clock.t += seconds
    engine.step()
    engine.sync()
    devnet.mine()
    engine.step()
    engine.sync()


def onchain_price(chain: StacksChain, asset: str) -> int:
    got = chain.read_only(chain.contracts.oracle, "get-price", [StringAscii(asset)])
    assert isinstance(got, Ok) and isinstance(got.value, Tuple)
    return got.value["price"].value


@pytest.fixture(params=["devnet", "strict"])
def devnet(request):
    yield from serve_devnet(STRICT if request.param == "strict" else None)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """The live store on a SQLite file and on the PostgreSQL server the tests start."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_policy_is_bought_settled_and_paid_through_the_live_path(
    tmp_path, devnet, exchanges, caplog, store_url
):
    caplog.set_level(logging.DEBUG)
    config = load(live_toml(tmp_path, devnet, exchanges, store=store_url))
    assert config.store_url == store_url
    clock = Clock()
    engine = LiveEngine(config, clock=clock)
    engine.start()
    accounts = devnet.deployment.accounts
    contracts = config.contracts
    client = NodeClient(devnet.server_url)
    users = StacksChain(client, contracts)  # the users' own view of the chain
    try:
        # providers deposit with their own signed transactions, built from the engine's payloads
        for key in accounts.users[:2]:
            nonce = users.nonce(key.principal())
            for token, amount in ((STX, 200_000 * STX_UNIT), (SBTC, 5 * SATS)):
                for tier in (0, 1, 2):
                    call = payloads.deposit(contracts, key.principal(), token, tier, amount)
                    client.broadcast(call.sign(key, nonce=nonce, fee=1000).serialize())
                    nonce += 1
        devnet.mine()

        # the oracle's first pushes, from the loopback exchanges
        turn(engine, devnet, clock)
        assert onchain_price(users, "BTC-USD") == 65_000 * USD
        assert onchain_price(users, "STX-USD") == 150_000_000

        # a buyer asks for a quote and signs the purchase with the signed quote
        buyer = accounts.users[2]
        box = Mailbox()
        expiration = users.tip().burn_height + 150
        request = QuoteRequest(buyer.principal(), SATS // 10, 60_000 * USD, expiration, STX, box)
        engine.registry.tell(request)
        engine.sync()
        offer = box.q.get(timeout=10)
        assert isinstance(offer, QuoteOffer), offer
        purchase = payloads.purchase(contracts, offer.quote, offer.signature)
        raw = purchase.sign(buyer, nonce=users.nonce(buyer.principal()), fee=1000).serialize()
        txid = client.broadcast(raw)
        turn(engine, devnet, clock)
        assert users.status(txid).status == "success"
        policy_id = users.status(txid).result.value.value

        # the price falls; the oracle walks it down, one push a burn block within the cap
        exchanges.set_price("BTC-USD", "50000.00")
        for _ in range(12):
            devnet.mine_burn(1)
            turn(engine, devnet, clock, 600.0)
            if onchain_price(users, "BTC-USD") == 50_000 * USD:
                break
        assert onchain_price(users, "BTC-USD") == 50_000 * USD

        # expiry (the quote's, on the daily grid) passes; the registry proves the fixings (the
        # last observation, 50,000, is in force over the window) and settles
        before = users.balances(buyer.principal()).stx
        assert offer.quote.expiration % 144 == 0 and offer.quote.expiration >= expiration
        devnet.mine_burn(offer.quote.expiration - users.tip().burn_height + 1)
        for _ in range(8):
            turn(engine, devnet, clock)
            got = users.read_only(contracts.registry, "get-policy", [UInt(policy_id)])
            if isinstance(got, Some) and got.value["status"].value != 0:
                break
        got = users.read_only(contracts.registry, "get-policy", [UInt(policy_id)])
        assert isinstance(got, Some)
        onchain = {k: v.value for k, v in got.value.data.items() if isinstance(v, UInt)}
        assert onchain["status"] == 1  # settled
        owed_usd_units = (60_000 * USD - 50_000 * USD) * (SATS // 10) // SATS
        assert onchain["price"] == 50_000 * USD
        assert onchain["paid"] == onchain["payout"] > 0
        # the payout is the owed USD in STX at the settlement price (truncated, as on chain)
        assert onchain["payout"] == owed_usd_units * STX_UNIT // onchain_price(users, "STX-USD")
        assert users.balances(buyer.principal()).stx - before == onchain["paid"]
    finally:
        engine.stop()

    # the store agrees with the chain
    with open_store(config.store_url) as store:
        row = store.policies.get(policy_id)
        assert row is not None
        assert (row["status"], row["payout"], row["paid"], row["price"]) == (
            onchain["status"],
            onchain["payout"],
            onchain["paid"],
            onchain["price"],
        )
        assert store.outbox.pending() == []
    client.close()

    # no key material anywhere the run wrote or logged
    secrets = {accounts.deployer.secret_hex(), accounts.quote.secret_hex()}
    written = (tmp_path / "live-events.jsonl").read_text() + caplog.text
    assert "settle-batch" in written and "oracle-push" in written
    for secret in secrets:
        assert secret[:16] not in written
