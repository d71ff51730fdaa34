"""What a run leaves behind: the ordered event log, per-burn-block metrics, the report.

Everything written is a pure function of the scenario and the seed: keys sorted, floats in
Python's shortest round-trip form, no wall-clock time, so two runs give identical bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from chain.clarity import ClarityValue, to_json
from chain.protocol import TRANCHES
from risk.book import UNIT_COLUMNS
from scenarios.tranches import coverage_column


def _default(value: Any) -> Any:
    if isinstance(value, ClarityValue):
        return to_json(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


class JsonlLog:
    """The run's `events.jsonl`: every transaction and actor decision, in order, with the
    virtual time. Hashes what it writes, so the report can carry the log's digest."""

    def __init__(self, path: Path | None, clock):
        self.clock = clock
        self.seq = 0
        self._hash = hashlib.sha256()
        self._file = path.open("w", encoding="utf-8", newline="\n") if path else None
        self._buffer = io.StringIO()

    def record(self, kind: str, **fields: Any) -> None:
        self.seq += 1
        line = dumps({"seq": self.seq, "t": round(self.clock(), 3), "kind": kind, **fields})
        self._buffer.write(line)
        self._buffer.write("\n")
        if self._buffer.tell() > 1 << 20:
            self._drain()

    def _drain(self) -> None:
        text = self._buffer.getvalue()
        self._hash.update(text.encode())
        if self._file is not None:
            self._file.write(text)
        self._buffer = io.StringIO()

    def close(self) -> str:
        """Flushes and returns the sha256 of everything written."""
        self._drain()
        if self._file is not None:
            self._file.close()
            self._file = None
        return self._hash.hexdigest()


METRIC_COLUMNS = (
    "burn_height",
    "time_s",
    "btc_true_usd",
    "btc_onchain_usd",
    "stx_true_usd",
    "stx_onchain_usd",
    "assets_ustx",
    "assets_sats",
    "locked_ustx",
    "locked_sats",
    "required_ustx",
    "required_sats",
    "coverage_ratio",
    "utilisation_ratio",
    "policies_active",
    "payouts_usd",
    "shortfall_usd",
    *(coverage_column(token, tier) for token, tier in TRANCHES),
)


def write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: _fmt(row.get(k)) for k in METRIC_COLUMNS})


# policies.csv: (column, the runner's key); each column's name carries its unit (README:
# "Output columns"). `_token_units` are micro-STX for token 0 and sats for token 1.
POLICY_COLUMNS = (
    ("id", "id"), *((UNIT_COLUMNS[k], k) for k in ("amount", "strike", "expiration")),
    ("token", "token"), ("tier", "tier"),
    *((UNIT_COLUMNS[k], k) for k in ("premium", "collateral", "purchased")),
    ("purchased_stacks_block", "purchased_block"), ("status", "status"),
    ("settled_burn_height", "settled"), ("settled_stacks_block", "settled_block"),
    ("settle_seq", "settle_seq"), ("btc_price_e8", "btc_price"),
    ("token_price_e8", "token_price"), ("payout_token_units", "payout"),
    ("paid_token_units", "paid"), ("claim_token_units", "claim"),
)  # fmt: skip


def write_policies(path: Path, rows: list[dict[str, Any]]) -> None:
    """`policies.csv`: every purchased policy's terms (no owner) and, once it ended, how.

    status 0 active at the end, 1 settled (paid out), 2 expired; `settled_burn_height` and
    `settled_stacks_block` where it settled, `settle_seq` its rank among all settlements;
    `btc_price_e8` and `token_price_e8` the oracle prices the contract read; `payout` owed and
    `paid` paid. Lets the Monte Carlo engine replay a run's book (risk/book.py) and check itself
    against the chain to the unit.
    """
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(column for column, _ in POLICY_COLUMNS)
        for row in rows:
            w.writerow(row.get(k, 0 if k == "status" else "") for _, k in POLICY_COLUMNS)


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "inf" if v == float("inf") else repr(round(v, 6))
    return v


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, sort_keys=True, indent=1, default=_default) + "\n")


def percentile(values: list[int], q: float) -> int | None:
    """Nearest-rank percentile of integers (no interpolation, so integers stay integers)."""
    if not values:
        return None
    s = sorted(values)
    rank = max(1, -(-len(s) * q // 100))
    return s[int(rank) - 1]
