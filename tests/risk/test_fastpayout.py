"""The fast payout mode against the exact per-policy mode (within the bound stated in
risk/fastpayout.py) and against the capped sBTC put's closed form (a put spread)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.contracts import TOKEN_UNIT
from risk import fastpayout as fp
from risk import montecarlo as mc
from risk.book import PoolTerms, make_book
from risk.paths import Grid, PriceModel, simulate
from risk.pricing import PRICE_SCALE, bs_put


def _owed(strike: int, price: int, amount: int, unit: int, token_price: int) -> int:
    """The contract's payout before the cap, in Python integers."""
    usd = max(0, strike - price) * amount // PRICE_SCALE
    return usd * unit // token_price


@settings(deadline=None, max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.integers(10**8, 9 * 10**14),  # strike
            st.integers(1, 10**10),  # amount
            st.integers(0, 10**11),  # collateral
        ),
        min_size=1,
        max_size=30,
    )
)
def test_sbtc_threshold_is_the_last_price_at_which_the_cap_binds(rows):
    k, a, c = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True))
    got = fp.sbtc_thresholds(k, a, c).tolist()
    unit = TOKEN_UNIT[1]
    for (strike, amount, col), t in zip(rows, got, strict=True):
        assert 0 <= t < strike
        if t > 0:
            assert _owed(strike, t, amount, unit, t) >= col
        nxt = t + 1
        assert nxt >= strike or _owed(strike, nxt, amount, unit, nxt) < col


