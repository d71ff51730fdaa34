"""Process settings for long simulations.

A simulation allocates millions of small objects (values, events, receipts) that form no
reference cycles, while its event log keeps growing. CPython's cyclic collector, at its default
thresholds, rescans that growing heap over and over: a quarter of the run time in the chain
benchmark. Reference counting still frees everything; only the cycle scans get rarer.
"""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Freezes what exists now (setup: keys, contracts, genesis) out of future scans and makes
    cycle collection rare. Call once, after building the world, before running it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
