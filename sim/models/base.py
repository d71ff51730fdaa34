"""The small kernel the Python contract models stand on: journaled state, call context,
Clarity-exact arithmetic, and argument decoding.

The models mirror the Clarity contracts statement by statement, so the rules that make Clarity
what it is are reproduced here once: a transaction's writes are undone when it ends in `err`
or a runtime error; `uint` arithmetic aborts on overflow and underflow; division truncates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.clarity import (
    U128_MAX,
    Bool,
    Buffer,
    ClarityValue,
    ContractPrincipal,
    Err,
    List,
    Principal,
    StandardPrincipal,
    StringAscii,
    Tuple,
    UInt,
)
from chain.port import Event

_MISSING = object()


class ContractErr(Exception):
    """The function returned `(err uN)`: the transaction is rolled back, its fee still paid."""

    def __init__(self, code: int):
        super().__init__(f"(err u{code})")
        self.code = code

    @property
    def value(self) -> ClarityValue:
        return Err(UInt(self.code))


class RuntimeAbort(Exception):
    """A Clarity runtime error (overflow, underflow, division by zero): the call aborts."""


class ArgumentError(ValueError):
    """A contract call whose function or arguments do not fit the contract's interface; a node
    rejects such a transaction before it reaches a block."""


# --- journaled state ---------------------------------------------------------------------------


class State:
    """Every contract's data in named dicts, with one undo journal for the open transaction.

    Values must be immutable (ints, tuples, frozen dataclasses) so that a snapshot is a shallow
    copy of each dict.
    """

    def __init__(self) -> None:
        self.maps: dict[str, dict[Any, Any]] = {}
        self._undo: list[tuple[dict, Any, Any]] | None = None

    def map(self, name: str) -> dict[Any, Any]:
        return self.maps.setdefault(name, {})

    def set(self, m: dict[Any, Any], key: Any, value: Any) -> None:
        if self._undo is not None:
            self._undo.append((m, key, m.get(key, _MISSING)))
        m[key] = value

    def begin(self) -> None:
        self._undo = []

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo or [], None
        for m, key, old in reversed(undo):
            if old is _MISSING:
                m.pop(key, None)
            else:
                m[key] = old

    def snapshot(self) -> dict[str, dict[Any, Any]]:
        return {name: dict(m) for name, m in self.maps.items()}

    def restore(self, snap: dict[str, dict[Any, Any]]) -> None:
        for name, m in self.maps.items():
            m.clear()
            m.update(snap.get(name, {}))


# --- events and call context ---------------------------------------------------------------------


@dataclass(slots=True)
class Ctx:
    """`tx-sender`, `contract-caller`, the burn height, where events go, and the block's
    `stacks-block-time` (sim/models/clock.py)."""

    sender: Principal
    caller: Principal
    burn_height: int
    events: list[Event] = field(default_factory=list)
    time: int = 0

    def calling(self, contract: ContractPrincipal) -> Ctx:
        """The context inside a `contract-call?` made by `contract`."""
        return Ctx(self.sender, contract, self.burn_height, self.events, self.time)

    def as_contract(self, contract: ContractPrincipal) -> Ctx:
        """The context inside `(as-contract …)` of `contract`."""
        return Ctx(contract, contract, self.burn_height, self.events, self.time)

    def print(self, contract: str, event: str, **fields: ClarityValue) -> None:
        """`(print {event: …, …})` by the contract with this address."""
        data = {_clarity_name(k): v for k, v in fields.items()}
        data["event"] = StringAscii(event)
        self.events.append(Event("print", contract, Tuple(data)))


@functools.cache
def _clarity_name(python_name: str) -> str:
    return python_name.replace("_", "-")


# --- Clarity uint arithmetic ---------------------------------------------------------------


def add(a: int, b: int) -> int:
    r = a + b
    if r > U128_MAX:
        raise RuntimeAbort("arithmetic overflow")
    return r


def sub(a: int, b: int) -> int:
    if b > a:
        raise RuntimeAbort("arithmetic underflow")
    return a - b


def mul(a: int, b: int) -> int:
    r = a * b
    if r > U128_MAX:
        raise RuntimeAbort("arithmetic overflow")
    return r


def div(a: int, b: int) -> int:
    if b == 0:
        raise RuntimeAbort("division by zero")
    return a // b


def u(n: int) -> UInt:
    return UInt(n)


# --- Clarity 4 asset allowances ------------------------------------------------------------------

STX_ASSET = "stx"
NO_ALLOWANCE = 128  # the VM's (err u128): an asset moved that no allowance names


def with_allowance(ctx: Ctx, owner: Principal, asset: str, allowance: int, body: Callable) -> Any:
    """`(restrict-assets? owner ((with-stx n)) body)` or `(as-contract? ((with-ft c name n)) body)`
    with one allowance: runs `body`, then aborts like the VM when `owner` sent more of `asset`
    than `allowance` (`(err u0)`, the allowance's index) or sent any other asset (`(err u128)`).
    `asset` is `STX_ASSET` or a token's `contract::name` identifier, as its events name it."""
    start = len(ctx.events)
    value = body()
    moved: dict[str, int] = {}
    for e in ctx.events[start:]:
        if e.kind in ("stx_transfer", "ft_transfer") and e.sender == owner.address:
            key = STX_ASSET if e.kind == "stx_transfer" else e.contract
            moved[key] = moved.get(key, 0) + e.amount
    for key, amount in moved.items():
        if key != asset:
            raise ContractErr(NO_ALLOWANCE)
        if amount > allowance:
            raise ContractErr(0)
    return value


# --- arguments ----------------------------------------------------------------------------------


Parser = Callable[[ClarityValue], Any]


def p_uint(v: ClarityValue) -> int:
    if type(v) is not UInt:
        raise ArgumentError("expected uint")
    return v.value


def p_bool(v: ClarityValue) -> bool:
    if type(v) is not Bool:
        raise ArgumentError("expected bool")
    return v.value


def p_principal(v: ClarityValue) -> Principal:
    if not isinstance(v, StandardPrincipal | ContractPrincipal):
        raise ArgumentError("expected principal")
    return v


def p_trait(v: ClarityValue) -> ContractPrincipal:
    if type(v) is not ContractPrincipal:
        raise ArgumentError("expected a contract principal implementing the trait")
    return v


def p_ascii(max_len: int) -> Parser:
    def parse(v: ClarityValue) -> str:
        if type(v) is not StringAscii or len(v.value) > max_len:
            raise ArgumentError(f"expected (string-ascii {max_len})")
        return v.value

    return parse


def p_buff(max_len: int) -> Parser:
    def parse(v: ClarityValue) -> bytes:
        if type(v) is not Buffer or len(v.value) > max_len:
            raise ArgumentError(f"expected (buff {max_len})")
        return v.value

    return parse


def p_uint_list(max_len: int) -> Parser:
    def parse(v: ClarityValue) -> list[int]:
        if type(v) is not List or len(v.items) > max_len:
            raise ArgumentError(f"expected (list {max_len} uint)")
        return [p_uint(x) for x in v.items]

    return parse


def p_tuple(**schema: Parser) -> Parser:
    """A tuple of exactly these fields (names with `_` for `-`); parsed to a Tuple kept whole,
    because contracts hash and store tuples as they came."""
    names = {k.replace("_", "-"): p for k, p in schema.items()}

    def parse(v: ClarityValue) -> Tuple:
        if type(v) is not Tuple or set(v.data) != set(names):
            raise ArgumentError(f"expected tuple {{{', '.join(sorted(names))}}}")
        for name, p in names.items():
            p(v.data[name])
        return v

    return parse


def public(*parsers: Parser) -> Callable:
    """Marks a model method as a public Clarity function with these argument types."""

    def mark(fn: Callable) -> Callable:
        fn.__clarity__ = ("public", parsers)  # type: ignore[attr-defined]
        return fn

    return mark


def read_only(*parsers: Parser) -> Callable:
    def mark(fn: Callable) -> Callable:
        fn.__clarity__ = ("read-only", parsers)  # type: ignore[attr-defined]
        return fn

    return mark


class Contract:
    """A contract model: its principal, its slice of the state, and its function table.

    Methods marked `public` take `(ctx, *args)` and return the `ok` value or raise ContractErr;
    methods marked `read_only` take `(*args)` and return the whole Clarity value. Python names
    map to Clarity names by `_` -> `-`.
    """

    name: str = ""
    functions: dict[str, tuple[str, Callable, tuple[Parser, ...]]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.functions = {}
        for attr in dir(cls):
            fn = getattr(cls, attr)
            spec = getattr(fn, "__clarity__", None)
            if spec is not None:
                cls.functions[attr.replace("_", "-")] = (spec[0], fn, spec[1])

    def __init__(self, world: Any, deployer: StandardPrincipal):
        self.world = world
        self.state: State = world.state
        self.principal = deployer.contract(self.name)
        self.address = self.principal.address
        self.vars = self.state.map(f"{self.name}/vars")

    def var(self, key: str) -> Any:
        return self.vars[key]

    def set_var(self, key: str, value: Any) -> None:
        self.state.set(self.vars, key, value)

    def print(self, ctx: Ctx, event: str, **fields: ClarityValue) -> None:
        ctx.print(self.address, event, **fields)
