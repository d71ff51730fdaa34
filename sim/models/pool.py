"""Model of `liquidity-pool.clar`: share-vault tranches per (token, tier), custody, locks.

Protocol v2: `locked` is the exact sum of the unsettled policies' collateral (raised in
`lock_for_policy`, lowered in `release_for_policy`, never set); tokens move only under Clarity 4
allowances (`with_allowance`), exactly as the contract's `as-contract?` / `restrict-assets?`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chain.clarity import NONE, TRUE, ContractPrincipal, Principal, Some, Tuple, UInt
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
ERR_UNSETTLED_EXPIRY = 414
ERR_PENDING_RESERVED = 415
ERR_NOT_READY = 416
ERR_LAST_SHARES = 417
ERR_NO_PENDING = 418
ERR_OLD_EPOCH = 419

EMPTY = (0, 0, 0)  # total-assets, total-shares, locked
EXPIRY_INTERVAL = 144  # fixed at deployment (the oracle's grid)
SHARE_BOUND = 10**6  # total-shares <= 10^6 x total-assets, else the next deposit opens an epoch
STEPS = 91  # grid points after now that can hold an unsettled policy (MAX-DURATION / 144 + 1)


@dataclass(frozen=True, slots=True)
class Vault:
    """The contract's `vaults` entry: what a tranche knows about the risk its shares back."""

    pending: int = 0  # pending shares of the current epoch (still part of total-shares)
    unsettled: int = 0  # unsettled policies
    last_expiry: int = 0  # latest expiration ever locked: exact whenever it lies ahead
    epoch: int = 0


NO_VAULT = Vault()  # what a tranche without an entry reads (immutable, so shared)


@dataclass(frozen=True)
class Pending:
    """A provider's pending withdrawal: shares burnt at `complete-withdraw`, not before."""

    shares: int
    ready_at: int
    epoch: int
    value: int = 0  # what the shares were worth when requested: the most the completion pays


def grid_of(expiration: int) -> int:
    """The expiry grid point an expiration is counted under: ceil(E / 144) x 144."""
    return div(add(expiration, EXPIRY_INTERVAL - 1), EXPIRY_INTERVAL) * EXPIRY_INTERVAL


