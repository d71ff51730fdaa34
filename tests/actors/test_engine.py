"""The engine's assembly (actors/engine.py) on a runtime that only records: which actors start
with which ports and configs, who hears `Connect`, and how blocks and ticks are handed out."""

from __future__ import annotations

from actors.engine import Configs, Engine, Keys
from actors.messages import Connect, NewBlock, Tick
from actors.oracle import OracleActor, OracleConfig
from actors.pool import PoolActor
from actors.registry import RegistryActor, RegistryConfig
from actors.signer import SignerActor
from chain.clarity import StringAscii, Tuple, UInt, principal
from chain.contracts import Contracts
from chain.keys import PrivateKey
from chain.port import Block, ChainEvent, Event

CONTRACTS = Contracts.of(principal("ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"))


class Ref:
    def __init__(self, cls: type, args: tuple):
        self.cls, self.args, self.got = cls, args, []

    def tell(self, message) -> None:
        self.got.append(message)


class Runtime:
    def __init__(self) -> None:
        self.started: list[Ref] = []
        self.stopped = 0

    def start(self, actor_cls, *args, **kwargs):
        assert not kwargs
        ref = Ref(actor_cls, args)
        self.started.append(ref)
        return ref

    def stop_all(self) -> None:
        self.stopped += 1

    def now(self) -> float:
        return 12.5


def _engine(runtime: Runtime, observer=None) -> Engine:
    keys = Keys(PrivateKey.from_seed(b"backend"), PrivateKey.from_seed(b"quote"))
    configs = Configs(oracle=OracleConfig(quorum=1), registry=RegistryConfig())
    return Engine(runtime, chain="chain", store="store", log="log", feed="feed",  # type: ignore[arg-type]
                  contracts=CONTRACTS, keys=keys, configs=configs, observer=observer)  # fmt: skip


def test_the_four_actors_start_with_their_ports_and_hear_who_their_peers_are():
    runtime, observer = Runtime(), Ref(object, ())
    engine = _engine(runtime, observer)
    signer, oracle, pool, registry = runtime.started
    assert [r.cls for r in runtime.started] == [SignerActor, OracleActor, PoolActor, RegistryActor]
    assert signer.args[:3] == ("chain", "store", "log") and signer.args[5] is None
    assert signer.args[6]() == 12.5  # the runtime's clock, for the outbox's time columns
    assert oracle.args[:5] == ("feed", "chain", "store", "log", CONTRACTS)
    assert oracle.args[5] == OracleConfig(quorum=1)
    assert pool.args == ("chain", "store", "log", CONTRACTS)
    assert registry.args[:5] == ("chain", "store", "log", CONTRACTS, RegistryConfig())
    assert registry.args[5]() == 12.5
    connect = Connect(oracle, registry, pool, signer, observer)  # type: ignore[arg-type]
    assert all(r.got == [connect] for r in runtime.started)
    assert engine.refs.all == (signer, oracle, pool, registry)
    assert repr(Keys(PrivateKey.from_seed(b"b"), PrivateKey.from_seed(b"q"))) == "Keys(<hidden>)"


def test_a_block_reaches_every_actor_once_with_its_prints_decoded_and_a_tick_the_oracle():
    runtime = Runtime()
    engine = _engine(runtime)
    value = Tuple({"event": StringAscii("price-updated"), "price": UInt(7)})
    event = ChainEvent(0, "ab" * 32, 5, 3, Event("print", CONTRACTS.oracle.address, value), 0)
    block = Block(5, 3, 60.0, (), (event,))
    message = engine.on_block(block)
    assert message.block is block and message.height == 5 and message.burn_height == 3
    assert [(p["event"], p["price"]) for p in message.prints] == [("price-updated", 7)]
    assert all(r.got[1:] == [message] for r in runtime.started)
    assert all(isinstance(r.got[1], NewBlock) for r in runtime.started)
    engine.tick(61.0)
    assert [r.got[2:] for r in runtime.started] == [[], [Tick(61.0)], [], []]
    engine.stop()
    assert runtime.stopped == 1
