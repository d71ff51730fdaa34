"""The Monte Carlo engine against the chain, against Black-Scholes, and against itself.

The first test is the one that matters: one actor simulation (flash crash deep enough to make
tranches short), its book and the oracle prices its settlements read, replayed through
`montecarlo.settle`; every owed amount, every paid amount and the final tranche assets must
equal the chain's to the unit.
"""

from __future__ import annotations

import csv
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.protocol import PRICE_SCALE, TOKEN_UNIT
from risk import montecarlo as mc
from risk.book import PoolTerms, make_book, read_csv
from risk.paths import Grid, PriceModel, fixings, simulate
from risk.pricing import bs_put
from scenarios import config
from scenarios.runner import run
from scenarios.study import provider_deposits
from tests.conftest import examples


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mc") / "run"
    scenario = config.load(
        "flash-crash",
        ["crash.change=-0.9", "policies=60", "providers.stx_each=20000",
         "providers.sbtc_each=0.5", "buyers.rate_per_hour=1", "days=1.5", "drain_days=0.5",
         "crash.start_hours=20"],
    )  # fmt: skip
    report = run(scenario, 3, out)
    return out, scenario, report


def test_capped_payouts_equal_the_actor_simulation_to_the_unit(crash_run):
    out, scenario, _report = crash_run
    with (out / "policies.csv").open() as f:
        rows = list(csv.DictReader(f))
    settled = [r for r in rows if r["status"] in ("1", "2")]
    assert len(settled) >= 50
    book = read_csv(out / "policies.csv")
    done = np.array([r["status"] in ("1", "2") for r in rows])
    big = np.iinfo(np.int64).max
    names = {"btc_price": "btc_price_e8", "token_price": "token_price_e8",
             "settled_block": "settled_stacks_block", "settle_seq": "settle_seq",
             "purchased_block": "purchased_stacks_block", "payout": "payout_token_units",
             "paid": "paid_token_units"}  # policies.csv's unit-named columns  # fmt: skip
    col = {k: np.array([int(r[c]) if r[c] else 0 for r in rows], dtype=np.int64)
           for k, c in names.items()}  # fmt: skip
    # policies still active at the end: never settle, owe nothing, but their premiums count
    btc = np.where(done, col["btc_price"], book.strike)[None, :]
    tok = np.where(done, col["token_price"], 1)[None, :]
    settle_key = np.where(done, col["settled_block"], big)
    # a purchase in the same block as a settlement of its tranche would make the order ambiguous
    for k in range(6):
        mine = book.tranche == k
        assert not set(col["purchased_block"][mine]) & set(settle_key[mine & done])
    deposits = provider_deposits(scenario.values)
    s = mc.settle(book, deposits, btc, tok, settle_key, col["purchased_block"],
                  tiebreak=col["settle_seq"])  # fmt: skip
    assert s.owed[0][done].tolist() == col["payout"][done].tolist()
    assert s.paid[0][done].tolist() == col["paid"][done].tolist()
    claim = np.array([int(r["claim_token_units"] or 0) for r in rows], dtype=np.int64)
    settled_itm = done & (col["payout"] > 0)
    assert s.claim[0][settled_itm].tolist() == claim[settled_itm].tolist()
    # v2: every claim paid in full up to its cap, and the crash makes the cap bind
    assert int((col["payout"] - col["paid"]).sum()) == 0
    assert int((s.owed - s.paid)[0][done].sum()) == 0
    capped = settled_itm & (claim > col["payout"])
    assert capped.any(), "the run must exercise the collateral cap"
    assert (col["payout"][capped] == book.collateral[capped]).all()
    # final tranche assets: deposits + premiums - paid, against the pool's own last state
    with (out / "metrics.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    for token, unit in ((0, "ustx"), (1, "sats")):
        mine = book.token == token
        assets = sum(deposits[token * 3 + t] for t in range(3))
        assets += int(book.premium[mine].sum()) - int(s.paid[0][mine].sum())
        assert assets == int(last[f"assets_{unit}"])


@st.composite
def _books(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        rows.append({
            "id": i + 1, "amount": draw(st.integers(1, 10**9)),
            "strike": draw(st.integers(10**11, 10**13)), "expiration": 10,
            "token": draw(st.integers(0, 1)), "tier": draw(st.integers(0, 2)),
            "premium": draw(st.integers(0, 10**9)),
            "collateral": draw(st.integers(1, 10**12)), "purchased": 0,
        })  # fmt: skip
    book = make_book(rows)
    prices = [draw(st.integers(10**10, 10**13)) for _ in range(n)]
    tok = [draw(st.integers(10**6, 10**13)) for _ in range(n)]
    settle_at = [draw(st.integers(0, 5)) for _ in range(n)]
    bought_at = [draw(st.integers(0, 5)) for _ in range(n)]
    deposits = tuple(draw(st.integers(0, 10**10)) for _ in range(6))
    return book, prices, tok, settle_at, bought_at, deposits


@settings(deadline=None, max_examples=examples(200))
@given(_books())
def test_vectorised_settlement_equals_the_contract_rules_one_by_one(case):
    book, prices, tok, settle_at, bought_at, deposits = case
    s = mc.settle(book, deposits, np.array([prices]), np.array([tok]), np.array(settle_at),
                  np.array(bought_at))  # fmt: skip
    # reference: events in time order, purchases before settlements at equal keys, ids ascending
    assets = list(deposits)
    events = sorted([(bought_at[i], 0, i) for i in range(len(book))]
                    + [(settle_at[i], 1, i) for i in range(len(book))])  # fmt: skip
    for _, kind, i in events:
        k = int(book.tranche[i])
        if kind == 0:
            assets[k] += int(book.premium[i])
            continue
        strike, amount = int(book.strike[i]), int(book.amount[i])
        usd = (strike - prices[i]) * amount // PRICE_SCALE if strike > prices[i] else 0
        owed = min(usd * TOKEN_UNIT[int(book.token[i])] // tok[i], int(book.collateral[i]))
        paid = min(owed, assets[k])
        assets[k] -= paid
        assert int(s.owed[0, i]) == owed
        assert int(s.paid[0, i]) == paid


def _single_put_spec(strike_frac: float, days: int, vol: float) -> mc.Spec:
    model = PriceModel(model="gbm", btc_vol=vol, btc_drift=0.0)
    strike = int(model.btc_start * strike_frac) * PRICE_SCALE
    book = make_book(
        [
            {
                "id": 1,
                "amount": 100_000_000,
                "strike": strike,
                "expiration": days * 144,
                "token": 1,
                "tier": 1,
                "premium": 1,
                "collateral": 2**60,
            }
        ]
    )  # fmt: skip  (a cap that never binds)
    return mc.Spec(book, PoolTerms(deposits=(0, 0, 0, 0, 10**15, 0)), model, Grid(days))


@pytest.mark.parametrize(("strike_frac", "days", "vol"), [(1.0, 30, 0.55), (0.8, 60, 0.8)])
def test_expected_put_payout_matches_black_scholes_within_mc_error(strike_frac, days, vol):
    spec = _single_put_spec(strike_frac, days, vol)
    res = mc.run(spec, 100_000, seed=11)
    pay = res["payouts_usd"]  # one BTC protected: USD per BTC
    mean, se = pay.mean(), pay.std(ddof=1) / math.sqrt(len(pay))
    strike = spec.book.strike[0] / PRICE_SCALE
    want = bs_put(spec.model.btc_start, strike, days / 365, vol)
    assert abs(mean - want) < 3 * se + 0.01, (mean, want, se)


def test_same_seed_same_numbers_and_the_map_does_not_matter():
    spec = _single_put_spec(0.9, 20, 0.6)
    spec = mc.Spec(spec.book, spec.pool, spec.model, spec.grid, chunk_size=300)
    a = mc.run(spec, 1000, seed=5)
    b = mc.run(spec, 1000, seed=5)
    with ProcessPoolExecutor(2) as pool:
        c = mc.run(spec, 1000, seed=5, map_fn=pool.map)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key], c[key])
    d = mc.run(spec, 1000, seed=6)
    assert not np.array_equal(a["payouts_usd"], d["payouts_usd"])


@pytest.mark.parametrize("model", ["gbm", "jump", "garch"])
def test_price_models_are_martingales_at_zero_drift(model):
    pm = PriceModel(model=model, btc_drift=0.0)
    btc, stx = simulate(pm, Grid(60), 40_000, np.random.default_rng(3))
    for paths, start in ((btc, pm.btc_start), (stx, pm.stx_start)):
        end = paths[:, -1] / PRICE_SCALE / start
        assert abs(end.mean() - 1) < 4 * end.std() / math.sqrt(len(end))


def test_correlation_of_daily_log_returns():
    pm = PriceModel(correlation=0.6)
    btc, stx = simulate(pm, Grid(200), 2000, np.random.default_rng(4))
    rb, rs = np.diff(np.log(btc), axis=1).ravel(), np.diff(np.log(stx), axis=1).ravel()
    assert np.corrcoef(rb, rs)[0, 1] == pytest.approx(0.6, abs=0.01)


def test_crash_multiplies_both_assets():
    pm = PriceModel(btc_vol=1e-9, stx_vol=1e-9, crash_depth=0.5, crash_day=2, crash_days=4)
    btc, stx = simulate(pm, Grid(10), 3, np.random.default_rng(0))
    assert btc[0, 2] == pytest.approx(pm.btc_start * 1e8, rel=1e-6)
    assert btc[0, 6] == pytest.approx(pm.btc_start * 0.5e8, rel=1e-6)
    assert stx[0, 6] == pytest.approx(pm.stx_start * 0.5e8, rel=1e-6)


def test_wilson_interval_published_value():
    # Newcombe (1998), Statistics in Medicine 17:857, example 81/263: Wilson 0.2553-0.3662
    lo, hi = mc.wilson(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    assert mc.wilson(0, 1000)[0] == 0.0


def _one_put(deposit: int) -> tuple[mc.Spec, np.ndarray, np.ndarray]:
    book = make_book(
        [
            {
                "id": 1,
                "amount": 100_000_000,
                "strike": 60_000 * PRICE_SCALE,
                "expiration": 288,
                "token": 1,
                "tier": 1,
                "premium": 1_000_000,
                "collateral": 2**60,
            }
        ]
    )  # fmt: skip  (uncapped: a book v2 refuses)
    deposits = (0, 0, 0, 0, deposit, 0)
    spec = mc.Spec(book, PoolTerms(deposits=deposits), PriceModel(), Grid(3))
    btc = np.array([[65_000, 50_000, 40_000, 40_000]], dtype=np.int64) * PRICE_SCALE
    stx = np.full_like(btc, PRICE_SCALE // 2)
    return spec, btc, stx


@pytest.mark.parametrize("deposit", [10_000_000, 100_000_000])
def test_coverage_ruin_and_share_price_by_hand(deposit):
    spec, btc, stx = _one_put(deposit)
    res = mc.evaluate(spec, btc, stx)
    assets = deposit + 1_000_000
    # need: strike x amount x 100% (balanced tier) in price units; required in sats = need / price
    need = 60_000 * PRICE_SCALE
    for t, price in ((0, 65_000), (1, 50_000)):
        required = need * 100_000_000 / (price * PRICE_SCALE)
        assert res["coverage"][0, t] == pytest.approx(assets / required, rel=1e-6)
    assert np.isnan(res["coverage"][0, 2:]).all()  # settled at day 2: nothing left to cover
    # settled at the fixing: the 6 blocks before day 2 on the line from 50,000 (day 1) to
    # 40,000, i.e. 40,000 + 10,000 x (1 + .. + 6) / 144 / 6 = 40,243.05… USD
    fixing = (40_000 * PRICE_SCALE * 144 * 6 + 10_000 * PRICE_SCALE * 21) // (144 * 6)
    owed = (60_000 * PRICE_SCALE - fixing) * 100_000_000 // fixing  # about 0.49 BTC
    paid = min(owed, assets)
    assert bool(res["ruin"][0]) == (paid < owed)
    assert res["ruin_day"][0] == 2.0 if paid < owed else np.isnan(res["ruin_day"][0])
    assert res["share_price_end"][0, 4] == pytest.approx((assets - paid) / deposit)
    owed_usd = (60_000 * PRICE_SCALE - fixing) / PRICE_SCALE  # 1 BTC's intrinsic value
    assert res["payouts_usd"][0] == pytest.approx(owed_usd)
    short_usd = owed_usd * (owed - paid) / owed
    assert res["shortfall_usd"][0] == pytest.approx(short_usd)


def test_var_and_expected_shortfall_on_a_known_sample():
    loss = np.arange(1, 1001, dtype=np.float64)
    got = mc.var_es(loss, 0.95)
    assert got["var"] == 951.0 and got["es"] == pytest.approx(975.5)
    assert got["var_ci95_low"] < got["var"] < got["var_ci95_high"]


def test_run_off_on_simulated_paths_equals_a_scalar_replay():
    """Purchases spread over the horizon (premiums arrive on their day), settlements by day and
    id: ruin, its day and every payout as a plain loop over days and policies gives them."""
    rng = np.random.default_rng(9)
    n, days = 150, 60
    bought = rng.integers(0, 40, n)
    rows = [{"id": i + 1, "amount": int(rng.integers(10**6, 5 * 10**7)),
             "strike": int(rng.integers(45_000, 66_000)) * PRICE_SCALE,
             "expiration": int(bought[i] + rng.integers(1, 21)) * 144,
             "token": int(rng.integers(0, 2)), "tier": int(rng.integers(0, 3)),
             "premium": int(rng.integers(10**5, 10**8)), "collateral": 2**60,
             "purchased": int(bought[i]) * 144} for i in range(n)]  # fmt: skip
    book = make_book(rows)
    pool = PoolTerms(deposits=(3 * 10**10,) * 3 + (5 * 10**7,) * 3)
    spec = mc.Spec(book, pool, PriceModel(model="jump", btc_vol=0.9), Grid(days))
    btc, stx = simulate(spec.model, spec.grid, 200, np.random.default_rng(1))
    res = mc.evaluate(spec, btc, stx)
    s_step, p_step = spec.grid.step_of(book.expiration), spec.grid.step_of(book.purchased)
    # settlement reads the fixings of the expiry's point, not its price
    fix_btc, fix_stx = fixings(btc, spec.grid), fixings(stx, spec.grid)
    ruined_somewhere = False
    for p in range(btc.shape[0]):
        assets, first, owed_total = list(pool.deposits), None, 0
        for t in range(days + 1):
            for i in np.flatnonzero(p_step == t):
                assets[int(book.tranche[i])] += int(book.premium[i])
            for i in np.flatnonzero(s_step == t):
                strike, amount, tok = int(book.strike[i]), int(book.amount[i]), int(book.token[i])
                b = int(fix_btc[p, t])
                usd = (strike - b) * amount // PRICE_SCALE if strike > b else 0
                owed = usd * TOKEN_UNIT[tok] // (int(fix_stx[p, t]) if tok == 0 else b)
                k = int(book.tranche[i])
                paid = min(owed, assets[k])
                assets[k] -= paid
                owed_total += usd
                if paid < owed and first is None:
                    first = t
        assert bool(res["ruin"][p]) == (first is not None)
        if first is not None:
            ruined_somewhere = True
            assert res["ruin_day"][p] == first
        assert res["payouts_usd"][p] == pytest.approx(owed_total / PRICE_SCALE)
        for k in range(6):
            if pool.deposits[k]:
                assert res["share_price_end"][p, k] == pytest.approx(assets[k] / pool.deposits[k])
    assert ruined_somewhere and not res["ruin"].all()


def test_garch_keeps_the_long_run_vol_and_fattens_the_tails():
    grid = Grid(365)
    g_btc, _ = simulate(PriceModel(model="garch"), grid, 2000, np.random.default_rng(2))
    n_btc, _ = simulate(PriceModel(model="gbm"), grid, 2000, np.random.default_rng(2))
    g, n = np.diff(np.log(g_btc), axis=1).ravel(), np.diff(np.log(n_btc), axis=1).ravel()
    assert g.std() * math.sqrt(365) == pytest.approx(0.55, rel=0.03)

    def kurtosis(x):
        x = x - x.mean()
        return (x**4).mean() / (x**2).mean() ** 2

    assert kurtosis(n) == pytest.approx(3.0, abs=0.05)
    assert kurtosis(g) > 3.3  # GARCH(1,1) with alpha 0.08, beta 0.9: excess kurtosis


def test_fixings_average_the_window_before_each_point():
    """PROTOCOL.md v2: settlement is at the average of the 6 blocks before the expiry. With a
    point every 144 blocks the line between points gives each block's price; with a point
    every block it is the plain average of the 6 points before."""
    prices = np.array([[100, 244, 388, 100]], dtype=np.int64) * 1_000
    got = fixings(prices, Grid(3))
    # column 1: 244,000 - 144,000 x (1 + .. + 6) / 144 / 6 = 244,000 - 3,500
    assert got.tolist() == [[100_000, 240_500, 384_500, 100_000 + 288_000 * 21 // 864]]
    fine = np.arange(20, dtype=np.int64)[None, :] * 6
    got = fixings(fine, Grid(19, step_blocks=1))
    assert got[0, 10] == sum(fine[0, 4:10]) // 6  # blocks E-6 .. E-1
    assert got[0, 0] == 0


def test_tier_minimum_is_each_tiers_own_and_coverage_the_lowest_tranche():
    """Two tranches at risk at once: the coverage at a step is the lower of the two, while each
    tier's minimum over time is its own tranche's (not the other's); a tier with nothing at
    risk stays NaN."""
    rows = [
        {"id": 1, "amount": 100_000_000, "strike": 60_000 * PRICE_SCALE, "expiration": 288,
         "token": 1, "tier": 1, "premium": 1_000_000, "collateral": 2**60},
        {"id": 2, "amount": 50_000_000, "strike": 62_000 * PRICE_SCALE, "expiration": 432,
         "token": 0, "tier": 0, "premium": 3_000_000, "collateral": 2**60},
    ]  # fmt: skip
    book = make_book(rows)
    deposits = (90_000_000_000, 0, 0, 0, 80_000_000, 0)
    pool = PoolTerms(deposits=deposits)
    spec = mc.Spec(book, pool, PriceModel(), Grid(4))
    btc = np.array([[65_000, 50_000, 40_000, 45_000, 47_000]], dtype=np.int64) * PRICE_SCALE
    stx = np.array([[0.5, 0.2, 0.9, 0.3, 0.3]]) * PRICE_SCALE
    stx = stx.astype(np.int64)
    res = mc.evaluate(spec, btc, stx)
    ratio = pool.collateral_bps
    need_sbtc = 60_000 * PRICE_SCALE * ratio[1] / 10_000  # 1 BTC x strike x the tier's ratio
    need_stx = 62_000 * PRICE_SCALE // 2 * ratio[0] / 10_000
    cov_sbtc = [(80_000_000 + 1_000_000) * (btc[0, t] / 1e8) / need_sbtc for t in (0, 1)]
    cov_stx = [(90_000_000_000 + 3_000_000) * (stx[0, t] / 1e6) / need_stx for t in (0, 1, 2)]
    # steps 0-1 both at risk, step 2 the STX policy alone (sBTC settled), none after
    want = [min(cov_sbtc[0], cov_stx[0]), min(cov_sbtc[1], cov_stx[1]), cov_stx[2]]
    np.testing.assert_allclose(res["coverage"][0, :3], want, rtol=1e-6)
    assert np.isnan(res["coverage"][0, 3:]).all()
    assert res["tier_min_coverage"][0, 0] == pytest.approx(min(cov_stx), rel=1e-12)
    assert res["tier_min_coverage"][0, 1] == pytest.approx(min(cov_sbtc), rel=1e-12)
    assert np.isnan(res["tier_min_coverage"][0, 2])
    assert min(cov_stx) != pytest.approx(min(cov_sbtc), rel=1e-3)  # the two must differ
