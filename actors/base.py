"""What every engine actor shares: dispatch of typed messages, and the runtime binding.

An actor class here derives from `pykka.Actor` only. A runtime supplies pykka's three hooks
(inbox, future, loop) by deriving a class that puts its own base first: `pykka.ThreadingActor`
for live, the virtual-time runtime in `sim/runtime.py` for simulations. The actor's code is the
same object in both worlds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import pykka

from actors.messages import Connect, Sync
from chain.contracts import Contracts
from chain.port import Chain, EventLog, StorePort

A = TypeVar("A", bound=type)
logger = logging.getLogger("bithedge.live")


def handles(*message_types: type) -> Callable:
    """Marks a method as the handler of these message types."""

    def mark(fn: Callable) -> Callable:
        fn.__handles__ = message_types  # type: ignore[attr-defined]
        return fn

    return mark


class EngineActor(pykka.Actor):
    """Dispatches each message to the method marked `@handles(type(message))`."""

    _handlers: dict[type, Callable[[Any, Any], Any]]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        table: dict[type, Callable] = {}
        for klass in reversed(cls.__mro__):
            for fn in vars(klass).values():
                for t in getattr(fn, "__handles__", ()):
                    table[t] = fn
        cls._handlers = table

    @handles(Sync)
    def sync(self, _msg: Sync) -> bool:
        return True

    @handles(Connect)
    def connect(self, msg: Connect) -> None:
        """Actors that never address a peer ignore who their peers are."""

    def on_receive(self, message: Any) -> Any:
        handler = self._handlers.get(type(message))
        if handler is None:
            return super().on_receive(message)
        return handler(self, message)


class ServiceActor(EngineActor):
    """An engine actor with the ports every one of them uses and its peers once connected."""

    def __init__(self, chain: Chain, store: StorePort, log: EventLog, contracts: Contracts):
        super().__init__()
        self.chain, self.store, self.log, self.contracts = chain, store, log, contracts
        self.peers: Connect | None = None  # set once all actors have started

    @handles(Connect)
    def connect(self, msg: Connect) -> None:
        self.peers = msg


def bind(actor_cls: type, runtime_base: type) -> type[pykka.Actor]:
    """The class that runs `actor_cls` on `runtime_base` (e.g. pykka.ThreadingActor).

    Deliberately not cached here: a simulation's runtime base holds its runtime, so a
    process-wide cache would keep every runtime, its SimPy environment and its chain alive for
    good (issue 14). A runtime that starts many actors keeps its own table (`SimRuntime`).
    """
    namespace = {"__module__": actor_cls.__module__}
    return cast(type[pykka.Actor], type(actor_cls.__name__, (runtime_base, actor_cls), namespace))


class ThreadingRuntime:
    """Live: one thread per actor, pykka's own runtime."""

    def __init__(self, stop_timeout: float = 30.0) -> None:
        self.stop_timeout = stop_timeout
        self.refs: list[pykka.ActorRef] = []

    def now(self) -> float:
        """Wall time (Unix seconds): the clock actors stamp their store rows with."""
        return time.time()

    def start(self, actor_cls: type, *args: Any, **kwargs: Any) -> pykka.ActorRef:
        ref = bind(actor_cls, pykka.ThreadingActor).start(*args, **kwargs)
        self.refs.append(ref)
        return ref

    def stop_all(self) -> None:
        """Stops each actor once it has handled the messages already in its inbox; one that
        already died does not keep the others running."""
        for ref in self.refs:
            try:
                ref.stop(block=True, timeout=self.stop_timeout)
            except Exception as exc:
                logger.warning("stopping %s: %s", ref, type(exc).__name__)
        self.refs.clear()
