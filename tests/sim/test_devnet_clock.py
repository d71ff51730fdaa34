"""The devnet's wall clock (sim/devnet.py `WallClock`, simpy.rt underneath): an event runs
only under the devnet's lock, and closing does not wait out the interval to the next event."""

from __future__ import annotations

import threading

import simpy

from sim.devnet import WallClock


def _stepping(clock: WallClock, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            try:
                clock.step()
            except simpy.core.EmptySchedule:  # the test's events are done (a devnet's never are)
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_event_runs_under_the_lock_the_http_threads_hold():
    lock, stop = threading.RLock(), threading.Event()
    clock = WallClock(lock, stop)
    ran = threading.Event()
    seen_locked: list[bool] = []

    def block():
        yield clock.timeout(0.0)
        acquired = lock.acquire(blocking=False)  # re-entrant: True only for the holder
        seen_locked.append(acquired)
        lock.release()
        ran.set()

    clock.process(block())
    clock.start()
    with lock:  # an HTTP request in the middle of SimChain: the timer must wait for it
        thread = _stepping(clock, stop)
        assert not ran.wait(0.2)
    assert ran.wait(10)
    stop.set()
    thread.join(10)
    assert seen_locked == [True] and not thread.is_alive()


def test_closing_cuts_the_wait_for_the_next_block_short():
    lock, stop = threading.RLock(), threading.Event()
    clock = WallClock(lock, stop)
    ran: list[float] = []

    def block():
        yield clock.timeout(3600.0)  # an hour of wall time away
        ran.append(clock.now)

    clock.process(block())
    clock.start()
    thread = _stepping(clock, stop)
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and ran == []
