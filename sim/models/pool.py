"""Model of `liquidity-pool.clar`: share-vault tranches per (token, tier), custody, locks.

Protocol v2: `locked` is the exact sum of the unsettled policies' collateral (raised in
`lock_for_policy`, lowered in `release_for_policy`, never set); tokens move only under Clarity 4
allowances (`with_allowance`), exactly as the contract's `as-contract?` / `restrict-assets?`.
"""

from __future__ import annotations

from chain.clarity import TRUE, ContractPrincipal, Principal, Tuple, UInt
from chain.protocol import SBTC, STX
from sim.models.base import (
    STX_ASSET,
    Contract,
    ContractErr,
    Ctx,
    add,
    div,
    mul,
    p_principal,
    p_trait,
    p_uint,
    public,
    read_only,
    sub,
    with_allowance,
)

ERR_NOT_AUTHORISED = 401
ERR_BAD_TRANCHE = 402
ERR_BAD_TOKEN_CONTRACT = 403
ERR_ZERO_AMOUNT = 404
ERR_BELOW_MIN_DEPOSIT = 405
ERR_TRANCHE_WIPED_OUT = 406
ERR_ZERO_SHARES = 407
ERR_INSUFFICIENT_SHARES = 408
ERR_COLLATERAL_LOCKED = 409
ERR_INSUFFICIENT_LIQUIDITY = 411
ERR_UTILISATION = 413
ERR_SHUTDOWN = 430

EMPTY = (0, 0, 0)  # total-assets, total-shares, locked


