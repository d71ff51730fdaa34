"""The deterministic actor runtime: pykka actors whose messages are delivered in virtual time.

Ordering rule: one global first-in, first-out queue. A message sent at virtual time t is
delivered at t, after every message sent before it; messages sent while handling a message go
to the back of the queue. Delivery starts from a zero-delay SimPy event, so it is ordered with
the chain's blocks and the agents' actions by SimPy's own rule (time, then scheduling order).
No threads, no wall clock: the same inputs deliver the same messages in the same order.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Any

import pykka
import simpy
from pykka import messages

from actors.base import bind


class WouldBlock(RuntimeError):
    """A future was read before its answer existed: in virtual time nobody else can answer it
    while the caller waits, so the caller must be reorganised to handle a reply message."""


class SimFuture(pykka.Future):
    def __init__(self, runtime: SimRuntime):
        super().__init__()
        self._runtime = runtime
        self._value: Any = None
        self._exc: Any = None
        self._done = False

    def get(self, *, timeout: float | None = None) -> Any:
        try:
            return super().get(timeout=timeout)
        except NotImplementedError:
            pass
        if not self._done:
            self._runtime.deliver_all()
        if not self._done:
            raise WouldBlock("future read before it was answered")
        if self._exc is not None:
            raise self._exc[1].with_traceback(self._exc[2])
        return self._value

    def set(self, value: Any | None = None) -> None:
        self._value, self._done = value, True

    def set_exception(self, exc_info: Any = None) -> None:
        self._exc, self._done = exc_info or sys.exc_info(), True


class _Inbox:
    __slots__ = ("actor", "runtime")

    def __init__(self, runtime: SimRuntime, actor: pykka.Actor):
        self.runtime, self.actor = runtime, actor

    def put(self, envelope: Any) -> None:
        self.runtime.post(self.actor, envelope)

    def get(self) -> Any:
        raise WouldBlock("a simulated actor's inbox is read by the runtime only")

    def empty(self) -> bool:
        return True


class SimActor(pykka.Actor):
    """pykka's hooks for virtual time; `SimRuntime.start` puts this base first."""

    _runtime: SimRuntime

    def _create_actor_inbox(self) -> Any:  # type: ignore[override]
        return _Inbox(self._runtime, self)

    def _start_actor_loop(self) -> None:
        self._actor_loop_setup()  # on_start, at once

    def _deliver(self, envelope: Any) -> None:
        """One turn of pykka's actor loop."""
        if self.actor_stopped.is_set():
            return
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception()
            else:
                raise  # a simulation stops at the first actor failure, loudly


class SimRuntime:
    def __init__(self, env: simpy.Environment):
        self.env = env
        self.queue: deque[tuple[SimActor, Any]] = deque()
        self._scheduled = False
        self._delivering = False
        self._classes: dict[type, type] = {}
        self.refs: list[pykka.ActorRef] = []

    def start(self, actor_cls: type, *args: Any, **kwargs: Any) -> pykka.ActorRef:
        klass = self._classes.get(actor_cls)
        if klass is None:
            base = type("SimActor", (SimActor,), {"_runtime": self})
            base._create_future = staticmethod(lambda: SimFuture(self))  # type: ignore[method-assign]
            klass = self._classes[actor_cls] = bind(actor_cls, base)
        ref = klass.start(*args, **kwargs)
        self.refs.append(ref)
        return ref

    def now(self) -> float:
        """Virtual seconds: the clock actors stamp their store rows with (deterministic)."""
        return float(self.env.now)

    def post(self, actor: SimActor, envelope: Any) -> None:
        self.queue.append((actor, envelope))
        if not self._scheduled and not self._delivering:
            self._scheduled = True
            self.env.timeout(0).callbacks.append(self._on_due)

    def _on_due(self, _event: Any) -> None:
        self._scheduled = False
        self.deliver_all()

    def deliver_all(self) -> None:
        """Delivers until no message is left (not re-entrant: a handler's sends are queued)."""
        if self._delivering:
            return
        self._delivering = True
        try:
            queue = self.queue
            while queue:
                actor, envelope = queue.popleft()
                actor._deliver(envelope)
        finally:
            self._delivering = False

    def stop_all(self) -> None:
        """Stops this runtime's actors (on_stop runs; pykka's registry forgets them)."""
        for ref in self.refs:
            if ref.is_alive():
                self.actor_of(ref)._handle_receive(messages._ActorStop())

    @staticmethod
    def actor_of(ref: pykka.ActorRef) -> SimActor:
        """The actor behind a ref (for stopping and for tests; actors themselves
        only ever hold refs)."""
        return ref.actor_inbox.actor  # type: ignore[attr-defined]
