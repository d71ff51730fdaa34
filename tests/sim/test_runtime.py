"""The virtual-time runtime: pykka actors, deterministic delivery, no blocking."""

from __future__ import annotations

from dataclasses import dataclass

import pykka
import pytest
import simpy

from actors.base import EngineActor, ThreadingRuntime, handles
from sim.runtime import SimRuntime, WouldBlock


@dataclass(frozen=True)
class Ping:
    n: int
    reply_to: object = None


@dataclass(frozen=True)
class Pong:
    n: int


class Echo(EngineActor):
    def __init__(self, log: list):
        super().__init__()
        self.log = log
        self.peer = None

    @handles(Ping)
    def ping(self, msg: Ping):
        self.log.append(("ping", msg.n))
        if msg.reply_to is not None:
            msg.reply_to.tell(Pong(msg.n))
        return msg.n * 2

    @handles(Pong)
    def pong(self, msg: Pong):
        self.log.append(("pong", msg.n))
        if msg.n < 3:
            self.peer.tell(Ping(msg.n + 1, self.actor_ref))


def test_same_actor_class_runs_on_both_runtimes():
    env = simpy.Environment()
    rt = SimRuntime(env)
    log: list = []
    ref = rt.start(Echo, log)
    assert isinstance(rt.actor_of(ref), Echo)
    assert ref.ask(Ping(21)) == 42  # ask from outside drains the queue
    rt.stop_all()
    live = ThreadingRuntime().start(Echo, [])
    try:
        actor = live._actor_weakref()
        assert isinstance(actor, Echo) and isinstance(actor, pykka.ThreadingActor)
        assert live.ask(Ping(5), timeout=5) == 10
    finally:
        live.stop()


def test_delivery_is_fifo_in_virtual_time_and_deterministic():
    def run() -> list:
        env = simpy.Environment()
        rt = SimRuntime(env)
        log: list = []
        a, b = rt.start(Echo, log), rt.start(Echo, log)
        rt.actor_of(a).peer, rt.actor_of(b).peer = b, a

        def kick(env):
            yield env.timeout(10)
            a.tell(Ping(0, b))
            b.tell(Ping(100))
            log.append(("sent", env.now))

        env.process(kick(env))
        env.run(until=20)
        rt.stop_all()
        return log

    first = run()
    assert first == run()
    # both pings are delivered after the sender yields, in send order, then replies in turn
    assert first[:3] == [("sent", 10), ("ping", 0), ("ping", 100)]
    assert ("pong", 3) in first


def test_reading_an_unanswered_future_inside_virtual_time_fails_loudly():
    env = simpy.Environment()
    rt = SimRuntime(env)

    class Asker(EngineActor):
        @handles(Ping)
        def ping(self, msg):
            return self.actor_ref.ask(Pong(1), block=False).get()  # waits on itself

        @handles(Pong)
        def pong(self, msg):
            return 1

    ref = rt.start(Asker)
    with pytest.raises(WouldBlock):
        ref.ask(Ping(1))
    rt.stop_all()
