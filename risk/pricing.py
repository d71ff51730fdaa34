"""Quote pricing: Black-Scholes PUT premium, token conversion, collateral and tier (PROTOCOL.md).

Called once per quote by the registry actor, so the scalar path uses only `math` (no numpy
dispatch overhead): a premium costs a few microseconds. Prices on chain are integers in price
units (USD x 1e8) and amounts in sats or token smallest units; every function that produces a
number the chain will see (tokens, collateral, tier) works in integers so it agrees bit for bit
with the contracts' `uint` arithmetic. Only the premium itself is a float, because it is a model
estimate, and it is rounded up once, at the conversion to tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chain.protocol import BLOCKS_PER_YEAR, PRICE_SCALE, SATS

_SQRT2 = math.sqrt(2.0)


def norm_cdf(x: float) -> float:
    """Standard normal CDF from the error function.

    Written as `0.5 * erfc(-x / sqrt 2)`, which equals `0.5 * (1 + erf(x / sqrt 2))` but keeps
    full relative precision in the lower tail (deep out-of-the-money puts), where `1 + erf`
    would cancel to 0.
    """
    return 0.5 * math.erfc(-x / _SQRT2)


def _check_prices(spot: float, strike: float) -> None:
    """Reject non-positive (or NaN) prices: the log-moneyness is undefined for them."""
    if not (spot > 0 and strike > 0):
        raise ValueError(f"spot and strike must be > 0, got spot={spot!r} strike={strike!r}")


def _d1_d2(
    spot: float, strike: float, years: float, vol: float, rate: float
) -> tuple[float, float]:
    """The two Black-Scholes arguments; callers guarantee years > 0 and vol > 0."""
    vol_sqrt_t = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / vol_sqrt_t
    return d1, d1 - vol_sqrt_t


def bs_put(spot: float, strike: float, years: float, vol: float, rate: float = 0.0) -> float:
    """Black-Scholes European PUT price per one unit of underlying, in spot/strike currency.

    Degenerate inputs get their limits rather than a division by zero: at or after expiry
    (`years <= 0`) the intrinsic value `max(K - S, 0)`; with no volatility the discounted
    forward intrinsic `max(K e^{-rT} - S, 0)`, so put-call parity still holds exactly.
    """
    _check_prices(spot, strike)
    if years <= 0:
        return max(strike - spot, 0.0)
    discounted_strike = strike * math.exp(-rate * years)
    if vol <= 0:
        return max(discounted_strike - spot, 0.0)
    d1, d2 = _d1_d2(spot, strike, years, vol, rate)
    return discounted_strike * norm_cdf(-d2) - spot * norm_cdf(-d1)


def bs_call(spot: float, strike: float, years: float, vol: float, rate: float = 0.0) -> float:
    """Black-Scholes European CALL price per one unit of underlying (same limits as `bs_put`).

    Not quoted yet (PROTOCOL: "CALL may follow later"); kept beside the put so parity is tested
    and the later product does not need a second pricing module.
    """
    _check_prices(spot, strike)
    if years <= 0:
        return max(spot - strike, 0.0)
    discounted_strike = strike * math.exp(-rate * years)
    if vol <= 0:
        return max(spot - discounted_strike, 0.0)
    d1, d2 = _d1_d2(spot, strike, years, vol, rate)
    return spot * norm_cdf(d1) - discounted_strike * norm_cdf(d2)


@dataclass(frozen=True)
class PricingParams:
    """Pricing policy knobs, defaults from PROTOCOL.md "Pricing a quote".

    Frozen so a quote's parameters cannot change under it and a set can be shared between
    actors and used as a dict key in scenario sweeps.
    """

    vol_multiplier: float = 1.25  # loading over realised vol (model risk, jumps)
    skew_kink: float = 0.40  # utilisation above which the tranche charges more
    skew_slope: float = 1.0  # vol increase per unit of utilisation above the kink
    protocol_fee_bps: int = 1000  # 10% premium loading kept by providers
    min_premium_usd: float = 1.0  # a quote is never cheaper than this
    rate: float = 0.0  # risk-free rate for discounting
    vol_floor: float = 0.20  # realised vol is never taken below this


def effective_vol(realised_vol: float, utilisation: float, p: PricingParams) -> float:
    """Volatility used for quoting: floored realised vol, loaded, plus a utilisation skew.

    The skew makes premiums rise as a tranche fills up, so scarce collateral is priced higher
    and demand slows before the tranche hits its utilisation cap.
    """
    skew = 1.0 + p.skew_slope * max(0.0, utilisation - p.skew_kink)
    return max(realised_vol, p.vol_floor) * p.vol_multiplier * skew


def premium_usd(
    spot: int,
    strike: int,
    amount_sats: int,
    blocks: int,
    realised_vol: float,
    utilisation: float,
    p: PricingParams,
    cap_usd: float | None = None,
) -> float:
    """Premium in USD for a PUT on `amount_sats` of BTC lasting `blocks` burn blocks.

    `spot` and `strike` are integer price units (USD x 1e8). Result: the Black-Scholes put at
    the effective vol (with `cap_usd`, the capped put PROTOCOL v2 sells: its payout stops at
    the collateral, `capped_put_usd`), times the BTC amount, times `1 + fee`, and at least
    `min_premium_usd`. A float, because it is an estimate; `usd_to_tokens_ceil` turns it into
    an exact amount.
    """
    if amount_sats < 0:
        raise ValueError(f"amount_sats must be >= 0, got {amount_sats}")
    vol = effective_vol(realised_vol, utilisation, p)
    if cap_usd is None:
        per_btc = bs_put(
            spot / PRICE_SCALE, strike / PRICE_SCALE, blocks / BLOCKS_PER_YEAR, vol, p.rate
        )
        value = per_btc * (amount_sats / SATS)
    else:
        value = capped_put_usd(spot, strike, amount_sats, blocks, vol, p.rate, cap_usd)
    premium = value * (1.0 + p.protocol_fee_bps / 10_000)
    return max(premium, p.min_premium_usd)


def _usd_to_price_units_ceil(usd: float) -> int:
    """USD (float) to integer price units, rounded up, without float noise rounding up.

    `usd * 1e8` carries a relative error of about one ulp: `1.1 * 1e8` is
    `110000000.00000001`, and a plain `ceil` would charge one price unit too many for an amount
    that is exactly 110_000_000 units. Within 4 ulps of an integer the value is taken as that
    integer (no float can tell the difference anyway); otherwise it is rounded up.
    """
    x = usd * PRICE_SCALE
    nearest = round(x)
    if abs(x - nearest) <= 4.0 * math.ulp(x):
        return int(nearest)
    return math.ceil(x)


def usd_to_tokens_ceil(usd: float, token_price: int, token_unit: int) -> int:
    """USD amount to settlement-token smallest units, rounded UP (the protocol never undercharges).

    `token_price` is in price units (USD x 1e8) per whole token and `token_unit` the smallest
    units per token (1_000_000 for STX, 100_000_000 for sBTC). The float appears only once: the
    USD amount is first turned into integer price units (`_usd_to_price_units_ceil`, which
    absorbs float noise), then the conversion is an exact integer ceil-division, so an amount
    that is an exact number of smallest units is never rounded up by one.
    """
    if not (usd >= 0 and math.isfinite(usd)):
        raise ValueError(f"usd must be finite and >= 0, got {usd!r}")
    if token_price <= 0 or token_unit <= 0:
        raise ValueError(f"token_price and token_unit must be > 0, got {token_price}, {token_unit}")
    usd_units = _usd_to_price_units_ceil(usd)
    return -(-(usd_units * token_unit) // token_price)


def max_payout_usd_units(strike: int, amount_sats: int) -> int:
    """Worst-case PUT payout (price falls to 0) in price units, truncating like the contracts.

    PROTOCOL: `max_payout_usd = strike * amount / 1e8` with Clarity's integer division.
    """
    return strike * amount_sats // SATS


def _ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for a >= 0, b > 0, exactly as the contracts' `(/ (+ a (- b u1)) b)`."""
    return (a + b - 1) // b


