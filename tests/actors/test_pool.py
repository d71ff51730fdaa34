"""The Pool actor on its own: the tranches it mirrors from the pool's prints, the pending
withdrawals it tells the Registry (whose value no purchase may use, u415), the providers'
durable history, and its health watch (coverage below 1 and back)."""

from __future__ import annotations

from actors.events import decode_prints
from actors.messages import Connect, NewBlock, PoolState, PriceUpdate
from actors.pool import PoolActor
from chain.contracts import Contracts
from chain.port import Block
from chain.protocol import PRICE_SCALE, STX, STX_USD, TOKEN_UNIT
from sim.runtime import SimRuntime
from store import open_store
from tests.doubles import Sink
from tests.sim.harness import Harness

STX_1 = TOKEN_UNIT[STX]


class Log:
    """An event log that keeps what the actor records, in order."""

    def __init__(self) -> None:
        self.kinds: list[tuple[str, dict]] = []

    def record(self, kind: str, **fields) -> None:
        self.kinds.append((kind, fields))


class Rig:
    """A Pool actor on a SimChain, told each new block's events as the engine would."""

    def __init__(self) -> None:
        self.h = Harness(users=2)
        self.runtime = SimRuntime(self.h.chain.env)
        self.store, self.log = open_store(), Log()
        self.contracts = Contracts.of(self.h.d.accounts.deployer.principal())
        self.actor = self.runtime.start(PoolActor, self.h.chain, self.store, self.log,
                                        self.contracts)  # fmt: skip
        self.registry = Sink()
        self.actor.tell(Connect(Sink(), self.registry, Sink(), Sink()))
        self.seen = 0

    def block(self, prints: tuple[dict, ...] = ()) -> PoolState:
        """The chain's new events (and any `prints` a test adds) as one block; the state the
        actor then tells the Registry."""
        events = tuple(self.h.chain.events_since(self.seen, 10**9))
        self.seen += len(events)
        tip = self.h.chain.tip()
        block = Block(tip.stacks_height, tip.burn_height, 0.0, (), events)
        self.actor.tell(NewBlock(block, decode_prints(events) + prints))
        self.h.chain.env.run()
        states = [m for m in self.registry.got if isinstance(m, PoolState)]
        return states[-1]

    def tranche(self, state: PoolState, token: int, tier: int):
        return next(t for t in state.tranches if (t.token, t.tier) == (token, tier))


def test_deposits_and_a_withdrawal_request_reach_the_registry_and_the_store():
    rig = Rig()
    alice, bob = rig.h.users
    assert rig.h.deposit(alice, STX, 1, 1_000 * STX_1).status == "success"
    assert rig.h.deposit(bob, STX, 1, 3_000 * STX_1).status == "success"
    view = rig.tranche(rig.block(), STX, 1)
    assert (view.assets, view.shares, view.locked, view.pending) == (
        4_000 * STX_1, 4_000 * STX_1, 0, 0,
    )  # fmt: skip
    assert rig.h.request_withdraw(bob, STX, 1, 3_000 * STX_1).status == "success"
    view = rig.tranche(rig.block(), STX, 1)
    assert view.pending == 3_000 * STX_1 and view.pending_value == 3_000 * STX_1
    # what the chain would lock: the tier's cap (75%) would allow 3,000 STX, but only the
    # 1,000 STX not pending may back a policy (u415)
    assert view.fits(1_000 * STX_1, 7_500) and not view.fits(1_000 * STX_1 + 1, 7_500)
    rig.store.flush()
    flows = rig.store.flows.of(bob.address.address)
    assert [(f.kind.value, f.amount, f.shares) for f in flows] == [
        ("deposit", 3_000 * STX_1, 3_000 * STX_1),
        ("withdraw-requested", 0, 3_000 * STX_1),
    ]
    pending = [p for p in rig.store.withdrawals.all() if p.provider == bob.address.address]
    assert [(p.token, p.tier, p.shares, p.value) for p in pending] == [
        (STX, 1, 3_000 * STX_1, 3_000 * STX_1)
    ]
    assert rig.store.shares.all()[(STX, 1, bob.address.address)] == 0  # moved to pending
    rig.runtime.stop_all()


def test_coverage_below_one_is_recorded_once_and_its_recovery_too():
    """A policy's cover is judged at the token's price now: STX falling by 99% leaves the
    tranche short; the policy's settlement ends it."""
    rig = Rig()
    alice = rig.h.users[0]
    assert rig.h.deposit(alice, STX, 1, 10_000 * STX_1).status == "success"
    rig.block()
    registry = rig.contracts.registry.address
    bought = {
        "event": "policy-purchased",
        "_contract": registry,
        "id": 1,
        "token": STX,
        "tier": 1,
        "strike": 60_000 * PRICE_SCALE,
        "amount": 10**7,
    }  # 0.1 BTC, fmt: skip
    rig.actor.tell(PriceUpdate(STX_USD, 2 * PRICE_SCALE, 0.0, 0.5))
    rig.block((bought,))
    assert [k for k, _ in rig.log.kinds] == []  # 6,000 USD of cover: 3,000 STX of 10,000
    rig.actor.tell(PriceUpdate(STX_USD, PRICE_SCALE // 50, 0.0, 0.5))  # 0.02 USD: 300,000 STX
    rig.block()
    rig.block()  # still low: recorded once
    settled = {"event": "policy-settled", "_contract": registry, "id": 1}
    rig.block((settled,))
    assert [k for k, _ in rig.log.kinds] == ["coverage-low", "coverage-restored"]
    low = rig.log.kinds[0][1]
    assert (low["token"], low["tier"], low["assets"]) == (STX, 1, 10_000 * STX_1)
    assert low["required"] > low["assets"]
    rig.runtime.stop_all()
