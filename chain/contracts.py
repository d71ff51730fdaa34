"""Where the BitHedge contracts live: one deployer, five contract principals."""

from __future__ import annotations

from dataclasses import dataclass

from chain.clarity import ContractPrincipal, StandardPrincipal

# The unit facts live in chain/protocol.py; re-exported here for the callers that name a token
# next to the contracts that hold it.
from chain.protocol import (
    BTC_USD,
    PRICE_SCALE,
    SATS,
    SBTC,
    STX,
    STX_USD,
    TIERS,
    TOKEN_NAMES,
    TOKEN_UNIT,
    TRANCHES,
)

__all__ = [
    "BTC_USD",
    "PRICE_SCALE",
    "SATS",
    "SBTC",
    "STX",
    "STX_USD",
    "TIERS",
    "TOKEN_NAMES",
    "TOKEN_UNIT",
    "TRANCHES",
    "Contracts",
    "token_price_asset",
]


@dataclass(frozen=True)
class Contracts:
    deployer: StandardPrincipal
    oracle: ContractPrincipal
    parameters: ContractPrincipal
    pool: ContractPrincipal
    registry: ContractPrincipal
    sbtc: ContractPrincipal  # the whitelisted SIP-010 token passed as `ft`

    @classmethod
    def of(cls, deployer: StandardPrincipal, sbtc: ContractPrincipal | None = None) -> Contracts:
        return cls(
            deployer,
            deployer.contract("oracle"),
            deployer.contract("parameters"),
            deployer.contract("liquidity-pool"),
            deployer.contract("policy-registry"),
            sbtc or deployer.contract("sbtc-token"),
        )


def token_price_asset(token: int) -> str:
    """The oracle feed that values a token: sBTC is one BTC, STX has its own feed."""
    return STX_USD if token == STX else BTC_USD