def collateral_tokens(
    strike: int, amount_sats: int, collateral_ratio_bps: int, token_price: int, token_unit: int
) -> int:
    """Collateral the chain locks for one policy at least, in token smallest units (PROTOCOL v2,
    "Policies: collateral per policy, computed on chain").

    `cover = strike * amount / 1e8 * ratio / 10000` (truncating, in that order), then
    `ceil(cover * token_unit / token_price)`: collateral rounds up, so the cap in tokens never
    falls short of the cover in USD at the purchase price.
    """
    if token_price <= 0:
        raise ValueError(f"token_price must be > 0, got {token_price}")
    covered = max_payout_usd_units(strike, amount_sats) * collateral_ratio_bps // 10_000
    return _ceil_div(covered * token_unit, token_price)


def intrinsic_tokens_ceil(
    strike: int, spot: int, amount_sats: int, token_price: int, token_unit: int
) -> int:
    """The chain's lowest premium by intrinsic value: `ceil(max(0, strike - spot) * amount /
    1e8 * unit / token-price)` (u318)."""
    usd = (strike - spot) * amount_sats // SATS if strike > spot else 0
    return _ceil_div(usd * token_unit, token_price)


def capital_charge(collateral: int, capital_rate_bps: int, blocks: int) -> int:
    """The chain's lowest premium by the capital it locks: `ceil(collateral * capital-rate-bps *
    blocks / (10000 * 52560))` (u320)."""
    return _ceil_div(collateral * capital_rate_bps * blocks, 10_000 * BLOCKS_PER_YEAR)


