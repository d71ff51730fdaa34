"""One quote's terms: the premium and collateral the registry actor signs and the risk engine
admits, or why there is none (issue 14: one home per protocol rule).

`price_quote` is pure and integer where the chain looks: the registry actor
(`RegistryActor._price_quote`) calls it with the chain's parameters, the oracle's prices and
the pool's tranche view; `risk/book.py`'s `admit` calls it with a scenario's pool terms at the
start prices. So a stress test of caps and loadings prices exactly what the actor would sell.
The premium follows PROTOCOL.md v2: the capped put (its payout stops at the collateral) at the
skewed vol, rounded up to a whole token unit, and never below the chain's floors (intrinsic
value u318, minimum premium u319, capital charge u320); the collateral is at least what the
chain computes at its own latest price.

Here, in `risk/`, because both layers may import it: the actors import `risk` (pricing), and
`risk` imports only protocol facts (pyproject.toml's import contracts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from chain.protocol import BPS, PRICE_SCALE, TOKEN_UNIT, lock_fits
from chain.protocol import PARAMETER_DEFAULTS as P
from risk.pricing import (
    PricingParams,
    collateral_tokens,
    premium_floor,
    premium_usd,
    tier_for_strike,
    usd_to_tokens_ceil,
)

# burn blocks a quote stays good for: counted against the minimum duration (the purchase may
# land that much later) and the registry's reservation of its collateral
QUOTE_TTL_BLOCKS = 3


class Refusal(StrEnum):
    """Why terms get no quote; the value is what the registry logs and tells the buyer."""

    DURATION = "duration"  # outside min/max-duration (u306/u307), ttl counted
    AMOUNT = "amount"  # outside min/max-amount, or too small to lock a unit of collateral
    STRIKE = "strike"  # outside the strike band around spot
    NO_LIQUIDITY = "no-liquidity"  # the tranche holds nothing
    CAPACITY = "capacity"  # the tranche cannot lock the collateral (u413 cap, u415 pending)


@dataclass(frozen=True)
class QuoteRules:
    """The parameters contract's bounds a quote must clear; defaults are the contract's
    (chain/protocol.py PARAMETER_DEFAULTS). Tuples are indexed by tier, or by token for
    `min_premium`."""

    duration_blocks: tuple[int, int] = (P["min-duration"], P["max-duration"])
    amount_sats: tuple[int, int] = (P["min-amount"], P["max-amount"])
    strike_band_bps: int = P["strike-band-bps"]
    collateral_bps: tuple[int, int, int] = (
        P["collateral-ratio-0"],
        P["collateral-ratio-1"],
        P["collateral-ratio-2"],
    )
    max_utilisation_bps: tuple[int, int, int] = (
        P["max-utilisation-0"],
        P["max-utilisation-1"],
        P["max-utilisation-2"],
    )
    tier_strike_bps: tuple[int, int] = (P["tier-strike-bps-1"], P["tier-strike-bps-2"])
    min_premium: tuple[int, int] = (P["min-premium-0"], P["min-premium-1"])
    capital_rate_bps: int = P["capital-rate-bps"]
    ttl_blocks: int = QUOTE_TTL_BLOCKS

    @classmethod
    def of(cls, p: Mapping[str, int], ttl_blocks: int = QUOTE_TTL_BLOCKS) -> QuoteRules:
        """The rules from the parameters contract's values, by their on-chain keys."""
        return cls(
            duration_blocks=(p["min-duration"], p["max-duration"]),
            amount_sats=(p["min-amount"], p["max-amount"]),
            strike_band_bps=p["strike-band-bps"],
            collateral_bps=(
                p["collateral-ratio-0"],
                p["collateral-ratio-1"],
                p["collateral-ratio-2"],
            ),
            max_utilisation_bps=(
                p["max-utilisation-0"],
                p["max-utilisation-1"],
                p["max-utilisation-2"],
            ),
            tier_strike_bps=(p["tier-strike-bps-1"], p["tier-strike-bps-2"]),
            min_premium=(p["min-premium-0"], p["min-premium-1"]),
            capital_rate_bps=p["capital-rate-bps"],
            ttl_blocks=ttl_blocks,
        )

    def tier(self, strike: int, spot: int) -> int:
        """The tier that backs `strike` at `spot` (PROTOCOL tier table)."""
        return tier_for_strike(strike, spot, *self.tier_strike_bps)


