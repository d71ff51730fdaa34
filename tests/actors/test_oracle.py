"""Oracle aggregation and the time-scaled cap's clamp, as pure functions and in the actor."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.events import decode_prints
from actors.messages import Connect, NewBlock, PushNow, Submit, Tick, TxDone
from actors.oracle import OracleActor, OracleConfig, aggregate, cap_bps, clamp_to_cap, median
from chain.clarity import TRUE, Err, Ok, StringAscii, UInt
from chain.contracts import BTC_USD, Contracts
from chain.keys import PrivateKey
from chain.port import Block
from sim.models import PythonContracts
from sim.runtime import SimRuntime
from store import open_store
from tests.doubles import NoLog, Sink
from tests.sim.harness import USD, Harness


def test_median_of_odd_and_even_counts():
    assert median([5, 1, 3]) == 3
    assert median([4, 1, 3, 2]) == 2  # (2 + 3) // 2, integers only


def test_outliers_are_dropped_and_quorum_is_required():
    quotes = [("a", 100_000), ("b", 100_100), ("c", 99_900), ("d", 150_000)]
    assert aggregate(quotes, outlier_bps=200, quorum=3) == 100_000
    assert aggregate(quotes[:2], outlier_bps=200, quorum=3) is None
    # a manipulated majority cannot be told from the truth; a manipulated minority is ignored
    split = [("a", 100_000), ("b", 130_000), ("c", 131_000), ("d", 130_500)]
    assert aggregate(split, outlier_bps=200, quorum=3) == 130_500
    spread = [("a", 100_000), ("b", 110_000), ("c", 120_000)]
    assert aggregate(spread, outlier_bps=200, quorum=3) is None  # no three agree


@given(
    st.integers(1, 10**15),
    st.integers(1, 10**15),
    st.integers(0, 10_000),
)
def test_clamped_price_is_always_accepted_by_the_contract(target, onchain, cap):
    price = clamp_to_cap(target, onchain, cap)
    assert abs(price - onchain) * 10_000 <= onchain * cap  # the oracle contract's own rule
    if abs(target - onchain) * 10_000 <= onchain * cap:
        assert price == target  # within the cap, untouched


# --- the v2 cap: time-scaled, never lifted -----------------------------------------------------


def test_the_cap_grows_with_elapsed_blocks_and_stops_at_max_jump():
    assert [cap_bps(n, 500, 5000) for n in (0, 1, 2, 9, 10, 11, 10_000)] == [
        0, 500, 1000, 4500, 5000, 5000, 5000,
    ]  # fmt: skip
    assert cap_bps(3, 0, 5000) == 0  # max-deviation 0 freezes the price


@given(
    st.integers(1, 10**15),
    st.integers(1, 10**15),
    st.integers(1, 2_000),
    st.integers(1, 1_000),  # the oracle's bounds on these settings (contracts/README.md)
    st.integers(100, 5_000),
)
def test_the_clamped_push_is_accepted_by_the_oracle_model(target, onchain, elapsed, dev, jump):
    """The actor's clamp, pushed `elapsed` burn blocks after the last observation, passes the
    contract model's cap (the same rule as oracle.clar, proven equal by the conformance tests)."""
    deployer = PrivateKey.from_seed(b"test_oracle/deployer").principal()
    world = PythonContracts(deployer)
    oracle = world.oracle.principal
    for key, arg in (("max-deviation-bps", dev), ("max-jump-bps", jump)):
        call = world.prepare(oracle, "queue-setting", [StringAscii(key), UInt(arg)])
        assert world.execute(deployer, call, 2).value == Ok(UInt(2 + 1008))
    start = 2 + 1008  # the settings apply a week after they were queued
    for key in ("max-deviation-bps", "max-jump-bps"):
        call = world.prepare(oracle, "apply-setting", [StringAscii(key)])
        assert world.execute(deployer, call, start).value == Ok(TRUE)

    def push(price: int, height: int):
        call = world.prepare(oracle, "set-price", [StringAscii("X"), UInt(price)])
        return world.execute(deployer, call, height).value

    assert push(onchain, start) == Ok(TRUE)
    price = clamp_to_cap(target, onchain, cap_bps(elapsed, dev, jump))
    assert price > 0
    assert push(price, start) == Err(UInt(106))  # never twice in one burn block
    assert push(price, start + elapsed) == Ok(TRUE)


class _Feed:
    def __init__(self, price: int):
        self.price = price

    def fetch(self, asset: str) -> list[tuple[str, int]]:
        return [(s, self.price) for s in ("a", "b", "c")]


def test_the_actor_pushes_once_a_burn_block_clamped_to_the_elapsed_cap():
    """A crash to 40,000 seen off-chain: no push in the block that already has an observation;
    one block later one push of -5%; ten blocks after that the rest (within 50%)."""
    h = Harness(users=1)
    h.set_price(65_000 * USD)
    runtime = SimRuntime(h.chain.env)
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    config = OracleConfig(assets=(BTC_USD,), store_raw=False)
    actor = runtime.start(OracleActor, _Feed(40_000 * USD), h.chain, open_store(), NoLog(),
                          contracts, config)  # fmt: skip
    signer = Sink()
    actor.tell(Connect(Sink(), Sink(), Sink(), signer))
    seen = 0

    def step(now: float) -> list[int]:
        """A new block's events, then a tick: the prices pushed, each executed on the chain."""
        nonlocal seen
        events = tuple(h.chain.events_since(seen, 10**9))
        seen += len(events)
        tip = h.chain.tip()
        actor.tell(
            NewBlock(
                Block(tip.stacks_height, tip.burn_height, now, (), events), decode_prints(events)
            )
        )
        actor.tell(Tick(now))
        h.chain.env.run()
        pushed = [m for m in signer.got if isinstance(m, Submit)]
        signer.got.clear()
        for m in pushed:
            r = h.send(h.admin, h.oracle, "set-price", *m.args)
            assert r.status == "success", r  # the contract takes every push the actor makes
            actor.tell(TxDone(m.tag, "tx", "success", r.result, tip.burn_height))
        return [m.args[1].value for m in pushed]

    assert step(0.0) == []  # the block already holds an observation of BTC-USD
    h.chain.mine_burn(1)
    assert step(100.0) == [65_000 * USD * 95 // 100]
    actor.tell(PushNow(BTC_USD))  # the registry asks for a fresh price: it waits a block
    assert step(200.0) == []  # one push a burn block
    h.chain.mine_burn(10)
    assert step(300.0) == [40_000 * USD]  # -35.4%: within 5% x 10 blocks
    runtime.stop_all()
