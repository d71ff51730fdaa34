"""Throughput of SimChain on signed contract calls: decode, verify, execute, events.

Pre-signs a mix of deposits, withdrawals and quote-signed purchases from many senders (signing
is the wallets' cost, not the chain's), then times submission and mining of all of them.

    python benchmarks/chain_core.py [--senders 200] [--rounds 4] [--repeat 3]

Last line: tx_per_s=<number>
"""

from __future__ import annotations

import argparse
import statistics
import time

from chain import transactions as txs
from chain.clarity import Buffer, StringAscii, UInt
from chain.port import TxStatus
from chain.protocol import BLOCKS_PER_DAY, BTC_USD, PRICE_SCALE, STX_USD
from chain.quotes import Quote, sign_quote
from chain.wallet import Wallet
from sim.chain import ChainConfig
from sim.genesis import STX_UNIT, deploy
from sim.perf import quiet_gc

USD = PRICE_SCALE  # one USD in price units


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=4, help="rounds of 25 transactions per sender")
    ap.add_argument("--repeat", type=int, default=3, help="fresh chains; the median is reported")
    args = ap.parse_args()
    rates = sorted(run_once(args.senders, args.rounds) for _ in range(args.repeat))
    print(f"runs={' '.join(f'{r:.0f}' for r in rates)}")
    print(f"tx_per_s={statistics.median(rates):.0f}")


def run_once(senders: int, rounds_: int) -> float:

    # quotes are signed up front for rounds of thousands of transactions, and the chain clock
    # runs 10 s a transaction (sim/models/clock.py): deployed so that they live for the whole
    # benchmark
    ttl = 10**9
    d = deploy(senders, autostart=False, config=ChainConfig(block_capacity=5000),
               parameters={"quote-ttl-seconds": ttl})  # fmt: skip
    chain = d.chain
    chain.mine_burn(10)
    oracle, pool = d.contract("oracle"), d.contract("liquidity-pool")
    registry, sbtc = d.contract("policy-registry"), d.contract("sbtc-token")
    admin = Wallet(d.accounts.deployer, chain)
    # STX-USD values the STX collateral the purchases lock; both observations are of this burn
    # block, which stays current for the whole benchmark (burn blocks come only from mine_burn)
    admin.call(oracle, "set-price", StringAscii(BTC_USD), UInt(65_000 * USD))
    admin.call(oracle, "set-price", StringAscii(STX_USD), UInt(2 * USD))
    chain.mine()
    valid_until = chain.read_only(registry, "get-block-time", []).value + ttl

    expiration = 7 * BLOCKS_PER_DAY  # on the expiry grid (u321), a week ahead
    wallets = [Wallet(k, chain) for k in d.accounts.users]
    quote_id = 0
    rounds: list[list[bytes]] = []
    for _ in range(rounds_):
        batch = []
        for w in wallets:
            for i in range(25):
                if i % 5 == 4:  # a purchase backed by the sender's own deposits
                    quote_id += 1
                    q = Quote(w.address, 100_000, 60_000 * USD, expiration, 10 * STX_UNIT,
                              50 * STX_UNIT, 0, 1, 100, quote_id, registry, 65_000 * USD,
                              valid_until)  # fmt: skip
                    sig = sign_quote(q, d.accounts.quote)
                    call = ("purchase-policy", [q.to_clarity(), Buffer(sig), sbtc], registry)
                elif i % 5 == 3:
                    call = ("request-withdraw", [UInt(0), UInt(1), UInt(STX_UNIT)], pool)
                else:
                    call = ("deposit", [sbtc, UInt(0), UInt(1), UInt(100 * STX_UNIT)], pool)
                raw = w.sign_call(call[2], call[0], call[1], mode=txs.PostConditionMode.ALLOW)
                w.next_nonce = (w.next_nonce or 0) + 1
                batch.append(raw)
        rounds.append(batch)

    total = sum(len(b) for b in rounds)
    with quiet_gc():  # as the simulation runner does
        start, cpu = time.perf_counter(), time.process_time()
        txids = []
        for batch in rounds:
            txids.extend(chain.submit(raw) for raw in batch)
            while chain.pending:
                chain.mine()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu

    statuses = [chain.status(t).status for t in txids]
    ok = sum(s is TxStatus.SUCCESS for s in statuses)
    events = len(chain.events_since(0, 10**9))
    # CPU seconds as well: on a shared machine they move far less than the wall clock
    print(
        f"transactions={total} succeeded={ok} events={events} seconds={elapsed:.3f} "
        f"cpu_seconds={cpu:.3f} tx_per_cpu_s={total / cpu:.0f}"
    )
    # a refused transaction is cheaper than a purchase: the rate counts only a clean run
    if ok != total:
        failed = next(r for r in map(chain.status, txids) if r.status is not TxStatus.SUCCESS)
        raise SystemExit(f"{total - ok} transactions failed, e.g. {failed}")
    return total / elapsed


if __name__ == "__main__":
    main()
