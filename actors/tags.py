"""What a system transaction is for: the tag an actor gives its `Submit`, the Signer keeps in its
outbox, and hands back with `TxDone` (or `Recovered`, after a restart).

One typed value per purpose, so that the owner reads back exactly what it sent: before, a tag was
a tuple turned into text and split again, and `("settle", "4,5,6")` came back where
`("settle", (4, 5, 6))` went in. The stored text is unchanged (`settle:4,5,6`,
`fix:BTC-USD:1200`, `price:BTC-USD:6500000000000`), so outboxes written by earlier versions
decode too; `decode(tag.encode()) == tag` for every tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


def _asset(asset: str) -> str:
    if not asset or ":" in asset:
        raise ValueError(f"tag asset: a non-empty name without ':', not {asset!r}")
    return asset


def _number(n: int) -> str:
    if n < 0:
        raise ValueError(f"tag number: an integer >= 0, not {n}")
    return str(n)


def _uint(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"tag number: decimal digits, not {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class SettleTag:
    """A `settle-policies` batch: the policy ids, in the order sent."""

    ids: tuple[int, ...]
    kind: ClassVar[str] = "settle"
    owner: ClassVar[str] = "registry"  # the `Connect` field of the actor it belongs to

    def encode(self) -> str:
        if not self.ids:
            raise ValueError("settle tag: one or more policy ids, not none")
        return f"settle:{','.join(map(_number, self.ids))}"


@dataclass(frozen=True, slots=True)
class FixTag:
    """A `fix` proving the fixing of `asset` at burn height `expiry`."""

    asset: str
    expiry: int
    kind: ClassVar[str] = "fix"
    owner: ClassVar[str] = "registry"

    def encode(self) -> str:
        return f"fix:{_asset(self.asset)}:{_number(self.expiry)}"


@dataclass(frozen=True, slots=True)
class PriceTag:
    """A `set-price` of `asset` to `price` (price units)."""

    asset: str
    price: int
    kind: ClassVar[str] = "price"
    owner: ClassVar[str] = "oracle"

    def encode(self) -> str:
        return f"price:{_asset(self.asset)}:{_number(self.price)}"


Tag = SettleTag | FixTag | PriceTag


def decode(text: str) -> Tag:
    """The tag `encode` wrote as `text`; ValueError naming what is wrong otherwise."""
    kind, _, rest = text.partition(":")
    parts = rest.split(":")
    if kind == SettleTag.kind and len(parts) == 1:
        return SettleTag(tuple(_uint(i) for i in parts[0].split(",")))
    if kind == FixTag.kind and len(parts) == 2:
        return FixTag(_asset(parts[0]), _uint(parts[1]))
    if kind == PriceTag.kind and len(parts) == 2:
        return PriceTag(_asset(parts[0]), _uint(parts[1]))
    raise ValueError(
        f"outbox tag: settle:<ids>, fix:<asset>:<expiry> or price:<asset>:<price>, not {text!r}"
    )