class Pool(Contract):
    name = "liquidity-pool"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.tranches = self.state.map("pool/tranches")  # (token, tier) -> (assets, shares, locked)
        self.shares = self.state.map("pool/shares")  # (token, tier, provider) -> shares
        # fixed at deployment (PROTOCOL.md v2, "Admin"): no admin can name another token
        self.sbtc_token = deployer.contract("sbtc-token")
        self.registry = deployer.contract("policy-registry")

    # -- helpers shared with the registry model and the invariant checks --

    def tranche(self, token: int, tier: int) -> tuple[int, int, int]:
        return self.tranches.get((token, tier), EMPTY)

    def shares_of(self, token: int, tier: int, provider: Principal) -> int:
        return self.shares.get((token, tier, provider), 0)

    def _check_tranche(self, token: int, tier: int) -> None:
        if token > SBTC or tier > 2:
            raise ContractErr(ERR_BAD_TRANCHE)

    def _check_ft(self, ft: ContractPrincipal) -> None:
        if ft != self.sbtc_token:
            raise ContractErr(ERR_BAD_TOKEN_CONTRACT)

    def _transfer(self, ctx: Ctx, ft, token: int, amount: int, sender, recipient) -> None:
        """`sender` (tx-sender in `ctx`) -> `recipient`, allowing `sender` to move exactly
        `amount` of this token and nothing else."""

        def move() -> None:
            if token == STX:
                self.world.stx.transfer(ctx, amount, sender, recipient)
            else:
                self.world.call(
                    ctx.calling(self.principal), ft, "transfer", amount, sender, recipient, None
                )

        asset = STX_ASSET if token == STX else self.world.sbtc.token.identifier
        with_allowance(ctx, sender, asset, amount, move)

    def _pay(self, ctx: Ctx, ft, token: int, amount: int, recipient: Principal) -> None:
        inner = ctx.as_contract(self.principal)
        self._transfer(inner, ft, token, amount, self.principal, recipient)

    def _store(self, ctx: Ctx, token: int, tier: int, state: tuple[int, int, int]) -> dict:
        self.state.set(self.tranches, (token, tier), state)
        return {
            "total_assets": UInt(state[0]),
            "total_shares": UInt(state[1]),
            "locked": UInt(state[2]),
        }

    # -- users --

    @public(p_trait, p_uint, p_uint, p_uint)
    def deposit(self, ctx: Ctx, ft, token: int, tier: int, amount: int):
        self._check_tranche(token, tier)
        self._check_ft(ft)
        if self.world.parameters.shut_down():
            raise ContractErr(ERR_SHUTDOWN)
        if amount == 0:
            raise ContractErr(ERR_ZERO_AMOUNT)
        assets, total, locked = self.tranche(token, tier)
        if total == 0:
            if amount < self.world.parameters.get(f"min-first-deposit-{token}"):
                raise ContractErr(ERR_BELOW_MIN_DEPOSIT)
            minted = amount
        else:
            if assets == 0:
                raise ContractErr(ERR_TRANCHE_WIPED_OUT)
            minted = div(mul(amount, total), assets)
            if minted == 0:
                raise ContractErr(ERR_ZERO_SHARES)
        provider = ctx.sender
        self._transfer(ctx, ft, token, amount, provider, self.principal)
        key = (token, tier, provider)
        self.state.set(self.shares, key, add(self.shares.get(key, 0), minted))
        state = self._store(ctx, token, tier, (add(assets, amount), add(total, minted), locked))
        self.print(
            ctx,
            "deposit",
            token=UInt(token),
            tier=UInt(tier),
            provider=provider,
            amount=UInt(amount),
            shares=UInt(minted),
            **state,
        )
        return UInt(minted)

    @public(p_trait, p_uint, p_uint, p_uint)
    def withdraw(self, ctx: Ctx, ft, token: int, tier: int, shares: int):
        self._check_tranche(token, tier)
        self._check_ft(ft)
        if shares == 0:
            raise ContractErr(ERR_ZERO_AMOUNT)
        provider = ctx.sender
        held = self.shares_of(token, tier, provider)
        if held < shares:
            raise ContractErr(ERR_INSUFFICIENT_SHARES)
        assets, total, locked = self.tranche(token, tier)
        amount = div(mul(shares, assets), total)
        if amount > sub(assets, locked):
            raise ContractErr(ERR_COLLATERAL_LOCKED)
        self.state.set(self.shares, (token, tier, provider), held - shares)
        if amount > 0:
            self._pay(ctx, ft, token, amount, provider)
        state = self._store(ctx, token, tier, (assets - amount, total - shares, locked))
        self.print(
            ctx,
            "withdraw",
            token=UInt(token),
            tier=UInt(tier),
            provider=provider,
            amount=UInt(amount),
            shares=UInt(shares),
            **state,
        )
        return UInt(amount)

    # -- the registry contract --

    def _registry(self, ctx: Ctx) -> None:
        if ctx.caller != self.registry:
            raise ContractErr(ERR_NOT_AUTHORISED)

    @public(p_trait, p_uint, p_uint, p_uint, p_uint)
    def lock_for_policy(self, ctx: Ctx, ft, token: int, tier: int, premium: int, collateral: int):
        self._registry(ctx)
        self._check_tranche(token, tier)
        self._check_ft(ft)
        assets, total, locked = self.tranche(token, tier)
        if total == 0:
            raise ContractErr(ERR_INSUFFICIENT_LIQUIDITY)
        self._transfer(ctx, ft, token, premium, ctx.sender, self.principal)
        assets = add(assets, premium)
        if sub(assets, locked) < collateral:
            raise ContractErr(ERR_INSUFFICIENT_LIQUIDITY)
        cap = self.world.parameters.get(f"max-utilisation-{tier}")
        if mul(add(locked, collateral), 10000) > mul(assets, cap):
            raise ContractErr(ERR_UTILISATION)
        state = self._store(ctx, token, tier, (assets, total, locked + collateral))
        self.print(
            ctx,
            "locked",
            token=UInt(token),
            tier=UInt(tier),
            premium=UInt(premium),
            collateral=UInt(collateral),
            **state,
        )
        return TRUE

    @public(p_uint, p_uint, p_uint)
    def release_for_policy(self, ctx: Ctx, token: int, tier: int, collateral: int):
        self._registry(ctx)
        self._check_tranche(token, tier)
        assets, total, locked = self.tranche(token, tier)
        state = self._store(ctx, token, tier, (assets, total, sub(locked, collateral)))
        self.print(
            ctx,
            "released",
            token=UInt(token),
            tier=UInt(tier),
            collateral=UInt(collateral),
            **state,
        )
        return TRUE

    @public(p_trait, p_uint, p_uint, p_uint, p_uint, p_principal)
    def pay_out(self, ctx: Ctx, ft, token: int, tier: int, policy_id: int, amount: int, recipient):
        """The settlement payout: at most the policy's collateral, so within total-assets."""
        self._registry(ctx)
        self._check_tranche(token, tier)
        self._check_ft(ft)
        assets, total, locked = self.tranche(token, tier)
        self._pay(ctx, ft, token, amount, recipient)
        state = self._store(ctx, token, tier, (sub(assets, amount), total, locked))
        self.print(
            ctx,
            "payout",
            token=UInt(token),
            tier=UInt(tier),
            policy_id=UInt(policy_id),
            recipient=recipient,
            amount=UInt(amount),
            **state,
        )
        return UInt(amount)

    # -- read-only --

    @read_only(p_uint, p_uint)
    def get_tranche(self, token: int, tier: int):
        a, s, lk = self.tranche(token, tier)
        return Tuple({"total-assets": UInt(a), "total-shares": UInt(s), "locked": UInt(lk)})

    @read_only(p_uint, p_uint, p_principal)
    def get_shares(self, token: int, tier: int, provider: Principal):
        return UInt(self.shares_of(token, tier, provider))

    @read_only()
    def get_sbtc_token(self):
        return self.sbtc_token
