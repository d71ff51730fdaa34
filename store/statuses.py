"""The status columns' values: `policies.status` and `outbox.status`.

Apart from the schema (no SQLAlchemy here) because the actors speak them too: the port
(chain/port.py) re-exports them, and this module is the one piece of `store` the actors' layer
contract lets through (pyproject.toml), so a status has one home and actors still depend on no
database code.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class PolicyStatus(IntEnum):
    """Values of `policies.status`; they mirror the registry contract's status codes."""

    ACTIVE = 0
    SETTLED = 1
    EXPIRED = 2

    @property
    def label(self) -> str:
        """The API's and the metrics' name for it: `active`, `settled`, `expired`."""
        return self.name.lower()


class OutboxStatus(StrEnum):
    """Values of `outbox.status`: a chain outcome (the first five are `TxStatus`'s values, as
    the Signer copies a receipt's status), or what the Signer decided about its own row."""

    PENDING = "pending"
    SUCCESS = "success"
    ABORT_BY_RESPONSE = "abort_by_response"
    ABORT_BY_POST_CONDITION = "abort_by_post_condition"
    DROPPED = "dropped"  # left without running, or its nonce spent by another version
    REJECTED = "rejected"  # no node would take it
    WITHDRAWN = "withdrawn"  # signed after a refused nonce: to be sent again later
    REPLACED = "replaced"  # a higher-fee version took its place

    @property
    def mined(self) -> bool:
        """A block included it (it ran, successfully or not)."""
        return self in _MINED


_MINED = frozenset(
    (OutboxStatus.SUCCESS, OutboxStatus.ABORT_BY_RESPONSE, OutboxStatus.ABORT_BY_POST_CONDITION)
)
