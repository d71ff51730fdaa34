"""LiveEngine's loop over a node whose chain reorganises: it carries on, and the engine
(actors/engine.py) gets every transaction exactly once, the reorganisation included."""

from __future__ import annotations

import threading
from collections import Counter
from types import SimpleNamespace

from actors.engine import Engine
from chain.clarity import principal
from chain.contracts import Contracts
from chain.port import Block
from chain.stacks import StacksChain
from live.engine import LiveEngine, LiveLog
from store import open_store
from tests.doubles import ForkingNode

CONTRACTS = Contracts.of(principal("ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"))
REGISTRY = CONTRACTS.registry.address


class _Engine:
    """Stands in for actors/engine.py's Engine (its own `poll`): records what it hands on."""

    poll = Engine.poll

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.ticks: list[float] = []

    def on_block(self, block: Block) -> None:
        self.blocks.append(block)

    def tick(self, now: float) -> None:
        self.ticks.append(now)

    def stop(self) -> None:
        pass


class _Script(ForkingNode):
    """Before each poll (each `info`), the next step of the script; then stops the loop."""

    def __init__(self, steps, stop: threading.Event):
        super().__init__(page=2)
        self.steps, self.stop = list(steps), stop

    def info(self):
        if self.steps:
            self.steps.pop(0)(self)
        else:
            self.stop.set()
        return super().info()


def _txid(i: int) -> str:
    return f"{i:064x}"


def test_the_live_loop_carries_on_through_a_reorganisation_and_delivers_each_tx_once():
    stop = threading.Event()
    steps = [
        lambda n: [n.mine(_txid(i), REGISTRY, i) for i in range(3)],
        lambda n: n.mine(_txid(3), REGISTRY, 3),
        lambda n: (n.reorganise(2), n.mine(_txid(4), REGISTRY, 4)),  # 2 and 3 leave the chain
        lambda n: (n.mine(_txid(3), REGISTRY, 3), n.mine(_txid(2), REGISTRY, 2)),
        lambda n: n.mine(_txid(5), REGISTRY, 5),
    ]
    node = _Script(steps, stop)
    config = SimpleNamespace(
        oracle=SimpleNamespace(poll_seconds=60.0), block_poll_seconds=0.0, contracts=CONTRACTS
    )
    live = LiveEngine(config, client=node, clock=lambda: 0.0)  # type: ignore[arg-type]
    live.chain = StacksChain(node, CONTRACTS, clock=lambda: 0.0)  # type: ignore[arg-type]
    live.engine = recorder = _Engine()  # type: ignore[assignment]
    live.store, live.log = open_store("sqlite://"), LiveLog(None)
    errors: list[tuple[str, dict]] = []
    live.log.listeners.append(lambda kind, f: errors.append((kind, f)) if "error" in kind else 0)
    try:
        live.run(stop)  # returns only once the script ran out: nothing stopped it before
    finally:
        live.store.close()
    assert errors == []
    assert live.health.last_error == ""  # no poll failed
    got = Counter(r.txid for b in recorder.blocks for r in b.receipts)
    assert got == Counter({_txid(i): 1 for i in range(6)})
    assert Counter(e.txid for b in recorder.blocks for e in b.events) == got
    assert recorder.ticks == [0.0]  # one tick: the clock never moved
