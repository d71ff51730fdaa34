"""Protocol parameters as the chain holds them: read at start, followed through events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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


# --- queued admin changes (contracts/README.md, "Admin") ------------------------------------------

# the event that applies a queued change -> how its queue key is read from the event
_APPLIED: dict[str, str] = {
    "parameter-set": "key",
    "oracle-setting-set": "key",
    "role-set": "role",
    "submitter-added": "submitter",
    "quote-pubkey-set": "quote-pubkey",
    "backend-set": "backend",
}
ZERO_KEY = bytes(33)


@dataclass(frozen=True)
class AdminChange:
    """One admin change seen on chain: `what` is queued, cancelled or applied; `contract` the
    contract's name (each has its own queue); `value` is None for a cancellation."""

    what: str
    contract: str
    key: str
    value: Any = None
    eta: int | None = None

    def fields(self) -> dict[str, Any]:
        """For the decision log: JSON-serialisable (a key's bytes as hex)."""
        value = self.value.hex() if isinstance(self.value, bytes) else self.value
        return {"what": self.what, "contract": self.contract, "key": self.key, "value": value,
                "eta": self.eta}  # fmt: skip


@dataclass
class Governance:
    """The admin changes queued on chain, followed from their events, so that the engine
    knows a week ahead what will change (a quote key, a parameter, a submitter) and when."""

    queued: dict[tuple[str, str], AdminChange] = field(default_factory=dict)

    def follow(self, event: dict) -> AdminChange | None:
        """Applies one printed event; the change it shows, or None for any other event."""
        name, contract = event["event"], event["_contract"].rsplit(".", 1)[-1]
        if name == "change-queued":
            change = AdminChange("queued", contract, event["key"], event["value"], event["eta"])
            self.queued[(contract, change.key)] = change
            return change
        if name == "change-cancelled":
            self.queued.pop((contract, event["key"]), None)
            return AdminChange("cancelled", contract, event["key"])
        field_name = _APPLIED.get(name)
        if field_name is None:
            return None
        key = event.get(field_name, field_name)
        value = event.get("value", event.get("who", event.get("key")))
        self.queued.pop((contract, key), None)
        return AdminChange("applied", contract, key, value)

    def pending(self, contract: str, key: str) -> AdminChange | None:
        return self.queued.get((contract, key))
