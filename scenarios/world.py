"""Building a simulated world from a scenario and a seed.

The world: a true price path, exchanges that observe it, SimChain with the contracts deployed,
an in-memory store, the engine (the four actors on the virtual-time runtime, actors/engine.py)
subscribed to the chain through a `Follower` and ticked from a SimPy process, providers,
buyers, the guardian and the scenario's adversaries. The order of construction is part of the
result: every random draw comes from the seed tree in this order, so moving a step changes the
run's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from actors.engine import Configs, Engine, Keys
from actors.oracle import OracleConfig
from actors.registry import RegistryConfig
from chain.contracts import BTC_USD, Contracts
from chain.wallet import Wallet
from risk.pricing import PricingParams
from scenarios import outputs
from scenarios.config import Scenario
from scenarios.follow import Book, Follower, Observer
from scenarios.report import versions
from sim import adversaries
from sim.agents import Buyers, Providers
from sim.chain import ChainConfig, SimChain
from sim.exchanges import ExchangeSpec, SimExchange, SimFeed
from sim.faults import FaultSpec, FaultyChain
from sim.genesis import SBTC_UNIT, STX_UNIT, deploy
from sim.guardian import Guardian, OracleWatch
from sim.invariants import InvariantChecker
from sim.prices import PathSpec, PricePath, Segment
from sim.runtime import SimRuntime
from store import Store, open_store

BURST_PER_ACCOUNT = 20


@dataclass(frozen=True)
class World:
    """Everything a run follows and reports on, built and started (nothing has run yet)."""

    env: simpy.Environment
    horizon: float  # virtual seconds: the active days and the drain days
    active_until: float  # virtual seconds: buyers arrive until then
    path: PricePath
    chain: SimChain
    engine: Engine
    follower: Follower
    book: Book
    checker: InvariantChecker
    log: outputs.JsonlLog
    store: Store
    faults: FaultSpec
    seen: Any  # the chain the actors see: SimChain, or FaultyChain over it
    ledger: adversaries.Ledger


def build(scenario: Scenario, seed: int, out: Path | None, executor: str) -> World:
    """Builds the world and starts its processes; writes config.json into `out` if given."""
    v = scenario.values
    seeds = np.random.SeedSequence(seed)
    s_chain, s_path, s_exchanges, s_buyers = seeds.spawn(4)
    horizon = (v["days"] + v["drain_days"]) * 86400.0
    env = simpy.Environment()

    segments = ()
    if v["crash.change"]:
        segments = (Segment(v["crash.start_hours"], v["crash.duration_hours"], v["crash.change"]),)
    path = PricePath(
        scenario.build(PathSpec, "price", segments=segments),
        horizon + 3600,
        np.random.default_rng(s_path),
    )
    ex_rng = np.random.default_rng(s_exchanges)
    spec = scenario.build(ExchangeSpec, "exchanges")
    honest = replace(spec, bias_bps=0.0)  # only the first `manipulated` sources are biased
    exchanges = [
        SimExchange(f"exchange-{i}", path, spec if i < v["exchanges.manipulated"] else honest,
                    horizon + 3600, ex_rng)
        for i in range(v["exchanges.count"])
    ]  # fmt: skip

    n_providers = v["providers.count"]
    n_buyers = max(v["buyers.count"], -(-v["policies"] // BURST_PER_ACCOUNT))
    n_adversaries = adversaries.accounts_needed(v)
    stx_each = int(max(v["providers.stx_each"] * 1.01, 100_000) * STX_UNIT)
    sbtc_each = int(max(v["providers.sbtc_each"] * 1.01, 10) * SBTC_UNIT)
    # blocks reach the follower by subscription: it needs no event history
    chain_config = scenario.build(ChainConfig, "chain", keep_events=10_000)
    world = deploy(
        n_providers + n_buyers + n_adversaries,
        stx_each=stx_each,
        sbtc_each=sbtc_each,
        config=chain_config,
        rng=np.random.default_rng(s_chain),
        env=env,
        executor=executor,
        parameters={"quote-ttl-seconds": v["deployment.quote_ttl_seconds"]},
    )
    chain, accounts = world.chain, world.accounts
    contracts = Contracts.of(accounts.deployer.principal())

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        outputs.write_json(
            out / "config.json",
            {
                "scenario": scenario.name,
                "description": scenario.description,
                "values": v,
                "seed": seed,
                "seed_tree": {"entropy": seeds.entropy, "children": ["chain", "path",
                                                                      "exchanges", "buyers"]},
                "executor": executor,
                "versions": versions(),
            },
        )  # fmt: skip
    log = outputs.JsonlLog(out / "events.jsonl" if out else None, lambda: env.now)
    store = open_store("sqlite://")
    observer = Observer()
    faults = scenario.build(FaultSpec, "faults")
    seen: Any = FaultyChain(chain, faults, lambda: env.now) if faults.any else chain
    pricing = scenario.build(PricingParams, "pricing")
    engine = Engine(
        SimRuntime(env),
        chain=seen,
        store=store,
        log=log,
        feed=SimFeed(exchanges, lambda: env.now),
        contracts=contracts,
        keys=Keys(accounts.deployer, accounts.quote),
        configs=Configs(
            oracle=scenario.build(
                OracleConfig, "oracle", burn_block_seconds=v["chain.burn_block_seconds"]
            ),
            registry=scenario.build(RegistryConfig, "registry", pricing=pricing),
        ),
        observer=observer,
    )
    book = Book(log=log)
    checker = InvariantChecker(chain, contracts.pool)
    follower = Follower(engine, book, checker, log, path, observer, chain.tip().burn_height)
    chain.subscribe(follower.on_block)

    wallets = [Wallet(k, chain) for k in accounts.users]
    providers = Providers(
        env,
        chain,
        contracts,
        wallets[:n_providers],
        log,
        path.btc_at,
        int(v["providers.stx_each"] * STX_UNIT),
        int(v["providers.sbtc_each"] * SBTC_UNIT),
        v["providers.panic_drop"],
        v["providers.check_minutes"] * 60,
    )
    registry, oracle = engine.refs.registry, engine.refs.oracle
    buyers = Buyers(
        env,
        chain,
        contracts,
        registry,
        wallets[n_providers : n_providers + n_buyers],
        log,
        np.random.default_rng(s_buyers),
        path.btc_at,
        lambda: chain.tip().burn_height,
        scenario.section("buyers"),
        v["buyers.sign_seconds"],
    )

    def ticks():
        while True:
            engine.tick(env.now)
            yield env.timeout(v["oracle.poll_seconds"])

    env.process(ticks())
    providers.start()
    if accounts.guardian is not None:  # cancels every admin change queued (sim/guardian.py)
        guardian_wallet = Wallet(accounts.guardian, chain)
        watch = None
        if v["guardian.oracle_gap_bps"]:
            watch = OracleWatch(
                lambda asset, t: path.btc_at(t) if asset == BTC_USD else path.stx_at(t),
                v["guardian.oracle_gap_bps"],
                v["guardian.oracle_latency_blocks"],
            )
        Guardian(env, chain, contracts, guardian_wallet, log, v["guardian.latency_blocks"],
                 oracle_watch=watch).start()  # fmt: skip
    ledger = adversaries.Ledger()
    if n_adversaries:
        # a fifth child of the seed tree: the first four, and so every run without an
        # adversary, draw exactly what they drew before adversaries existed
        adversaries.start_all(
            v,
            adversaries.Stage(
                env=env,
                chain=chain,
                contracts=contracts,
                wallets=wallets[n_providers + n_buyers :],
                log=log,
                rng=np.random.default_rng(seeds.spawn(1)[0]),
                ledger=ledger,
                registry=registry,
                oracle=oracle,
                btc_at=path.btc_at,
                stx_at=path.stx_at,
                burn_height=lambda: chain.tip().burn_height,
                extra={"accounts": accounts, "providers": providers},
            ),
        )
    active_until = v["days"] * 86400.0
    buyers.start_arrivals(until=active_until)
    if v["policies"]:
        buyers.start_burst(v["burst.start_minutes"] * 60, v["policies"], scenario.section("burst"))
    return World(
        env=env,
        horizon=horizon,
        active_until=active_until,
        path=path,
        chain=chain,
        engine=engine,
        follower=follower,
        book=book,
        checker=checker,
        log=log,
        store=store,
        faults=faults,
        seen=seen,
        ledger=ledger,
    )
