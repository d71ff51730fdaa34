"""Runs one scenario to a report: builds the world (scenarios/world.py), runs virtual time
until the horizon or until every policy is done, and writes the run folder
(scenarios/report.py). Following each block (the book, the invariants, the actors, the
metrics) is scenarios/follow.py's."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scenarios import report as reporting
from scenarios.config import Scenario
from scenarios.follow import InvariantBroken
from scenarios.world import World, build
from sim.perf import quiet_gc

EXECUTORS = ("python", "clarity")

__all__ = ["EXECUTORS", "InvariantBroken", "run"]


def run(
    scenario: Scenario,
    seed: int,
    out: Path | None,
    *,
    executor: str = "python",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs one scenario; writes the run folder if `out` is given; returns the report."""
    world = build(scenario, seed, out, executor)
    error = _follow_run(world, scenario.values["policies"], progress)
    env, chain, book = world.env, world.chain, world.book
    metrics = world.follower.close(chain.tip().burn_height, env.now)
    digest = world.log.close()
    report = reporting.report(
        scenario, seed, executor, book, metrics, world.checker, digest, env.now, chain.tip()
    )
    report["attacker_profit_usd"] = round(world.ledger.total, 2)
    if world.ledger.by_kind:
        report["attacker_profit_usd_by_kind"] = {
            k: round(x, 2) for k, x in sorted(world.ledger.by_kind.items())
        }
    if world.faults.any:
        report["faults_injected"] = dict(world.seen.injected)
    if error is not None:
        report["stopped"] = error
    if out is not None:
        reporting.write(out, report, metrics, book)
    world.store.close()
    if error is not None:
        raise InvariantBroken(error)
    return report


def _follow_run(world: World, policies: int, progress: Callable[[str], None] | None) -> str | None:
    """Runs virtual time an hour at a time until the horizon, or until the buyers are done
    and every policy they bought is settled; stops the actors and the executor. Returns the
    broken invariant's text if one stopped the run."""
    env, chain, book = world.env, world.chain, world.book
    last_report = time.monotonic()
    try:
        with quiet_gc():
            while env.now < world.horizon:
                env.run(until=min(env.now + 3600.0, world.horizon))
                if env.now >= world.active_until and not book.active and book.purchased >= policies:
                    break
                now = time.monotonic()
                if progress is not None and now - last_report > 1.0:
                    last_report = now
                    progress(
                        f"day {env.now / 86400:.2f}/{world.horizon / 86400:.2f}  "
                        f"blocks={chain.tip().stacks_height}  policies={book.purchased} "
                        f"active={book.active}"
                    )
    except InvariantBroken as exc:
        return str(exc)
    finally:
        world.engine.stop()
        chain.executor.close()
    return None
