"""Model of `oracle.clar`: authorised submitters, a deviation cap against fresh prices."""

from __future__ import annotations

from chain.clarity import TRUE, Bool, Err, Ok, Principal, StringAscii, Tuple, UInt
from sim.models.base import (
    Contract,
    ContractErr,
    Ctx,
    mul,
    p_ascii,
    p_principal,
    p_uint,
    public,
    read_only,
    sub,
)

ERR_NOT_ADMIN = 100
ERR_NOT_SUBMITTER = 101
ERR_ZERO_PRICE = 102
ERR_DEVIATION = 103
ERR_NO_PRICE = 104
ERR_BAD_VALUE = 105


class Oracle(Contract):
    name = "oracle"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.submitters = self.state.map("oracle/submitters")
        self.prices = self.state.map("oracle/prices")  # asset -> (price, height)
        self.vars.update(admin=deployer, max_deviation_bps=500, max_age=6)
        self.submitters[deployer] = True

    def price_of(self, asset: str) -> tuple[int, int] | None:
        """(price, height) of the last accepted push, as `get-price` reads it."""
        return self.prices.get(asset)

    def _admin(self, ctx: Ctx) -> None:
        if ctx.sender != self.var("admin"):
            raise ContractErr(ERR_NOT_ADMIN)

    @public(p_ascii(16), p_uint)
    def set_price(self, ctx: Ctx, asset: str, price: int):
        if not self.submitters.get(ctx.sender, False):
            raise ContractErr(ERR_NOT_SUBMITTER)
        if price == 0:
            raise ContractErr(ERR_ZERO_PRICE)
        prev = self.prices.get(asset)
        if prev is not None and sub(ctx.burn_height, prev[1]) < self.var("max_age"):
            old = prev[0]
            moved = price - old if price > old else old - price
            if mul(moved, 10000) > mul(old, self.var("max_deviation_bps")):
                raise ContractErr(ERR_DEVIATION)
        self.state.set(self.prices, asset, (price, ctx.burn_height))
        self.print(
            ctx,
            "price-updated",
            asset=StringAscii(asset),
            price=UInt(price),
            height=UInt(ctx.burn_height),
        )
        return TRUE

    @read_only(p_ascii(16))
    def get_price(self, asset: str):
        found = self.prices.get(asset)
        if found is None:
            return Err(UInt(ERR_NO_PRICE))
        return Ok(Tuple({"price": UInt(found[0]), "height": UInt(found[1])}))

    @read_only()
    def get_config(self):
        return Tuple(
            {
                "max-deviation-bps": UInt(self.var("max_deviation_bps")),
                "max-age": UInt(self.var("max_age")),
            }
        )

    @read_only(p_principal)
    def is_submitter(self, who: Principal):
        return Bool(self.submitters.get(who, False))

    @public(p_principal)
    def add_submitter(self, ctx: Ctx, who: Principal):
        self._admin(ctx)
        self.state.set(self.submitters, who, True)
        return TRUE

    @public(p_principal)
    def remove_submitter(self, ctx: Ctx, who: Principal):
        self._admin(ctx)
        self.state.set(self.submitters, who, False)
        return TRUE

    @public(p_principal)
    def set_admin(self, ctx: Ctx, who: Principal):
        self._admin(ctx)
        self.set_var("admin", who)
        return TRUE

    @public(p_uint)
    def set_max_deviation(self, ctx: Ctx, bps: int):
        self._admin(ctx)
        if bps > 10000:
            raise ContractErr(ERR_BAD_VALUE)
        self.set_var("max_deviation_bps", bps)
        return TRUE

    @public(p_uint)
    def set_max_age(self, ctx: Ctx, blocks: int):
        self._admin(ctx)
        if blocks == 0:
            raise ContractErr(ERR_BAD_VALUE)
        self.set_var("max_age", blocks)
        return TRUE
