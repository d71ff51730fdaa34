"""The protocol's unit facts, in one place (PROTOCOL.md, "Units" table and "Assets and tokens").

Every integer that crosses to the chain is in these units, and the Clarity contracts hard-code the
same numbers (`PRICE-SCALE`, `STX-UNIT`, `SBTC-UNIT`, `BLOCKS-PER-YEAR` in
`policy-registry.clar`); `tests/chain/test_protocol.py` reads them from the `.clar` text so the
two cannot drift. Actors, the contract models, the simulator, `risk/` and the benchmarks import
these names instead of writing the numbers again. This module imports nothing from the project,
so any layer (`risk/` included) may depend on it.
"""

from __future__ import annotations

PRICE_SCALE = 100_000_000  # price units per USD: a price is USD per whole coin x 1e8
SATS = 100_000_000  # sats per BTC (and per sBTC): protected amounts are in sats

STX, SBTC = 0, 1  # settlement token ids, as the contracts number them (`token u0` / `u1`)
TOKEN_UNIT = {STX: 1_000_000, SBTC: SATS}  # smallest units per whole token: micro-STX, sats
TOKEN_NAMES = {STX: "STX", SBTC: "sBTC"}
TIERS = (0, 1, 2)  # provider risk tiers; a tranche is one (token, tier)
TRANCHES = tuple((token, tier) for token in (STX, SBTC) for tier in TIERS)
BTC_USD, STX_USD = "BTC-USD", "STX-USD"  # the two price feeds

BLOCKS_PER_DAY = 144  # Bitcoin burn blocks, one every ~10 minutes; time on chain is burn height
BLOCKS_PER_YEAR = BLOCKS_PER_DAY * 365  # 52_560: the year of the capital charge and of pricing
BPS = 10_000  # basis points in one: ratios, fees and loadings


def expiry_on_grid(height: int, blocks: int, longest: int) -> int:
    """The expiration of a policy asked for `blocks` burn blocks from burn `height`, on the
    expiry grid (multiples of a day, oracle.clar's EXPIRY-INTERVAL; the registry refuses any
    other, u321): the first grid point at or after `height + blocks`, so a policy never runs
    shorter than asked (min-duration holds), or the grid point before it when that one would
    run past `longest` blocks (max-duration). Every policy of a day then shares one fixing."""
    up = -(-(height + blocks) // BLOCKS_PER_DAY) * BLOCKS_PER_DAY
    return up if up - height <= longest else up - BLOCKS_PER_DAY
