"""The guardian: an honest process holding the guardian key, which may only reduce power
(contracts/README.md, "Admin").

It watches the chain's `change-queued` events and cancels every change its operators did not
plan (`expected`, as `(contract, key)` pairs; none by default: in a simulation every queued
change is a compromised admin's), `latency_blocks` burn blocks after it saw the event. The admin
delay is at least 1008 burn blocks, so a guardian that reacts within a week always cancels in
time. It draws no random number and sends nothing while nothing is queued, so a run without an
admin change is byte-identical with or without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from actors.events import decode_prints
from chain import errors
from chain.clarity import ClarityValue, StringAscii, Tuple
from chain.contracts import Contracts
from chain.port import EventLog
from chain.wallet import Wallet
from sim.chain import Block, SimChain

POLL_SECONDS = 60.0
QUEUED = StringAscii("change-queued")
ROLES = ("admin", "guardian")


def cancel_call(contract: str, key: str) -> tuple[str, tuple[ClarityValue, ...]]:
    """The function (and its arguments) that cancels the change queued under `key` in the
    queue of the contract named `contract`."""
    if contract == "parameters":
        function = "cancel-role" if key in ROLES else "cancel-parameter"
        return function, (StringAscii(key),)
    if contract == "oracle":
        if key == "submitter":
            return "cancel-submitter", ()
        return "cancel-setting", (StringAscii(key),)
    if contract == "policy-registry" and key in ("quote-pubkey", "backend"):
        return f"cancel-{key}", ()
    raise ValueError(f"no queue {key!r} in {contract!r}")


@dataclass
class Guardian:
    env: simpy.Environment
    chain: SimChain
    contracts: Contracts
    wallet: Wallet
    log: EventLog
    latency_blocks: int
    expected: frozenset[tuple[str, str]] = frozenset()
    # (due burn height, contract, key) of the changes to cancel, in the order they were seen
    _todo: list[tuple[int, str, str]] = field(default_factory=list)

    def start(self) -> None:
        self.chain.subscribe(self._on_block)
        self.env.process(self._run())

    def _on_block(self, block: Block) -> None:
        watched = {c.address for c in (self.contracts.parameters, self.contracts.oracle,
                                       self.contracts.registry)}  # fmt: skip
        queued = tuple(
            ce for ce in block.events
            if ce.event.kind == "print" and ce.event.contract in watched
            and isinstance(ce.event.value, Tuple)
            and ce.event.value.data.get("event") == QUEUED
        )  # fmt: skip
        for e in decode_prints(queued):  # only these: a block of settlements decodes nothing
            name = e["_contract"].rpartition(".")[2]
            if (name, e["key"]) in self.expected:
                continue
            due = block.burn_height + self.latency_blocks
            self._todo.append((due, name, e["key"]))
            self.log.record("guardian-saw", contract=name, key=e["key"], eta=e["eta"], due=due)

    def _run(self):
        while True:
            yield self.env.timeout(POLL_SECONDS)
            if not self._todo:
                continue
            height = self.chain.tip().burn_height
            due = [t for t in self._todo if t[0] <= height]
            self._todo = [t for t in self._todo if t[0] > height]
            for _, name, key in due:
                function, args = cancel_call(name, key)
                try:
                    txid = self.wallet.call(self._principal(name), function, *args)
                except errors.Rejected as exc:
                    self.log.record("guardian-rejected", function=function, reason=exc.reason)
                    self.wallet.resync()
                    continue
                self.log.record("guardian-cancel", contract=name, key=key, txid=txid)

    def _principal(self, name: str):
        return {
            "parameters": self.contracts.parameters,
            "oracle": self.contracts.oracle,
            "policy-registry": self.contracts.registry,
        }[name]
