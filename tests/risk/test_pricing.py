"""Pricing: Black-Scholes against textbook values and properties, quote loading, integer terms.

Black-Scholes is checked against published numbers (Hull) and an independent normal CDF
(`statistics.NormalDist`); the integer helpers are checked against hand-computed PROTOCOL
examples and exact rational arithmetic (`fractions.Fraction`), since they must agree with the
contracts to the last unit.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from statistics import NormalDist

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chain import protocol
from chain.protocol import TOKEN_UNIT
from risk.pricing import (
    BLOCKS_PER_YEAR,
    PRICE_SCALE,
    SATS,
    PricingParams,
    bs_call,
    bs_put,
    capital_charge,
    capped_put_usd,
    collateral_tokens,
    effective_vol,
    intrinsic_tokens_ceil,
    max_payout_usd_units,
    norm_cdf,
    premium_floor,
    premium_usd,
    tier_for_strike,
    usd_to_tokens_ceil,
)
from tests.conftest import examples

FAST = settings(deadline=None, max_examples=examples(150))
USTX = 1_000_000  # smallest units per STX
SBTC = TOKEN_UNIT[protocol.SBTC]  # smallest units per sBTC
USD = PRICE_SCALE  # one USD in price units

prices = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)
years_st = st.floats(min_value=1e-3, max_value=5.0)
vols = st.floats(min_value=0.01, max_value=3.0)
rates = st.floats(min_value=-0.02, max_value=0.2)


# --- normal CDF --------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [-3.0, -1.0, -0.25, 0.0, 0.5, 1.96, 4.0])
def test_norm_cdf_matches_statistics(x: float) -> None:
    # NormalDist computes 1 + erf, so it is only a reference away from the far tail.
    assert norm_cdf(x) == pytest.approx(NormalDist().cdf(x), rel=1e-12, abs=1e-300)


def test_norm_cdf_tail_keeps_relative_precision() -> None:
    # 1 + erf(x) would cancel to 0 here; erfc keeps ~6.2e-16.
    assert norm_cdf(-8.0) == pytest.approx(6.220960574271785e-16, rel=1e-9)
    assert norm_cdf(0.0) == 0.5


# --- Black-Scholes: published values -----------------------------------------------------------


def test_hull_example() -> None:
    # Hull, Options, Futures and Other Derivatives (the S=42, K=40 example): call 4.76, put 0.81.
    assert round(bs_call(42, 40, 0.5, 0.20, 0.10), 2) == 4.76
    assert round(bs_put(42, 40, 0.5, 0.20, 0.10), 2) == 0.81


def test_at_the_money_one_year_example() -> None:
    # The standard S=K=100, r=5%, sigma=20%, T=1 example: call 10.4506, put 5.5735.
    assert bs_call(100, 100, 1.0, 0.2, 0.05) == pytest.approx(10.4506, abs=5e-5)
    assert bs_put(100, 100, 1.0, 0.2, 0.05) == pytest.approx(5.5735, abs=5e-5)


def _bs_put_reference(s: float, k: float, t: float, v: float, r: float) -> float:
    """Textbook formula with an independent CDF, as an oracle for bs_put."""
    n = NormalDist().cdf
    d1 = (math.log(s / k) + (r + v * v / 2) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    return k * math.exp(-r * t) * n(-d2) - s * n(-d1)


@FAST
@given(s=prices, k_ratio=st.floats(0.5, 1.5), t=years_st, v=vols, r=rates)
def test_put_matches_reference_formula(s: float, k_ratio: float, t: float, v: float, r: float):
    k = s * k_ratio
    assert bs_put(s, k, t, v, r) == pytest.approx(_bs_put_reference(s, k, t, v, r), abs=1e-9 * s)


# --- Black-Scholes: properties -----------------------------------------------------------------


@FAST
@given(s=prices, k_ratio=st.floats(0.2, 5.0), t=years_st, v=vols, r=rates)
def test_put_call_parity(s: float, k_ratio: float, t: float, v: float, r: float) -> None:
    k = s * k_ratio
    lhs = bs_call(s, k, t, v, r) - bs_put(s, k, t, v, r)
    rhs = s - k * math.exp(-r * t)
    assert abs(lhs - rhs) <= 1e-9 * max(s, k)


@FAST
@given(s=prices, k_ratio=st.floats(0.5, 1.5), t=years_st, v=vols, bump=st.floats(0.01, 1.0))
def test_monotone_in_vol(s: float, k_ratio: float, t: float, v: float, bump: float) -> None:
    k = s * k_ratio
    tol = 1e-12 * s
    assert bs_put(s, k, t, v + bump) >= bs_put(s, k, t, v) - tol
    assert bs_call(s, k, t, v + bump) >= bs_call(s, k, t, v) - tol


@FAST
@given(s=prices, k_ratio=st.floats(0.5, 1.5), t=years_st, v=vols, bump=st.floats(0.001, 0.5))
def test_monotone_in_strike(s: float, k_ratio: float, t: float, v: float, bump: float) -> None:
    k, k2 = s * k_ratio, s * (k_ratio + bump)
    tol = 1e-12 * s
    assert bs_put(s, k2, t, v) >= bs_put(s, k, t, v) - tol  # higher strike, dearer put
    assert bs_call(s, k2, t, v) <= bs_call(s, k, t, v) + tol  # and cheaper call


@FAST
@given(s=prices, k_ratio=st.floats(0.2, 5.0), t=years_st, v=vols, r=rates)
def test_no_arbitrage_bounds(s: float, k_ratio: float, t: float, v: float, r: float) -> None:
    k = s * k_ratio
    df = math.exp(-r * t)
    put, call = bs_put(s, k, t, v, r), bs_call(s, k, t, v, r)
    tol = 1e-9 * max(s, k)
    assert max(k * df - s, 0.0) - tol <= put <= k * df + tol
    assert max(s - k * df, 0.0) - tol <= call <= s + tol


def test_intrinsic_limits() -> None:
    # Expired: plain intrinsic value, rate ignored.
    assert bs_put(90, 100, 0.0, 0.5, 0.05) == 10.0
    assert bs_put(110, 100, -1.0, 0.5) == 0.0
    assert bs_call(110, 100, 0.0, 0.5, 0.05) == 10.0
    assert bs_call(90, 100, 0.0, 0.5) == 0.0
    # No vol: discounted forward intrinsic, which keeps parity exact.
    assert bs_put(90, 100, 1.0, 0.0, 0.05) == pytest.approx(100 * math.exp(-0.05) - 90)
    assert bs_call(110, 100, 1.0, 0.0, 0.05) == pytest.approx(110 - 100 * math.exp(-0.05))
    assert bs_put(100, 100, 1.0, 0.0, 0.05) == 0.0
    # Tiny vol/time converges to those limits.
    assert bs_put(90, 100, 1e-9, 0.5) == pytest.approx(10.0, abs=1e-9)
    assert bs_put(110, 100, 1.0, 1e-9) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("spot", "strike"), [(0, 100), (100, 0), (-1, 100), (100, -5)])
def test_non_positive_prices_rejected(spot: float, strike: float) -> None:
    with pytest.raises(ValueError):
        bs_put(spot, strike, 1.0, 0.2)
    with pytest.raises(ValueError):
        bs_call(spot, strike, 1.0, 0.2)


# --- effective vol -----------------------------------------------------------------------------


def test_constants() -> None:
    assert BLOCKS_PER_YEAR == 52_560
    assert PRICE_SCALE == 100_000_000
    assert SATS == 100_000_000


def test_effective_vol_no_skew_below_kink() -> None:
    p = PricingParams()
    for u in (0.0, 0.2, 0.4):
        assert effective_vol(0.5, u, p) == pytest.approx(0.625)


def test_effective_vol_linear_above_kink() -> None:
    p = PricingParams()
    assert effective_vol(0.5, 0.5, p) == pytest.approx(0.5 * 1.25 * 1.1)
    assert effective_vol(0.5, 0.9, p) == pytest.approx(0.5 * 1.25 * 1.5)
    steep = PricingParams(skew_slope=2.0, skew_kink=0.6)
    assert effective_vol(0.5, 0.6, steep) == pytest.approx(0.625)
    assert effective_vol(0.5, 0.8, steep) == pytest.approx(0.625 * 1.4)


def test_effective_vol_floor() -> None:
    p = PricingParams()
    assert effective_vol(0.05, 0.0, p) == pytest.approx(0.20 * 1.25)
    assert effective_vol(0.0, 0.9, p) == pytest.approx(0.20 * 1.25 * 1.5)
    assert effective_vol(0.05, 0.0, PricingParams(vol_floor=0.0)) == pytest.approx(0.0625)


# --- premium -----------------------------------------------------------------------------------

SPOT_60K = 60_000 * USD
STRIKE_54K = 54_000 * USD
TENTH_BTC = 10_000_000


def test_premium_known_value() -> None:
    # 0.1 BTC protected at 54,000 with spot 60,000 for 4320 blocks (30 days), realised vol 50%,
    # utilisation 50%: sigma = 0.5 * 1.25 * (1 + 0.1) = 0.6875, T = 30/365.
    # By hand: sigma*sqrt(T) = 0.197100, d1 = (ln(60/54) + sigma^2 T / 2) / 0.1971 = 0.633103,
    # d2 = 0.436003; put = 54000 N(-d2) - 60000 N(-d1) = 2096.54 per BTC;
    # x 0.1 BTC x 1.10 fee loading = 230.62 USD.
    p = PricingParams()
    got = premium_usd(SPOT_60K, STRIKE_54K, TENTH_BTC, 4320, 0.5, 0.5, p)
    assert round(got, 2) == 230.62
    expected = _bs_put_reference(60_000.0, 54_000.0, 30 / 365, 0.6875, 0.0) * 0.1 * 1.1
    assert got == pytest.approx(expected, rel=1e-12)


def test_premium_fee_loading() -> None:
    base = PricingParams(protocol_fee_bps=0)
    loaded = PricingParams(protocol_fee_bps=1000)
    doubled = PricingParams(protocol_fee_bps=10_000)
    args = (SPOT_60K, STRIKE_54K, TENTH_BTC, 4320, 0.5, 0.2)
    raw = premium_usd(*args, base)
    assert raw > 1.0  # above the minimum, so only the loading differs
    assert premium_usd(*args, loaded) == pytest.approx(raw * 1.1, rel=1e-12)
    assert premium_usd(*args, doubled) == pytest.approx(raw * 2.0, rel=1e-12)


def test_premium_minimum() -> None:
    p = PricingParams()
    # Far out of the money, one day: the model premium is ~0, the minimum applies.
    deep_otm = premium_usd(SPOT_60K, 30_000 * USD, 10_000, 144, 0.3, 0.0, p)
    assert deep_otm == 1.0
    higher_floor = PricingParams(min_premium_usd=5.0)
    assert premium_usd(SPOT_60K, 30_000 * USD, 10_000, 144, 0.3, 0.0, higher_floor) == 5.0
    # Nothing protected still pays the minimum.
    assert premium_usd(SPOT_60K, STRIKE_54K, 0, 4320, 0.5, 0.5, p) == 1.0


def test_premium_expired_and_in_the_money() -> None:
    # 0 blocks left on an in-the-money put: intrinsic 6,000 USD per BTC, with the fee loading.
    p = PricingParams()
    got = premium_usd(54_000 * USD, 60_000 * USD, TENTH_BTC, 0, 0.5, 0.0, p)
    assert got == pytest.approx(6000 * 0.1 * 1.1)


@FAST
@given(u1=st.floats(0.0, 1.0), u2=st.floats(0.0, 1.0), blocks=st.integers(144, 52_560))
def test_premium_non_decreasing_in_utilisation(u1: float, u2: float, blocks: int) -> None:
    lo, hi = sorted((u1, u2))
    p = PricingParams()
    a = premium_usd(SPOT_60K, STRIKE_54K, TENTH_BTC, blocks, 0.5, lo, p)
    b = premium_usd(SPOT_60K, STRIKE_54K, TENTH_BTC, blocks, 0.5, hi, p)
    assert b >= a * (1 - 1e-12)


def test_premium_is_fast() -> None:
    # Budget ~10 us per quote; assert a loose 100 us average so a loaded CI box does not flake.
    p = PricingParams()
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        premium_usd(SPOT_60K, STRIKE_54K, TENTH_BTC, 4320, 0.5, 0.5, p)
    assert (time.perf_counter() - start) / n < 100e-6


# --- USD to tokens -----------------------------------------------------------------------------


def test_usd_to_tokens_exact_is_not_rounded_up() -> None:
    # 50 USD at 0.50 USD/STX is exactly 100 STX.
    assert usd_to_tokens_ceil(50.0, 50_000_000, USTX) == 100_000_000
    # 1.1 * 1e8 is 110000000.00000001 in floats; must still be 2.2 STX exactly.
    assert usd_to_tokens_ceil(1.1, 50_000_000, USTX) == 2_200_000
    assert usd_to_tokens_ceil(0.29, 50_000_000, USTX) == 580_000
    # 6,000 USD of sBTC at 60,000 USD/BTC is exactly 0.1 BTC.
    assert usd_to_tokens_ceil(6000.0, 60_000 * USD, SBTC) == 10_000_000
    assert usd_to_tokens_ceil(0.0, 50_000_000, USTX) == 0


def test_usd_to_tokens_rounds_up() -> None:
    # 1 USD at 3 USD/STX = 333_333.33 uSTX -> 333_334.
    assert usd_to_tokens_ceil(1.0, 3 * USD, USTX) == 333_334
    # One price unit more than an exact amount costs one more smallest unit.
    assert usd_to_tokens_ceil(50.00000001, 50_000_000, USTX) == 100_000_001
    # 1 USD at 60,000 USD/BTC = 1666.67 sats -> 1667.
    assert usd_to_tokens_ceil(1.0, 60_000 * USD, SBTC) == 1667


@pytest.mark.parametrize(
    ("usd", "price", "unit"),
    [(-1.0, USD, USTX), (math.nan, USD, USTX), (math.inf, USD, USTX), (1.0, 0, USTX)],
)
def test_usd_to_tokens_rejects_bad_input(usd: float, price: int, unit: int) -> None:
    with pytest.raises(ValueError):
        usd_to_tokens_ceil(usd, price, unit)


token_units = st.sampled_from([USTX, SBTC])
token_prices = st.integers(min_value=1_000_000, max_value=200_000 * USD)  # 0.01 .. 200k USD


@FAST
@given(usd=st.floats(0.0, 1e6, allow_nan=False), price=token_prices, unit=token_units)
def test_usd_to_tokens_is_tight_ceiling(usd: float, price: int, unit: int) -> None:
    got = usd_to_tokens_ceil(usd, price, unit)
    exact = Fraction(usd) * PRICE_SCALE * unit  # the USD amount in (price units x token unit)
    # Covers the amount, except for float noise absorbed on purpose: up to 4 ulps of the float
    # product usd * 1e8, which itself sits within half an ulp of the exact product.
    tiny = Fraction(4.5 * math.ulp(usd * PRICE_SCALE)) * unit
    assert got * price >= exact - tiny
    # And is the smallest such amount: one unit less falls short of the rounded-up USD.
    assert (got - 1) * price < math.ceil(Fraction(usd) * PRICE_SCALE) * unit


@FAST
@given(price=token_prices, multiple=st.integers(0, 10**9), unit=token_units)
def test_usd_to_tokens_exact_amounts_round_trip(price: int, multiple: int, unit: int) -> None:
    # Pick a token amount whose USD value is a whole number of price units: that exact amount
    # must come back, never one more.
    tokens = multiple * (unit // math.gcd(price, unit))
    usd_units = tokens * price // unit
    assume(usd_units <= 10**15)  # up to 10 million USD: far beyond any single quote
    assert usd_units * unit == tokens * price
    assert usd_to_tokens_ceil(usd_units / PRICE_SCALE, price, unit) == tokens


# --- collateral and payout ---------------------------------------------------------------------


def test_max_payout_truncates() -> None:
    assert max_payout_usd_units(60_000 * USD, TENTH_BTC) == 6_000 * USD
    assert max_payout_usd_units(3, 1) == 0  # 3e-8 x 1e-8 truncates to 0
    assert max_payout_usd_units(123_456_789, 50_000_001) == 123_456_789 * 50_000_001 // SATS


def test_collateral_stx_example() -> None:
    # Strike 60,000 USD, 0.1 BTC: max payout 6,000 USD; ratio 100%; STX at 0.50 -> 12,000 STX.
    assert collateral_tokens(60_000 * USD, TENTH_BTC, 10_000, 50_000_000, USTX) == 12_000_000_000


def test_collateral_sbtc_example() -> None:
    # Same policy, conservative tier (110%), sBTC at BTC-USD 60,000: 6,600 USD = 0.11 sBTC.
    assert collateral_tokens(60_000 * USD, TENTH_BTC, 11_000, 60_000 * USD, SBTC) == 11_000_000
    # Aggressive tier (90%) with BTC at 70,000: 5,400 USD / 70,000 = 0.0771428571.. -> 7_714_286
    # (v2: collateral rounds up, so the cap never falls short of the cover).
    assert collateral_tokens(60_000 * USD, TENTH_BTC, 9_000, 70_000 * USD, SBTC) == 7_714_286


@FAST
@given(
    strike=st.integers(1, 10**13),
    amount=st.integers(1, 10**10),
    ratio=st.integers(1, 20_000),
    price=token_prices,
    unit=token_units,
)
def test_collateral_matches_protocol_formula(
    strike: int, amount: int, ratio: int, price: int, unit: int
) -> None:
    max_payout = strike * amount // 100_000_000
    cover = max_payout * ratio // 10000
    expected = -(-cover * unit // price)
    assert collateral_tokens(strike, amount, ratio, price, unit) == expected
    # Rounding up never understates the truncated cover.
    assert expected * price >= cover * unit


# --- tiers -------------------------------------------------------------------------------------


def test_tier_boundaries() -> None:
    spot = 100_000 * USD
    assert tier_for_strike(80_000 * USD - 1, spot) == 0
    assert tier_for_strike(80_000 * USD, spot) == 1  # exactly 80% is balanced
    assert tier_for_strike(95_000 * USD - 1, spot) == 1
    assert tier_for_strike(95_000 * USD, spot) == 2  # exactly 95% is aggressive
    assert tier_for_strike(spot, spot) == 2
    assert tier_for_strike(2 * spot, spot) == 2
    assert tier_for_strike(1, spot) == 0


def test_tier_custom_bounds_and_odd_spot() -> None:
    # Spot not divisible by 100: the boundary is a fraction of a unit, decided exactly.
    spot = 12_345
    assert tier_for_strike(9_876, spot) == 1  # 9876 * 1e4 = 98_760_000 >= 12345 * 8000
    assert tier_for_strike(9_875, spot) == 0  # 98_750_000 < 98_760_000
    assert tier_for_strike(50, 100, tier1_bps=5000, tier2_bps=6000) == 1
    assert tier_for_strike(60, 100, tier1_bps=5000, tier2_bps=6000) == 2
    with pytest.raises(ValueError):
        tier_for_strike(1, 0)


# --- protocol v2: the capped put and the chain's premium floors --------------------------------


def test_capped_put_is_a_put_spread_and_never_above_the_plain_put() -> None:
    spot, strike, amount, blocks, vol = 65_000 * USD, 60_000 * USD, TENTH_BTC, 4320, 0.6
    plain = bs_put(65_000, 60_000, blocks / (144 * 365), vol) * 0.1
    # a cap at the worst case (price to 0) never binds: the plain put
    assert capped_put_usd(spot, strike, amount, blocks, vol, 0.0, 6_000.0) == pytest.approx(plain)
    # a 1,000 USD cap on 0.1 BTC: the payoff stops once the price is 10,000 below the strike
    spread = plain - bs_put(65_000, 50_000, blocks / (144 * 365), vol) * 0.1
    capped = capped_put_usd(spot, strike, amount, blocks, vol, 0.0, 1_000.0)
    assert capped == pytest.approx(spread) and 0 < capped < plain
    assert capped_put_usd(spot, strike, amount, blocks, vol, 0.0, 0.0) == 0.0


def test_premium_floor_is_the_largest_of_the_chains_three_bounds() -> None:
    terms = dict(spot=65_000 * USD, amount_sats=TENTH_BTC, token_price=50_000_000,
                 token_unit=USTX, min_premium=USTX // 10, capital_rate_bps=200)  # fmt: skip
    # in the money by 5,000 USD on 0.1 BTC: 500 USD = 1,000 STX of intrinsic value
    itm = premium_floor(strike=70_000 * USD, collateral=14_000 * USTX, blocks=144, **terms)
    assert itm == intrinsic_tokens_ceil(70_000 * USD, 65_000 * USD, TENTH_BTC, 50_000_000, USTX)
    assert itm == 1_000 * USTX
    # far out of the money for 90 days: the capital charge on 12,000 STX, rounded up
    otm = premium_floor(strike=60_000 * USD, collateral=12_000 * USTX, blocks=12_960, **terms)
    assert otm == capital_charge(12_000 * USTX, 200, 12_960) == 59_178_083
    # a short dust policy: the token's minimum
    dust = premium_floor(strike=60_000 * USD, collateral=1, blocks=144, **terms)
    assert dust == USTX // 10
