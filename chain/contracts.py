"""Where the BitHedge contracts live: one deployer, five contract principals."""

from __future__ import annotations

from dataclasses import dataclass

from chain.clarity import ContractPrincipal, StandardPrincipal

STX, SBTC = 0, 1
TOKEN_UNIT = {STX: 1_000_000, SBTC: 100_000_000}
TOKEN_NAMES = {STX: "STX", SBTC: "sBTC"}
TIERS = (0, 1, 2)
TRANCHES = tuple((token, tier) for token in (STX, SBTC) for tier in TIERS)
BTC_USD, STX_USD = "BTC-USD", "STX-USD"
PRICE_SCALE = 100_000_000  # price units per USD
SATS = 100_000_000


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
