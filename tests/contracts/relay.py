"""A third-party contract that calls the pool's and the registry's admin functions (row F15),
in Clarity (deployed by `Twin.deploy`) and as its Python model: a role key that calls it must
lend it no authority."""

from __future__ import annotations

from sim.models.base import Contract, Ctx, p_buff, p_principal, public

RELAY = """
(define-public (take-pool (token principal))
  (contract-call? '{deployer}.liquidity-pool set-sbtc-token token))
(define-public (take-quotes (key (buff 33)))
  (contract-call? '{deployer}.policy-registry set-quote-pubkey key))
"""


class Relay(Contract):
    """The model of RELAY: a third-party contract that calls the role functions."""

    name = "relay"

    @public(p_principal)
    def take_pool(self, ctx: Ctx, token):
        inner = ctx.calling(self.principal)
        return self.world.call(inner, self.world.pool.principal, "set-sbtc-token", token)

    @public(p_buff(33))
    def take_quotes(self, ctx: Ctx, key):
        inner = ctx.calling(self.principal)
        return self.world.call(inner, self.world.registry.principal, "set-quote-pubkey", key)