@dataclass(frozen=True)
class Market:
    """The prices a quote is made at, in price units. `spot` and `token_price` are the
    oracle's aggregates (what the premium is priced at); `chain_spot` and `chain_token_price`
    the chain's latest observations (what the contract checks the band, the collateral and the
    floors against). In a study at the start prices the two pairs are the same."""

    spot: int
    token_price: int
    chain_spot: int
    chain_token_price: int
    vol: float  # annualised realised volatility of BTC-USD


class Tranche(Protocol):
    """What a quote needs of the tranche that backs it: its assets and lock (the utilisation
    skew) and whether it can lock more (actors/messages.py TrancheView.fits in the actor)."""

    @property
    def assets(self) -> int: ...

    @property
    def locked(self) -> int: ...

    def fits(self, collateral: int, max_utilisation_bps: int) -> bool: ...


@dataclass(frozen=True)
class Vault:
    """A tranche at the start of a study: assets and lock, nothing pending withdrawal (a study
    models no exits), so only the utilisation cap binds (lock-for-policy's u413)."""

    assets: int
    locked: int

    def fits(self, collateral: int, max_utilisation_bps: int) -> bool:
        return lock_fits(self.assets, self.locked, collateral, max_utilisation_bps)


@dataclass(frozen=True)
class Priced:
    """A quote's terms: tokens are integers in the token's smallest units; `premium_usd` is the
    model's estimate before rounding (analytics: a buyer's budget is compared with it)."""

    tier: int
    collateral: int
    premium: int
    premium_usd: float


def price_quote(
    *,
    amount: int,
    strike: int,
    blocks: int,
    token: int,
    tier: int,
    market: Market,
    rules: QuoteRules,
    pricing: PricingParams,
    tranche: Tranche | None,
) -> Priced | Refusal:
    """The quote for a PUT on `amount` sats at `strike`, expiring `blocks` burn blocks from now,
    settled in `token` from `tier`'s tranche, or why there is none.

    Checks in the registry's order (the first that fails names the refusal): duration (the
    quote's time to live counted against the minimum), amount, strike band around the chain's
    spot, a tranche with assets, a collateral of at least one unit, the tranche's capacity
    (`tranche.fits`); then the premium: the capped put at the vol skewed by the utilisation
    after this lock, with `pricing`'s loadings, in tokens rounded up, and at least the chain's
    floor for these terms.
    """
    lo, hi = rules.duration_blocks
    if blocks - rules.ttl_blocks < lo or blocks > hi:
        return Refusal.DURATION
    if not rules.amount_sats[0] <= amount <= rules.amount_sats[1]:
        return Refusal.AMOUNT
    band, chain_spot = rules.strike_band_bps, market.chain_spot
    if strike * BPS + chain_spot * band < chain_spot * BPS or strike * BPS > chain_spot * (
        BPS + band
    ):
        return Refusal.STRIKE
    if tranche is None or tranche.assets == 0:
        return Refusal.NO_LIQUIDITY
    unit, ratio = TOKEN_UNIT[token], rules.collateral_bps[tier]
    # at least what the chain computes at its own latest price (the larger one locks)
    collateral = max(
        collateral_tokens(strike, amount, ratio, market.token_price, unit),
        collateral_tokens(strike, amount, ratio, market.chain_token_price, unit),
    )
    if collateral == 0:
        return Refusal.AMOUNT
    if not tranche.fits(collateral, rules.max_utilisation_bps[tier]):
        return Refusal.CAPACITY
    utilisation = (tranche.locked + collateral) / tranche.assets
    cap_usd = collateral * market.token_price / unit / PRICE_SCALE
    usd = premium_usd(
        market.spot, strike, amount, blocks, market.vol, utilisation, pricing, cap_usd
    )
    floor = premium_floor(
        strike=strike,
        spot=chain_spot,
        amount_sats=amount,
        collateral=collateral,
        token_price=market.chain_token_price,
        token_unit=unit,
        min_premium=rules.min_premium[token],
        capital_rate_bps=rules.capital_rate_bps,
        blocks=blocks,
    )
    premium = max(usd_to_tokens_ceil(usd, market.token_price, unit), floor)
    return Priced(tier, collateral, premium, usd)
