"""Resident memory across many short baseline runs in one process, as a reused sweep worker
does them: it should stay flat (issue 14: every run used to stay alive).

    python benchmarks/memory.py [--runs 200] [--set key=value ...]

The start figure is taken after one warm-up run (imports, caches), the end figure after the
last run and a full garbage collection. Linux only (reads /proc/self/status).

Last line: rss_start_mb=<number> rss_end_mb=<number>
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from scenarios import config
from scenarios.runner import run

SHORT = ["days=0.02", "drain_days=0"]  # a baseline of about 30 simulated minutes


def rss_mb() -> float:
    """The current resident set size (not the peak, which never falls)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="extra baseline knobs")
    args = ap.parse_args()
    scenario = config.load("baseline", SHORT + (args.set or []))
    run(scenario, 0, None)
    gc.collect()
    start_mb = rss_mb()
    started = time.perf_counter()
    for seed in range(1, args.runs + 1):
        run(scenario, seed, None)
    gc.collect()
    end_mb = rss_mb()
    seconds = time.perf_counter() - started
    per_run_kb = (end_mb - start_mb) * 1024 / args.runs
    print(f"runs={args.runs} seconds={seconds:.1f} per_run_kb={per_run_kb:.1f}")
    print(f"rss_start_mb={start_mb:.1f} rss_end_mb={end_mb:.1f}")


if __name__ == "__main__":
    main()
