"""Monte Carlo solvency benchmark: 10,000 paths x 365 daily steps x 1,000 policies.

python benchmarks/solvency.py [--paths N] [--policies P] [--days D] [--workers W] [--model M]
                              [--payout auto|exact|fast] [--chunk-size C]
                              [--allocator retain|default]

Times `risk.montecarlo.run` (price paths, settlement of every policy on every path, coverage
over time, per-path metrics) and prints `seconds=<n>`. With --workers > 1 the fixed chunks run
in a process pool; the numbers are identical either way (checked here on the ruin count).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chain.protocol import BLOCKS_PER_DAY, PRICE_SCALE
from risk import fastpayout
from risk import montecarlo as mc
from risk.book import Demand, PoolTerms, admit
from risk.paths import Grid, PriceModel
from risk.pricing import PricingParams


def bench_spec(
    n_policies: int,
    days: int,
    model: str = "gbm",
    seed: int = 7,
    payout: mc.PayoutMode = mc.PayoutMode.AUTO,
    chunk_size: int = 2000,
) -> mc.Spec:
    """A year of business: policies of 2-90 days (the parameters' duration bounds) bought on
    days spread over the horizon, strikes 70-100% of the starting spot, half in STX.

    Deposits scale with the book (per 1,000 policies), so every size is admitted at the same
    utilisation (a fixed deposit refused a third of 100,000 policies at the tiers' caps) and
    runs short on bad paths alike; 1,000 policies keep the original figures."""
    rng = np.random.default_rng(seed)
    pm = PriceModel(model=model)
    amount = np.rint(np.exp(rng.uniform(np.log(0.01), np.log(0.5), n_policies)) * 1e8)
    strike = np.floor(pm.btc_start * rng.uniform(0.7, 1.0, n_policies)) * PRICE_SCALE
    length = rng.integers(2, min(90, days) + 1, n_policies)
    bought = rng.integers(0, days - length + 1)  # day of purchase; expiry within the horizon
    token = (rng.random(n_policies) < 0.5).astype(np.int64)
    demand = Demand(amount.astype(np.int64), strike.astype(np.int64),
                    length * BLOCKS_PER_DAY, token)  # fmt: skip
    # priced at the start prices, with deposits large enough that the caps admit every policy
    scale = max(1, -(-n_policies // 1000))
    deposits = (scale * 10**14,) * 3 + (scale * 10**12,) * 3
    book = admit(demand, PoolTerms(deposits=deposits), pm, PricingParams())
    assert len(book) == n_policies, len(book)
    shift = bought * BLOCKS_PER_DAY  # then bought on their own day: premiums arrive then
    book = replace(book, purchased=book.purchased + shift, expiration=book.expiration + shift)
    # and a pool small enough that bad paths do run short
    pool = PoolTerms(deposits=(scale * 2 * 10**12,) * 3 + (scale * 2 * 10**9,) * 3)
    return mc.Spec(book, pool, pm, Grid(days), chunk_size=chunk_size, payout=payout)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--paths", type=int, default=10_000)
    p.add_argument("--policies", type=int, default=1_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--pool",
        choices=("thread", "process"),
        default="thread",
        help="what runs the chunks when workers > 1 (numpy releases the GIL)",
    )
    p.add_argument("--model", default="gbm")
    p.add_argument(
        "--payout",
        choices=[m.value for m in mc.PayoutMode],
        default="auto",
        help="exact: per policy; fast: per (expiry, tranche) (risk/fastpayout.py)",
    )
    p.add_argument("--chunk-size", type=int, default=2000)
    p.add_argument(
        "--allocator",
        choices=("retain", "default"),
        default="retain",
        help="retain: mc.keep_freed_memory() first (glibc keeps freed memory for the next "
        "chunk); default: the allocator as it comes",
    )
    a = p.parse_args()
    if a.chunk_size < 1:
        p.error("--chunk-size: allowed: a positive integer")
    kept = a.allocator == "retain" and mc.keep_freed_memory()
    spec = bench_spec(a.policies, a.days, a.model, payout=mc.PayoutMode(a.payout),
                      chunk_size=a.chunk_size)  # fmt: skip
    if a.workers > 1:
        kind = ThreadPoolExecutor if a.pool == "thread" else ProcessPoolExecutor
        with kind(a.workers) as pool:
            pool.submit(int, 0).result()  # workers up before the clock starts
            t0 = time.perf_counter()
            res = mc.run(spec, a.paths, 1, map_fn=pool.map)
            seconds = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        res = mc.run(spec, a.paths, 1)
        seconds = time.perf_counter() - t0
    print(f"paths={a.paths} steps={a.days} policies={len(spec.book)} workers={a.workers} "
          f"payout={fastpayout.choose(spec).value} "
          f"pool={a.pool if a.workers > 1 else 'serial'} "
          f"allocator={'retain' if kept else 'default'} "
          f"ruined={int(res['ruin'].sum())}")  # fmt: skip
    print(f"seconds={seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