class Pool(Contract):
    name = "liquidity-pool"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.tranches = self.state.map("pool/tranches")  # (token, tier) -> (assets, shares, locked)
        self.shares = self.state.map("pool/shares")  # (token, tier, provider) -> shares
        # fixed at deployment (PROTOCOL.md v2, "Admin"): no admin can name another token
        self.sbtc_token = deployer.contract("sbtc-token")
        self.vaults = self.state.map("pool/vaults")  # (token, tier) -> Vault
        self.unsettled_at = self.state.map("pool/unsettled-at")  # (token, tier, grid) -> count
        self.epochs = self.state.map("pool/provider-epochs")  # (token, tier, provider) -> epoch
        self.pending = self.state.map("pool/pending")  # (token, tier, provider) -> Pending
        self.closed = self.state.map("pool/closed-epochs")  # (token, tier, epoch) -> (a, s)
        self.registry = deployer.contract("policy-registry")

    # -- helpers shared with the registry model and the invariant checks --

    def tranche(self, token: int, tier: int) -> tuple[int, int, int]:
        return self.tranches.get((token, tier), EMPTY)

    def shares_of(self, token: int, tier: int, provider: Principal) -> int:
        return self.shares.get((token, tier, provider), 0)

    def vault(self, token: int, tier: int) -> Vault:
        return self.vaults.get((token, tier), NO_VAULT)

    def pending_of(self, token: int, tier: int, provider: Principal) -> Pending | None:
        return self.pending.get((token, tier, provider))

    def epoch_of(self, token: int, tier: int, provider: Principal) -> int:
        return self.epochs.get((token, tier, provider), 0)

    def expired_unsettled(self, token: int, tier: int, now: int) -> int:
        """Unsettled policies whose expiration has come: all of them minus those counted at
        the 91 grid points after `now` (the contract's bounded fold)."""
        v = self.vault(token, tier)
        if v.unsettled == 0:
            return 0
        first = (now // EXPIRY_INTERVAL + 1) * EXPIRY_INTERVAL
        # no policy is counted past the grid point of the latest expiration ever locked, so the
        # fold stops there: the same sum, without the empty grid points (a node-side hot path)
        steps = min(STEPS, (grid_of(v.last_expiry) - first) // EXPIRY_INTERVAL + 1)
        at = self.unsettled_at
        ahead = sum(at.get((token, tier, first + i * EXPIRY_INTERVAL), 0) for i in range(steps))
        return sub(v.unsettled, ahead)

    def _no_unpaid_expiry(self, ctx: Ctx, token: int, tier: int) -> None:
        if self.expired_unsettled(token, tier, ctx.burn_height):
            raise ContractErr(ERR_UNSETTLED_EXPIRY)

    def _pending_value(self, assets: int, total: int, pending: int) -> int:
        return 0 if total == 0 else div(mul(pending, assets), total)

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
        return self._fields(state)

    def _fields(self, state: tuple[int, int, int]) -> dict:
        """The tranche state every pool event carries."""
        return {
            "total_assets": UInt(state[0]),
            "total_shares": UInt(state[1]),
            "locked": UInt(state[2]),
        }

    # -- users --

    @public(p_trait, p_uint, p_uint, p_uint)
    def deposit(self, ctx: Ctx, ft, token: int, tier: int, amount: int):
        """A wiped-out tranche (total-shares > 10^6 x total-assets) with no unsettled policy
        opens a new epoch on this deposit; with unsettled policies it refuses (u406)."""
        self._check_tranche(token, tier)
        self._check_ft(ft)
        if self.world.parameters.shut_down():
            raise ContractErr(ERR_SHUTDOWN)
        if amount == 0:
            raise ContractErr(ERR_ZERO_AMOUNT)
        self._no_unpaid_expiry(ctx, token, tier)
        t0, v0 = self.tranche(token, tier), self.vault(token, tier)
        wiped = t0[1] > mul(SHARE_BOUND, t0[0])
        renew = wiped and v0.unsettled == 0
        epoch = add(v0.epoch, 1) if renew else v0.epoch
        assets, total, locked = EMPTY if renew else t0
        provider = ctx.sender
        key = (token, tier, provider)
        held = self.shares.get(key, 0)
        if total == 0:
            if amount < self.world.parameters.get(f"min-first-deposit-{token}"):
                raise ContractErr(ERR_BELOW_MIN_DEPOSIT)
            minted = amount
        else:
            if wiped:
                raise ContractErr(ERR_TRANCHE_WIPED_OUT)
            minted = div(mul(amount, total), assets)
            if minted == 0:
                raise ContractErr(ERR_ZERO_SHARES)
        if held and self.epoch_of(token, tier, provider) != epoch:
            raise ContractErr(ERR_OLD_EPOCH)
        if renew:
            self.state.set(self.closed, (token, tier, v0.epoch), (t0[0], t0[1]))
            self.state.set(self.vaults, (token, tier), replace(v0, epoch=epoch, pending=0))
        self._transfer(ctx, ft, token, amount, provider, self.principal)
        self.state.set(self.shares, key, add(held, minted))
        self.state.set(self.epochs, key, epoch)
        state = self._store(ctx, token, tier, (add(assets, amount), add(total, minted), locked))
        self.print(
            ctx,
            "deposit",
            token=UInt(token),
            tier=UInt(tier),
            provider=provider,
            amount=UInt(amount),
            shares=UInt(minted),
            epoch=UInt(epoch),
            **state,
        )
        return UInt(minted)

    @public(p_uint, p_uint, p_uint)
    def request_withdraw(self, ctx: Ctx, token: int, tier: int, shares: int):
        """Step 1: SHARES become pending, ready at max(now, the last unsettled expiry)."""
        self._check_tranche(token, tier)
        if shares == 0:
            raise ContractErr(ERR_ZERO_AMOUNT)
        self._no_unpaid_expiry(ctx, token, tier)
        provider = ctx.sender
        key = (token, tier, provider)
        held = self.shares.get(key, 0)
        epoch = self.epoch_of(token, tier, provider)
        v = self.vault(token, tier)
        current = epoch == v.epoch
        p = self.pending.get(key) or Pending(0, 0, epoch)
        assets, total, _ = self.tranche(token, tier)
        worth = div(mul(shares, assets), total) if current and shares <= held and total else 0
        now = ctx.burn_height
        at_risk = current and v.unsettled > 0  # the last expiry matters only then
        ready = max(now, grid_of(v.last_expiry) if at_risk else 0, p.ready_at)
        now_pending = add(p.shares, shares)
        if held < shares:
            raise ContractErr(ERR_INSUFFICIENT_SHARES)
        if p.shares and p.epoch != epoch:
            raise ContractErr(ERR_OLD_EPOCH)
        self.state.set(self.shares, key, held - shares)
        self.state.set(self.pending, key, Pending(now_pending, ready, epoch, add(p.value, worth)))
        if current:
            self.state.set(self.vaults, (token, tier), replace(v, pending=add(v.pending, shares)))
        self.print(
            ctx,
            "withdraw-requested",
            token=UInt(token),
            tier=UInt(tier),
            provider=provider,
            shares=UInt(shares),
            pending_shares=UInt(now_pending),
            ready_at=UInt(ready),
            epoch=UInt(epoch),
            **self._fields(self.tranche(token, tier)),
        )
        return UInt(ready)

    @public(p_trait, p_uint, p_uint)
    def complete_withdraw(self, ctx: Ctx, ft, token: int, tier: int):
        """Step 2: the whole pending balance at this moment's share price, once ready."""
        self._check_tranche(token, tier)
        self._check_ft(ft)
        provider = ctx.sender
        key = (token, tier, provider)
        p = self.pending.get(key)
        if p is None:
            raise ContractErr(ERR_NO_PENDING)
        v = self.vault(token, tier)
        if ctx.burn_height < p.ready_at and v.unsettled:  # nothing unsettled: all were settled
            raise ContractErr(ERR_NOT_READY)
        self.state.set(self.pending, key, None)
        if p.epoch == v.epoch:
            assets, total, locked = self.tranche(token, tier)
            # pending shares bear payouts, not later purchases' premiums: at most their value
            # when requested
            amount = min(div(mul(p.shares, assets), total), p.value)
            self._no_unpaid_expiry(ctx, token, tier)
            if p.shares >= total and v.unsettled:
                raise ContractErr(ERR_LAST_SHARES)
            if amount > sub(assets, locked):
                raise ContractErr(ERR_COLLATERAL_LOCKED)
            self.state.set(self.vaults, (token, tier), replace(v, pending=sub(v.pending, p.shares)))
            if amount > 0:
                self._pay(ctx, ft, token, amount, provider)
            state = self._store(ctx, token, tier, (assets - amount, total - p.shares, locked))
        else:
            ckey = (token, tier, p.epoch)
            c_assets, c_shares = self.closed[ckey]
            amount = div(mul(p.shares, c_assets), c_shares)
            self.state.set(self.closed, ckey, (c_assets - amount, c_shares - p.shares))
            if amount > 0:
                self._pay(ctx, ft, token, amount, provider)
            state = self._fields(self.tranche(token, tier))
        self.print(
            ctx,
            "withdraw",
            token=UInt(token),
            tier=UInt(tier),
            provider=provider,
            amount=UInt(amount),
            shares=UInt(p.shares),
            epoch=UInt(p.epoch),
            **state,
        )
        return UInt(amount)

    # -- the registry contract --

    def _registry(self, ctx: Ctx) -> None:
        if ctx.caller != self.registry:
            raise ContractErr(ERR_NOT_AUTHORISED)

    @public(p_trait, p_uint, p_uint, p_uint, p_uint, p_uint)
    def lock_for_policy(
        self, ctx: Ctx, ft, token: int, tier: int, premium: int, collateral: int, expiration: int
    ):
        self._registry(ctx)
        self._check_tranche(token, tier)
        self._check_ft(ft)
        assets, total, locked = self.tranche(token, tier)
        v = self.vault(token, tier)
        if total == 0:
            raise ContractErr(ERR_INSUFFICIENT_LIQUIDITY)
        self._no_unpaid_expiry(ctx, token, tier)
        self._transfer(ctx, ft, token, premium, ctx.sender, self.principal)
        assets = add(assets, premium)
        if sub(assets, locked) < collateral:
            raise ContractErr(ERR_INSUFFICIENT_LIQUIDITY)
        cap = self.world.parameters.get(f"max-utilisation-{tier}")
        if mul(add(locked, collateral), 10000) > mul(assets, cap):
            raise ContractErr(ERR_UTILISATION)
        if add(locked, collateral) > sub(assets, self._pending_value(assets, total, v.pending)):
            raise ContractErr(ERR_PENDING_RESERVED)
        gkey = (token, tier, grid_of(expiration))
        self.state.set(self.unsettled_at, gkey, add(self.unsettled_at.get(gkey, 0), 1))
        last = max(v.last_expiry, expiration)
        self.state.set(
            self.vaults, (token, tier), replace(v, unsettled=add(v.unsettled, 1), last_expiry=last)
        )
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

    @public(p_uint, p_uint, p_uint, p_uint)
    def release_for_policy(self, ctx: Ctx, token: int, tier: int, collateral: int, expiration: int):
        self._registry(ctx)
        self._check_tranche(token, tier)
        assets, total, locked = self.tranche(token, tier)
        v = self.vault(token, tier)
        gkey = (token, tier, grid_of(expiration))
        self.state.set(self.unsettled_at, gkey, sub(self.unsettled_at.get(gkey, 0), 1))
        self.state.set(self.vaults, (token, tier), replace(v, unsettled=sub(v.unsettled, 1)))
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

    @read_only(p_uint, p_uint)
    def get_vault(self, token: int, tier: int):
        v = self.vault(token, tier)
        return Tuple(
            {
                "pending": UInt(v.pending),
                "unsettled": UInt(v.unsettled),
                "last-expiry": UInt(v.last_expiry),
                "epoch": UInt(v.epoch),
            }
        )

    @read_only(p_uint, p_uint, p_principal)
    def get_pending(self, token: int, tier: int, provider: Principal):
        p = self.pending_of(token, tier, provider)
        if p is None:
            return NONE
        fields = {
            "shares": UInt(p.shares),
            "ready-at": UInt(p.ready_at),
            "epoch": UInt(p.epoch),
            "value": UInt(p.value),
        }
        return Some(Tuple(fields))

    @read_only(p_uint, p_uint, p_principal)
    def get_provider_epoch(self, token: int, tier: int, provider: Principal):
        return UInt(self.epoch_of(token, tier, provider))

    @read_only(p_uint, p_uint, p_uint)
    def get_closed_epoch(self, token: int, tier: int, epoch: int):
        c = self.closed.get((token, tier, epoch))
        if c is None:
            return NONE
        return Some(Tuple({"total-assets": UInt(c[0]), "total-shares": UInt(c[1])}))

    @read_only()
    def get_sbtc_token(self):
        return self.sbtc_token
