"""Reading the contracts' `print` events: the only way the off-chain side learns what happened."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chain.clarity import (
    Bool,
    Buffer,
    ContractPrincipal,
    Int,
    StandardPrincipal,
    StringAscii,
    Tuple,
    UInt,
)
from chain.port import ChainEvent


def _value(v: Any) -> Any:
    return v.value


_PLAIN = {
    UInt: _value,
    Int: _value,
    StringAscii: _value,
    Bool: _value,
    Buffer: _value,
    StandardPrincipal: lambda v: v.address,
    ContractPrincipal: lambda v: v.address,
}


def plain(value: Any) -> Any:
    """A Clarity value as a plain Python value: ints, strings, bools, bytes, principal text."""
    convert = _PLAIN.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, Tuple):
        return {k: plain(v) for k, v in value.data.items()}
    return value


def decode_prints(events: tuple[ChainEvent, ...]) -> tuple[dict, ...]:
    """The `{event: …}` tuples printed in these events, as plain dicts, in order, with where
    they came from (`_contract`, `_txid`, `_index`: its place in the transaction, `_burn`,
    `_block`). Decoded once per block; readers
    must not modify them."""
    out = []
    for ce in events:
        e = ce.event
        value = e.value
        if e.kind != "print" or type(value) is not Tuple or "event" not in value.data:
            continue
        fields = {k: (_PLAIN.get(type(v)) or plain)(v) for k, v in value.data.items()}
        fields["_contract"] = e.contract
        fields["_txid"] = ce.txid
        fields["_index"] = ce.index
        fields["_burn"] = ce.burn_height
        fields["_block"] = ce.block_height
        out.append(fields)
    return tuple(out)


def prints(events: tuple[ChainEvent, ...], contract: str | None = None) -> Iterator[dict]:
    """`decode_prints`, optionally only those of one contract."""
    for fields in decode_prints(events):
        if contract is None or fields["_contract"] == contract:
            yield fields
