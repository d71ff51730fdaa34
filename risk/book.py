"""The policy book and the pool it draws on: terms as integer columns, and where books come from.

A book is the set of policies whose run-off the Monte Carlo engine simulates: each policy's
integer terms exactly as the registry stored them (amount in sats, strike in price units,
expiration as a burn height, premium and collateral in token units, token, tier) and the burn
height it was bought at. Books come from a CSV here, or from a run folder or a scenario's
buyers (scenarios/study.py, which knows the knob names); `admit` prices and accepts candidates
with the registry actor's own function (risk/quote.py `price_quote`: the capped put with the
utilisation skew, the chain's floors, collateral from the tier's ratio, refusal above the
tier's utilisation cap), so caps and loadings can be stressed and calibrated on the same demand.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from chain.protocol import BLOCKS_PER_YEAR, BPS, STX
from risk.paths import PriceModel
from risk.pricing import PRICE_SCALE, SATS, PricingParams, bs_put, max_payout_usd_units
from risk.quote import Market, QuoteRules, Refusal, Vault, price_quote
from settings import ConfigError

COLUMNS = ("id", "amount", "strike", "expiration", "token", "tier", "premium", "collateral")
OPTIONAL = ("purchased",)
# a run's policies.csv names these columns with their units; a book CSV may use either name
UNIT_COLUMNS = {
    "amount": "amount_sats",
    "strike": "strike_price_e8",
    "expiration": "expiration_burn_height",
    "premium": "premium_token_units",
    "collateral": "collateral_token_units",
    "purchased": "purchased_burn_height",
}
_PLAIN_NAMES = {unit: plain for plain, unit in UNIT_COLUMNS.items()}
TIER_NAMES = ("conservative", "balanced", "aggressive")
TOKEN_NAMES = ("STX", "sBTC")
N_TRANCHES = 6  # index token * 3 + tier


@dataclass(frozen=True)
class PoolTerms(QuoteRules):
    """Tranche deposits (token units, index token*3+tier) and the quote rules they are sold
    under (risk/quote.py QuoteRules: the tier parameters, bounds and floors).

    Defaults are the parameters contract's (chain/protocol.py PARAMETER_DEFAULTS).
    """

    deposits: tuple[int, ...] = (0,) * N_TRANCHES


@dataclass(frozen=True, eq=False)
class Book:
    """Columns of integer terms, one row per policy, in id order."""

    ids: np.ndarray
    amount: np.ndarray
    strike: np.ndarray
    expiration: np.ndarray
    token: np.ndarray
    tier: np.ndarray
    premium: np.ndarray
    collateral: np.ndarray
    purchased: np.ndarray
    start_height: int = 0
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def tranche(self) -> np.ndarray:
        return self.token * 3 + self.tier

    def need_usd(self, pool: PoolTerms) -> np.ndarray:
        """Per policy: max payout x tier collateral ratio, in price units (truncating)."""
        ratio = np.asarray(pool.collateral_bps, dtype=np.int64)[self.tier]
        return np.array(
            [
                max_payout_usd_units(int(k), int(a)) * int(r) // BPS
                for k, a, r in zip(self.strike, self.amount, ratio, strict=True)
            ],
            dtype=np.int64,
        )

    def subset(self, keep: np.ndarray) -> Book:
        cols = {c: getattr(self, c)[keep] for c in _ARRAYS}
        return replace(self, **cols)


_ARRAYS = ("ids", "amount", "strike", "expiration", "token", "tier", "premium", "collateral",
           "purchased")  # fmt: skip


def make_book(
    rows: list[dict[str, int]], start_height: int = 0, source: str = "", allow_empty: bool = False
) -> Book:
    """A book from rows with the COLUMNS (and optionally `purchased`), validated."""
    if not rows and not allow_empty:
        raise ConfigError(f"--book: {source or 'the book'} holds no policies")
    cols = {c: np.array([r[c] for r in rows], dtype=np.int64) for c in COLUMNS}
    purchased = np.array([r.get("purchased", start_height) for r in rows], dtype=np.int64)
    for name, lo, hi in (
        ("amount", 1, 10**10),
        ("strike", 1, 9 * 10**14),
        ("token", 0, 1),
        ("tier", 0, 2),
        ("premium", 0, 2**62),
        ("collateral", 0, 2**62),
    ):
        bad = (cols[name] < lo) | (cols[name] > hi)
        if bad.any():
            i = int(np.argmax(bad))
            raise ConfigError(
                f"--book: policy {cols['id'][i]}: {name}={cols[name][i]} out of range; "
                f"allowed: an integer from {lo} to {hi}"
            )
    if (cols["expiration"] < purchased).any():
        i = int(np.argmax(cols["expiration"] < purchased))
        raise ConfigError(f"--book: policy {cols['id'][i]}: expiration before its purchase")
    order = np.argsort(cols["id"], kind="stable")
    return Book(
        ids=cols["id"][order],
        amount=cols["amount"][order],
        strike=cols["strike"][order],
        expiration=cols["expiration"][order],
        token=cols["token"][order],
        tier=cols["tier"][order],
        premium=cols["premium"][order],
        collateral=cols["collateral"][order],
        purchased=purchased[order],
        start_height=start_height,
        source=source,
    )


def read_csv(path: Path, start_height: int | None = None) -> Book:
    """A book from a CSV with the COLUMNS, each under its plain or its UNIT_COLUMNS name (extra
    columns ignored, e.g. a run's outcomes)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            reader.fieldnames = [_PLAIN_NAMES.get(c, c) for c in reader.fieldnames or ()]
            header = set(reader.fieldnames)
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ConfigError(f"--book: {path} lacks column(s) {', '.join(missing)}")
            keep = [c for c in (*COLUMNS, *OPTIONAL) if c in header]
            rows = []
            for n, raw in enumerate(reader, start=2):
                try:
                    rows.append({c: int(raw[c]) for c in keep})
                except (TypeError, ValueError):
                    raise ConfigError(
                        f"--book: {path} line {n}: every term must be an integer"
                    ) from None
    except OSError as exc:
        raise ConfigError(f"--book: cannot read {path}: {exc.strerror}") from None
    if start_height is None:
        start_height = min((r.get("purchased", 0) for r in rows), default=0)
    return make_book(rows, start_height, str(path))


def write_csv(path: Path, book: Book) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow((*COLUMNS, "purchased"))
        for i in range(len(book)):
            w.writerow([int(getattr(book, c)[i]) for c in (*_ARRAYS[:8], "purchased")])


@dataclass(frozen=True)
class Demand:
    """Candidate purchases, before pricing: what buyers ask for, bought at the book's start."""

    amount: np.ndarray
    strike: np.ndarray
    blocks: np.ndarray
    token: np.ndarray
    budget_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))  # 0 = buys at any price