def _mixed_book(n: int, rng: np.random.Generator, days: int) -> tuple:
    """Policies of both tokens and all tiers, their collateral taken at purchase prices that
    differ (so STX buckets are not uniform), some caps well inside the price range."""
    spot, stx = 65_000 * PRICE_SCALE, PRICE_SCALE // 2
    strike = (rng.uniform(0.6, 1.05, n) * spot).astype(np.int64)
    amount = rng.integers(10**5, 10**8, n)
    token = rng.integers(0, 2, n)
    at_price = np.where(token == 0, stx * rng.uniform(0.7, 1.4, n), spot * rng.uniform(0.8, 1.2, n))
    unit = np.where(token == 0, TOKEN_UNIT[0], TOKEN_UNIT[1])
    ratio = rng.uniform(0.2, 1.1, n)  # tiers' ratios and lower, so the cap often binds
    collateral = strike / PRICE_SCALE * amount / 1e8 * ratio * unit / (at_price / PRICE_SCALE)
    rows = [
        {"id": i + 1, "amount": int(amount[i]), "strike": int(strike[i]),
         "expiration": int(rng.integers(1, days + 1)) * 144, "token": int(token[i]),
         "tier": int(rng.integers(0, 3)), "premium": int(rng.integers(0, 10**6)),
         "collateral": int(collateral[i]), "purchased": 0}
        for i in range(n)
    ]  # fmt: skip
    return make_book(rows), PoolTerms(deposits=tuple(int(x) for x in rng.integers(0, 10**11, 6)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_exceeds_exact_by_at_most_the_stated_bound_per_expiry_and_tranche(seed):
    rng = np.random.default_rng(seed)
    days = 5
    book, pool = _mixed_book(400, rng, days)
    grid = Grid(days)
    model = PriceModel(btc_vol=1.5, stx_vol=2.0)  # wide moves: caps bind, puts and zeros mix
    spec = mc.Spec(book, pool, model, grid)
    btc, stx = simulate(model, grid, 300, np.random.default_rng(seed))
    ix = fp.build_index(book, grid, pool.deposits)
    fast = fp.settle_grouped(ix, btc, stx)
    step = grid.step_of(book.expiration)
    ex = mc.settle(book, pool.deposits, btc[:, step],
                   np.where(book.token == 0, stx[:, step], btc[:, step]), step,
                   grid.step_of(book.purchased))  # fmt: skip
    assert fp.choose(replace(spec, payout=mc.PayoutMode.FAST)) is mc.PayoutMode.FAST
    non_uniform = 0
    for t in range(6):
        for s in range(days + 1):
            mine = (book.tranche == t) & (step == s)
            segs = (ix.seg_tranche == t) & (ix.seg_step == s)
            if not mine.any():
                assert not segs.any()
                continue
            non_uniform += int(segs.sum()) > 1
            got = fast.owed[:, segs].sum(axis=1)
            want = ex.owed[:, mine].sum(axis=1)
            price = btc[:, s] if t >= 3 else stx[:, s]
            unit = TOKEN_UNIT[t // 3]
            n_put = (book.strike[mine][None, :] > btc[:, [s]]).sum(axis=1)
            eps = fp.STX_BUCKET_EPS * book.collateral[mine].sum() if t < 3 else 0
            bound = n_put * (1 + unit / price) + eps
            assert (got >= want).all()
            assert ((got == want) | (got - want < bound)).all()
            # the USD values are the same amounts at the settlement price (analytics)
            usd = fast.owed_usd[:, segs].sum(axis=1)
            np.testing.assert_allclose(usd, got * (price / unit), rtol=1e-9)
    assert non_uniform, "the book must exercise non-uniform STX buckets"


def _sbtc_book(n: int) -> tuple:
    """sBTC policies all expiring on day 30, strikes 80-110% of spot, collateral 20-60% of the
    amount: the cap binds where BTC falls below K * a / (a + C)."""
    rng = np.random.default_rng(5)
    strike = (rng.uniform(0.8, 1.1, n) * 65_000).astype(np.int64) * PRICE_SCALE
    amount = rng.integers(10**6, 10**8, n)
    collateral = (amount * rng.uniform(0.2, 0.6, n)).astype(np.int64)
    rows = [
        {"id": i + 1, "amount": int(amount[i]), "strike": int(strike[i]), "expiration": 30 * 144,
         "token": 1, "tier": int(i % 3), "premium": 0, "collateral": int(collateral[i]),
         "purchased": 0}
        for i in range(n)
    ]  # fmt: skip
    return make_book(rows)


@pytest.mark.parametrize("mode", [mc.PayoutMode.EXACT, mc.PayoutMode.FAST])
def test_capped_sbtc_payout_matches_the_put_spread_within_mc_error(mode):
    """Paid in BTC, the capped put's USD value is `a * put(K) - (a + C) * put(T)` with `T = K *
    a / (a + C)`: below T the policy pays C BTC, worth C * S."""
    book = _sbtc_book(60)
    vol, days = 0.8, 30
    model = PriceModel(model="gbm", btc_vol=vol)
    spec = mc.Spec(book, PoolTerms(deposits=(0, 0, 0) + (10**15,) * 3), model, Grid(days),
                   payout=mode)  # fmt: skip
    res = mc.run(spec, 40_000, seed=3)
    pay = res["payouts_usd"]
    mean, se = pay.mean(), pay.std(ddof=1) / math.sqrt(len(pay))
    want = 0.0
    for k, a, c in zip(book.strike / PRICE_SCALE, book.amount / 1e8, book.collateral / 1e8,
                       strict=True):  # fmt: skip
        want += a * bs_put(model.btc_start, k, days / 365, vol)
        want -= (a + c) * bs_put(model.btc_start, k * a / (a + c), days / 365, vol)
    assert abs(mean - want) < 3 * se + 0.01 * len(book), (mean, want, se)
    assert (res["capped_usd"] > 0).any(), "the caps must bind on some paths"


def test_auto_is_exact_for_a_sparse_book_and_fast_for_a_dense_one():
    book = _sbtc_book(60)  # 60 policies in 3 (expiry, tranche) segments
    pool = PoolTerms(deposits=(0, 0, 0) + (10**15,) * 3)
    dense = mc.Spec(book, pool, PriceModel(), Grid(30))
    assert fp.choose(dense) is mc.PayoutMode.FAST
    sparse = mc.Spec(book.subset(np.arange(len(book)) < 6), pool, PriceModel(), Grid(30))
    assert fp.choose(sparse) is mc.PayoutMode.EXACT
    assert fp.choose(replace(dense, payout=mc.PayoutMode.EXACT)) is mc.PayoutMode.EXACT


def test_both_modes_give_the_same_run_off_on_a_book_that_runs_short():
    """Ruin, its day and the tranche assets follow from cumulative payments at each step's
    end, which the grouped recursion reproduces; amounts differ only within the bound."""
    rng = np.random.default_rng(9)
    book, _ = _mixed_book(300, rng, 10)
    pool = PoolTerms(deposits=(3 * 10**12,) * 3 + (3 * 10**6,) * 3)
    spec = mc.Spec(book, pool, PriceModel(btc_vol=1.2, stx_vol=1.5), Grid(10), chunk_size=500)
    ex = mc.run(replace(spec, payout=mc.PayoutMode.EXACT), 1000, seed=4)
    fa = mc.run(replace(spec, payout=mc.PayoutMode.FAST), 1000, seed=4)
    assert 0 < ex["ruin"].mean() < 1, "the pool must run short on some paths only"
    # a path may tip into ruin only where the fast mode's few extra units decide it
    assert (ex["ruin"] != fa["ruin"]).mean() < 0.01
    same = ex["ruin"] == fa["ruin"]
    np.testing.assert_array_equal(ex["ruin_day"][same], fa["ruin_day"][same])
    np.testing.assert_allclose(fa["payouts_usd"], ex["payouts_usd"], rtol=1e-6, atol=1)
    np.testing.assert_allclose(fa["capped_usd"], ex["capped_usd"], rtol=1e-6, atol=1)


def test_fast_mode_on_a_book_that_settles_nothing_in_the_horizon():
    book = _sbtc_book(12)  # expiring on day 30
    pool = PoolTerms(deposits=(0, 0, 0) + (10**15,) * 3)
    spec = mc.Spec(book, pool, PriceModel(), Grid(10), payout=mc.PayoutMode.FAST)
    fast = mc.run(spec, 50, seed=1)
    exact = mc.run(replace(spec, payout=mc.PayoutMode.EXACT), 50, seed=1)
    for key in fast:
        np.testing.assert_array_equal(fast[key], exact[key])
    assert not fast["payouts_usd"].any()
