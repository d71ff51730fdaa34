"""The engine's integer maths against Python's unbounded integers, including where int64 products
overflow: a payout that is off by one unit would make the Monte Carlo disagree with the chain."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.protocol import PRICE_SCALE
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
