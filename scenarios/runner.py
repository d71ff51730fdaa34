"""Assembles a simulated world from a scenario and runs it to a report.

The world: a true price path, exchanges that observe it, SimChain with the contracts deployed,
an in-memory store, the four actors on the virtual-time runtime, providers and buyers. The
runner delivers each block to the actors, checks the invariants after every block that ran a
transaction, samples metrics at every burn block, and writes the run folder.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from actors.events import decode_prints
from actors.messages import Connect, NewBlock, PoolState, Tick
from actors.oracle import OracleActor, OracleConfig
from actors.pool import PoolActor
from actors.registry import RegistryActor, RegistryConfig
from actors.signer import SignerActor
from chain.clarity import ClarityValue, Err, Ok
from chain.contracts import BTC_USD, PRICE_SCALE, SATS, STX, STX_USD, TOKEN_UNIT, Contracts
from chain.wallet import Wallet
from risk.pricing import PricingParams
from scenarios import outputs, tranches
from scenarios.config import Scenario
from sim import adversaries
from sim.agents import Buyers, Providers
from sim.chain import Block, ChainConfig
from sim.exchanges import ExchangeSpec, SimExchange, SimFeed
from sim.faults import FaultSpec, FaultyChain
from sim.genesis import SBTC_UNIT, STX_UNIT, deploy
from sim.guardian import Guardian, OracleWatch
from sim.invariants import InvariantChecker
from sim.perf import quiet_gc
from sim.prices import PathSpec, PricePath, Segment
from sim.runtime import SimRuntime
from store import open_store

EXECUTORS = ("python", "clarity")
WITHDRAW = "liquidity-pool.request-withdraw"  # a provider's exit starts here (protocol v2)


def withdrawal_waits(result: ClarityValue | None, burn_height: int) -> bool:
    """A withdrawal request refused (u414: an expired policy of the tranche is unsettled) or
    ready only later (`ok ready-at` ahead): the exit waits for the collateral it backs."""
    return isinstance(result, Err) or (isinstance(result, Ok) and result.value.value > burn_height)


BURST_PER_ACCOUNT = 20


class InvariantBroken(RuntimeError):
    """A PROTOCOL.md invariant failed: the run stops there, its folder kept for the trace."""


@dataclass
class _Observer:
    """Receives the pool actor's view for the metrics (an actor's reply target, not an actor)."""

    state: PoolState | None = None

    def tell(self, message: Any) -> None:
        if isinstance(message, PoolState):
            self.state = message


@dataclass
class _Book:
    """What the chain's events say about policies, for the report."""

    terms: dict[int, tuple[int, int, int, int]] = field(
        default_factory=dict
    )  # amount, strike, exp, token
    purchased: int = 0
    settled: int = 0
    expired: int = 0
    premiums_usd: float = 0.0
    payouts_usd: float = 0.0
    unpaid_usd: float = 0.0  # min(claim, collateral) - paid, at settlement prices
    capped_usd: float = 0.0  # claim above the collateral cap, at settlement prices
    locked: dict[tuple[int, int], int] = field(default_factory=dict)  # tranche -> lock
    open_in: dict[tuple[int, int], int] = field(default_factory=dict)  # unsettled policies
    delays: list[int] = field(default_factory=list)
    first_settle_block: int | None = None
    last_settle_block: int | None = None
    withdrawals_refused: int = 0
    mispricing_bps: list[float] = field(default_factory=list)  # settlement vs true price
    mispriced_usd: float = 0.0  # |owed at the settlement price - owed at the true price|
    withdrawals: int = 0
    tx: dict[str, int] = field(default_factory=dict)
    onchain: dict[str, int] = field(default_factory=dict)
    policies: dict[int, dict[str, int]] = field(default_factory=dict)  # policies.csv rows
    settle_seq: int = 0
    accounts: dict[tuple[int, int], tranches.TrancheAccount] = field(
        default_factory=tranches.accounts
    )
    log: outputs.JsonlLog | None = None  # where the pool's money events are copied
    burn_times: dict[int, float] = field(default_factory=dict)  # burn height -> first seen

    def true_fixing(self, path: PricePath, expiration: int, fallback: float) -> float:
        """The true BTC price averaged over the fixing's window (the 6 burn blocks before the
        expiration), the honest counterpart of the fixing a settlement used."""
        times = [
            self.burn_times[h] for h in range(expiration - 6, expiration) if h in self.burn_times
        ]
        return sum(map(path.btc_at, times)) / len(times) if times else fallback

    @property
    def active(self) -> int:
        return self.purchased - self.settled - self.expired

    def stuck_collateral(self) -> dict[str, int]:
        """Per token, in its integer units, what tranches lock with no unsettled policy (v2:
        always 0)."""
        out = dict.fromkeys(tranches.UNIT.values(), 0)
        for (token, tier), lock in sorted(self.locked.items()):
            if not self.open_in.get((token, tier), 0):
                out[tranches.UNIT[token]] += lock
        return out


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "simpy", "pykka", "SQLAlchemy", "coincurve", "bithedge"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run(
    scenario: Scenario,
    seed: int,
    out: Path | None,
    *,
    executor: str = "python",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs one scenario; writes the run folder if `out` is given; returns the report."""
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
    # blocks reach the runner by subscription: it needs no event history
    chain_config = scenario.build(ChainConfig, "chain", keep_events=10_000)
    world = deploy(
        n_providers + n_buyers + n_adversaries,
        stx_each=stx_each,
        sbtc_each=sbtc_each,
        config=chain_config,
        rng=np.random.default_rng(s_chain),
        env=env,
        executor=executor,
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
                "versions": _versions(),
            },
        )  # fmt: skip
    log = outputs.JsonlLog(out / "events.jsonl" if out else None, lambda: env.now)
    store = open_store("sqlite://")
    runtime = SimRuntime(env)
    observer = _Observer()
    faults = scenario.build(FaultSpec, "faults")
    seen: Any = FaultyChain(chain, faults, lambda: env.now) if faults.any else chain
    signer = runtime.start(SignerActor, seen, store, log, accounts.deployer, accounts.quote)
    oracle_cfg = scenario.build(OracleConfig, "oracle")
    feed = SimFeed(exchanges, lambda: env.now)
    oracle = runtime.start(OracleActor, feed, seen, store, log, contracts, oracle_cfg)
    pool = runtime.start(PoolActor, seen, store, log, contracts)
    pricing = scenario.build(PricingParams, "pricing")
    registry_cfg = scenario.build(RegistryConfig, "registry", pricing=pricing)
    registry = runtime.start(RegistryActor, seen, store, log, contracts, registry_cfg)
    actors = (signer, oracle, pool, registry)
    connect = Connect(oracle, registry, pool, signer, observer)
    for ref in actors:
        ref.tell(connect)

    book = _Book(log=log)
    checker = InvariantChecker(chain, contracts.pool)
    metrics: list[dict[str, Any]] = []
    last_burn = [chain.tip().burn_height]
    failure: list[str] = []

    def on_block(block: Block) -> None:
        new_burn = block.burn_height != last_burn[0]
        if not block.receipts and not new_burn:
            return
        for r in block.receipts:
            book.tx[r.status.value] = book.tx.get(r.status.value, 0) + 1
            log.record("tx", txid=r.txid, call=r.call, sender=r.sender, nonce=r.nonce,
                       status=r.status.value, result=r.result, block=block.height,
                       burn=block.burn_height, reason=r.reason or None)  # fmt: skip
            if r.call == WITHDRAW:
                book.withdrawals += 1
                if withdrawal_waits(r.result, block.burn_height):
                    book.withdrawals_refused += 1
        decoded = decode_prints(block.events)
        _follow(book, block, decoded, path)
        if block.receipts:
            for violation in checker.check_block(block.height, block.events):
                log.record("invariant-violation", message=str(violation))
                failure.append(str(violation))
            if failure:
                raise InvariantBroken(failure[0])
        message = NewBlock(
            block.height, block.burn_height, block.time, block.receipts, block.events, decoded
        )
        for ref in actors:
            ref.tell(message)
        if new_burn:
            last_burn[0] = block.burn_height
            metrics.append(_metrics_row(block.burn_height, block.time, path, observer.state, book))

    chain.subscribe(on_block)

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
            oracle.tell(Tick(env.now))
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

    last_report = time.monotonic()
    error: str | None = None
    try:
        with quiet_gc():
            while env.now < horizon:
                env.run(until=min(env.now + 3600.0, horizon))
                if env.now >= active_until and not book.active and book.purchased >= v["policies"]:
                    break
                now = time.monotonic()
                if progress is not None and now - last_report > 1.0:
                    last_report = now
                    progress(
                        f"day {env.now / 86400:.2f}/{horizon / 86400:.2f}  "
                        f"blocks={chain.tip().stacks_height}  policies={book.purchased} "
                        f"active={book.active}"
                    )
    except InvariantBroken as exc:
        error = str(exc)
    finally:
        runtime.stop_all()
        chain.executor.close()
    tip = chain.tip().burn_height
    if not metrics or (metrics[-1]["burn_height"], metrics[-1]["time_s"]) != (
        tip,
        round(env.now, 3),
    ):
        # the end of the run, so that the final settlements are in metrics.csv too
        metrics.append(_metrics_row(tip, env.now, path, observer.state, book))
    digest = log.close()
    report = _report(scenario, seed, executor, book, metrics, checker, digest, env.now, chain)
    report["attacker_profit_usd"] = round(ledger.total, 2)
    if ledger.by_kind:
        report["attacker_profit_usd_by_kind"] = {
            k: round(x, 2) for k, x in sorted(ledger.by_kind.items())
        }
    if faults.any:
        report["faults_injected"] = dict(seen.injected)
    if error is not None:
        report["stopped"] = error
    if out is not None:
        outputs.write_metrics(out / "metrics.csv", metrics)
        rows = [book.policies[i] for i in sorted(book.policies)]
        outputs.write_policies(out / "policies.csv", rows)
        outputs.write_json(out / "report.json", report)
    store.close()
    if error is not None:
        raise InvariantBroken(error)
    return report


def _follow(book: _Book, block: Block, decoded: tuple[dict, ...], path: PricePath) -> None:
    t = block.time
    book.burn_times.setdefault(block.burn_height, t)
    for e in decoded:
        name = e["event"]
        if name == "policy-purchased":
            book.purchased += 1
            book.terms[e["id"]] = (e["amount"], e["strike"], e["expiration"], e["token"])
            book.policies[e["id"]] = {
                "id": e["id"], "amount": e["amount"], "strike": e["strike"],
                "expiration": e["expiration"], "token": e["token"], "tier": e["tier"],
                "premium": e["premium"], "collateral": e["collateral"],
                "purchased": e["_burn"], "purchased_block": e["_block"],
            }  # fmt: skip
            price = path.stx_at(t) if e["token"] == STX else path.btc_at(t)
            premium_usd = e["premium"] / TOKEN_UNIT[e["token"]] * price
            book.premiums_usd += premium_usd
            key = (e["token"], e["tier"])
            book.accounts[key].premiums_usd += premium_usd
            book.open_in[key] = book.open_in.get(key, 0) + 1
        elif e["_contract"].endswith(".liquidity-pool") and name in tranches.LOGGED:
            book.locked[(e["token"], e["tier"])] = e["locked"]
            book.accounts[(e["token"], e["tier"])].follow(e, t)
            if book.log is not None:  # events.jsonl keeps the money, so P&L can be redone
                fields = {k.replace("-", "_"): v for k, v in e.items() if k[0] != "_"}
                book.log.record("pool-event", **fields, block=e["_block"], txid=e["_txid"])
        elif name in ("policy-settled", "policy-expired"):
            amount, strike, expiration, token = book.terms[e["id"]]
            key = (token, book.policies[e["id"]]["tier"])
            book.open_in[key] -= 1
            book.delays.append(e["_burn"] - expiration)
            book.settle_seq += 1
            token_price = e["token-price"]  # the token's fixing (BTC-USD's for sBTC)
            book.policies[e["id"]].update(
                status=1 if name == "policy-settled" else 2, settled=e["_burn"],
                settled_block=e["_block"], settle_seq=book.settle_seq, btc_price=e["price"],
                token_price=token_price, payout=e.get("payout", 0), paid=e.get("paid", 0),
                claim=e.get("claim", 0),
            )  # fmt: skip
            true = book.true_fixing(path, expiration, path.btc_at(t))
            book.mispricing_bps.append(round(abs(e["price"] / PRICE_SCALE - true) / true * 1e4, 2))
            fair = max(strike - round(true * PRICE_SCALE), 0) * amount // SATS
            h = e["_block"]
            book.first_settle_block = (
                h if book.first_settle_block is None else book.first_settle_block
            )
            book.last_settle_block = h
            if name == "policy-expired":
                book.expired += 1
                book.mispriced_usd += fair / PRICE_SCALE
                continue
            book.settled += 1
            owed = (strike - e["price"]) * amount // SATS  # price units, as the contract has it
            unit, collateral = TOKEN_UNIT[token], book.policies[e["id"]]["collateral"]

            def usd(tokens: int, unit: int = unit, price: int = token_price) -> float:
                return tokens * price / unit / PRICE_SCALE

            unpaid = min(e["claim"], collateral) - e["paid"]
            book.payouts_usd += usd(e["paid"])
            book.unpaid_usd += usd(unpaid)
            account = book.accounts[key]
            account.payouts_usd += usd(e["paid"])
            account.unpaid += unpaid
            account.unpaid_usd += usd(unpaid)
            book.capped_usd += usd(e["claim"] - e["payout"])
            book.mispriced_usd += abs(owed - fair) / PRICE_SCALE
        elif name == "price-updated":
            book.onchain[e["asset"]] = e["price"]


def _metrics_row(
    burn_height: int, t: float, path: PricePath, state: PoolState | None, book: _Book
) -> dict:
    row: dict[str, Any] = {
        "burn_height": burn_height,
        "time_s": round(t, 3),
        "btc_true_usd": path.btc_at(t),
        "btc_onchain_usd": book.onchain.get(BTC_USD, 0) / PRICE_SCALE or None,
        "stx_true_usd": path.stx_at(t),
        "stx_onchain_usd": book.onchain.get(STX_USD, 0) / PRICE_SCALE or None,
        "policies_active": book.active,
        "payouts_usd": book.payouts_usd,
        "shortfall_usd": book.unpaid_usd,
    }
    if state is not None:
        for token, unit in tranches.UNIT.items():
            views = [tv for tv in state.tranches if tv.token == token]
            row[f"assets_{unit}"] = sum(tv.assets for tv in views)
            row[f"locked_{unit}"] = sum(tv.locked for tv in views)
            row[f"required_{unit}"] = sum(tv.required for tv in views)
        backed = [tv.coverage for tv in state.tranches if tv.required]
        row["coverage_ratio"] = min(backed) if backed else None
        row["utilisation_ratio"] = max(tv.utilisation for tv in state.tranches)
        for tv in state.tranches:
            cover = tv.coverage if tv.required else None
            row[tranches.coverage_column(tv.token, tv.tier)] = cover
    return row


def _report(scenario, seed, executor, book: _Book, metrics, checker, digest, now, chain) -> dict:
    utilisations = [m["utilisation_ratio"] for m in metrics if "utilisation_ratio" in m]
    hours = [m["time_s"] / 3600 for m in metrics]

    def coverage(column: str) -> dict[str, Any]:
        return tranches.coverage_stats(hours, [m.get(column) for m in metrics])

    accounts = {
        tranches.tranche_name(*key): account.report(now, coverage(tranches.coverage_column(*key)))
        for key, account in sorted(book.accounts.items())
    }
    span = (
        book.last_settle_block - book.first_settle_block + 1
        if book.first_settle_block is not None
        else 0
    )
    return {
        "scenario": scenario.name,
        "seed": seed,
        "executor": executor,
        "policies_purchased": book.purchased,
        "policies_settled": book.settled,
        "policies_expired": book.expired,
        "policies_active_at_end": book.active,
        "premiums_usd": round(book.premiums_usd, 2),
        "payouts_usd": round(book.payouts_usd, 2),
        "shortfall_usd": round(book.unpaid_usd, 2),  # v2: the same as unpaid_claims_usd
        "unpaid_claims_usd": round(book.unpaid_usd, 2),
        "capped_claims_usd": round(book.capped_usd, 2),
        "stuck_collateral": book.stuck_collateral(),
        **coverage("coverage_ratio"),  # the worst tranche at each sample
        "max_utilisation_ratio": round(max(utilisations), 6) if utilisations else 0.0,
        "tranches": accounts,
        "pool": tranches.pool_totals(accounts),
        "settlement_delay_blocks": {
            "p50": outputs.percentile(book.delays, 50),
            "p95": outputs.percentile(book.delays, 95),
            "max": max(book.delays) if book.delays else None,
        },
        "settlement_span_stacks_blocks": span,
        "withdrawals": book.withdrawals,  # request-withdraw calls (v2: the exit's first step)
        "withdrawals_refused_locked": book.withdrawals_refused,  # refused or ready only later
        "withdrawal_steps": 2,  # the two fields above count requests, not payouts
        "transactions": dict(sorted(book.tx.items())),
        "settlement_mispricing_bps": {
            "p50": outputs.percentile(book.mispricing_bps, 50),
            "p95": outputs.percentile(book.mispricing_bps, 95),
            "max": max(book.mispricing_bps) if book.mispricing_bps else None,
        },
        "mispriced_payouts_usd": round(book.mispriced_usd, 2),
        "invariant_violations": len(checker.violations),
        "virtual_days": round(now / 86400, 4),
        "stacks_blocks": chain.tip().stacks_height,
        "burn_blocks": chain.tip().burn_height,
        "events_sha256": digest,
    }
