"""A deployed SimChain with named wallets and one-line helpers, for the contract tests."""

from __future__ import annotations

import itertools

from chain import protocol
from chain import transactions as txs
from chain.clarity import Buffer, ClarityValue, Err, List, Ok, Some, StringAscii, UInt
from chain.fixings import fix_hints
from chain.port import TxReceipt
from chain.protocol import PRICE_SCALE, SATS, TOKEN_UNIT
from chain.quotes import Quote, sign_quote
from chain.wallet import Wallet
from sim.genesis import deploy
from sim.invariants import InvariantChecker

BTC = SATS  # one BTC in sats
USD = PRICE_SCALE  # one dollar in price units
STX = TOKEN_UNIT[protocol.STX]  # one STX in micro-STX


class Harness:
    def __init__(self, users: int = 5, **kw):
        self.d = deploy(users, autostart=False, **kw)
        self.chain = self.d.chain
        self.admin = Wallet(self.d.accounts.deployer, self.chain)
        self.users = [Wallet(k, self.chain) for k in self.d.accounts.users]
        self.oracle = self.d.contract("oracle")
        self.params = self.d.contract("parameters")
        self.pool = self.d.contract("liquidity-pool")
        self.registry = self.d.contract("policy-registry")
        self.sbtc = self.d.contract("sbtc-token")
        self.checker = InvariantChecker(self.chain, self.pool)
        self.chain.subscribe(lambda b: self.checker.check_block(b.height, b.events))
        self._quote_ids = itertools.count(1)
        self.chain.mine_burn(100)

    def send(self, wallet: Wallet, contract, function: str, *args: ClarityValue, **kw) -> TxReceipt:
        """Submits one call, mines one block, returns the receipt."""
        txid = wallet.call(contract, function, *args, **kw)
        self.chain.mine()
        return self.chain.status(txid)

    def set_price(self, btc_usd: int | None, stx_usd: int | None = None) -> None:
        for asset, price in (("BTC-USD", btc_usd), ("STX-USD", stx_usd)):
            if price is not None:
                r = self.send(self.admin, self.oracle, "set-price", StringAscii(asset), UInt(price))
                assert r.result is not None and r.status == "success", r

    def deposit(self, wallet: Wallet, token: int, tier: int, amount: int) -> TxReceipt:
        asset = None if token == 0 else txs.Asset(self.sbtc, "sbtc")
        pc = (
            txs.STXPostCondition(txs.ORIGIN, txs.FungibleCondition.EQ, amount)
            if asset is None
            else txs.FTPostCondition(txs.ORIGIN, asset, txs.FungibleCondition.EQ, amount)
        )
        return self.send(
            wallet,
            self.pool,
            "deposit",
            self.sbtc,
            UInt(token),
            UInt(tier),
            UInt(amount),
            post_conditions=[pc],
            mode=txs.PostConditionMode.DENY,
        )

    def request_withdraw(self, wallet: Wallet, token: int, tier: int, shares: int) -> TxReceipt:
        args = (UInt(token), UInt(tier), UInt(shares))
        return self.send(wallet, self.pool, "request-withdraw", *args)

    def complete_withdraw(self, wallet: Wallet, token: int, tier: int) -> TxReceipt:
        return self.send(wallet, self.pool, "complete-withdraw", self.sbtc, UInt(token), UInt(tier))

    def withdraw(self, wallet: Wallet, token: int, tier: int, shares: int) -> TxReceipt:
        """Both steps: the request's receipt if it failed, else the completion's (which fails
        u416 and leaves the shares pending while a policy they back is unsettled)."""
        asked = self.request_withdraw(wallet, token, tier, shares)
        if asked.status != "success":
            return asked
        return self.complete_withdraw(wallet, token, tier)

    def quote(self, buyer: Wallet, **terms) -> Quote:
        burn = self.chain.tip().burn_height
        base = dict(
            buyer=buyer.address,
            amount=BTC // 10,
            strike=60_000 * USD,
            expiration=protocol.expiry_on_grid(burn, 144, 12_960),
            premium=50 * STX,
            collateral=12_000 * STX,  # what the chain computes for these terms at 65k, 0.50
            token=0,
            tier=1,
            quote_expiry=burn + 6,
            quote_id=next(self._quote_ids),
            **self.quote_pins(),
        )
        base.update(terms)
        return Quote(**base)

    def quote_pins(self) -> dict:
        """The v2 quote's registry, spot (the chain's latest BTC-USD) and valid-until (the tip's
        stacks-block-time + quote-ttl-seconds: the longest the registry accepts)."""
        btc = self.chain.read_only(self.oracle, "get-price", [StringAscii("BTC-USD")])
        spot = btc.value["price"].value if isinstance(btc, Ok) else 0
        now = self.chain.read_only(self.registry, "get-block-time", []).value
        ttl = self.chain.read_only(self.params, "get-parameter", [StringAscii("quote-ttl-seconds")])
        return dict(registry=self.registry, spot=spot, valid_until=now + ttl.value.value)

    def purchase(self, buyer: Wallet, quote: Quote, signature: bytes | None = None) -> TxReceipt:
        sig = sign_quote(quote, self.d.accounts.quote) if signature is None else signature
        return self.send(
            buyer, self.registry, "purchase-policy", quote.to_clarity(), Buffer(sig), self.sbtc
        )

    def settle(self, *ids: int) -> TxReceipt:
        return self.send(
            self.admin,
            self.registry,
            "settle-policies",
            List(tuple(UInt(i) for i in ids)),
            self.sbtc,
        )

    def fix(self, asset: str, expiry: int, wallet: Wallet | None = None) -> TxReceipt:
        """Proves the fixing of (asset, expiry), as anyone may, with the hints off the chain."""
        hints = fix_hints(self.chain, self.oracle, asset, expiry, 6)
        assert hints is not None, (asset, expiry)
        args = (StringAscii(asset), UInt(expiry), *map(UInt, hints))
        return self.send(wallet or self.admin, self.oracle, "fix", *args)

    def fix_policies(self, *ids: int) -> None:
        """Proves the fixings the expired, active policies among `ids` need and the oracle
        has not stored, as whoever settles them would first."""
        burn = self.chain.tip().burn_height
        for pid in sorted(set(ids)):
            p = self.chain.read_only(self.registry, "get-policy", [UInt(pid)])
            if not isinstance(p, Some) or p.value["status"] != UInt(0):
                continue
            expiry = p.value["expiration"].value
            for asset in ("BTC-USD", "STX-USD") if p.value["token"] == UInt(0) else ("BTC-USD",):
                stored = self.chain.read_only(
                    self.oracle, "get-fixing", [StringAscii(asset), UInt(expiry)]
                )
                if expiry <= burn and not isinstance(stored, Some):
                    assert self.fix(asset, expiry).status == "success", (asset, expiry)

    def tranche(self, token: int, tier: int) -> tuple[int, int, int]:
        t = self.chain.read_only(self.pool, "get-tranche", [UInt(token), UInt(tier)])
        return (t["total-assets"].value, t["total-shares"].value, t["locked"].value)

    def prints(self, receipt: TxReceipt) -> list[dict]:
        """The print events of one transaction as plain dicts."""
        out = []
        for ce in self.chain.events_since(0, 10**9):
            if ce.txid == receipt.txid and ce.event.kind == "print":
                out.append({k: getattr(v, "value", v) for k, v in ce.event.value.data.items()})
        return out


def err(code: int):
    return Err(UInt(code))
