"""Contract lifecycle on SimChain, every step a signed transaction through the mempool."""

from __future__ import annotations

import pytest

from chain import payloads
from chain import transactions as txs
from chain.clarity import NONE, TRUE, Buffer, List, Ok, StringAscii, Tuple, UInt
from chain.contracts import Contracts
from chain.keys import PrivateKey
from chain.protocol import expiry_on_grid
from chain.quotes import DEVNET_DOMAIN, quote_hash, sign_quote
from chain.wallet import Wallet
from tests.sim.harness import BTC, STX, USD, Harness, err

BTC_65K = 65_000 * USD
STX_050 = 50_000_000  # 0.50 USD


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    assert harness.checker.violations == []  # every block of every test keeps the invariants


def funded(h: Harness, stx: int = 100_000 * STX) -> Harness:
    """Prices set and one provider's STX in the balanced tranche."""
    h.set_price(BTC_65K, STX_050)
    r = h.deposit(h.users[0], 0, 1, stx)
    assert r.result == Ok(UInt(stx)), r
    return h


# -- share vault ------------------------------------------------------------------------------


def test_deposits_and_withdrawals_keep_share_accounting(h):
    a, b = h.users[0], h.users[1]
    pool_before = h.chain.balances(h.pool).stx
    assert h.deposit(a, 0, 1, 1_000 * STX).result == Ok(UInt(1_000 * STX))
    assert h.deposit(b, 0, 1, 500 * STX).result == Ok(UInt(500 * STX))
    assert h.tranche(0, 1) == (1_500 * STX, 1_500 * STX, 0)
    assert h.chain.balances(h.pool).stx == pool_before + 1_500 * STX
    # a premium raises the share price: shares then buy less than one unit each
    h.set_price(BTC_65K, STX_050)
    # 0.001 BTC at 60k, ratio 100%: 60 USD of cover = 120 STX at 0.50, computed on chain
    q = h.quote(h.users[2], amount=BTC // 1000, premium=150 * STX, collateral=STX)
    assert h.purchase(h.users[2], q).result == Ok(UInt(1))
    assert h.tranche(0, 1) == (1_650 * STX, 1_500 * STX, 120 * STX)
    # deposit 110 STX at 1.1 STX/share -> 100 shares exactly; 100 STX -> 90.909… -> 90_909_090
    assert h.deposit(b, 0, 1, 110 * STX).result == Ok(UInt(100 * STX))
    assert h.deposit(b, 0, 1, 100 * STX).result == Ok(UInt(90_909_090))
    # a's 1000 shares are worth 1000 * 1860 / 1690.90909 STX, paid once policy 1 is settled
    assert h.withdraw(a, 0, 1, 1_000 * STX).result == err(416)
    expire(h)
    h.set_price(BTC_65K, STX_050)
    assert h.prints(h.settle(1))[-1]["event"] == "policy-expired"
    assets, shares, _ = h.tranche(0, 1)
    expected = 1_000 * STX * assets // shares
    before = h.chain.balances(a.address).stx
    r = h.complete_withdraw(a, 0, 1)
    assert r.result == Ok(UInt(expected))
    assert h.chain.balances(a.address).stx == before + expected - 1000  # minus the fee
    ev = h.prints(r)[0]
    assert ev["event"] == "withdraw" and ev["amount"] == expected and ev["shares"] == 1_000 * STX
    assert h.checker.violations == []


def test_sbtc_deposit_and_withdraw(h):
    a = h.users[0]
    r = h.deposit(a, 1, 2, BTC // 2)
    assert r.result == Ok(UInt(BTC // 2))
    assert h.chain.balances(h.pool).sbtc == BTC // 2
    r = h.withdraw(a, 1, 2, BTC // 4)
    assert r.result == Ok(UInt(BTC // 4))
    assert h.chain.balances(h.pool).sbtc == BTC // 4
    assert h.tranche(1, 2) == (BTC // 4, BTC // 4, 0)


def test_deposit_rules(h):
    a = h.users[0]
    assert h.deposit(a, 0, 3, 100 * STX).result == err(402)
    assert h.deposit(a, 0, 0, 0).result == err(404)
    assert h.deposit(a, 0, 0, 9 * STX).result == err(405)  # below the first-deposit minimum
    assert h.deposit(a, 0, 0, 10 * STX).result == Ok(UInt(10 * STX))
    bad_token = h.d.contract("oracle")
    r = h.send(a, h.pool, "deposit", bad_token, UInt(0), UInt(0), UInt(STX))
    assert r.result == err(403)
    too_much = 10**9 * STX
    assert h.deposit(a, 0, 0, too_much).result == err(1)  # stx-transfer? insufficient balance


def test_post_conditions_enforced(h):
    a = h.users[0]
    wrong = txs.STXPostCondition(txs.ORIGIN, txs.FungibleCondition.EQ, 5 * STX)
    r = h.send(
        a, h.pool, "deposit", h.sbtc, UInt(0), UInt(1), UInt(10 * STX),
        post_conditions=[wrong], mode=txs.PostConditionMode.DENY,
    )  # fmt: skip
    assert r.status == "abort_by_post_condition"
    assert h.tranche(0, 1) == (0, 0, 0)
    r = h.send(
        a, h.pool, "deposit", h.sbtc, UInt(0), UInt(1), UInt(10 * STX),
        mode=txs.PostConditionMode.DENY,
    )  # fmt: skip
    assert r.status == "abort_by_post_condition"  # deny mode, nothing covers the transfer
    assert h.chain.nonce(a.address) == 2  # both still used their nonce and paid their fee


# -- oracle -------------------------------------------------------------------------------------


def test_oracle_cap_scales_with_elapsed_blocks_and_is_never_lifted(h):
    def push(price: int):
        return h.send(h.admin, h.oracle, "set-price", StringAscii("BTC-USD"), UInt(price))

    ok = push(BTC_65K)
    assert ok.result == Ok(TRUE)
    ev = h.prints(ok)[0]
    height = h.chain.tip().burn_height
    assert ev["event"] == "price-updated" and ev["asset"] == "BTC-USD"
    assert (ev["height"], ev["price"], ev["cum"]) == (height, BTC_65K, 0)
    assert push(BTC_65K).result == err(106)  # one observation per burn block
    h.chain.mine_burn(1)
    assert push(70_000 * USD).result == err(103)  # +7.7% > 5% x 1 block
    edge = BTC_65K * 105 // 100  # exactly +5%: allowed
    assert push(edge).result == Ok(TRUE)
    h.chain.mine_burn(5)  # 5 blocks: at most 25%
    assert push(edge * 75 // 100 - 1).result == err(103)
    h.chain.mine_burn(100)  # a long silence lifts nothing: at most max-jump, 50%
    assert push(edge // 2 - 1).result == err(103)
    crash = push(edge // 2)
    assert crash.result == Ok(TRUE)
    assert h.prints(crash)[0]["cum"] == BTC_65K + edge * 105
    got = h.chain.read_only(h.oracle, "get-price", [StringAscii("BTC-USD")])
    assert got.value["price"] == UInt(edge // 2)
    assert push(0).result == err(102)
    none = h.chain.read_only(h.oracle, "get-price", [StringAscii("ETH-USD")])
    assert none == err(104)


# -- purchase ------------------------------------------------------------------------------------


def test_purchase_with_valid_quote(h):
    funded(h)
    buyer = h.users[1]
    q = h.quote(buyer, collateral=12_000 * STX)
    before = h.chain.balances(buyer.address).stx
    r = h.purchase(buyer, q)
    assert r.result == Ok(UInt(1)), r
    assert h.chain.balances(buyer.address).stx == before - q.premium - 1000
    assert h.tranche(0, 1) == (100_000 * STX + q.premium, 100_000 * STX, 12_000 * STX)
    names = [e["event"] for e in h.prints(r)]
    assert names == ["locked", "policy-purchased"]
    bought = h.prints(r)[1]
    assert bought["id"] == 1 and bought["strike"] == q.strike and bought["quote-id"] == q.quote_id
    policy = h.chain.read_only(h.registry, "get-policy", [UInt(1)]).value
    assert policy["status"] == UInt(0) and policy["owner"] == buyer.address
    digest = h.chain.read_only(h.registry, "get-quote-hash", [q.to_clarity()])
    assert digest == Buffer(quote_hash(q.to_clarity(), DEVNET_DOMAIN))


def test_purchase_rejections(h):
    funded(h)
    buyer, other = h.users[1], h.users[2]
    expired = h.quote(buyer, quote_expiry=h.chain.tip().burn_height - 1)
    assert h.purchase(buyer, expired).result == err(304)

    q = h.quote(buyer)
    assert h.purchase(buyer, q).result == Ok(UInt(1))
    assert h.purchase(buyer, q).result == err(305)  # the same quote id again

    q2 = h.quote(buyer)
    sig = sign_quote(q2, h.d.accounts.quote)
    tampered = h.quote(buyer, quote_id=q2.quote_id, amount=q2.amount * 2)
    assert h.purchase(buyer, tampered, sig).result == err(303)

    forged = sign_quote(q2, PrivateKey.from_seed(b"not the quote key"))
    assert h.purchase(buyer, q2, forged).result == err(303)
    flipped = bytearray(sig)
    flipped[10] ^= 1
    assert h.purchase(buyer, q2, bytes(flipped)).result == err(303)

    assert h.purchase(other, q2, sig).result == err(302)  # somebody else's quote
    now = h.chain.tip().burn_height
    assert h.purchase(buyer, h.quote(buyer, expiration=now + 10)).result == err(307)
    on_grid = expiry_on_grid(now, 144, 12_960)
    assert h.purchase(buyer, h.quote(buyer, expiration=on_grid + 1)).result == err(321)
    assert h.purchase(buyer, h.quote(buyer, amount=1_000)).result == err(308)
    assert h.purchase(buyer, h.quote(buyer, strike=20_000 * USD)).result == err(310)
    assert h.purchase(buyer, h.quote(buyer, tier=3)).result == err(306)
    big = dict(premium=10_000 * STX)  # above the capital charge of such a lock
    assert h.purchase(buyer, h.quote(buyer, collateral=10**6 * STX, **big)).result == err(411)
    # 80,000 STX of 110,050 is past the balanced tier's 75% cap
    assert h.purchase(buyer, h.quote(buyer, collateral=80_000 * STX, **big)).result == err(413)
    # a 70k strike at 65k spot is worth 500 USD = 1,000 STX at once
    itm = h.quote(buyer, strike=70_000 * USD, premium=999 * STX, collateral=14_000 * STX)
    assert h.purchase(buyer, itm).result == err(318)
    assert h.purchase(buyer, h.quote(buyer, premium=STX // 10 - 1)).result == err(319)
    # 12,000 STX for 12,960 blocks at 2% a year: 59.178082… STX, rounded up to the uSTX
    now = h.chain.tip().burn_height
    expiration = expiry_on_grid(now, 12_960, 12_960)
    charge = -(-12_000 * STX * 200 * (expiration - now) // (10_000 * 52_560))
    long = dict(expiration=expiration, premium=charge - 1)
    assert h.purchase(buyer, h.quote(buyer, **long)).result == err(320)
    h.chain.mine_burn(7)  # the STX price is now older than price-max-age
    h.set_price(BTC_65K)
    assert h.purchase(buyer, h.quote(buyer)).result == err(317)
    h.set_price(None, STX_050)  # BTC-USD has its observation in this burn block already
    assert h.send(h.admin, h.registry, "set-paused", TRUE).result == Ok(TRUE)
    assert h.purchase(buyer, h.quote(buyer)).result == err(301)
    assert h.purchase(buyer, q2, sig).result == err(301)


# -- settlement -----------------------------------------------------------------------------------


def expire(h: Harness, btc: int | None = None, stx: int | None = None, policy_id: int = 1) -> int:
    """Mines to the policy's expiry E with these prices pushed at E - 6, so in force over the
    whole fixing window, and proves the fixings (as anyone settling would); returns E."""
    p = h.chain.read_only(h.registry, "get-policy", [UInt(policy_id)]).value
    expiry = p["expiration"].value
    h.chain.mine_burn(expiry - 6 - h.chain.tip().burn_height)
    h.set_price(btc, stx)
    h.chain.mine_burn(expiry - h.chain.tip().burn_height)
    for asset in ("BTC-USD", "STX-USD") if p["token"] == UInt(0) else ("BTC-USD",):
        assert h.fix(asset, expiry).status == "success"
    return expiry


def test_settlement_out_of_the_money_expires(h):
    funded(h)
    q = h.quote(h.users[1], collateral=12_000 * STX)
    assert h.purchase(h.users[1], q).result == Ok(UInt(1))
    expire(h, 70_000 * USD, STX_050)
    r = h.settle(1)
    counts = {"settled": UInt(0), "expired": UInt(1), "deferred": UInt(0), "skipped": UInt(0)}
    assert r.result == Ok(Tuple(counts))
    assert [e["event"] for e in h.prints(r)] == ["released", "policy-expired"]
    assert h.tranche(0, 1)[2] == 0
    policy = h.chain.read_only(h.registry, "get-policy", [UInt(1)]).value
    assert policy["status"] == UInt(2) and policy["payout"] == UInt(0)


def test_settlement_in_the_money_pays_exact_stx(h):
    funded(h)
    buyer = h.users[1]
    q = h.quote(buyer, amount=BTC // 10, strike=60_000 * USD, collateral=12_000 * STX)
    assert h.purchase(buyer, q).result == Ok(UInt(1))
    # (60,000 - 51,234.56789012) x 0.1 BTC = 876.5432109 USD (truncated to 87_654_321_098 units);
    # at 0.4321 USD/STX that is 2,028.565635 STX (truncated to the micro-STX).
    expire(h, 5_123_456_789_012, 43_210_000)
    h.set_price(BTC_65K, STX_050)  # after E: changes nothing
    before = h.chain.balances(buyer.address).stx
    r = h.settle(1)
    assert r.status == "success"
    assert h.chain.balances(buyer.address).stx == before + 2_028_565_635
    names = [e["event"] for e in h.prints(r)]
    assert names == ["payout", "released", "policy-settled"]
    settled = h.prints(r)[2]
    assert settled["payout"] == settled["paid"] == 2_028_565_635
    assert h.tranche(0, 1) == (100_000 * STX + q.premium - 2_028_565_635, 100_000 * STX, 0)
    assert h.checker.violations == []


def test_settlement_in_the_money_pays_exact_sbtc(h):
    h.set_price(BTC_65K, STX_050)
    assert h.deposit(h.users[0], 1, 1, 2 * BTC).result == Ok(UInt(2 * BTC))
    buyer = h.users[1]
    q = h.quote(buyer, token=1, amount=BTC // 2, premium=200_000, collateral=BTC // 2)
    assert h.purchase(buyer, q).result == Ok(UInt(1))
    expire(h, 45_000 * USD)  # (60k - 45k) x 0.5 = 7,500 USD = 0.1666… BTC
    before = h.chain.balances(buyer.address).sbtc
    r = h.settle(1)
    assert h.chain.balances(buyer.address).sbtc == before + 16_666_666
    assert h.prints(r)[0]["amount"] == 16_666_666
    assert h.tranche(1, 1) == (2 * BTC + 200_000 - 16_666_666, 2 * BTC, 0)


def test_settlement_deferred_until_the_fixings_are_stored(h):
    funded(h)
    q = h.quote(h.users[1], collateral=12_000 * STX)
    assert h.purchase(h.users[1], q).result == Ok(UInt(1))
    h.chain.mine_burn(q.expiration - 6 - h.chain.tip().burn_height)
    h.set_price(50_000 * USD)  # in the window; STX-USD's last price is from the purchase
    h.chain.mine_burn(6)
    r = h.settle(1)  # no fixing stored yet
    assert h.prints(r) == [{"event": "settlement-deferred", "id": 1, "reason": 322}]
    assert h.fix("BTC-USD", q.expiration, h.users[3]).status == "success"  # anyone may fix
    r = h.settle(1)
    assert h.prints(r) == [{"event": "settlement-deferred", "id": 1, "reason": 323}]
    h.chain.mine_burn(7)
    h.set_price(None, STX_050)  # a fresh STX-USD after E is not what settles
    assert h.fix("STX-USD", q.expiration, h.users[1]).status == "success"
    stx = h.chain.read_only(h.oracle, "get-fixing", [StringAscii("STX-USD"), UInt(q.expiration)])
    assert stx.value["stale"] == TRUE  # flagged: no STX-USD observation near E, still used
    r = h.settle(1)
    assert [e["event"] for e in h.prints(r)][-1] == "policy-settled"


def test_settling_twice_is_impossible(h):
    funded(h)
    q = h.quote(h.users[1], collateral=12_000 * STX)
    assert h.purchase(h.users[1], q).result == Ok(UInt(1))
    expire(h, 50_000 * USD, STX_050)
    first = h.settle(1, 1)  # even inside one batch
    assert [e["event"] for e in h.prints(first)] == [
        "payout",
        "released",
        "policy-settled",
        "settlement-skipped",
    ]
    balance = h.chain.balances(h.users[1].address).stx
    again = h.settle(1)
    assert h.prints(again) == [{"event": "settlement-skipped", "id": 1, "reason": 313}]
    assert h.chain.balances(h.users[1].address).stx == balance
    early = h.settle(99)
    assert h.prints(early) == [{"event": "settlement-skipped", "id": 99, "reason": 312}]


def test_settlement_before_expiry_is_skipped(h):
    funded(h)
    assert h.purchase(h.users[1], h.quote(h.users[1])).result == Ok(UInt(1))
    r = h.settle(1)
    assert h.prints(r) == [{"event": "settlement-skipped", "id": 1, "reason": 314}]


def test_withdrawal_waits_for_the_policies_it_backed(h):
    funded(h)
    provider = h.users[0]
    q = h.quote(h.users[1], collateral=60_000 * STX)
    assert h.purchase(h.users[1], q).result == Ok(UInt(1))
    assets, shares, _ = h.tranche(0, 1)
    ready = h.request_withdraw(provider, 0, 1, shares).result.value.value
    policy = h.chain.read_only(h.registry, "get-policy", [UInt(1)]).value
    assert ready >= policy["expiration"].value  # ready at its expiry (its grid point)
    assert h.complete_withdraw(provider, 0, 1).result == err(416)
    assert expire(h, BTC_65K, STX_050) == ready  # the fixings proven, not settled
    assert h.complete_withdraw(provider, 0, 1).result == err(414)  # expired, unsettled
    assert h.prints(h.settle(1))[-1]["event"] == "policy-expired"
    assert h.complete_withdraw(provider, 0, 1).result == Ok(UInt(assets))  # all of it
    assert h.tranche(0, 1) == (0, 0, 0)
    assert h.checker.violations == []


def test_expired_unsettled_stops_at_the_latest_expiry_with_the_same_count(h):
    """The model's fold skips the grid points past the latest expiration ever locked; its
    count must be the contract's full 91-point fold at every height."""
    from sim.models.pool import EXPIRY_INTERVAL, STEPS

    funded(h)
    grid = EXPIRY_INTERVAL
    for i, days in enumerate((1, 1, 3, 7)):
        burn = h.chain.tip().burn_height
        q = h.quote(h.users[1], expiration=expiry_on_grid(burn, days * grid, 12_960))
        assert h.purchase(h.users[1], q).result == Ok(UInt(i + 1)), q
    pool = h.chain.executor.pool
    v = pool.vault(0, 1)
    assert v.unsettled == 4 and v.last_expiry > grid
    for now in range(0, v.last_expiry + 3 * grid, 37):
        first = (now // grid + 1) * grid
        full = v.unsettled - sum(
            pool.unsettled_at.get((0, 1, first + i * grid), 0) for i in range(STEPS)
        )
        assert pool.expired_unsettled(0, 1, now) == full, now


def test_collateral_is_computed_on_chain_and_caps_the_payout(h):
    h.set_price(BTC_65K, STX_050)
    assert h.deposit(h.users[0], 0, 2, 14_000 * STX).result == Ok(UInt(14_000 * STX))
    buyer = h.users[1]
    # the quote asks for 1 STX of collateral; the chain locks 0.1 BTC x 60k x 90% = 5,400
    # USD = 10,800 STX, whatever the quote says
    q = h.quote(buyer, tier=2, premium=2 * STX, collateral=STX)
    assert h.purchase(buyer, q).result == Ok(UInt(1))
    assert h.tranche(0, 2) == (14_002 * STX, 14_000 * STX, 10_800 * STX)
    policy = h.chain.read_only(h.registry, "get-policy", [UInt(1)]).value
    assert policy["collateral"] == UInt(10_800 * STX) and policy["ratio"] == UInt(9000)
    # BTC to 32.5k and STX to 0.25 (-50% each, the most one push may move): the claim is
    # 2,750 USD = 11,000 STX, above the cap
    expire(h, 32_500 * USD, 25_000_000)
    r = h.settle(1)
    events = h.prints(r)
    assert [e["event"] for e in events] == ["payout", "released", "policy-settled"]
    assert events[2]["claim"] == 11_000 * STX
    assert events[2]["payout"] == events[2]["paid"] == 10_800 * STX
    assert h.tranche(0, 2) == (3_202 * STX, 14_000 * STX, 0)
    assert h.checker.violations == []


def test_a_wiped_out_tranche_opens_a_new_epoch_on_the_next_deposit(h):
    h.set_price(BTC_65K, STX_050)
    param = StringAscii("max-utilisation-2")  # let one policy lock it all, a week later
    queued = h.send(h.admin, h.params, "queue-parameter", param, UInt(10_000))
    assert queued.status == "success"
    h.chain.mine_burn(queued.result.value.value - h.chain.tip().burn_height)
    assert h.send(h.users[3], h.params, "apply-parameter", param).status == "success"
    h.set_price(BTC_65K, STX_050)
    stake = 10_799 * STX + 1
    assert h.deposit(h.users[0], 0, 2, stake).result == Ok(UInt(stake))
    q = h.quote(h.users[1], tier=2, premium=STX, collateral=10_800 * STX)
    assert h.purchase(h.users[1], q).result == Ok(UInt(1))  # locks all but 1 uSTX
    expire(h, 32_500 * USD, 25_000_000)  # claim 2,750 USD = 11,000 STX, above the cap
    assert h.prints(h.settle(1))[-1]["paid"] == 10_800 * STX
    assert h.tranche(0, 2) == (1, stake, 0)
    # v1: refused (u406) until the holder burnt its shares; v2: a new epoch
    assert h.deposit(h.users[2], 0, 2, 50 * STX).result == Ok(UInt(50 * STX))
    assert h.withdraw(h.users[0], 0, 2, stake).result == Ok(UInt(1))  # what epoch 0 left
    assert h.tranche(0, 2) == (50 * STX, 50 * STX, 0)
    assert h.checker.violations == []


# -- authorisation ----------------------------------------------------------------------------


def restricted_calls(h: Harness):
    someone = h.users[3].address
    return [
        (h.oracle, "set-price", [StringAscii("BTC-USD"), UInt(1)], 101),
        (h.oracle, "queue-submitter", [someone], 100),
        (h.oracle, "remove-submitter", [someone], 111),
        (h.oracle, "queue-setting", [StringAscii("max-age"), UInt(1)], 100),
        (h.params, "queue-parameter", [StringAscii("min-duration"), UInt(144)], 200),
        (h.params, "queue-role", [StringAscii("admin"), someone], 200),
        (h.params, "init-guardian", [someone], 200),
        (h.pool, "lock-for-policy", [h.sbtc, UInt(0), UInt(1), UInt(1), UInt(1), UInt(1)], 401),
        (h.pool, "release-for-policy", [UInt(0), UInt(1), UInt(1), UInt(1)], 401),
        (h.pool, "pay-out", [h.sbtc, UInt(0), UInt(1), UInt(1), UInt(1), someone], 401),
        (h.params, "shutdown", [], 202),
        (h.params, "cancel-parameter", [StringAscii("min-duration")], 202),
        (h.registry, "queue-backend", [someone], 300),
        (h.registry, "queue-quote-pubkey", [Buffer(bytes(33))], 300),
        (h.registry, "zero-quote-pubkey", [], 340),
        (h.registry, "set-quote-pubkey", [Buffer(bytes(33))], 300),
        (h.registry, "set-paused", [TRUE], 340),
        (h.sbtc, "mint", [UInt(1), someone], 4),
        (h.sbtc, "transfer", [UInt(1), h.admin.address, someone, NONE], 4),
    ]


def test_every_restricted_function_refuses_the_wrong_principal(h):
    funded(h)
    outsider = h.users[2]
    calls = restricted_calls(h)
    assert len(calls) == 19
    for contract, function, args, code in calls:
        r = h.send(outsider, contract, function, *args)
        assert r.result == err(code), (function, r)
    # the registry-only pool functions refuse even the admin and backend
    for contract, function, args, code in calls[7:10]:
        assert h.send(h.admin, contract, function, *args).result == err(code)
    assert h.checker.violations == []


def test_admin_hands_over_roles_only_through_the_queue(h):
    new_backend = h.users[4]
    queued = h.send(h.admin, h.registry, "queue-backend", new_backend.address)
    eta = h.chain.tip().burn_height + 1008
    assert queued.result == Ok(UInt(eta))
    change = {"event": "change-queued", "key": "backend", "value": new_backend.address, "eta": eta}
    assert h.prints(queued) == [change]
    assert h.send(h.users[3], h.registry, "apply-backend").result == err(343)  # not yet
    h.chain.mine_burn(1008)
    assert h.send(h.users[3], h.registry, "apply-backend").result == Ok(TRUE)
    assert h.chain.read_only(h.registry, "get-backend", []) == new_backend.address
    # settlement is anyone's: the old backend and a stranger alike
    assert h.settle().status == "success"
    r = h.send(h.users[3], h.registry, "settle-policies", List(()), h.sbtc)
    assert r.status == "success"
    p = h.send(h.admin, h.params, "queue-parameter", StringAscii("price-max-age"), UInt(12))
    assert p.result == Ok(UInt(h.chain.tip().burn_height + 1008))
    unknown = h.send(h.admin, h.params, "queue-parameter", StringAscii("no-such-key"), UInt(1))
    assert unknown.result == err(201)


def test_wallet_repr_shows_no_key(h):
    w = Wallet(h.d.accounts.quote, h.chain)
    assert h.d.accounts.quote.secret_hex()[:16] not in repr(w) + repr(h.d.accounts.quote)


# -- the wallet payloads of a withdrawal (chain/payloads.py) ----------------------------------


def test_withdrawal_payloads_move_nothing_then_promise_the_pending_value(h):
    funded(h)
    provider = h.users[0]
    contracts = Contracts.of(h.admin.address)
    asked = payloads.request_withdraw(contracts, provider.address, 0, 1, 40_000 * STX)
    assert asked.post_conditions == () and asked.mode is txs.PostConditionMode.DENY
    r = h.send(provider, asked.contract, asked.function, *asked.args,
               post_conditions=asked.post_conditions, mode=asked.mode)  # fmt: skip
    assert r.status == "success"
    done = payloads.complete_withdraw(h.chain, contracts, provider.address, 0, 1)
    (pc,) = done.post_conditions
    assert (pc.amount, pc.condition) == (40_000 * STX, txs.FungibleCondition.GTE)
    r = h.send(provider, done.contract, done.function, *done.args,
               post_conditions=done.post_conditions, mode=done.mode)  # fmt: skip
    assert r.result == Ok(UInt(40_000 * STX))
    with pytest.raises(ValueError, match="no pending withdrawal"):
        payloads.complete_withdraw(h.chain, contracts, provider.address, 0, 1)


def test_the_completion_payload_promises_what_the_contract_pays_after_premiums(h):
    """A premium after the request raises the share price, but pending shares get at most
    their value at the request: the post-condition must promise that, not the shares' worth
    now (which would abort the completion)."""
    funded(h)
    provider = h.users[0]
    contracts = Contracts.of(h.admin.address)
    asked = payloads.request_withdraw(contracts, provider.address, 0, 1, 1_000 * STX)
    assert h.send(provider, asked.contract, asked.function, *asked.args,
                  post_conditions=(), mode=asked.mode).status == "success"  # fmt: skip
    q = h.quote(h.users[2], amount=BTC // 1000, premium=150 * STX, collateral=STX)
    assert h.purchase(h.users[2], q).result == Ok(UInt(1))
    assets, shares, _ = h.tranche(0, 1)
    assert 1_000 * STX * assets // shares > 1_000 * STX  # worth more now than at the request
    done = payloads.complete_withdraw(h.chain, contracts, provider.address, 0, 1)
    (pc,) = done.post_conditions
    assert pc.amount == 1_000 * STX
    r = h.send(provider, done.contract, done.function, *done.args,
               post_conditions=done.post_conditions, mode=done.mode)  # fmt: skip
    assert r.result == Ok(UInt(1_000 * STX))
