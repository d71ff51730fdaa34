"""risk/quote.py: the one quote-pricing function (the actor-side agreement is in
tests/actors/test_registry.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.messages import TrancheView
from chain.protocol import PRICE_SCALE, SATS, STX, TOKEN_UNIT
from risk.pricing import PricingParams, capital_charge, collateral_tokens
from risk.quote import Market, Priced, QuoteRules, Refusal, Vault, price_quote

USD = PRICE_SCALE
MARKET = Market(65_000 * USD, USD // 2, 65_000 * USD, USD // 2, 0.5)
BIG = Vault(10**15, 0)


def _quote(**kw) -> Priced | Refusal:
    terms = dict(
        amount=SATS // 10,
        strike=60_000 * USD,
        blocks=1_008,
        token=STX,
        tier=1,
        market=MARKET,
        rules=QuoteRules(),
        pricing=PricingParams(),
        tranche=BIG,
    )
    return price_quote(**{**terms, **kw})  # type: ignore[arg-type]


@given(
    st.integers(0, 10**15), st.integers(0, 10**15), st.integers(0, 10**15), st.integers(1, 10**4)
)
def test_a_study_vault_fits_as_the_pools_view_with_nothing_pending(assets, locked, coll, cap):
    view = TrancheView(STX, 1, assets, assets, locked, 0)
    assert Vault(assets, locked).fits(coll, cap) == view.fits(coll, cap)


def test_each_bound_names_its_refusal_in_the_registrys_order():
    assert _quote(blocks=144) == Refusal.DURATION  # the quote's ttl counts against min-duration
    assert _quote(blocks=12_961) == Refusal.DURATION
    assert _quote(amount=99_999, blocks=1) == Refusal.DURATION  # duration is checked first
    assert _quote(amount=99_999) == Refusal.AMOUNT
    assert _quote(strike=32_499 * USD) == Refusal.STRIKE  # 50% band around the chain's spot
    assert _quote(tranche=None) == Refusal.NO_LIQUIDITY
    assert _quote(tranche=Vault(0, 0)) == Refusal.NO_LIQUIDITY
    coll = collateral_tokens(60_000 * USD, SATS // 10, 10_000, USD // 2, TOKEN_UNIT[STX])
    # the cap: locked + collateral at most 75% of assets
    assert coll * 4 % 3 == 0
    assert _quote(tranche=Vault(coll * 4 // 3 - 1, 0)) == Refusal.CAPACITY
    assert isinstance(_quote(tranche=Vault(coll * 4 // 3, 0)), Priced)


def test_collateral_is_the_larger_of_the_two_prices_and_the_floor_binds_far_out():
    lower = Market(65_000 * USD, USD // 2, 65_000 * USD, USD * 4 // 10, 0.5)
    q = _quote(market=lower)
    assert isinstance(q, Priced)
    assert q.collateral == collateral_tokens(60_000 * USD, SATS // 10, 10_000, USD * 4 // 10,
                                             TOKEN_UNIT[STX])  # fmt: skip
    far = _quote(strike=33_000 * USD, tier=0, blocks=12_900)
    assert isinstance(far, Priced)
    assert far.premium == capital_charge(far.collateral, 200, 12_900)  # u320's floor
