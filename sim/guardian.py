"""The guardian: an honest process holding the guardian key, which may only reduce power
(contracts/README.md, "Admin").

It watches the chain's `change-queued` events and cancels every change its operators did not
plan (`expected`, as `(contract, key)` pairs; none by default: in a simulation every queued
change is a compromised admin's), `latency_blocks` burn blocks after it saw the event. The admin
delay is at least 1008 burn blocks, so a guardian that reacts within a week always cancels in
time. It draws no random number and sends nothing while nothing is queued, so a run without an
admin change is byte-identical with or without it.

With an `OracleWatch` it also compares every oracle observation with the world's price (what
its operators read off the exchanges): an observation more than `gap_bps` away from it that
moved away from it (an honest oracle lagging a crash moves towards it) gets its submitter
removed (`remove-submitter`, at once, never the last) `latency_blocks` burn blocks later. A
leaked submitter key then keeps one burn block of each fixing window at most.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import simpy

from actors.events import decode_prints
from chain import errors
from chain.clarity import ClarityValue, StringAscii, Tuple, principal
from chain.contracts import Contracts
from chain.port import EventLog
from chain.protocol import PRICE_SCALE
from chain.wallet import Wallet
from sim.chain import Block, SimChain

POLL_SECONDS = 60.0
QUEUED = StringAscii("change-queued")
PRICE_UPDATED = StringAscii("price-updated")
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


@dataclass(frozen=True)
class OracleWatch:
    """How the guardian judges the oracle: `price_at(asset, virtual time)` is the world's price
    in USD, `gap_bps` how far an observation may stray from it, `latency_blocks` how many burn
    blocks the removal waits after the observation's."""

    price_at: Callable[[str, float], float]
    gap_bps: int
    latency_blocks: int = 0


@dataclass
class Guardian:
    env: simpy.Environment
    chain: SimChain
    contracts: Contracts
    wallet: Wallet
    log: EventLog
    latency_blocks: int
    expected: frozenset[tuple[str, str]] = frozenset()
    oracle_watch: OracleWatch | None = None
    # (due burn height, contract, key) of the changes to cancel, in the order they were seen
    _todo: list[tuple[int, str, str]] = field(default_factory=list)
    # (due burn height, submitter address) to remove; everyone it has judged so
    _removals: list[tuple[int, str]] = field(default_factory=list)
    _judged: set[str] = field(default_factory=set)
    _last: dict[str, int] = field(default_factory=dict)  # asset -> its latest observation

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
        if self.oracle_watch is not None:
            self._watch_prices(block)
        for e in decode_prints(queued):  # only these: a block of settlements decodes nothing
            name = e["_contract"].rpartition(".")[2]
            if (name, e["key"]) in self.expected:
                continue
            due = block.burn_height + self.latency_blocks
            self._todo.append((due, name, e["key"]))
            self.log.record("guardian-saw", contract=name, key=e["key"], eta=e["eta"], due=due)

    def _watch_prices(self, block: Block) -> None:
        watch, oracle = self.oracle_watch, self.contracts.oracle.address
        assert watch is not None
        observed = tuple(
            ce for ce in block.events
            if ce.event.kind == "print" and ce.event.contract == oracle
            and isinstance(ce.event.value, Tuple)
            and ce.event.value.data.get("event") == PRICE_UPDATED
        )  # fmt: skip
        for e in decode_prints(observed):
            asset, price = e["asset"], e["price"]
            world = round(watch.price_at(asset, self.env.now) * PRICE_SCALE)
            prev = self._last.get(asset)
            self._last[asset] = price
            far = abs(price - world) * 10_000 > watch.gap_bps * world
            away = prev is None or abs(price - world) > abs(prev - world)
            if not (far and away):
                continue
            who = self.chain.status(e["_txid"]).sender
            if who in self._judged:
                continue
            self._judged.add(who)
            due = block.burn_height + watch.latency_blocks
            self._removals.append((due, who))
            self.log.record("guardian-saw-price", asset=asset, price=price, world=world,
                            submitter=who, due=due)  # fmt: skip

    def _run(self):
        while True:
            yield self.env.timeout(POLL_SECONDS)
            if not (self._todo or self._removals):
                continue
            height = self.chain.tip().burn_height
            for _, who in [r for r in self._removals if r[0] <= height]:
                self._send(self.contracts.oracle, "remove-submitter", (principal(who),),
                           submitter=who)  # fmt: skip
            self._removals = [r for r in self._removals if r[0] > height]
            due = [t for t in self._todo if t[0] <= height]
            self._todo = [t for t in self._todo if t[0] > height]
            for _, name, key in due:
                function, args = cancel_call(name, key)
                self._send(self._principal(name), function, args, contract=name, key=key)

    def _send(self, target, function: str, args: tuple[ClarityValue, ...], **what) -> None:
        """Sends `function` to the contract `target`; logs it with `what` (the cancelled
        change's contract and key, or the removed submitter)."""
        try:
            txid = self.wallet.call(target, function, *args)
        except errors.Rejected as exc:
            self.log.record("guardian-rejected", function=function, reason=exc.reason)
            self.wallet.resync()
            return
        kind = "guardian-remove" if function == "remove-submitter" else "guardian-cancel"
        self.log.record(kind, **what, txid=txid)

    def _principal(self, name: str):
        return {
            "parameters": self.contracts.parameters,
            "oracle": self.contracts.oracle,
            "policy-registry": self.contracts.registry,
        }[name]
