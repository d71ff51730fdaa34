"""Lifecycles per second of the mass-settlement scenario: quote, signed purchase, expiry,
batched settlement, through the actors and SimChain with real signatures.

    python benchmarks/mass_settlement.py --policies 10000 [--seed 1]

Last line: lifecycles_per_s=<number> peak_rss_mb=<number>
"""

from __future__ import annotations

import argparse
import resource
import time

from scenarios import config
from scenarios.runner import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    scale = max(1.0, args.policies / 10_000)  # liquidity grows with the book
    scenario = config.load(
        "mass-settlement",
        [
            f"policies={args.policies}",
            f"providers.stx_each={5_000_000 * scale:.0f}",
            f"providers.sbtc_each={30 * scale:.0f}",
        ],
    )
    start = time.perf_counter()
    report = run(scenario, args.seed, None)
    seconds = time.perf_counter() - start
    done = report["policies_settled"] + report["policies_expired"]
    assert done == args.policies, f"only {done} of {args.policies} policies finished"
    assert report["invariant_violations"] == 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"policies={args.policies} seconds={seconds:.2f} "
        f"settlement_span_stacks_blocks={report['settlement_span_stacks_blocks']} "
        f"virtual_days={report['virtual_days']}"
    )
    print(f"lifecycles_per_s={done / seconds:.0f} peak_rss_mb={peak:.0f}")


if __name__ == "__main__":
    main()
