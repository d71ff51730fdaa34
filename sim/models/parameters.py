"""Model of `parameters.clar`: a fixed set of uint keys, and the protocol's governance (the
admin and guardian roles, the admin delay, the shutdown) with the queue every contract's admin
changes go through (PROTOCOL.md v2, "Admin"; contracts/README.md, "Admin").

`ChangeQueue` is that queue's one implementation; the oracle and registry models hold their own
instances, as the contracts hold their own maps of the same `{value, eta}` shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chain.clarity import (
    NONE,
    TRUE,
    Bool,
    ClarityValue,
    Err,
    Ok,
    Principal,
    Some,
    StringAscii,
    Tuple,
    UInt,
)
from chain.protocol import PARAMETER_DEFAULTS
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
ERR_NOT_GUARDIAN = 202
ERR_OUT_OF_BOUNDS = 203
ERR_QUEUED = 204
ERR_NOT_QUEUED = 205
ERR_NOT_READY = 206
ERR_LAPSED = 207
ERR_ALREADY_SET = 208

ADMIN_LAPSE = 144  # a queued change not applied within this many blocks after its eta lapses
MAX_DURATION = 12960  # fixed at deployment; `max-duration` may only be lower
READY, NOT_YET, LAPSED = 0, 1, 2  # parameters.clar's queue-state


@dataclass(frozen=True, slots=True)
class QueueErrors:
    """One contract's error codes for its queue (each contract keeps its own error range)."""

    queued: int
    not_queued: int
    not_ready: int
    lapsed: int


class ChangeQueue:
    """A contract's queued admin changes, `key -> (value, eta)`: at most one live change per key
    (a lapsed one frees the key); applied by anyone from `eta` until `eta + ADMIN_LAPSE`."""

    def __init__(self, contract: Contract, name: str, errors: QueueErrors, to_clarity: Callable):
        self.contract = contract
        self.entries = contract.state.map(f"{contract.name}/queued-{name}")
        self.errors = errors
        self.to_clarity = to_clarity

    @property
    def _governance(self) -> Parameters:
        return self.contract.world.parameters

    def queue(self, ctx: Ctx, key: str, value: Any) -> int:
        gov = self._governance
        eta = gov.eta(ctx.burn_height)
        live = self.entries.get(key)
        if live is not None and gov.queue_state(live[1], ctx.burn_height) != LAPSED:
            raise ContractErr(self.errors.queued)
        self.contract.state.set(self.entries, key, (value, eta))
        self.contract.print(
            ctx,
            "change-queued",
            key=StringAscii(key),
            value=self.to_clarity(value),
            eta=UInt(eta),
        )
        return eta

    def take(self, ctx: Ctx, key: str) -> Any:
        """The change's value, removed from the queue, if it may be applied now."""
        change = self.entries.get(key)
        if change is None:
            raise ContractErr(self.errors.not_queued)
        state = self._governance.queue_state(change[1], ctx.burn_height)
        if state == NOT_YET:
            raise ContractErr(self.errors.not_ready)
        if state == LAPSED:
            raise ContractErr(self.errors.lapsed)
        self.contract.state.set(self.entries, key, None)
        return change[0]

    def cancel(self, ctx: Ctx, key: str) -> None:
        if self.entries.get(key) is None:
            raise ContractErr(self.errors.not_queued)
        self.contract.state.set(self.entries, key, None)
        self.contract.print(ctx, "change-cancelled", key=StringAscii(key))

    def read(self, key: str) -> ClarityValue:
        change = self.entries.get(key)
        if change is None:
            return NONE
        value, eta = change
        return Some(Tuple({"value": self.to_clarity(value), "eta": UInt(eta)}))


# the contract's seeded values: one table, chain/protocol.py's (a test reads parameters.clar
# against it)
DEFAULTS: dict[str, int] = PARAMETER_DEFAULTS


# what a queued change may set each key to, inclusive (parameters.clar's `bounds`); a key
# without bounds cannot be changed
BOUNDS: dict[str, tuple[int, int]] = {
    "min-duration": (144, MAX_DURATION),
    "max-duration": (144, MAX_DURATION),
    "min-amount": (1, 10_000_000_000),
    "max-amount": (1, 100_000_000_000),
    "strike-band-bps": (0, 5000),
    "protocol-fee-bps": (0, 2000),
    "collateral-ratio-0": (5000, 20000),
    "collateral-ratio-1": (5000, 20000),
    "collateral-ratio-2": (5000, 20000),
    "max-utilisation-0": (0, 10000),
    "max-utilisation-1": (0, 10000),
    "max-utilisation-2": (0, 10000),
    "tier-strike-bps-1": (5000, 10000),
    "tier-strike-bps-2": (5000, 10000),
    "min-first-deposit-0": (1_000_000, 1_000_000_000_000),
    "min-first-deposit-1": (10_000, 100_000_000),
    "min-premium-0": (1, 100_000_000),
    "min-premium-1": (1, 1_000_000),
    "capital-rate-bps": (0, 5000),
    "price-max-age": (1, 144),
    "quote-ttl-seconds": (10, 3600),
    "quote-slippage-bps": (0, 1000),
    "quote-price-blocks": (1, 6),
    "admin-delay": (1008, 4320),
}
ROLES = ("admin", "guardian")


