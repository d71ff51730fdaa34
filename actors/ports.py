"""The ports an actor sees besides the chain (chain/port.py) and the store (store/)."""

from __future__ import annotations

from typing import Any, Protocol


class PriceFeed(Protocol):
    def fetch(self, asset: str) -> list[tuple[str, int]]:
        """(source name, price in price units) from every source that answered, in a fixed
        source order. Sources that are down, slow or answer garbage are simply absent."""


class EventLog(Protocol):
    def record(self, kind: str, **fields: Any) -> None:
        """One line of the run's decision log (JSON-serialisable fields)."""


class Mailbox(Protocol):
    """Anything a reply can be sent to: an ActorRef, or a simulated user's inbox."""

    def tell(self, message: Any) -> None: ...
