"""Console lines people can read, from the engine's event records.

The JSONL event log stays the machine record (integers in protocol units, Unix seconds). The
console shows the same decisions with a level, an ISO time, and amounts in USD, STX and BTC,
so an operator sees why nothing happens (`oracle-no-quorum`, node errors) without opening a file.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chain.protocol import PRICE_SCALE, SATS, TOKEN_NAMES, TOKEN_UNIT

WARN = {
    "oracle-no-quorum",
    "exchange-error",
    "node-error",
    "oracle-push-failed",
    "tx-failed",
    "tx-refused",
    "tx-lost",
    "tx-send-unanswered",
    "tx-resend-refused",
    "settle-failed",
    "set-locked-failed",
    "quote-circuit-open",
}
DEBUG = {"quote", "quote-refused", "push-request"}
PRICE_FIELDS = {"price", "latest", "strike", "spot"}
UNITS = {token: (TOKEN_NAMES[token], unit) for token, unit in TOKEN_UNIT.items()}


def level(kind: str) -> int:
    if kind in WARN:
        return logging.WARNING
    return logging.DEBUG if kind in DEBUG else logging.INFO


def usd(price: int) -> str:
    return f"{Decimal(price) / PRICE_SCALE:,.2f} USD"


def btc(sats: int) -> str:
    return f"{Decimal(sats) / SATS:f} BTC"


def tokens(amount: int, token: int) -> str:
    name, unit = UNITS.get(token, ("units", 1))
    return f"{Decimal(amount) / unit:f} {name}"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def line(kind: str, fields: dict[str, Any]) -> str:
    """`oracle-push BTC-USD price=65,000.00 USD reason=first`: one event, units shown."""
    token = fields.get("token", 0)
    parts = [kind]
    for key, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, int):
            shown = value
        elif key in PRICE_FIELDS:
            shown = usd(value)
        elif key == "amount" and kind.startswith("quote"):
            shown = btc(value)
        elif key in ("premium", "collateral", "payout", "paid"):
            shown = tokens(value, token)
        elif key == "fee":
            shown = tokens(value, 0)
        else:
            shown = value
        parts.append(f"{key}={shown}")
    return " ".join(str(p) for p in parts)


class IsoFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso(record.created)


def setup(verbose: bool = False) -> None:
    """Console logging for `run.py live`: ISO time, level, message, on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(IsoFormatter("%(asctime)s %(levelname)-7s %(message)s"))
    root = logging.getLogger("bithedge")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
