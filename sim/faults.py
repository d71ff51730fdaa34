"""Injected faults between the engine and the simulated node, in virtual time.

The actors see the chain through `FaultyChain`, users see the chain itself: a fault here is
the engine's trouble (its node refusing the oracle's pushes, its node unreachable), not the
network's. Windows are fixed by the scenario, so a run stays reproducible; each injection is
counted for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chain import errors
from chain import transactions as txs


@dataclass(frozen=True)
class FaultSpec:
    oracle_fail_from_hours: float = 0.0
    oracle_fail_hours: float = 0.0
    signer_down_from_hours: float = 0.0
    signer_down_hours: float = 0.0

    @property
    def any(self) -> bool:
        return self.oracle_fail_hours > 0 or self.signer_down_hours > 0


def _within(t: float, start_hours: float, hours: float) -> bool:
    return hours > 0 and start_hours * 3600 <= t < (start_hours + hours) * 3600


class FaultyChain:
    """The chain port with the spec's faults on `submit`; everything else passes through."""

    def __init__(self, chain: Any, spec: FaultSpec, clock: Callable[[], float]):
        self._chain, self.spec, self.clock = chain, spec, clock
        self.injected: dict[str, int] = {"oracle_push_refused": 0, "backend_unreachable": 0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def submit(self, raw: bytes) -> str:
        t, spec = self.clock(), self.spec
        if _within(t, spec.signer_down_from_hours, spec.signer_down_hours):
            self.injected["backend_unreachable"] += 1
            raise errors.Unavailable("injected: the node does not answer")
        if _within(t, spec.oracle_fail_from_hours, spec.oracle_fail_hours):
            payload = txs.decode(raw).payload
            if isinstance(payload, txs.ContractCall) and payload.function == "set-price":
                self.injected["oracle_push_refused"] += 1
                raise errors.rejection("ServerFailureOther", "injected: set-price refused")
        return self._chain.submit(raw)