class Parameters(Contract):
    name = "parameters"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.values = self.state.map("parameters/values")
        self.values.update(DEFAULTS)
        self.values.update(world.parameter_values)
        self.vars.update(admin=deployer, guardian=None, shutdown=False)
        self.queued = ChangeQueue(
            self, "parameters", QueueErrors(ERR_QUEUED, ERR_NOT_QUEUED, ERR_NOT_READY, ERR_LAPSED),
            UInt,
        )  # fmt: skip
        self.queued_roles = ChangeQueue(
            self, "roles", QueueErrors(ERR_QUEUED, ERR_NOT_QUEUED, ERR_NOT_READY, ERR_LAPSED),
            lambda who: who,
        )  # fmt: skip

    def get(self, key: str) -> int:
        return self.values[key]

    # -- roles and the queue's rules, used by the other models --

    def admin(self, who: Principal) -> bool:
        return who == self.var("admin")

    def guardian(self, who: Principal) -> bool:
        """The admin or the guardian: who may reduce power at once."""
        return who == self.var("admin") or who == self.var("guardian")

    def shut_down(self) -> bool:
        return self.var("shutdown")

    def eta(self, burn_height: int) -> int:
        return burn_height + self.values["admin-delay"]

    def queue_state(self, eta: int, burn_height: int) -> int:
        if burn_height < eta:
            return NOT_YET
        return READY if burn_height < eta + ADMIN_LAPSE else LAPSED

    @read_only()
    def get_admin(self):
        return self.var("admin")

    @read_only()
    def get_guardian(self):
        g = self.var("guardian")
        return NONE if g is None else Some(g)

    @read_only(p_principal)
    def is_admin(self, who: Principal):
        return Bool(self.admin(who))

    @read_only(p_principal)
    def is_guardian(self, who: Principal):
        return Bool(self.guardian(who))

    @read_only()
    def is_shutdown(self):
        return Bool(self.shut_down())

    # -- parameters --

    @read_only(p_ascii(32))
    def get_parameter(self, key: str):
        if key not in self.values:
            return Err(UInt(ERR_UNKNOWN_KEY))
        return Ok(UInt(self.values[key]))

    @read_only(p_ascii(32))
    def get_bounds(self, key: str):
        if key not in BOUNDS:
            return NONE
        lo, hi = BOUNDS[key]
        return Some(Tuple({"min": UInt(lo), "max": UInt(hi)}))

    @read_only(p_ascii(32))
    def get_queued_parameter(self, key: str):
        return self.queued.read(key)

    @public(p_ascii(32), p_uint)
    def queue_parameter(self, ctx: Ctx, key: str, value: int):
        if not self.admin(ctx.caller):  # contract-caller: a role key lends no authority
            raise ContractErr(ERR_NOT_ADMIN)
        if key not in self.values:
            raise ContractErr(ERR_UNKNOWN_KEY)
        lo, hi = BOUNDS.get(key, (1, 0))
        if not lo <= value <= hi:
            raise ContractErr(ERR_OUT_OF_BOUNDS)
        return UInt(self.queued.queue(ctx, key, value))

    @public(p_ascii(32))
    def apply_parameter(self, ctx: Ctx, key: str):
        value = self.queued.take(ctx, key)
        self.state.set(self.values, key, value)
        self.print(ctx, "parameter-set", key=StringAscii(key), value=UInt(value))
        return TRUE

    @public(p_ascii(32))
    def cancel_parameter(self, ctx: Ctx, key: str):
        if not self.guardian(ctx.caller):
            raise ContractErr(ERR_NOT_GUARDIAN)
        self.queued.cancel(ctx, key)
        return TRUE

    # -- roles --

    @read_only(p_ascii(32))
    def get_queued_role(self, role: str):
        return self.queued_roles.read(role)

    @public(p_ascii(32), p_principal)
    def queue_role(self, ctx: Ctx, role: str, who: Principal):
        if not self.admin(ctx.caller):
            raise ContractErr(ERR_NOT_ADMIN)
        if role not in ROLES:
            raise ContractErr(ERR_UNKNOWN_KEY)
        return UInt(self.queued_roles.queue(ctx, role, who))

    @public(p_ascii(32))
    def apply_role(self, ctx: Ctx, role: str):
        who = self.queued_roles.take(ctx, role)
        self.set_var(role, who)
        self.print(ctx, "role-set", role=StringAscii(role), who=who)
        return TRUE

    @public(p_ascii(32))
    def cancel_role(self, ctx: Ctx, role: str):
        if not self.guardian(ctx.caller):
            raise ContractErr(ERR_NOT_GUARDIAN)
        self.queued_roles.cancel(ctx, role)
        return TRUE

    @public(p_principal)
    def init_guardian(self, ctx: Ctx, who: Principal):
        if not self.admin(ctx.caller):
            raise ContractErr(ERR_NOT_ADMIN)
        if self.var("guardian") is not None:
            raise ContractErr(ERR_ALREADY_SET)
        self.set_var("guardian", who)
        self.print(ctx, "role-set", role=StringAscii("guardian"), who=who)
        return TRUE

    @public()
    def shutdown(self, ctx: Ctx):
        if not self.guardian(ctx.caller):
            raise ContractErr(ERR_NOT_GUARDIAN)
        self.set_var("shutdown", True)
        self.print(ctx, "shutdown")
        return TRUE
