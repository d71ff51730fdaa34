"""Following a simulated run block by block: what the chain's events say about policies and
the pool (`Book`), the invariants after every block that ran a transaction, the blocks handed
to the actors (actors/engine.py), and a metrics row at every burn block."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.engine import Engine
from actors.messages import PoolState
from chain.clarity import ClarityValue, Err, Ok
from chain.contracts import BTC_USD, PRICE_SCALE, SATS, STX, STX_USD, TOKEN_UNIT
from chain.port import Block
from scenarios import outputs, tranches
from sim.invariants import InvariantChecker
from sim.prices import PricePath

WITHDRAW = "liquidity-pool.request-withdraw"  # a provider's exit starts here (protocol v2)


class InvariantBroken(RuntimeError):
    """A PROTOCOL.md invariant failed: the run stops there, its folder kept for the trace."""


def withdrawal_waits(result: ClarityValue | None, burn_height: int) -> bool:
    """A withdrawal request refused (u414: an expired policy of the tranche is unsettled) or
    ready only later (`ok ready-at` ahead): the exit waits for the collateral it backs."""
    return isinstance(result, Err) or (isinstance(result, Ok) and result.value.value > burn_height)


@dataclass
class Observer:
    """Receives the pool actor's view for the metrics (an actor's reply target, not an actor)."""

    state: PoolState | None = None

    def tell(self, message: Any) -> None:
        if isinstance(message, PoolState):
            self.state = message


@dataclass
class Book:
    """What the chain's events say about policies, for the report."""

    terms: dict[int, tuple[int, int, int, int]] = field(
        default_factory=dict
    )  # amount, strike, exp, token
    purchased: int = 0
    settled: int = 0
    expired: int = 0
    premiums_usd: float = 0.0
    payouts_usd: float = 0.0
    unpaid_usd: float = 0.0  # min(claim, collateral) - paid, at settlement prices
    capped_usd: float = 0.0  # claim above the collateral cap, at settlement prices
    locked: dict[tuple[int, int], int] = field(default_factory=dict)  # tranche -> lock
    open_in: dict[tuple[int, int], int] = field(default_factory=dict)  # unsettled policies
    delays: list[int] = field(default_factory=list)
    first_settle_block: int | None = None
    last_settle_block: int | None = None
    withdrawals_refused: int = 0
    mispricing_bps: list[float] = field(default_factory=list)  # settlement vs true price
    mispriced_usd: float = 0.0  # |owed at the settlement price - owed at the true price|
    withdrawals: int = 0
    tx: dict[str, int] = field(default_factory=dict)
    onchain: dict[str, int] = field(default_factory=dict)
    policies: dict[int, dict[str, int]] = field(default_factory=dict)  # policies.csv rows
    settle_seq: int = 0
    accounts: dict[tuple[int, int], tranches.TrancheAccount] = field(
        default_factory=tranches.accounts
    )
    log: outputs.JsonlLog | None = None  # where the pool's money events are copied
    burn_times: dict[int, float] = field(default_factory=dict)  # burn height -> first seen

    def true_fixing(self, path: PricePath, expiration: int, fallback: float) -> float:
        """The true BTC price averaged over the fixing's window (the 6 burn blocks before the
        expiration), the honest counterpart of the fixing a settlement used."""
        times = [
            self.burn_times[h] for h in range(expiration - 6, expiration) if h in self.burn_times
        ]
        return sum(map(path.btc_at, times)) / len(times) if times else fallback

    @property
    def active(self) -> int:
        return self.purchased - self.settled - self.expired

    def stuck_collateral(self) -> dict[str, int]:
        """Per token, in its integer units, what tranches lock with no unsettled policy (v2:
        always 0)."""
        out = dict.fromkeys(tranches.UNIT.values(), 0)
        for (token, tier), lock in sorted(self.locked.items()):
            if not self.open_in.get((token, tier), 0):
                out[tranches.UNIT[token]] += lock
        return out


class Follower:
    """SimChain's subscriber: each block to the log, the book, the checks and the actors."""

    def __init__(
        self,
        engine: Engine,
        book: Book,
        checker: InvariantChecker,
        log: outputs.JsonlLog,
        path: PricePath,
        observer: Observer,
        burn_height: int,
    ):
        self.engine, self.book, self.checker, self.log = engine, book, checker, log
        self.path, self.observer = path, observer
        self.last_burn = burn_height
        self.metrics: list[dict[str, Any]] = []
        self.failure: list[str] = []

    def on_block(self, block: Block) -> None:
        book, log = self.book, self.log
        new_burn = block.burn_height != self.last_burn
        if not block.receipts and not new_burn:
            return
        for r in block.receipts:
            book.tx[r.status.value] = book.tx.get(r.status.value, 0) + 1
            log.record("tx", txid=r.txid, call=r.call, sender=r.sender, nonce=r.nonce,
                       status=r.status.value, result=r.result, block=block.height,
                       burn=block.burn_height, reason=r.reason or None)  # fmt: skip
            if r.call == WITHDRAW:
                book.withdrawals += 1
                if withdrawal_waits(r.result, block.burn_height):
                    book.withdrawals_refused += 1
        message = Engine.message(block)
        follow(book, block, message.prints, self.path)
        if block.receipts:
            for violation in self.checker.check_block(block.height, block.events):
                log.record("invariant-violation", message=str(violation))
                self.failure.append(str(violation))
            if self.failure:
                raise InvariantBroken(self.failure[0])
        self.engine.deliver(message)
        if new_burn:
            self.last_burn = block.burn_height
            self.metrics.append(self.row(block.burn_height, block.time))

    def row(self, burn_height: int, t: float) -> dict[str, Any]:
        return metrics_row(burn_height, t, self.path, self.observer.state, self.book)

    def close(self, tip: int, now: float) -> list[dict[str, Any]]:
        """The metrics, ending with the end of the run (so the final settlements are in
        metrics.csv too)."""
        last = self.metrics[-1] if self.metrics else None
        if last is None or (last["burn_height"], last["time_s"]) != (tip, round(now, 3)):
            self.metrics.append(self.row(tip, now))
        return self.metrics


