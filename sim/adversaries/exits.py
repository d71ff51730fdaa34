"""What the attacking providers share: watching the chain's events, and a position that leaves
in two steps with what its exit got beyond a passive holder.

The share vault pays every holder of a tranche the same price at the same moment, so what an
attacking provider can gain is leaving *earlier* than the risk it backed (issue 11, F1-F3):
protocol v2 refuses that on chain (a request is ready only once the policies unsettled at the
request are settled; nobody enters or leaves past an unpaid expiry). An exit's gain over a
passive provider of the same size at the same time is `amount - shares x the share price just
before it`, read from the completion's own `withdraw` event (its state after, plus what left),
booked in USD at the true price of the moment. The position's token P&L (out minus in) is
logged with it for the risk team.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain import errors
from chain import transactions as txs
from chain.clarity import NONE, Tuple, UInt
from chain.contracts import TOKEN_UNIT
from chain.payloads import sends
from chain.protocol import STX
from settings import Knob
from sim.adversaries import Stage


def position_knobs(section: str, who: str, stx: float, when: str) -> dict[str, Knob]:
    """The knob rows every attacking provider has; each module adds its own trigger."""
    return {
        f"{section}.count": Knob(0, 0, 50, help=f"{who} (one position each)"),
        f"{section}.stx": Knob(stx, 10, 1e8, help=f"STX each deposits {when}"),
        f"{section}.tier": Knob(1, 0, 2, help="the tranche (STX) it enters"),
        f"{section}.check_seconds": Knob(30.0, 5, 3600, help="how often it looks at the chain"),
    }


def start_positions(stage: Stage, knobs: dict[str, Any], run: Callable) -> None:
    """One SimPy process `run(stage, knobs, index)` per wallet of the adversary."""
    for i in range(len(stage.wallets)):
        stage.env.process(run(stage, knobs, i))


@dataclass
class Watcher:
    """The protocol's printed events since the last look, as dicts (what anyone reading the
    chain sees; there is no mempool API, so a purchase is seen once it is mined)."""

    stage: Stage
    cursor: int = 0

    def new_events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            batch = self.stage.chain.events_since(self.cursor, 1000)
            for ce in batch:
                e = ce.event
                if e.kind == "print" and isinstance(e.value, Tuple) and "event" in e.value.data:
                    fields = {k: getattr(v, "value", v) for k, v in e.value.data.items()}
                    out.append({**fields, "_txid": ce.txid, "_burn": ce.burn_height})
            if not batch:
                return out
            self.cursor = batch[-1].cursor + 1


@dataclass
class Position:
    """One wallet's stake in one tranche, from deposit to completed withdrawal."""

    stage: Stage
    kind: str  # the adversary's section: its ledger key
    wallet_index: int
    token: int
    tier: int
    deposited: int = 0
    exit_txid: str | None = None
    done: bool = False
    log: list[str] = field(default_factory=list)

    @property
    def wallet(self) -> Any:
        return self.stage.wallets[self.wallet_index]

    @property
    def key(self) -> list[UInt]:
        return [UInt(self.token), UInt(self.tier)]

    def read(self, function: str, *args: Any) -> Any:
        return self.stage.chain.read_only(self.stage.contracts.pool, function, [*self.key, *args])

    def held(self) -> int:
        return self.read("get-shares", self.wallet.address).value

    def pending(self) -> Any:
        found = self.read("get-pending", self.wallet.address)
        return None if found is NONE else found.value

    def deposit(self, amount: int) -> None:
        c = self.stage.contracts
        pc = sends(c, txs.ORIGIN, self.token, amount)
        sent = self._send("deposit", c.sbtc, *self.key, UInt(amount), post_conditions=[pc],
                          mode=txs.PostConditionMode.DENY)  # fmt: skip
        if sent:
            self.deposited += amount
            self.stage.log.record("adversary-deposit", adversary=self.kind, token=self.token,
                                  tier=self.tier, amount=amount,
                                  who=self.wallet.address.address)  # fmt: skip

    def request_all(self) -> None:
        """Asks to withdraw every share held; past an unpaid expiry the chain refuses (u414)
        and the caller asks again at its next look."""
        held = self.held()
        if held:
            self._send("request-withdraw", *self.key, UInt(held))

    def try_complete(self, burn_height: int) -> None:
        """Completes the pending withdrawal once it is ready (ready-at reached, or nothing
        unsettled in the tranche); nothing while a completion is on its way."""
        if self.exit_txid is not None or self.done:
            return
        p = self.pending()
        if p is None:
            return
        unsettled = self.read("get-vault")["unsettled"].value
        if burn_height >= p["ready-at"].value or not unsettled:
            self.exit_txid = self._send("complete-withdraw", self.stage.contracts.sbtc, *self.key)

    def see(self, events: list[dict[str, Any]], now: float) -> None:
        """Books the exit when its `withdraw` event shows up; forgets a refused completion."""
        if self.exit_txid is None:
            return
        for e in events:
            if e["_txid"] != self.exit_txid or e["event"] != "withdraw":
                continue
            amount, shares = e["amount"], e["shares"]
            assets, total = e["total-assets"] + amount, e["total-shares"] + shares
            passive = shares * assets // total if total else 0
            price = self.stage.stx_at(now) if self.token == STX else self.stage.btc_at(now)
            self.stage.ledger.gain(self.kind, (amount - passive) * price / TOKEN_UNIT[self.token])
            self.stage.log.record("adversary-exit", adversary=self.kind, amount=amount,
                                  beyond_passive=amount - passive, pnl=amount - self.deposited,
                                  who=self.wallet.address.address)  # fmt: skip
            self.done = True
            return
        status = self.stage.chain.status(self.exit_txid).status.value
        if status not in ("pending", "success"):
            self.exit_txid = None  # refused or dropped: try again when ready

    def _send(self, function: str, *args: Any, **kw: Any) -> str | None:
        w = self.wallet
        try:
            return w.call(self.stage.contracts.pool, function, *args, **kw)
        except errors.Rejected as exc:  # the mempool's refusal: resync, the caller retries
            self.stage.log.record("user-tx-rejected", user=w.address.address, what=function,
                                  reason=exc.reason)  # fmt: skip
            w.resync()
            return None
