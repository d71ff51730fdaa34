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


def plain(value: Any) -> Any:
    """A Clarity value as a plain Python value: ints, strings, bools, bytes, principal text."""
    if isinstance(value, UInt | Int | StringAscii | Bool | Buffer):
        return value.value
    if isinstance(value, StandardPrincipal | ContractPrincipal):
        return value.address
    if isinstance(value, Tuple):
        return {k: plain(v) for k, v in value.data.items()}
    return value


def prints(events: tuple[ChainEvent, ...], contract: str | None = None) -> Iterator[dict]:
    """The `{event: …}` tuples printed (by `contract`, if given), as plain dicts, in order."""
    for ce in events:
        e = ce.event
        if e.kind != "print" or (contract is not None and e.contract != contract):
            continue
        value = e.value
        if isinstance(value, Tuple) and "event" in value.data:
            fields = plain(value)
            fields["_contract"] = e.contract
            fields["_txid"] = ce.txid
            fields["_burn"] = ce.burn_height
            fields["_block"] = ce.block_height
            yield fields
