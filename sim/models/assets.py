"""Native asset rules (`stx-transfer?`, `ft-transfer?`, `ft-mint?`) and the sBTC test token.

The error codes and their order are the Clarity VM's: zero amount u3, sender is recipient u2,
sender is not tx-sender u4 (STX only), insufficient balance u1.
"""

from __future__ import annotations

from chain.clarity import (
    NONE,
    TRUE,
    Buffer,
    ClarityValue,
    ContractPrincipal,
    Ok,
    Principal,
    Some,
    StandardPrincipal,
    StringAscii,
    UInt,
)
from chain.port import Event
from sim.models.base import (
    ArgumentError,
    Contract,
    ContractErr,
    Ctx,
    State,
    add,
    p_principal,
    p_uint,
    public,
    read_only,
    sub,
)


class Stx:
    """STX balances of every principal."""

    def __init__(self, state: State):
        self.state = state
        self.balances = state.map("stx")

    def balance(self, who: Principal) -> int:
        return self.balances.get(who, 0)

    def credit(self, who: Principal, amount: int) -> None:
        self.state.set(self.balances, who, add(self.balance(who), amount))

    def debit(self, who: Principal, amount: int) -> None:
        self.state.set(self.balances, who, sub(self.balance(who), amount))

    def transfer(self, ctx: Ctx, amount: int, sender: Principal, recipient: Principal) -> None:
        if amount == 0:
            raise ContractErr(3)
        if sender == recipient:
            raise ContractErr(2)
        if sender != ctx.sender:
            raise ContractErr(4)
        if self.balance(sender) < amount:
            raise ContractErr(1)
        self.debit(sender, amount)
        self.credit(recipient, amount)
        ctx.events.append(
            Event("stx_transfer", "", None, sender.address, recipient.address, amount)
        )


class FungibleToken:
    """A `define-fungible-token` asset: balances and supply, with the native error codes."""

    def __init__(self, state: State, contract: ContractPrincipal, name: str):
        self.state = state
        self.identifier = f"{contract.address}::{name}"
        self.balances = state.map(f"ft/{self.identifier}")
        self.supply = state.map(f"ft-supply/{self.identifier}")

    def balance(self, who: Principal) -> int:
        return self.balances.get(who, 0)

    def total_supply(self) -> int:
        return self.supply.get("total", 0)

    def transfer(self, ctx: Ctx, amount: int, sender: Principal, recipient: Principal) -> None:
        if amount == 0:
            raise ContractErr(3)
        if sender == recipient:
            raise ContractErr(2)
        if self.balance(sender) < amount:
            raise ContractErr(1)
        self.state.set(self.balances, sender, self.balance(sender) - amount)
        self.state.set(self.balances, recipient, add(self.balance(recipient), amount))
        ctx.events.append(
            Event("ft_transfer", self.identifier, None, sender.address, recipient.address, amount)
        )

    def mint(self, ctx: Ctx, amount: int, recipient: Principal) -> None:
        if amount == 0:
            raise ContractErr(1)
        self.state.set(self.supply, "total", add(self.total_supply(), amount))
        self.state.set(self.balances, recipient, add(self.balance(recipient), amount))
        ctx.events.append(Event("ft_mint", self.identifier, None, "", recipient.address, amount))


def p_memo(v: ClarityValue) -> bytes | None:
    if v is NONE:
        return None
    if type(v) is Some and type(v.value) is Buffer and len(v.value.value) <= 34:
        return v.value.value
    raise ArgumentError("expected (optional (buff 34))")


class SbtcToken(Contract):
    """The SIP-010 test sBTC: 8 decimals, asset `sbtc`, minted by the deployer."""

    name = "sbtc-token"
    ERR_NOT_OWNER = 4

    def __init__(self, world, deployer: StandardPrincipal):
        super().__init__(world, deployer)
        self.deployer = deployer
        self.token = FungibleToken(self.state, self.principal, "sbtc")

    @public(p_uint, p_principal, p_principal, p_memo)
    def transfer(self, ctx: Ctx, amount: int, sender: Principal, recipient: Principal, memo):
        if ctx.sender != sender:
            raise ContractErr(self.ERR_NOT_OWNER)
        self.token.transfer(ctx, amount, sender, recipient)
        if memo is not None:
            ctx.events.append(Event("print", self.principal.address, Buffer(memo)))
        return TRUE

    @public(p_uint, p_principal)
    def mint(self, ctx: Ctx, amount: int, recipient: Principal):
        if ctx.sender != self.deployer:
            raise ContractErr(self.ERR_NOT_OWNER)
        self.token.mint(ctx, amount, recipient)
        return TRUE

    @read_only()
    def get_name(self):
        return Ok(StringAscii("sBTC (test)"))

    @read_only()
    def get_symbol(self):
        return Ok(StringAscii("sBTC"))

    @read_only()
    def get_decimals(self):
        return Ok(UInt(8))

    @read_only(p_principal)
    def get_balance(self, who: Principal):
        return Ok(UInt(self.token.balance(who)))

    @read_only()
    def get_total_supply(self):
        return Ok(UInt(self.token.total_supply()))

    @read_only()
    def get_token_uri(self):
        return Ok(NONE)