def follow(book: Book, block: Block, decoded: tuple[dict, ...], path: PricePath) -> None:
    t = block.time
    book.burn_times.setdefault(block.burn_height, t)
    for e in decoded:
        name = e["event"]
        if name == "policy-purchased":
            book.purchased += 1
            book.terms[e["id"]] = (e["amount"], e["strike"], e["expiration"], e["token"])
            book.policies[e["id"]] = {
                "id": e["id"], "amount": e["amount"], "strike": e["strike"],
                "expiration": e["expiration"], "token": e["token"], "tier": e["tier"],
                "premium": e["premium"], "collateral": e["collateral"],
                "purchased": e["_burn"], "purchased_block": e["_block"],
            }  # fmt: skip
            price = path.stx_at(t) if e["token"] == STX else path.btc_at(t)
            premium_usd = e["premium"] / TOKEN_UNIT[e["token"]] * price
            book.premiums_usd += premium_usd
            key = (e["token"], e["tier"])
            book.accounts[key].premiums_usd += premium_usd
            book.open_in[key] = book.open_in.get(key, 0) + 1
        elif e["_contract"].endswith(".liquidity-pool") and name in tranches.LOGGED:
            book.locked[(e["token"], e["tier"])] = e["locked"]
            book.accounts[(e["token"], e["tier"])].follow(e, t)
            if book.log is not None:  # events.jsonl keeps the money, so P&L can be redone
                fields = {k.replace("-", "_"): v for k, v in e.items() if k[0] != "_"}
                book.log.record("pool-event", **fields, block=e["_block"], txid=e["_txid"])
        elif name in ("policy-settled", "policy-expired"):
            amount, strike, expiration, token = book.terms[e["id"]]
            key = (token, book.policies[e["id"]]["tier"])
            book.open_in[key] -= 1
            book.delays.append(e["_burn"] - expiration)
            book.settle_seq += 1
            token_price = e["token-price"]  # the token's fixing (BTC-USD's for sBTC)
            book.policies[e["id"]].update(
                status=1 if name == "policy-settled" else 2, settled=e["_burn"],
                settled_block=e["_block"], settle_seq=book.settle_seq, btc_price=e["price"],
                token_price=token_price, payout=e.get("payout", 0), paid=e.get("paid", 0),
                claim=e.get("claim", 0),
            )  # fmt: skip
            true = book.true_fixing(path, expiration, path.btc_at(t))
            book.mispricing_bps.append(round(abs(e["price"] / PRICE_SCALE - true) / true * 1e4, 2))
            fair = max(strike - round(true * PRICE_SCALE), 0) * amount // SATS
            h = e["_block"]
            book.first_settle_block = (
                h if book.first_settle_block is None else book.first_settle_block
            )
            book.last_settle_block = h
            if name == "policy-expired":
                book.expired += 1
                book.mispriced_usd += fair / PRICE_SCALE
                continue
            book.settled += 1
            owed = (strike - e["price"]) * amount // SATS  # price units, as the contract has it
            unit, collateral = TOKEN_UNIT[token], book.policies[e["id"]]["collateral"]

            def usd(tokens: int, unit: int = unit, price: int = token_price) -> float:
                return tokens * price / unit / PRICE_SCALE

            unpaid = min(e["claim"], collateral) - e["paid"]
            book.payouts_usd += usd(e["paid"])
            book.unpaid_usd += usd(unpaid)
            account = book.accounts[key]
            account.payouts_usd += usd(e["paid"])
            account.unpaid += unpaid
            account.unpaid_usd += usd(unpaid)
            book.capped_usd += usd(e["claim"] - e["payout"])
            book.mispriced_usd += abs(owed - fair) / PRICE_SCALE
        elif name == "price-updated":
            book.onchain[e["asset"]] = e["price"]


def metrics_row(
    burn_height: int, t: float, path: PricePath, state: PoolState | None, book: Book
) -> dict:
    row: dict[str, Any] = {
        "burn_height": burn_height,
        "time_s": round(t, 3),
        "btc_true_usd": path.btc_at(t),
        "btc_onchain_usd": book.onchain.get(BTC_USD, 0) / PRICE_SCALE or None,
        "stx_true_usd": path.stx_at(t),
        "stx_onchain_usd": book.onchain.get(STX_USD, 0) / PRICE_SCALE or None,
        "policies_active": book.active,
        "payouts_usd": book.payouts_usd,
        "shortfall_usd": book.unpaid_usd,
    }
    if state is not None:
        for token, unit in tranches.UNIT.items():
            views = [tv for tv in state.tranches if tv.token == token]
            row[f"assets_{unit}"] = sum(tv.assets for tv in views)
            row[f"locked_{unit}"] = sum(tv.locked for tv in views)
            row[f"required_{unit}"] = sum(tv.required for tv in views)
        backed = [tv.coverage for tv in state.tranches if tv.required]
        row["coverage_ratio"] = min(backed) if backed else None
        row["utilisation_ratio"] = max(tv.utilisation for tv in state.tranches)
        for tv in state.tranches:
            cover = tv.coverage if tv.required else None
            row[tranches.coverage_column(tv.token, tv.tier)] = cover
    return row
