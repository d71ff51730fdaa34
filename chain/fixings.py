"""The hints the oracle's `fix` needs, found off chain (contracts/README.md, oracle `fix`).

A fixing of (asset, E) is proven with two hints: the heights of the last observations at or
before E - fixing-window and at or before E. Anyone can find them by walking back from the
latest observation through each observation's `prev`; whoever settles (the Registry actor, a
buyer settling itself, an adversary) does this, so it lives here once.
"""

from __future__ import annotations

from chain.clarity import ContractPrincipal, Some, StringAscii, UInt
from chain.port import Chain


def in_force(
    chain: Chain,
    oracle: ContractPrincipal,
    asset: str,
    x: int,
    latest: int | None = None,
    prev_of: dict[tuple[str, int], int | None] | None = None,
) -> int | None:
    """The height of the last observation of `asset` at or before burn height `x`, or None.

    `latest` is the latest observation's height if the caller knows it (else it is read);
    `prev_of` caches (asset, height) -> the previous observation's height, as the
    `price-updated` events print it, so that only unknown links are read from the chain."""
    cache = {} if prev_of is None else prev_of
    height = latest
    if height is None:
        got = chain.read_only(oracle, "get-latest", [StringAscii(asset)])
        height = got.value["height"].value if isinstance(got, Some) else None  # type: ignore[index]
    while height is not None and height > x:
        key = (asset, height)
        if key not in cache:
            o = chain.read_only(oracle, "get-observation", [StringAscii(asset), UInt(height)])
            prev = o.value["prev"]  # type: ignore[attr-defined]
            cache[key] = prev.value.value if isinstance(prev, Some) else None  # type: ignore[attr-defined]
        height = cache[key]
    return height


def fix_hints(
    chain: Chain,
    oracle: ContractPrincipal,
    asset: str,
    expiry: int,
    window: int,
    latest: int | None = None,
    prev_of: dict[tuple[str, int], int | None] | None = None,
) -> tuple[int, int] | None:
    """(start-hint, end-hint) for `fix(asset, expiry, …)`, or None without an observation
    old enough (the oracle would refuse: u109)."""
    start = in_force(chain, oracle, asset, expiry - window, latest, prev_of)
    end = in_force(chain, oracle, asset, expiry, latest, prev_of)
    return None if start is None or end is None else (start, end)
