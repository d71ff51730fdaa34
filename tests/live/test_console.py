"""Console lines people can read: levels, amounts in USD/STX/BTC, ISO times."""

from __future__ import annotations

import logging

from live import console


def test_prices_tokens_and_btc_are_shown_in_units():
    line = console.line(
        "oracle-push",
        {
            "asset": "BTC-USD",
            "price": 6_500_012_000_000,
            "latest": 6_500_012_000_000,
            "reason": "first",
        },
    )
    assert line == "oracle-push asset=BTC-USD price=65,000.12 USD latest=65,000.12 USD reason=first"
    line = console.line(
        "payout",
        {
            "policy": 7,
            "price": 5_000_000_000_000,
            "payout": 1_500_000,
            "paid": 1_500_000,
            "token": 0,
        },
    )
    assert line == ("payout policy=7 price=50,000.00 USD payout=1.5 STX paid=1.5 STX token=0")
    line = console.line("quote", {"amount": 10_000_000, "premium": 2_500, "token": 1})
    assert line == "quote amount=0.1 BTC premium=0.000025 sBTC token=1"
    assert console.line("tx-sent", {"fee": 2000, "nonce": 3}) == "tx-sent fee=0.002 STX nonce=3"


def test_levels_make_trouble_visible():
    assert console.level("oracle-no-quorum") == logging.WARNING
    assert console.level("node-error") == logging.WARNING
    assert console.level("quote") == logging.DEBUG
    assert console.level("payout") == logging.INFO


def test_times_are_iso_utc():
    assert console.iso(1_800_000_000) == "2027-01-15T08:00:00Z"
