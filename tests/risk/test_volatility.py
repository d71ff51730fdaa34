"""Realised volatility: recovers the sigma of simulated GBM paths, regular or irregular sampling,
and the incremental estimator agrees with the batch one and reacts as designed.

Paths are seeded numpy simulations, so every run sees the same numbers; tolerances are several
standard errors wide (12,960 ten-minute returns give sigma to about 0.6%).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from risk.volatility import SECONDS_PER_YEAR, VolEstimator, realised_vol

DAY = 86_400.0
TEN_MIN = 600.0


def gbm_path(
    dts: np.ndarray, sigma: np.ndarray | float, seed: int, mu: float = 0.0, s0: float = 60_000.0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact GBM sampled at the cumulative times of `dts` (seconds); sigma may vary per step."""
    rng = np.random.default_rng(seed)
    dt_years = dts / SECONDS_PER_YEAR
    sig = np.broadcast_to(np.asarray(sigma, dtype=float), dts.shape)
    steps = (mu - 0.5 * sig**2) * dt_years + sig * np.sqrt(dt_years) * rng.standard_normal(dts.size)
    times = np.concatenate(([0.0], np.cumsum(dts)))
    prices = s0 * np.exp(np.concatenate(([0.0], np.cumsum(steps))))
    return times, prices


def regular_dts(days: float, step: float = TEN_MIN) -> np.ndarray:
    return np.full(round(days * DAY / step), step)


# --- realised_vol ------------------------------------------------------------------------------


def test_constant():
    assert SECONDS_PER_YEAR == 31_536_000


def test_recovers_sigma_regular_sampling() -> None:
    times, prices = gbm_path(regular_dts(90), 0.6, seed=1)
    assert realised_vol(times, prices) == pytest.approx(0.6, rel=0.05)


def test_recovers_sigma_irregular_sampling() -> None:
    # Intervals from 1 minute to 19 minutes (mean 10), plus a few multi-hour outages.
    rng = np.random.default_rng(2)
    dts = rng.uniform(60, 1140, size=12_960)
    dts[rng.choice(dts.size, size=20, replace=False)] = 6 * 3600.0
    times, prices = gbm_path(dts, 0.6, seed=3)
    assert realised_vol(times, prices) == pytest.approx(0.6, rel=0.05)


def test_drift_does_not_bias() -> None:
    # A strong trend (+80%/year) is ignored by the zero-mean estimator at this sampling rate.
    times, prices = gbm_path(regular_dts(90), 0.6, seed=4, mu=0.8)
    assert realised_vol(times, prices) == pytest.approx(0.6, rel=0.05)


def test_constant_prices_give_floor() -> None:
    times = np.arange(100) * TEN_MIN
    assert realised_vol(times, np.full(100, 60_000.0), floor=0.2) == 0.2
    assert realised_vol(times, np.full(100, 60_000.0)) == 0.0


def test_degenerate_inputs_give_floor() -> None:
    assert realised_vol([], [], floor=0.2) == 0.2
    assert realised_vol([0.0], [100.0], floor=0.3) == 0.3
    assert realised_vol([5.0, 5.0], [100.0, 120.0], floor=0.25) == 0.25  # no elapsed time


def test_floor_applies_to_low_vol() -> None:
    times, prices = gbm_path(regular_dts(30), 0.1, seed=5)
    assert realised_vol(times, prices) == pytest.approx(0.1, rel=0.05)
    assert realised_vol(times, prices, floor=0.2) == 0.2


def test_hand_computed() -> None:
    # Two returns of +-ln(1.01) over one day: variance rate = 2 ln(1.01)^2 / (1/365).
    got = realised_vol([0.0, 43_200.0, 86_400.0], [100.0, 101.0, 100.0])
    assert got == pytest.approx(math.sqrt(2 * math.log(1.01) ** 2 * 365), rel=1e-12)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        realised_vol([0.0, 1.0], [100.0])
    with pytest.raises(ValueError):
        realised_vol([0.0, 1.0], [100.0, 0.0])
    with pytest.raises(ValueError):
        realised_vol([1.0, 0.0], [100.0, 101.0])


# --- VolEstimator ------------------------------------------------------------------------------


def feed(est: VolEstimator, times: np.ndarray, prices: np.ndarray) -> VolEstimator:
    for t, p in zip(times.tolist(), prices.tolist(), strict=True):
        est.update(t, p)
    return est


def test_empty_estimator_gives_floor() -> None:
    est = VolEstimator()
    assert est.value() == 0.20
    est.update(0.0, 100.0)
    assert est.value() == 0.20