def premium_floor(
    *,
    strike: int,
    spot: int,
    amount_sats: int,
    collateral: int,
    token_price: int,
    token_unit: int,
    min_premium: int,
    capital_rate_bps: int,
    blocks: int,
) -> int:
    """The least premium the registry contract accepts for these terms: the largest of the
    intrinsic value, the token's minimum premium and the capital charge (PROTOCOL v2)."""
    return max(
        intrinsic_tokens_ceil(strike, spot, amount_sats, token_price, token_unit),
        min_premium,
        capital_charge(collateral, capital_rate_bps, blocks),
    )


def capped_put_usd(
    spot: int,
    strike: int,
    amount_sats: int,
    blocks: int,
    vol: float,
    rate: float,
    cap_usd: float,
) -> float:
    """Black-Scholes value (USD) of a put on `amount_sats` whose payout stops at `cap_usd`.

    PROTOCOL v2 pays `min(intrinsic, collateral)`. For an sBTC policy the cap is fixed in BTC,
    so in USD it is `collateral x S_T`; the caller passes it at today's token price, which
    overstates the cap when BTC falls and so never underprices. With the cap taken as a fixed
    USD amount `C`, `min(max(K - S, 0), C)` is a put spread: `put(K) - put(K - C / amount)`.
    """
    if amount_sats <= 0 or cap_usd <= 0:
        return 0.0
    btc = amount_sats / SATS
    years = blocks / BLOCKS_PER_YEAR
    k = strike / PRICE_SCALE
    s = spot / PRICE_SCALE
    value = bs_put(s, k, years, vol, rate)
    floor_strike = k - cap_usd / btc
    if floor_strike > 0:
        value -= bs_put(s, floor_strike, years, vol, rate)
    return max(value, 0.0) * btc


def tier_for_strike(strike: int, spot: int, tier1_bps: int = 8000, tier2_bps: int = 9500) -> int:
    """Tranche tier backing a strike: 0 below 80% of spot, 1 below 95%, else 2 (PROTOCOL tiers).

    Compared as integers (`strike * 10000 < spot * bps`) so a strike exactly on a boundary
    always lands in the higher tier, with no float rounding deciding it.
    """
    if spot <= 0:
        raise ValueError(f"spot must be > 0, got {spot}")
    scaled = strike * 10_000
    if scaled < spot * tier1_bps:
        return 0
    if scaled < spot * tier2_bps:
        return 1
    return 2
