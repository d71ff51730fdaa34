"""Model of `parameters.clar`: a fixed set of uint keys, admin-only writes, `parameter-set`."""

from __future__ import annotations

from chain.clarity import TRUE, Err, Ok, Principal, StringAscii, UInt
from sim.models.base import (
    Contract,
    ContractErr,
    Ctx,
    p_ascii,
    p_principal,
    p_uint,
    public,
    read_only,
)

ERR_NOT_ADMIN = 200
ERR_UNKNOWN_KEY = 201

DEFAULTS: dict[str, int] = {
    "min-duration": 144,
    "max-duration": 12960,
    "min-amount": 100_000,
    "max-amount": 10_000_000_000,
    "strike-band-bps": 5000,
    "settle-max-age": 6,
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
}


class Parameters(Contract):
    name = "parameters"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.values = self.state.map("parameters/values")
        self.values.update(DEFAULTS)
        self.vars.update(admin=deployer)

    def get(self, key: str) -> int:
        return self.values[key]

    @public(p_ascii(32), p_uint)
    def set_parameter(self, ctx: Ctx, key: str, value: int):
        if ctx.sender != self.var("admin"):
            raise ContractErr(ERR_NOT_ADMIN)
        if key not in self.values:
            raise ContractErr(ERR_UNKNOWN_KEY)
        self.state.set(self.values, key, value)
        self.print(ctx, "parameter-set", key=StringAscii(key), value=UInt(value))
        return TRUE

    @read_only(p_ascii(32))
    def get_parameter(self, key: str):
        if key not in self.values:
            return Err(UInt(ERR_UNKNOWN_KEY))
        return Ok(UInt(self.values[key]))

    @public(p_principal)
    def set_admin(self, ctx: Ctx, who: Principal):
        if ctx.sender != self.var("admin"):
            raise ContractErr(ERR_NOT_ADMIN)
        self.set_var("admin", who)
        return TRUE
