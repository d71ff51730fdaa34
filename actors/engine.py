"""The engine: the four actors started together, fed blocks and ticks, stopped together.

The one place that assembles them. A simulation (`scenarios/world.py`) starts an `Engine` on
the virtual-time runtime, subscribes `on_block` to SimChain and ticks it from a SimPy process;
the live engine (`live/engine.py`) starts one on threads and polls StacksChain into it. Both
worlds hand the actors the same messages in the same order: `Connect` once, then each block
as one `NewBlock` (prints decoded once, here) to every actor, and the oracle's `Tick`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pykka

from actors.events import decode_prints
from actors.messages import Connect, NewBlock, Sync, Tick
from actors.oracle import OracleActor, OracleConfig
from actors.pool import PoolActor
from actors.registry import RegistryActor, RegistryConfig
from actors.signer import SignerActor, SignerConfig
from chain.contracts import Contracts
from chain.keys import PrivateKey
from chain.port import Block, Chain, EventLog, Mailbox, PolledBlocks, PriceFeed, StorePort


class Runtime(Protocol):
    """Where actors run: `SimRuntime` (virtual time) or `ThreadingRuntime` (threads)."""

    def start(self, actor_cls: type, *args: Any, **kwargs: Any) -> pykka.ActorRef: ...

    def now(self) -> float:
        """Seconds: virtual in a simulation, wall time live."""

    def stop_all(self) -> None:
        """Stops every actor this runtime started, each after the messages already sent."""


@dataclass(frozen=True, slots=True)
class Refs:
    """The running actors, by name."""

    signer: pykka.ActorRef
    oracle: pykka.ActorRef
    pool: pykka.ActorRef
    registry: pykka.ActorRef

    @property
    def all(self) -> tuple[pykka.ActorRef, ...]:
        """In start order, which is also the order each block reaches them."""
        return (self.signer, self.oracle, self.pool, self.registry)


@dataclass(frozen=True, slots=True)
class Keys:
    """The Signer's two keys: the backend's (pays and sends) and the quote signer's."""

    backend: PrivateKey
    quote: PrivateKey

    def __repr__(self) -> str:  # never a key in a log or a traceback
        return "Keys(<hidden>)"


@dataclass(frozen=True, slots=True)
class Configs:
    oracle: OracleConfig | None = None
    registry: RegistryConfig | None = None
    signer: SignerConfig | None = None


class Engine:
    """The four actors on one runtime. `observer` also receives the Pool's `PoolState`."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        chain: Chain,
        store: StorePort,
        log: EventLog,
        feed: PriceFeed,
        contracts: Contracts,
        keys: Keys,
        configs: Configs = Configs(),
        observer: Mailbox | None = None,
    ):
        self.runtime = runtime
        signer = runtime.start(
            SignerActor, chain, store, log, keys.backend, keys.quote, configs.signer, runtime.now
        )
        oracle = runtime.start(OracleActor, feed, chain, store, log, contracts, configs.oracle)
        pool = runtime.start(PoolActor, chain, store, log, contracts)
        registry = runtime.start(
            RegistryActor, chain, store, log, contracts, configs.registry, runtime.now
        )
        self.refs = Refs(signer, oracle, pool, registry)
        connect = Connect(oracle, registry, pool, signer, observer)
        for ref in self.refs.all:
            ref.tell(connect)

    @staticmethod
    def message(block: Block) -> NewBlock:
        """The block as the actors receive it, its prints decoded once."""
        return NewBlock(block, decode_prints(block.events))

    def deliver(self, message: NewBlock) -> None:
        for ref in self.refs.all:
            ref.tell(message)

    def on_block(self, block: Block) -> NewBlock:
        """Hands a block to every actor; returns the message (its decoded prints)."""
        message = self.message(block)
        self.deliver(message)
        return message

    def poll(self, source: PolledBlocks) -> list[Block]:
        """Live: the blocks that became visible since the last poll, each to every actor.
        (A simulation's SimChain calls back instead: its subscriber hands each block on.)"""
        blocks = source.poll()
        for block in blocks:
            self.on_block(block)
        return blocks

    def tick(self, now: float) -> None:
        self.refs.oracle.tell(Tick(now))

    def sync(self, rounds: int = 3) -> None:
        """Returns once every actor has handled what it was sent, and what that caused (a few
        rounds: a tick leads to a push request, which leads to a signed transaction). Threads
        only: in virtual time nobody waits on an actor."""
        for _ in range(rounds):
            for ref in self.refs.all:
                ref.ask(Sync())

    def stop(self) -> None:
        self.runtime.stop_all()
