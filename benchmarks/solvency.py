"""Monte Carlo solvency benchmark: 10,000 paths x 365 daily steps x 1,000 policies.

python benchmarks/solvency.py [--paths N] [--policies P] [--days D] [--workers W] [--model M]

Times `risk.montecarlo.run` (price paths, settlement of every policy on every path, coverage
over time, per-path metrics) and prints `seconds=<n>`. With --workers > 1 the fixed chunks run
in a process pool; the numbers are identical either way (checked here on the ruin count).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risk import montecarlo as mc
from risk.book import Demand, PoolTerms, admit
from risk.paths import BLOCKS_PER_DAY, Grid, PriceModel
from risk.pricing import PRICE_SCALE, PricingParams


def bench_spec(n_policies: int, days: int, model: str = "gbm", seed: int = 7) -> mc.Spec:
    """A year-long book: strikes 70-100% of spot, expiries spread over the horizon."""
    rng = np.random.default_rng(seed)
    pm = PriceModel(model=model)
    amount = np.rint(np.exp(rng.uniform(np.log(0.01), np.log(0.5), n_policies)) * 1e8)
    strike = np.floor(pm.btc_start * rng.uniform(0.7, 1.0, n_policies)) * PRICE_SCALE
    blocks = rng.integers(1, days + 1, n_policies) * BLOCKS_PER_DAY
    token = (rng.random(n_policies) < 0.5).astype(np.int64)
    demand = Demand(amount.astype(np.int64), strike.astype(np.int64), blocks, token)
    # deposits sized so the caps admit the whole book
    pool = PoolTerms(deposits=(10**14,) * 3 + (10**12,) * 3)
    book = admit(demand, pool, pm, PricingParams())
    assert len(book) == n_policies, len(book)
    # then shrink the pool so shortfalls do happen on bad paths
    scale = PoolTerms(deposits=(3 * 10**12,) * 3 + (3 * 10**9,) * 3)
    return mc.Spec(book, scale, pm, Grid(days), chunk_size=2000)


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
    a = p.parse_args()
    spec = bench_spec(a.policies, a.days, a.model)
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
          f"pool={a.pool if a.workers > 1 else 'serial'} "
          f"ruined={int(res['ruin'].sum())}")  # fmt: skip
    print(f"seconds={seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
