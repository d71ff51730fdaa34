"""Oracle aggregation and the deviation-cap clamp, as pure functions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.oracle import aggregate, clamp_to_cap, median


def test_median_of_odd_and_even_counts():
    assert median([5, 1, 3]) == 3
    assert median([4, 1, 3, 2]) == 2  # (2 + 3) // 2, integers only


def test_outliers_are_dropped_and_quorum_is_required():
    quotes = [("a", 100_000), ("b", 100_100), ("c", 99_900), ("d", 150_000)]
    assert aggregate(quotes, outlier_bps=200, quorum=3) == 100_000
    assert aggregate(quotes[:2], outlier_bps=200, quorum=3) is None
    # a manipulated majority cannot be told from the truth; a manipulated minority is ignored
    split = [("a", 100_000), ("b", 130_000), ("c", 131_000), ("d", 130_500)]
    assert aggregate(split, outlier_bps=200, quorum=3) == 130_500
    spread = [("a", 100_000), ("b", 110_000), ("c", 120_000)]
    assert aggregate(spread, outlier_bps=200, quorum=3) is None  # no three agree


@given(
    st.integers(1, 10**15),
    st.integers(1, 10**15),
    st.integers(0, 10_000),
)
def test_clamped_price_is_always_accepted_by_the_contract(target, onchain, cap):
    price = clamp_to_cap(target, onchain, cap)
    assert abs(price - onchain) * 10_000 <= onchain * cap  # the oracle contract's own rule
    if abs(target - onchain) * 10_000 <= onchain * cap:
        assert price == target  # within the cap, untouched
