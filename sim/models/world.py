"""The Python executor: all contract models and the STX ledger on one journaled state.

SimChain hands it one transaction at a time. It decodes nothing and checks no signature (the
chain did that); it runs the call with Clarity's rules and reports the result and the events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from chain.clarity import TRUE, ClarityValue, ContractPrincipal, Ok, Principal, StandardPrincipal
from chain.port import Event
from sim.models.assets import SbtcToken, Stx
from sim.models.base import (
    ArgumentError,
    Contract,
    ContractErr,
    Ctx,
    RuntimeAbort,
    State,
)
from sim.models.clock import BlockClock, deployed
from sim.models.oracle import Oracle
from sim.models.parameters import Parameters
from sim.models.pool import Pool
from sim.models.registry import Registry


@dataclass(frozen=True, slots=True)
class ExecResult:
    """How a transaction ended. `outcome` is `success`, `abort_by_response` (an `err`, or a
    runtime error, whose text is in `error`) or `abort_by_post_condition`."""

    outcome: str
    value: ClarityValue | None
    events: tuple[Event, ...] = ()
    error: str = ""

    @property
    def success(self) -> bool:
        return self.outcome == "success"


EventCheck = Callable[[Sequence[Event]], bool]


class Prepared(NamedTuple):
    model: Contract
    fn: Callable
    args: list[Any]


@dataclass
class PythonContracts:
    deployer: StandardPrincipal
    name: str = "python"
    state: State = field(default_factory=State)
    # The Clarinet simnet stands at burn height 2 once the contracts are deployed; a chain on
    # either executor starts there, so both see the same heights.
    genesis_burn_height: int = 2
    # The simnet's Stacks blocks, counted as the VM mines them (sim/models/clock.py)
    clock: BlockClock = field(default_factory=deployed)
    # the deployment's own parameter values over parameters.clar's seeded ones (sim/genesis.py)
    parameter_values: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stx = Stx(self.state)
        self.sbtc = SbtcToken(self, self.deployer)
        self.oracle = Oracle(self, self.deployer)
        self.parameters = Parameters(self, self.deployer)
        self.pool = Pool(self, self.deployer)
        self.registry = Registry(self, self.deployer)
        self.contracts: dict[ContractPrincipal, Contract] = {
            c.principal: c
            for c in (self.sbtc, self.oracle, self.parameters, self.pool, self.registry)
        }

    # -- interface checks (a node's admission rules) --

    def _function(self, contract: ContractPrincipal, function: str, kind: str):
        model = self.contracts.get(contract)
        if model is None:
            raise ArgumentError(f"no such contract {contract.address}")
        spec = model.functions.get(function)
        if spec is None or spec[0] != kind:
            raise ArgumentError(f"no {kind} function {function!r} in {contract.name}")
        return model, spec[1], spec[2]

    def _parse(
        self, contract: ContractPrincipal, function: str, args: Sequence[ClarityValue], kind: str
    ) -> Prepared:
        model, fn, parsers = self._function(contract, function, kind)
        if len(args) != len(parsers):
            raise ArgumentError(f"{function} takes {len(parsers)} arguments, got {len(args)}")
        return Prepared(model, fn, [p(a) for p, a in zip(parsers, args, strict=True)])

    def prepare(
        self, contract: ContractPrincipal, function: str, args: Sequence[ClarityValue]
    ) -> Prepared:
        """Checks a public call against the contract's interface (raises ArgumentError), as a
        node does on admission, and returns the handle `execute` runs."""
        return self._parse(contract, function, args, "public")

    # -- execution --

    def _run(self, body: Callable[[Ctx], ClarityValue], ctx: Ctx, check: EventCheck | None):
        self.state.begin()
        try:
            value = body(ctx)
        except ContractErr as err:
            self.state.rollback()
            return ExecResult("abort_by_response", err.value)
        except RuntimeAbort as exc:
            self.state.rollback()
            return ExecResult("abort_by_response", None, error=str(exc))
        if check is not None and not check(ctx.events):
            self.state.rollback()
            return ExecResult("abort_by_post_condition", Ok(value))
        self.state.commit()
        return ExecResult("success", Ok(value), tuple(ctx.events))

    def execute(
        self,
        sender: StandardPrincipal,
        call: Prepared,
        burn_height: int,
        check: EventCheck | None = None,
    ) -> ExecResult:
        model, fn, parsed = call
        ctx = Ctx(sender, sender, burn_height, time=self.clock.mine(burn_height))
        return self._run(lambda ctx: fn(model, ctx, *parsed), ctx, check)

    def transfer_stx(
        self,
        sender: StandardPrincipal,
        recipient: Principal,
        amount: int,
        burn_height: int,
        check: EventCheck | None = None,
    ) -> ExecResult:
        def body(ctx: Ctx) -> ClarityValue:
            self.stx.transfer(ctx, amount, sender, recipient)
            return TRUE

        return self._run(
            body, Ctx(sender, sender, burn_height, time=self.clock.mine(burn_height)), check
        )

    def call(self, ctx: Ctx, contract: ContractPrincipal, function: str, *args: Any) -> Any:
        """A contract-call? from one model into another, with already-parsed arguments. A
        dynamic call (through a trait) to a contract without that function is a runtime error
        in Clarity, which aborts the transaction."""
        try:
            model, fn, _ = self._function(contract, function, "public")
        except ArgumentError as exc:
            raise RuntimeAbort(str(exc)) from None
        return fn(model, ctx, *args)

    def read_only(
        self,
        contract: ContractPrincipal,
        function: str,
        args: Sequence[ClarityValue],
        burn_height: int = 0,
    ) -> ClarityValue:
        model, fn, parsed = self._parse(contract, function, args, "read-only")
        if burn_height:
            self.clock.sync(burn_height)
        return fn(model, *parsed)

    # -- accounts --

    def pay_fee(self, sender: StandardPrincipal, fee: int) -> bool:
        """Debits a transaction fee outside any transaction's journal; False if unaffordable."""
        if self.stx.balance(sender) < fee:
            return False
        self.stx.balances[sender] = self.stx.balance(sender) - fee
        if fee:
            self.clock.mine()  # the Clarity executor moves a fee with a transfer: one block
        return True

    def stx_balance(self, who: Principal) -> int:
        return self.stx.balance(who)

    def sbtc_balance(self, who: Principal) -> int:
        return self.sbtc.token.balance(who)

    def genesis_stx(self, who: Principal, amount: int) -> None:
        self.stx.balances[who] = self.stx.balance(who) + amount

    def genesis_sbtc(self, who: Principal, amount: int) -> None:
        token = self.sbtc.token
        token.balances[who] = token.balance(who) + amount
        token.supply["total"] = token.total_supply() + amount
        self.clock.mine()  # the Clarity executor mints with a call: one block

    @property
    def time(self) -> int:
        """The tip's `stacks-block-time`."""
        return self.clock.time()

    def snapshot(self) -> Any:
        return self.state.snapshot(), replace(self.clock)

    def restore(self, snap: Any) -> None:
        state, clock = snap
        self.state.restore(state)
        self.clock = replace(clock)

    def close(self) -> None:
        """Nothing to release (the Clarity VM executor stops its bridge here)."""
