"""Hostile third-party contracts for the attack tests, in Clarity (deployed by `Twin.deploy`)
and as their Python models: the relay, which calls the protocol's role functions as itself
(row F15 and property 7: a role key, or a role, that calls it must lend it no authority), and
tokens that drain whoever they are asked to move tokens for (row F8: the pool takes no token but
`.sbtc-token`). The one home of the test-only contracts: none is in contracts/ (so none ships
with the package or sits in Clarinet.toml's deployment), each is deployed by the test that
attacks with it."""

from __future__ import annotations

from chain.clarity import TRUE, ContractPrincipal
from sim.models.base import Contract, Ctx, p_ascii, p_buff, p_principal, p_uint, public

RELAY = """
(define-public (set-price (asset (string-ascii 16)) (price uint))
  (contract-call? '{deployer}.oracle set-price asset price))
(define-public (add-submitter (who principal))
  (contract-call? '{deployer}.oracle queue-submitter who))
(define-public (take-pool (who principal))
  (contract-call? '{deployer}.parameters queue-role "admin" who))
(define-public (take-quotes (key (buff 33)))
  (contract-call? '{deployer}.policy-registry queue-quote-pubkey key))
"""


class Relay(Contract):
    """The model of RELAY: a third-party contract that calls the role functions as itself
    (`contract-caller` there is the relay, `tx-sender` whoever called it)."""

    name = "relay"

    @public(p_ascii(16), p_uint)
    def set_price(self, ctx: Ctx, asset: str, price: int):
        inner = ctx.calling(self.principal)
        return self.world.call(inner, self.world.oracle.principal, "set-price", asset, price)

    @public(p_principal)
    def add_submitter(self, ctx: Ctx, who):
        inner = ctx.calling(self.principal)
        return self.world.call(inner, self.world.oracle.principal, "queue-submitter", who)

    @public(p_principal)
    def take_pool(self, ctx: Ctx, who):
        inner = ctx.calling(self.principal)
        return self.world.call(inner, self.world.parameters.principal, "queue-role", "admin", who)

    @public(p_buff(33))
    def take_quotes(self, ctx: Ctx, key):
        inner = ctx.calling(self.principal)
        return self.world.call(inner, self.world.registry.principal, "queue-quote-pubkey", key)


def deploy_relay(twin) -> ContractPrincipal:
    """RELAY deployed by wallet_8 (an attacker) in the VM and the models; named "relay"."""
    source = RELAY.format(deployer=twin.deployer.address)
    return twin.deploy("relay", source, "wallet_8", Relay)


# A SIP-010 "token" v1's admin could whitelist with `set-sbtc-token`: asked to move `amount`, it
# moves everything `sender` holds, of the real sBTC (DRAIN-SBTC) or of STX (DRAIN-STX). Called
# by the pool inside `as-contract?`, `sender` is the pool (issue 11, row F8).
HOSTILE_TOKEN = """
(impl-trait '{deployer}.sip-010-trait.sip-010-trait)
(define-public (transfer (amount uint) (sender principal) (recipient principal)
                         (memo (optional (buff 34))))
  (begin
    {drain}
    (ok true)))
(define-read-only (get-name) (ok "hostile"))
(define-read-only (get-symbol) (ok "HOST"))
(define-read-only (get-decimals) (ok u8))
(define-read-only (get-balance (who principal)) (ok u0))
(define-read-only (get-total-supply) (ok u0))
(define-read-only (get-token-uri) (ok none))
"""
DRAIN_SBTC = """(try! (contract-call? '{deployer}.sbtc-token transfer
      (unwrap-panic (contract-call? '{deployer}.sbtc-token get-balance sender))
      sender recipient none))"""
DRAIN_STX = "(try! (stx-transfer? (stx-get-balance sender) sender recipient))"


def hostile_token_source(deployer: str, drain: str) -> str:
    return HOSTILE_TOKEN.format(deployer=deployer, drain=drain.format(deployer=deployer))


class DrainSbtc(Contract):
    """Model of HOSTILE_TOKEN with DRAIN_SBTC."""

    name = "drain-sbtc"

    @public(p_uint, p_principal, p_principal, lambda v: v)
    def transfer(self, ctx: Ctx, amount: int, sender, recipient, memo):
        everything = self.world.sbtc.token.balance(sender)
        sbtc = self.world.sbtc.principal
        self.world.call(ctx.calling(self.principal), sbtc, "transfer", everything, sender,
                        recipient, None)  # fmt: skip
        return TRUE


class DrainStx(Contract):
    """Model of HOSTILE_TOKEN with DRAIN_STX."""

    name = "drain-stx"

    @public(p_uint, p_principal, p_principal, lambda v: v)
    def transfer(self, ctx: Ctx, amount: int, sender, recipient, memo):
        self.world.stx.transfer(ctx, self.world.stx.balance(sender), sender, recipient)
        return TRUE
