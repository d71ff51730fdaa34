"""A backend that settles late or never, buyers who settle themselves, and a provider who hopes
the delay pays (issue 11, row F6; scenarios/late-settlement.toml).

The backend's delay is the Registry actor's `registry.settle_delay_blocks` knob (-1: never).
This adversary's first account is a provider: it deposits into the balanced STX tranche and
does nothing else, hoping that a settlement long after an expiry, at a price that has moved
back up, pays the tranche's buyers less (v1 settled at whichever fresh price existed then).
Its other accounts are buyers: each buys at-the-money puts through the registry as any buyer
does and, once a policy has been expired for `wait_blocks` burn blocks without a settlement,
proves its fixings with the oracle's `fix` and calls `settle-policies` itself.

Its gain, to the ledger at each settlement in its tranche: the provider's share (of the
tranche's shares at that moment) of `owed - paid` in USD at the true STX price, `owed` being
`min(formula at the fixings, collateral)` recomputed from the settlement's fixings. The v2
rules make it 0. What v1 would have let it keep (owed minus the claim at the latest on-chain
prices at settlement) is logged as `late-settlement-v1-gain`, for comparison only.
"""

from __future__ import annotations

from typing import Any

from actors.events import decode_prints
from chain import transactions as txs
from chain.clarity import List, StringAscii, UInt
from chain.fixings import fix_hints
from chain.payloads import sends
from chain.protocol import BTC_USD, SBTC, STX, STX_USD, TOKEN_UNIT
from chain.wallet import Wallet
from settings import Knob
from sim.adversaries import Stage
from sim.adversaries.buyer import PolicyBuyer, claim_at

SECTION = "late_settlement"
KNOBS = {
    f"{SECTION}.count": Knob(0, 0, 50, help="accounts: 1 provider, the rest self-settling buyers"),
    f"{SECTION}.provider_stx": Knob(500_000.0, 0, 1e9, help="the provider's STX deposit"),
    f"{SECTION}.buy_every_hours": Knob(3.0, 0.1, 1000, help="a buyer buys a put this often"),
    f"{SECTION}.buy_hours": Knob(48.0, 0, 1e6, help="the buyers stop buying after this"),
    f"{SECTION}.amount_btc": Knob(0.05, 0.001, 100),
    f"{SECTION}.days": Knob(1.2, 1.0, 90, help="asked duration (the grid rounds it up)"),
    f"{SECTION}.wait_blocks": Knob(6, 0, 10_000, help="burn blocks a buyer waits for the backend"),
    f"{SECTION}.check_seconds": Knob(300.0, 10, 86_400),
}
TIER = 1  # the balanced tier, which the provider backs
FIXING_WINDOW = 6  # the oracle's (fixed at deployment)


def _buying(stage: Stage, knobs: dict[str, Any], buyer: PolicyBuyer):
    """At-the-money puts in the provider's tier, STX and sBTC in turn, until `buy_hours`."""
    turn = 0
    while True:
        yield stage.env.timeout(knobs["buy_every_hours"] * 3600)
        if stage.env.now > knobs["buy_hours"] * 3600:
            return
        wallet = buyer.wallets[turn % len(buyer.wallets)]
        token = (STX, SBTC)[turn % 2]
        buyer.request(wallet, knobs["amount_btc"], 1.0, knobs["days"], token, TIER)
        turn += 1


def _settling(stage: Stage, knobs: dict[str, Any], buyer: PolicyBuyer):
    while True:
        yield stage.env.timeout(knobs["check_seconds"])
        buyer.confirm()
        burn = stage.burn_height()
        for pid in sorted(buyer.mine):
            p = buyer.policy(pid)
            if p["status"] != 0:
                buyer.mine.pop(pid)
            elif burn >= p["expiration"] + knobs["wait_blocks"]:
                _settle_myself(stage, buyer, pid, p)


def _settle_myself(stage: Stage, buyer: PolicyBuyer, pid: int, p: dict[str, Any]) -> None:
    """What a buyer whose backend is late does: prove the fixings, then settle (its own
    transactions, in nonce order, so the fixes run first)."""
    wallet, c, expiry = buyer.mine[pid], stage.contracts, p["expiration"]
    for asset in (BTC_USD, STX_USD) if p["token"] == STX else (BTC_USD,):
        if buyer.fixing(asset, expiry) is None:
            hints = fix_hints(stage.chain, c.oracle, asset, expiry, FIXING_WINDOW)
            if hints is None:
                return
            buyer.send(
                wallet, c.oracle, "fix", (StringAscii(asset), UInt(expiry), *map(UInt, hints))
            )
    stage.log.record("buyer-settles", id=pid, buyer=wallet.address.address,
                     late_by=stage.burn_height() - expiry)  # fmt: skip
    buyer.send(wallet, c.registry, "settle-policies", (List((UInt(pid),)), c.sbtc))


def _follow_provider(stage: Stage, provider: Wallet) -> None:
    """Books the provider's share of `owed - paid` at each settlement in its tranche (0 under
    v2) and logs what v1 would have let it keep."""
    terms: dict[int, dict] = {}
    latest: dict[str, int] = {}
    c = stage.contracts

    def on_block(block) -> None:
        for e in decode_prints(block.events):
            name = e["event"]
            if name == "price-updated":
                latest[e["asset"]] = e["price"]
            elif name == "policy-purchased" and (e["token"], e["tier"]) == (STX, TIER):
                terms[e["id"]] = e
            elif name in ("policy-settled", "policy-expired") and e["id"] in terms:
                p = terms.pop(e["id"])
                held = stage.chain.read_only(c.pool, "get-shares",
                                             [UInt(STX), UInt(TIER), provider.address])  # fmt: skip
                total = stage.chain.read_only(c.pool, "get-tranche", [UInt(STX), UInt(TIER)])
                total_shares = total["total-shares"].value  # type: ignore[index]
                share = held.value / total_shares if total_shares else 0.0  # type: ignore[attr-defined]
                owed = claim_at(p, e["price"], e["token-price"])
                paid = e.get("paid", 0)
                usd = stage.stx_at(stage.env.now) / TOKEN_UNIT[STX]
                stage.ledger.gain(SECTION, share * (owed - paid) * usd)
                v1 = claim_at(p, latest[BTC_USD], latest[STX_USD])
                stage.log.record("late-settlement-v1-gain", id=e["id"], owed=owed, paid=paid,
                                 v1_paid=v1, provider_share=round(share, 6),
                                 v1_gain_usd=round(share * (owed - v1) * usd, 2))  # fmt: skip

    stage.chain.subscribe(on_block)


def start(stage: Stage, knobs: dict[str, Any]) -> None:
    provider, buyers = stage.wallets[0], stage.wallets[1:]
    amount, c = int(knobs["provider_stx"] * TOKEN_UNIT[STX]), stage.contracts
    if amount:
        pc = sends(c, txs.ORIGIN, STX, amount)
        provider.call(c.pool, "deposit", c.sbtc, UInt(STX), UInt(TIER), UInt(amount), fee=1000,
                      post_conditions=[pc], mode=txs.PostConditionMode.DENY)  # fmt: skip
    _follow_provider(stage, provider)
    if buyers:
        buyer = PolicyBuyer(stage, buyers)
        stage.env.process(_buying(stage, knobs, buyer))
        stage.env.process(_settling(stage, knobs, buyer))
