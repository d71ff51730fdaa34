"""Liquidity providers' history and pending withdrawals, as the API reports them.

The Pool actor records every deposit, withdrawal request and withdrawal the pool contract
prints (`store.repositories.Flow`, durable and written once per print) and each provider's
pending withdrawal as the contract holds it (`Pending`); the API reads both from the store. This
module holds the arithmetic on them, so it is the same for `/v1/providers/{principal}` and
`/v1/pool`.

Withdrawals are two-step (protocol v2): `request-withdraw` moves nothing (a flow of amount 0
with the shares asked for and their `ready-at`), `complete-withdraw` pays
`min(shares at the share price now, their value at the request)` once the last expiry among
the tranche's policies unsettled at the request has passed (contracts/README.md).

P&L per tranche is `value now + withdrawn - deposited`, integers in the tranche's token units:
what the provider would have if they withdrew everything now, against what they paid in.
Pending shares count in `value now` at what their completion would pay.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.repositories import Flow, Pending
from store.schema import FlowKind

Tranche = tuple[int, int]  # (token, tier)


@dataclass(frozen=True)
class Pnl:
    token: int
    tier: int
    deposited: int
    withdrawn: int
    value: int

    @property
    def pnl(self) -> int:
        return self.value + self.withdrawn - self.deposited


@dataclass(frozen=True)
class PendingView:
    """A pending withdrawal with what it would pay now and since when it is pending.

    `payable` is None for shares of a closed epoch (paid from what that epoch left, which the
    store does not mirror); `requested` is the first request still pending (None if the
    engine's store began after it)."""

    pending: Pending
    payable: int | None
    requested: Flow | None
    ready: bool


def pnl(flows: list[Flow], values: dict[Tranche, int]) -> list[Pnl]:
    """P&L per tranche the provider has flows in or holds shares of, by (token, tier)."""
    paid_in: dict[Tranche, int] = {}
    paid_out: dict[Tranche, int] = {}
    for f in flows:
        if f.kind is FlowKind.REQUEST:
            continue  # moves nothing: the shares are paid out (a `withdraw`) later
        side = paid_in if f.kind is FlowKind.DEPOSIT else paid_out
        side[(f.token, f.tier)] = side.get((f.token, f.tier), 0) + f.amount
    keys = sorted(set(paid_in) | set(paid_out) | set(values))
    return [Pnl(k[0], k[1], paid_in.get(k, 0), paid_out.get(k, 0), values.get(k, 0)) for k in keys]


def first_requests(flows: list[Flow]) -> dict[tuple[str, int, int], Flow]:
    """Per (provider, token, tier): the first request since that tranche's last completed
    withdrawal, i.e. when the pending balance began (a second request adds to it). `flows`
    oldest first."""
    out: dict[tuple[str, int, int], Flow] = {}
    for f in flows:
        key = (f.provider, f.token, f.tier)
        if f.kind is FlowKind.WITHDRAW:
            out.pop(key, None)
        elif f.kind is FlowKind.REQUEST:
            out.setdefault(key, f)
    return out


def pending_views(
    pending: list[Pending],
    flows: list[Flow],
    tranches: dict[Tranche, tuple[int, int]],
    epochs: dict[Tranche, int],
    burn_height: int,
) -> list[PendingView]:
    """`pending` with what each pays now: `min(shares * assets / total shares, value at the
    request)`, truncated as the contract does, for the tranche's current epoch; `tranches` maps
    (token, tier) to (total assets, total shares)."""
    started = first_requests(flows)
    out = []
    for p in pending:
        key = (p.token, p.tier)
        assets, total = tranches.get(key, (0, 0))
        payable = None
        if p.epoch == epochs.get(key, 0):
            payable = min(p.shares * assets // total, p.value) if total else 0
        requested = started.get((p.provider, p.token, p.tier))
        out.append(PendingView(p, payable, requested, burn_height >= p.ready_at))
    return out
