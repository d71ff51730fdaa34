"""Sweep throughput: runs per second of a small flash-crash grid on the process pool and on a
local Ray instance, start-up included, and a check that both wrote the same table.

    python benchmarks/sweep.py [--runs 4] [--workers 2]

One line per backend: backend=<name> workers=<n> runs=<n> seconds=<n> runs_per_s=<n>
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from scenarios.sweep import parse_grid, sweep

SMALL = ["days=1.1", "drain_days=0.3", "policies=30", "crash.start_hours=20", "burst.days=1.15",
         "providers.stx_each=20000"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4, help="seeds per grid point (4 points)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    grid = parse_grid(["crash.change=-0.5,-0.9", "providers.sbtc_each=0.5,5"])
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend, workers in (("local", 1), ("local", args.workers), ("ray", args.workers)):
            out = Path(tmp) / f"{backend}-{workers}"
            start = time.perf_counter()
            rows = sweep("flash-crash", grid, args.runs, 1, out, sets=SMALL, backend=backend,
                         workers=workers)  # fmt: skip
            seconds = time.perf_counter() - start
            assert all(r["status"] == "ok" for r in rows), "a run failed"
            tables[(backend, workers)] = (out / "sweep.csv").read_bytes()
            print(f"backend={backend} workers={workers} runs={len(rows)} seconds={seconds:.2f} "
                  f"runs_per_s={len(rows) / seconds:.2f}", flush=True)  # fmt: skip
    assert len(set(tables.values())) == 1, "the backends wrote different tables"
    print("tables identical across backends: yes")


if __name__ == "__main__":
    main()
