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


def lock_fits(
    assets: int, locked: int, collateral: int, max_utilisation_bps: int, pending_value: int = 0
) -> bool:
    """Whether the pool would lock `collateral` more in a tranche (liquidity-pool
    `lock-for-policy`): the lock stays within the tier's utilisation cap (u413) and leaves the
    value of pending withdrawals free (u415). The one statement of the rule off chain: the
    registry actor's quotes and the risk studies' books both ask it."""
    used = locked + collateral
    return used * BPS <= assets * max_utilisation_bps and used <= assets - pending_value


def expiry_on_grid(height: int, blocks: int, longest: int) -> int:
    """The expiration of a policy asked for `blocks` burn blocks from burn `height`, on the
    expiry grid (multiples of a day, oracle.clar's EXPIRY-INTERVAL; the registry refuses any
    other, u321): the first grid point at or after `height + blocks`, so a policy never runs
    shorter than asked (min-duration holds), or the grid point before it when that one would
    run past `longest` blocks (max-duration). Every policy of a day then shares one fixing."""
    up = -(-(height + blocks) // BLOCKS_PER_DAY) * BLOCKS_PER_DAY
    return up if up - height <= longest else up - BLOCKS_PER_DAY


# The parameters contract's defaults (`parameters.clar`, PROTOCOL.md tier table): durations in burn
# blocks, amounts in sats, ratios in basis points, minimum deposits and premiums in token units.
# `tests/chain/test_protocol.py` reads every `(map-set params ...)` of the contract against this.
PARAMETER_DEFAULTS: dict[str, int] = {
    "admin-delay": 1008,  # burn blocks a queued admin change waits (a week)
    "min-duration": 144,
    "max-duration": 12960,
    "min-amount": 100_000,
    "max-amount": 10_000_000_000,
    "strike-band-bps": 5000,
    "protocol-fee-bps": 1000,
    "collateral-ratio-0": 11000,
    "collateral-ratio-1": 10000,
    "collateral-ratio-2": 9000,
    "max-utilisation-0": 6000,
    "max-utilisation-1": 7500,
    "max-utilisation-2": 8500,
    "tier-strike-bps-1": 8000,
    "tier-strike-bps-2": 9500,
    "min-first-deposit-0": 10_000_000,
    "min-first-deposit-1": 100_000,
    # Protocol v2 purchase bounds (contracts/README.md, "parameters")
    "min-premium-0": 100_000,
    "min-premium-1": 1_000,
    "capital-rate-bps": 200,
    "price-max-age": 6,
    # Protocol v2 quotes: valid-until at most this far ahead of stacks-block-time; spot this
    # close to the latest BTC-USD observation (contracts/README.md, "purchase-policy")
    "quote-ttl-seconds": 60,
    "quote-slippage-bps": 50,
    # the purchase's BTC-USD observation at most this many burn blocks old (1: this or the
    # previous block; a fast devnet, whose burn blocks come every second, deploys with more)
    "quote-price-blocks": 1,
}
