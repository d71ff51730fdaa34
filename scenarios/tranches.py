"""Who put in, who took out, what each tranche earned and paid: the report's tranche accounts.

Every number in token units is a sum of the liquidity pool's own print events (the runner
copies them into events.jsonl as `pool-event` records, so a reader can redo each sum from the
log): deposits and provider exits from `deposit` / PROVIDER_EXITS, premiums from `locked`,
payouts from `payout`. A tranche's P&L is premiums minus payouts; its assets at the end are
deposits - withdrawals + P&L, to the unit. USD figures are analytics (floats): premiums at the
token's price when bought, payouts at the price the contract settled at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chain.protocol import SBTC, STX, TOKEN_NAMES, TRANCHES

# Pool events in which money leaves a tranche to its provider. The one-step `withdraw` is being
# replaced by request/complete: add the event that moves the tokens here (and only here).
PROVIDER_EXITS: tuple[str, ...] = ("withdraw",)
PROVIDER_ENTRIES: tuple[str, ...] = ("deposit",)
PREMIUM_IN, PAYOUT_OUT = "locked", "payout"
# what the runner copies from the pool's prints into events.jsonl (`released` too, so the log
# holds every change of a tranche's state)
LOGGED = (*PROVIDER_ENTRIES, *PROVIDER_EXITS, PREMIUM_IN, "released", PAYOUT_OUT)
# the integer units of each token, as field-name suffixes
UNIT = {STX: "ustx", SBTC: "sats"}
YEAR_DAYS = 365.0


def tranche_name(token: int, tier: int) -> str:
    """`stx-0` .. `sbtc-2`: the key of a tranche in report.json and in column names."""
    return f"{TOKEN_NAMES[token].lower()}-{tier}"


def coverage_column(token: int, tier: int) -> str:
    """metrics.csv's column for one tranche's coverage ratio."""
    return f"coverage_ratio_{TOKEN_NAMES[token].lower()}_{tier}"


@dataclass
class TrancheAccount:
    """One tranche's money over a run, in its token's integer units (and USD beside)."""

    token: int
    tier: int
    deposits: int = 0
    withdrawals: int = 0
    premiums: int = 0
    payouts: int = 0
    unpaid: int = 0  # min(claim, collateral) - paid
    deposit_count: int = 0
    withdrawal_count: int = 0
    premiums_usd: float = 0.0
    payouts_usd: float = 0.0
    unpaid_usd: float = 0.0
    assets: int = 0  # after the last event
    first_deposit_s: float | None = None
    first_share_price: float | None = None  # assets per share after the first deposit
    last_share_price: float | None = None  # the last one while shares existed

    def follow(self, e: dict[str, Any], t: float) -> None:
        """One pool print event of this tranche (with the tranche's state after it)."""
        name = e["event"]
        if name in PROVIDER_ENTRIES:
            self.deposits += e["amount"]
            self.deposit_count += 1
            if self.first_deposit_s is None:
                self.first_deposit_s = t
        elif name in PROVIDER_EXITS:
            self.withdrawals += e["amount"]
            self.withdrawal_count += 1
        elif name == PREMIUM_IN:
            self.premiums += e["premium"]
        elif name == PAYOUT_OUT:
            self.payouts += e["amount"]
        self.assets = e["total-assets"]
        if e["total-shares"]:
            price = e["total-assets"] / e["total-shares"]
            if self.first_share_price is None:
                self.first_share_price = price
            self.last_share_price = price

    @property
    def pnl(self) -> int:
        return self.premiums - self.payouts

    def share_return(self) -> float | None:
        if not self.first_share_price or self.last_share_price is None:
            return None
        return self.last_share_price / self.first_share_price - 1

    def annualised(self, end_s: float) -> float | None:
        """The share-price return compounded to a year over the time since the first deposit;
        None when there is no return or the span is too short to say anything (under an hour,
        or a result past float range)."""
        r = self.share_return()
        if r is None or self.first_deposit_s is None or end_s - self.first_deposit_s < 3600:
            return None
        if r <= -1:
            return -1.0
        years = (end_s - self.first_deposit_s) / 86400 / YEAR_DAYS
        try:
            return math.expm1(math.log1p(r) / years)
        except OverflowError:
            return None

    def report(self, end_s: float, coverage: dict[str, Any]) -> dict[str, Any]:
        u = UNIT[self.token]
        ret, ann = self.share_return(), self.annualised(end_s)
        return {
            "token": TOKEN_NAMES[self.token],
            "tier": self.tier,
            f"deposits_{u}": self.deposits,
            f"withdrawals_{u}": self.withdrawals,
            f"premiums_{u}": self.premiums,
            f"payouts_{u}": self.payouts,
            f"pnl_{u}": self.pnl,
            f"assets_end_{u}": self.assets,
            f"unpaid_claims_{u}": self.unpaid,
            "deposits_count": self.deposit_count,
            "withdrawals_count": self.withdrawal_count,
            "premiums_usd": round(self.premiums_usd, 2),
            "payouts_usd": round(self.payouts_usd, 2),
            "pnl_usd": round(self.premiums_usd - self.payouts_usd, 2),
            "unpaid_claims_usd": round(self.unpaid_usd, 2),
            "share_price_return": None if ret is None else round(ret, 8),
            "annualised_return": None if ann is None else round(ann, 6),
            **coverage,
        }


def accounts() -> dict[tuple[int, int], TrancheAccount]:
    """A fresh account for each of the six tranches."""
    return {key: TrancheAccount(*key) for key in TRANCHES}


def coverage_stats(hours: list[float], ratios: list[float | None]) -> dict[str, Any]:
    """The lowest coverage of a series sampled at `hours` (None: nothing required), when it
    was reached, and how long and from when the ratio stayed below 1 (each sample's ratio
    holds until the next sample)."""
    low, low_at, below, first = None, None, 0.0, None
    for i, (h, c) in enumerate(zip(hours, ratios, strict=True)):
        if c is None or not math.isfinite(c):
            continue
        if low is None or c < low:
            low, low_at = c, h
        if c < 1:
            first = h if first is None else first
            below += (hours[i + 1] if i + 1 < len(hours) else h) - h
    return {
        "min_coverage_ratio": None if low is None else round(low, 6),
        "min_coverage_at_hours": None if low_at is None else round(low_at, 3),
        "hours_below_coverage_1": round(below, 3),
        "first_below_coverage_1_at_hours": None if first is None else round(first, 3),
    }


def pool_totals(tranches: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sums over the tranches: token units per token, USD over all."""
    out: dict[str, Any] = {}
    for row in tranches.values():
        for key, value in row.items():
            if key.endswith(("_ustx", "_sats", "_count", "_usd")):
                out[key] = out.get(key, 0) + value
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in sorted(out.items())}
