"""RegistryActor's settlement batching, against a real SimChain and a signer that fails."""

from __future__ import annotations

from actors.events import decode_prints
from actors.messages import Connect, NewBlock, Submit, TxDone
from actors.registry import RegistryActor
from chain.contracts import Contracts
from sim.runtime import SimRuntime
from store import open_store
from tests.sim.harness import BTC, STX, USD, Harness


class Sink:
    def __init__(self) -> None:
        self.got: list = []

    def tell(self, message) -> None:
        self.got.append(message)


class FailingBatches(Sink):
    """A signer whose multi-policy settlements all abort, as if one policy in each overflowed."""

    def tell(self, message) -> None:
        super().tell(message)
        if isinstance(message, Submit) and message.function == "settle-policies":
            ids = message.tag[1]
            status = "abort_by_response" if len(ids) > 1 else "success"
            message.reply_to.tell(TxDone(message.tag, f"tx-{ids}", status, None, 0))


class Log:
    def record(self, kind: str, **fields) -> None:
        pass


def test_a_failed_batch_is_retried_one_policy_per_transaction():
    h = Harness(users=3)
    h.set_price(65_000 * USD, 150_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    for i in range(3):
        q = h.quote(h.users[1 + i % 2], amount=BTC // 10)
        assert h.purchase(h.users[1 + i % 2], q).status == "success"
    h.chain.mine_burn(150)
    h.set_price(50_000 * USD, 150_000_000)  # fresh, after expiry: settlement may go

    runtime = SimRuntime(h.chain.env)
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    registry = runtime.start(RegistryActor, h.chain, open_store(), Log(), contracts)
    signer = FailingBatches()
    registry.tell(Connect(Sink(), registry, Sink(), signer))
    events = tuple(h.chain.events_since(0, 10**9))
    tip = h.chain.tip()
    registry.tell(NewBlock(tip.stacks_height, tip.burn_height, 0.0, (), events,
                           decode_prints(events)))  # fmt: skip
    h.chain.env.run()
    registry.tell(NewBlock(tip.stacks_height + 1, tip.burn_height, 0.0, (), (), ()))
    h.chain.env.run()
    sent = [m.tag[1] for m in signer.got if isinstance(m, Submit)]
    assert sent == [(1, 2, 3), (1,), (2,), (3,)]
    runtime.stop_all()
