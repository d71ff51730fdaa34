"""Policy books: admission as the registry quotes, CSV round trip, providers' deposits."""

from __future__ import annotations

import numpy as np
import pytest

from chain.contracts import TOKEN_UNIT
from risk.book import Demand, PoolTerms, admit, read_csv, write_csv
from risk.paths import PriceModel
from risk.pricing import (
    PRICE_SCALE,
    PricingParams,
    collateral_tokens,
    premium_usd,
    usd_to_tokens_ceil,
)
from scenarios import config
from scenarios.study import provider_deposits


def _demand(n: int, strike_usd: int = 60_000, days: int = 7, token: int = 1) -> Demand:
    return Demand(
        amount=np.full(n, 10_000_000, dtype=np.int64),
        strike=np.full(n, strike_usd * PRICE_SCALE, dtype=np.int64),
        blocks=np.full(n, days * 144, dtype=np.int64),
        token=np.full(n, token, dtype=np.int64),
    )


def test_admission_prices_like_the_registry_and_stops_at_the_cap():
    model = PriceModel()
    spot = 65_000 * PRICE_SCALE
    strike = 60_000 * PRICE_SCALE  # 92% of spot: balanced tier, collateral 100%, cap 75%
    deposit = 10 * TOKEN_UNIT[1]  # 10 sBTC
    pool = PoolTerms(deposits=(0, 0, 0, 0, deposit, 0))
    p = PricingParams()
    book = admit(_demand(200), pool, model, p)
    coll = collateral_tokens(strike, 10_000_000, 10_000, spot, TOKEN_UNIT[1])
    assets, locked, want = deposit, 0, []
    while (locked + coll) * 10_000 <= assets * 7_500:
        usd = premium_usd(spot, strike, 10_000_000, 7 * 144, 0.55, (locked + coll) / assets, p)
        want.append(usd_to_tokens_ceil(usd, spot, TOKEN_UNIT[1]))
        assets += want[-1]
        locked += coll
    assert 0 < len(book) == len(want) < 200
    assert book.premium.tolist() == want
    assert set(book.tier.tolist()) == {1} and set(book.collateral.tolist()) == {coll}
    assert book.premium[-1] > book.premium[0]  # the utilisation skew


@pytest.mark.parametrize(("days", "strike_usd"), [(1, 60_000), (91, 60_000), (7, 30_000)])
def test_admission_refuses_what_the_registry_refuses(days, strike_usd):
    pool = PoolTerms(deposits=(10**13,) * 3 + (10**10,) * 3)
    book = admit(_demand(3, strike_usd, days), pool, PriceModel(), PricingParams())
    assert len(book) == 0


def test_csv_round_trip_and_deposits(tmp_path):
    pool = PoolTerms(deposits=(10**13,) * 3 + (10**10,) * 3)
    book = admit(_demand(5, token=0), pool, PriceModel(), PricingParams())
    write_csv(tmp_path / "b.csv", book)
    back = read_csv(tmp_path / "b.csv")
    for col in ("ids", "amount", "strike", "expiration", "token", "tier", "premium",
                "collateral", "purchased"):  # fmt: skip
        assert getattr(back, col).tolist() == getattr(book, col).tolist()
    v = config.load("baseline").values
    dep = provider_deposits(v)
    assert sum(dep[:3]) == v["providers.count"] * int(v["providers.stx_each"] * 1_000_000)
    assert dep[4] == v["providers.count"] * int(v["providers.sbtc_each"] * 10**8 * 0.4)


@pytest.mark.parametrize("total", [0, 1, 7, 10**6 + 1, 800_000 * 10**6, 8 * 10**8 + 3])
def test_a_study_splits_deposits_as_the_simulated_providers_do(total):
    from sim.agents import split_deposit

    parts = split_deposit(total)
    assert sum(parts) == total and len(parts) == 3 and min(parts) >= 0
    v = {"providers.stx_each": total / 10**6, "providers.sbtc_each": 0.0, "providers.count": 3}
    dep = provider_deposits(v)
    assert dep[:3] == tuple(3 * p for p in split_deposit(int(total / 10**6 * 10**6)))
    assert dep[3:] == (0, 0, 0)