def budgets_usd(
    spot_usd: float,
    strike: np.ndarray,
    blocks: np.ndarray,
    amount: np.ndarray,
    vol: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """What each buyer would pay at most: the fair put at the model vol times U(1, 2)."""
    years = blocks / BLOCKS_PER_YEAR
    pairs = zip(strike / PRICE_SCALE, years, strict=True)
    fair = np.array([bs_put(spot_usd, k, t, vol) for k, t in pairs]) * (amount / SATS)
    return fair * rng.uniform(1.0, 2.0, len(amount))


def demand_of(book: Book, model: PriceModel, rng: np.random.Generator) -> Demand:
    """A book's policies as requests again (terms kept, premium and tier to be re-priced), so
    caps and loadings can be stressed on a CSV or run book too."""
    blocks = book.expiration - book.purchased
    budget = budgets_usd(model.btc_start, book.strike, blocks, book.amount, model.btc_vol, rng)
    return Demand(book.amount, book.strike, blocks, book.token, budget)


def admit(
    demand: Demand,
    pool: PoolTerms,
    model: PriceModel,
    pricing: PricingParams,
    *,
    start_height: int = 0,
    realised_vol: float | None = None,
    use_budget: bool = False,
) -> Book:
    """Prices each request in order and keeps those the registry would sell (and buyers buy).

    Each request is priced by risk/quote.py's `price_quote`, the function the registry actor
    quotes with, at the start prices (the chain's and the oracle's alike), its tier from the
    strike; purchases add the premium to the tranche's assets and the collateral to its lock,
    as the pool contract does.
    """
    spot = round(model.btc_start * PRICE_SCALE)
    stx = round(model.stx_start * PRICE_SCALE)
    vol = model.btc_vol if realised_vol is None else realised_vol
    assets = list(pool.deposits)
    locked = [0] * N_TRANCHES
    rows = []
    for i in range(len(demand.amount)):
        amount, strike = int(demand.amount[i]), int(demand.strike[i])
        token, blocks = int(demand.token[i]), int(demand.blocks[i])
        price = stx if token == STX else spot
        tier = pool.tier(strike, spot)
        k = token * 3 + tier
        quote = price_quote(
            amount=amount,
            strike=strike,
            blocks=blocks,
            token=token,
            tier=tier,
            market=Market(spot, price, spot, price, vol),
            rules=pool,
            pricing=pricing,
            tranche=Vault(assets[k], locked[k]),
        )
        if isinstance(quote, Refusal):
            continue
        if use_budget and quote.premium_usd > demand.budget_usd[i]:
            continue
        assets[k] += quote.premium
        locked[k] += quote.collateral
        rows.append(
            {"id": len(rows) + 1, "amount": amount, "strike": strike,
             "expiration": start_height + blocks, "token": token, "tier": tier,
             "premium": quote.premium, "collateral": quote.collateral,
             "purchased": start_height}
        )  # fmt: skip
    return make_book(rows, start_height, "admitted", allow_empty=True)
