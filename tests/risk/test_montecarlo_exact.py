"""The engine's integer maths against Python's unbounded integers, including where int64 products
overflow: a payout that is off by one unit would make the Monte Carlo disagree with the chain."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.protocol import PRICE_SCALE
from risk import montecarlo as mc
from risk.montecarlo import payout_usd, usd_to_tokens
from tests.conftest import examples


@settings(deadline=None, max_examples=examples(300))
@given(
    st.lists(
        st.tuples(
            st.integers(1, 9 * 10**14),  # strike
            st.integers(1, 9 * 10**14),  # price
            st.integers(1, 10**10),  # amount (the parameters' max)
            st.integers(1, 9 * 10**14),  # token price
            st.sampled_from([1_000_000, 100_000_000]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_payout_and_conversion_equal_python_integers(rows):
    k, p, a, tp, u = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    usd = payout_usd(k, p, a)
    want_usd = [max(0, ki - pi) * ai // PRICE_SCALE for ki, pi, ai, _, _ in rows]
    assert usd.tolist() == want_usd
    small = [
        x * ui // tpi < 4 * 10**18 for x, (_, _, _, tpi, ui) in zip(want_usd, rows, strict=True)
    ]
    keep = np.array(small)
    got = usd_to_tokens(usd[keep], u[keep], tp[keep])
    want = [x * r[4] // r[3] for x, r, s in zip(want_usd, rows, small, strict=True) if s]
    assert got.tolist() == want


def test_exact_on_values_whose_product_overflows_int64():
    strike = np.array([6_500_000_000_000, 9 * 10**14], dtype=np.int64)
    price = np.array([1, 7], dtype=np.int64)
    amount = np.array([10**10, 10**10 - 1], dtype=np.int64)
    got = payout_usd(strike, price, amount)
    assert got.tolist() == [(int(s) - int(q)) * int(m) // PRICE_SCALE
                            for s, q, m in zip(strike, price, amount, strict=True)]  # fmt: skip


@settings(deadline=None, max_examples=examples(300))
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2 * 10**15 - 1),  # quotient below the two-comparison path's limit
            st.integers(1, 9 * 10**14),  # divisor
            st.integers(-2, 2),  # offset from an exact multiple (remainders c-2 .. 2)
            st.sampled_from([1, 100, 1_000_000, 100_000_000]),  # multiplier
        ),
        min_size=1,
        max_size=40,
    )
)
def test_floor_division_with_a_float_estimate_on_both_sides_of_exact_multiples(rows):
    """`a * b // c` where the product sits at, just below and just above a multiple of `c`:
    the float estimate's floor is off by one there, and the correction must find it."""
    a, b, c = [], [], []
    for q, div, off, mul in rows:
        prod = max(q * div + off, 0)  # q * div + off, with a = prod // mul so b = mul
        if prod // mul >= 2**62:  # a must be an int64
            continue
        a.append(prod // mul)
        b.append(mul)
        c.append(div)
    a_, b_, c_ = (np.array(x, dtype=np.int64) for x in (a, b, c))
    want = [x * y // z for x, y, z in zip(a, b, c, strict=True)]
    if want and max(want) < 4 * 10**18:
        assert mc._floor_div_exact(a_, b_, c_).tolist() == want


def test_floor_division_where_the_float_estimate_falls_below_and_above():
    """Found by search: products past 2^53 whose float quotient's floor is one unit low (the
    first) and one unit high (the second)."""
    a = np.array([2_804_580_241_356_800_765, 4_252_784_170_123_613_561], dtype=np.int64)
    c = np.array([18_673_208_319_181, 2_108_315_106_453], dtype=np.int64)
    est = np.floor(a.astype(np.float64) * 1e8 / c)
    want = [int(x) * 10**8 // int(z) for x, z in zip(a, c, strict=True)]
    assert est.tolist() == [want[0] - 1, want[1] + 1]  # both corrections are exercised
    assert mc._floor_div_exact(a, 10**8, c).tolist() == want
