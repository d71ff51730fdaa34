"""Protocol parameters as the chain holds them: read at start, followed through events."""

from __future__ import annotations

from collections.abc import Iterable

from chain.clarity import Ok, StringAscii, UInt
from chain.contracts import Contracts
from chain.port import Chain


def read_parameters(chain: Chain, contracts: Contracts, keys: Iterable[str]) -> dict[str, int]:
    out = {}
    for key in keys:
        got = chain.read_only(contracts.parameters, "get-parameter", [StringAscii(key)])
        if not isinstance(got, Ok) or not isinstance(got.value, UInt):
            raise RuntimeError(f"the parameters contract has no {key!r}")
        out[key] = got.value.value
    return out


def follow(params: dict[str, int], event: dict) -> bool:
    """Applies a `parameter-set` event to a parameter dict; True if it changed a key we hold."""
    if event["event"] != "parameter-set" or event["key"] not in params:
        return False
    params[event["key"]] = event["value"]
    return True