def test_rolling_matches_batch_over_window() -> None:
    rng = np.random.default_rng(6)
    times, prices = gbm_path(rng.uniform(60, 1140, size=8_640), 0.7, seed=7)  # ~60 days
    window = 30 * DAY
    est = VolEstimator(window_seconds=window, floor=0.0)
    checkpoints = {1_000, 4_000, 5_000, 7_500, times.size - 1}
    for i, (t, p) in enumerate(zip(times.tolist(), prices.tolist(), strict=True)):
        est.update(t, p)
        if i in checkpoints:
            mask = (times >= t - window) & (times <= t)
            assert est.value() == pytest.approx(
                realised_vol(times[mask], prices[mask]), rel=1e-9
            ), f"at observation {i}"


def test_old_data_falls_out_of_window() -> None:
    # Ten wild days, then flat prices: once the wild returns are older than the window, the
    # estimate is back at the floor.
    times, prices = gbm_path(regular_dts(10), 2.0, seed=8)
    est = feed(VolEstimator(window_seconds=7 * DAY, floor=0.01), times, prices)
    assert est.value() == pytest.approx(2.0, rel=0.1)
    last_t, last_p = float(times[-1]), float(prices[-1])
    flat = last_t + np.arange(1, round(7 * DAY / TEN_MIN) + 2) * TEN_MIN
    for t in flat.tolist()[:-2]:
        est.update(t, last_p)
    assert est.value() > 0.03  # the last wild return (~6% annualised over 7 days) is still in
    for t in flat.tolist()[-2:]:
        est.update(t, last_p)
    assert est.value() == 0.01


def test_ignores_out_of_order_and_bad_prices() -> None:
    times, prices = gbm_path(regular_dts(5), 0.5, seed=9)
    clean = feed(VolEstimator(floor=0.0), times, prices)
    noisy = VolEstimator(floor=0.0)
    for t, p in zip(times.tolist(), prices.tolist(), strict=True):
        noisy.update(t, p)
        noisy.update(t, p * 3)  # repeated timestamp
        noisy.update(t - 1_000, p / 3)  # late sample
        noisy.update(t + 1, 0.0)  # non-positive price
        noisy.update(t + 1, -p)
        noisy.update(t + 1, math.nan)
    assert noisy.value() == clean.value()


def test_deterministic() -> None:
    times, prices = gbm_path(regular_dts(10), 0.5, seed=10)
    for halflife in (None, DAY):
        a = feed(VolEstimator(ewma_halflife_seconds=halflife), times, prices).value()
        b = feed(VolEstimator(ewma_halflife_seconds=halflife), times, prices).value()
        assert a == b


def test_ewma_recovers_stationary_sigma() -> None:
    times, prices = gbm_path(regular_dts(60), 0.6, seed=11)
    est = feed(VolEstimator(ewma_halflife_seconds=7 * DAY, floor=0.0), times, prices)
    assert est.value() == pytest.approx(0.6, rel=0.1)


def test_ewma_reacts_faster_to_vol_jump() -> None:
    # 30 days at 30% vol, then 3 days at 120%.
    calm, wild = round(30 * DAY / TEN_MIN), round(3 * DAY / TEN_MIN)
    sigma = np.concatenate((np.full(calm, 0.3), np.full(wild, 1.2)))
    times, prices = gbm_path(np.full(calm + wild, TEN_MIN), sigma, seed=12)
    rolling = VolEstimator(window_seconds=30 * DAY, floor=0.0)
    ewma = VolEstimator(window_seconds=30 * DAY, floor=0.0, ewma_halflife_seconds=DAY)
    for t, p in zip(times.tolist(), prices.tolist(), strict=True):
        rolling.update(t, p)
        ewma.update(t, p)
        if t == times[calm]:  # end of the calm period: both see ~30%
            assert rolling.value() == pytest.approx(0.3, rel=0.1)
            assert ewma.value() == pytest.approx(0.3, rel=0.2)
    # Rolling: sqrt((27 * 0.09 + 3 * 1.44) / 30) ~ 0.47; EWMA (1-day halflife): ~1.13.
    assert rolling.value() == pytest.approx(0.47, rel=0.1)
    assert ewma.value() > 0.9
    assert abs(ewma.value() - 1.2) < abs(rolling.value() - 1.2) / 4


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        VolEstimator(window_seconds=0)
    with pytest.raises(ValueError):
        VolEstimator(ewma_halflife_seconds=0)
