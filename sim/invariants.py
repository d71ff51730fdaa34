"""The PROTOCOL.md invariants, checked after every block from outside the contracts.

The checker sees the chain only through the port (read-only calls, balances) and the events of
each block, so it holds for either executor, Python models or the Clarity VM.

Version 2 adds: 6. each tranche's `locked` equals the collateral of its unsettled policies (as
their purchase events stated it), so no lock outlives its policies; 7. every settled policy was
paid `min(claim, collateral)` in full; 8. a completed withdrawal never precedes the settlement
of a policy that was unsettled in its tranche when the withdrawal was requested; 9. custody is
compared with `>=`: a token donation to the pool is ignored by the accounting, so sending
tokens cannot make monitoring fire (nor can the assets a closed share epoch keeps for its
holders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.clarity import ContractPrincipal, Some, Tuple, UInt
from chain.port import ChainEvent, FullChain

TRANCHES = [(token, tier) for token in (0, 1) for tier in (0, 1, 2)]
POOL_EVENTS_WITH_STATE = {
    "deposit",
    "withdraw-requested",
    "withdraw",
    "locked",
    "released",
    "payout",
}
SHARE_EVENTS = ("deposit", "withdraw-requested", "withdraw")  # a provider's shares move


@dataclass(frozen=True, slots=True)
class Violation:
    block: int
    invariant: int
    message: str

    def __str__(self) -> str:
        return f"block {self.block}: invariant {self.invariant}: {self.message}"


def _u(t: Tuple, name: str) -> int:
    value = t[name]
    assert isinstance(value, UInt)
    return value.value


@dataclass
class InvariantChecker:
    chain: FullChain
    pool: ContractPrincipal
    violations: list[Violation] = field(default_factory=list)
    _providers: dict[tuple[int, int], set] = field(default_factory=dict)
    _shares: dict[tuple[int, int], int] = field(default_factory=dict)
    _finished: set[int] = field(default_factory=set)
    _paid: dict[int, int] = field(default_factory=dict)  # token -> sum of payout events
    _left: dict[int, int] = field(default_factory=dict)  # token -> transfers out for payouts
    _touched: set[tuple[int, int]] = field(default_factory=set)  # shares moved this block
    _open: dict[int, tuple[tuple[int, int], int]] = field(default_factory=dict)  # id -> lock
    _backing: dict[tuple[int, int], int] = field(default_factory=dict)  # tranche -> open locks
    # (token, tier, provider) -> the policies unsettled in that tranche at its requests
    _waits_for: dict[tuple, set[int]] = field(default_factory=dict)

    def _fail(self, block: int, invariant: int, message: str) -> None:
        self.violations.append(Violation(block, invariant, message))

    def check_block(self, height: int, events: tuple[ChainEvent, ...]) -> list[Violation]:
        """Checks after one block; returns the new violations (also kept in `violations`)."""
        before = len(self.violations)
        self._follow_events(height, events)
        self._check_state(height)
        return self.violations[before:]

    def _follow_events(self, height: int, events: tuple[ChainEvent, ...]) -> None:
        pool = self.pool.address
        transfers_by_tx: dict[str, list] = {}
        for ce in events:
            e = ce.event
            if e.kind in ("stx_transfer", "ft_transfer") and e.sender == pool:
                transfers_by_tx.setdefault(ce.txid, []).append(e)
        for ce in events:
            e = ce.event
            if e.kind != "print" or not isinstance(e.value, Tuple) or "event" not in e.value.data:
                continue
            name = e.value["event"].value  # type: ignore[attr-defined]
            t = e.value
            if e.contract == pool and name in POOL_EVENTS_WITH_STATE:
                key = (_u(t, "token"), _u(t, "tier"))
                shares = _u(t, "total-shares")
                if name in SHARE_EVENTS:
                    self._providers.setdefault(key, set()).add(t["provider"])
                    self._touched.add(key)
                    self._follow_withdrawal(height, name, (*key, t["provider"]))
                elif shares != self._shares.get(key, 0):
                    self._fail(height, 4, f"{name} changed the shares of tranche {key}")
                self._shares[key] = shares
                if name == "payout":
                    token, amount = key[0], _u(t, "amount")
                    self._paid[token] = self._paid.get(token, 0) + amount
                    recipient = t["recipient"].address  # type: ignore[attr-defined]
                    moved = [
                        x
                        for x in transfers_by_tx.get(ce.txid, [])
                        if x.recipient == recipient and x.amount == amount
                    ]
                    if amount and not moved:
                        self._fail(height, 3, f"payout of {amount} without a matching transfer")
                    else:
                        self._left[token] = self._left.get(token, 0) + amount
                        if moved:
                            transfers_by_tx[ce.txid].remove(moved[0])
            elif name == "policy-purchased":
                key, collateral = (_u(t, "token"), _u(t, "tier")), _u(t, "collateral")
                self._open[_u(t, "id")] = (key, collateral)
                self._backing[key] = self._backing.get(key, 0) + collateral
            elif name in ("policy-settled", "policy-expired"):
                pid = _u(t, "id")
                if pid in self._finished:
                    self._fail(height, 3, f"policy {pid} finished twice")
                self._finished.add(pid)
                found = self._open.pop(pid, None)
                if found is not None:
                    self._backing[found[0]] -= found[1]
                if found is not None and name == "policy-settled":
                    owed = min(_u(t, "claim"), found[1])
                    if _u(t, "payout") != owed or _u(t, "paid") != owed:
                        self._fail(height, 7, f"policy {pid} paid {_u(t, 'paid')} of {owed}")
        for token in self._paid:
            if self._paid[token] != self._left.get(token, 0):
                self._fail(height, 3, f"payouts and vault outflows differ for token {token}")

    def _follow_withdrawal(self, height: int, name: str, who: tuple) -> None:
        """Invariant 8: a request remembers the tranche's unsettled policies; its completion
        (the `withdraw` event) must come after every one of them has finished."""
        if name == "withdraw-requested":
            unsettled = {pid for pid, (key, _) in self._open.items() if key == who[:2]}
            self._waits_for.setdefault(who, set()).update(unsettled)
        elif name == "withdraw":
            early = sorted(self._waits_for.pop(who, set()) - self._finished)
            if early:
                self._fail(height, 8, f"a withdrawal from tranche {who[:2]} completed before "
                           f"policies {early} it backed were settled")  # fmt: skip

    def _owned(self, token: int, tier: int) -> int:
        """The current epoch's shares of the tranche's providers, held or pending."""
        key = [UInt(token), UInt(tier)]
        read = self.chain.read_only
        epoch = _u(read(self.pool, "get-vault", key), "epoch")  # type: ignore[arg-type]
        owned = 0
        for p in self._providers.get((token, tier), set()):
            if read(self.pool, "get-provider-epoch", [*key, p]).value == epoch:  # type: ignore[attr-defined]
                owned += read(self.pool, "get-shares", [*key, p]).value  # type: ignore[attr-defined]
            pending = read(self.pool, "get-pending", [*key, p])
            if isinstance(pending, Some) and _u(pending.value, "epoch") == epoch:  # type: ignore[arg-type]
                owned += _u(pending.value, "shares")  # type: ignore[arg-type]
        return owned

    def _check_state(self, height: int) -> None:
        chain = self.chain
        held = chain.balances(self.pool)
        totals = {0: 0, 1: 0}
        for token, tier in TRANCHES:
            t = chain.read_only(self.pool, "get-tranche", [UInt(token), UInt(tier)])
            assert isinstance(t, Tuple)
            assets, shares, locked = (
                _u(t, "total-assets"),
                _u(t, "total-shares"),
                _u(t, "locked"),
            )
            totals[token] += assets
            if locked > assets:
                self._fail(height, 2, f"tranche {(token, tier)} locks {locked} > assets {assets}")
            backing = self._backing.get((token, tier), 0)
            if locked != backing:
                self._fail(height, 6, f"tranche {(token, tier)} locks {locked}, its unsettled "
                           f"policies' collateral is {backing}")  # fmt: skip
            seen = self._shares.get((token, tier))
            if seen is not None and seen != shares:
                self._fail(height, 4, f"tranche {(token, tier)}: shares {shares} != {seen} "
                           "from its deposit and withdraw events")  # fmt: skip
            if (token, tier) in self._touched:  # only deposits and withdrawals move shares
                owned = self._owned(token, tier)
                if owned != shares:
                    self._fail(height, 4, f"tranche {(token, tier)}: shares {owned} != {shares}")
            if shares == 0 and assets != 0:
                self._fail(height, 4, f"tranche {(token, tier)} has assets but no shares")
        if held.stx < totals[0]:  # `>=`: a donation is no violation (invariant 9)
            self._fail(height, 1, f"vault holds {held.stx} uSTX, tranches say {totals[0]}")
        if held.sbtc < totals[1]:
            self._fail(height, 1, f"vault holds {held.sbtc} sats, tranches say {totals[1]}")
        self._touched.clear()
