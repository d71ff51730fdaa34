"""Writing a simulated run's report: the figures of `report.json` and the run folder's files."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from chain.port import Tip
from scenarios import outputs, tranches
from scenarios.config import Scenario
from scenarios.follow import Book
from sim.invariants import InvariantChecker


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "simpy", "pykka", "SQLAlchemy", "coincurve", "bithedge"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def report(
    scenario: Scenario,
    seed: int,
    executor: str,
    book: Book,
    metrics: list[dict[str, Any]],
    checker: InvariantChecker,
    digest: str,
    now: float,
    tip: Tip,
) -> dict[str, Any]:
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
        "stacks_blocks": tip.stacks_height,
        "burn_blocks": tip.burn_height,
        "events_sha256": digest,
    }


def write(out: Path, report: dict[str, Any], metrics: list[dict[str, Any]], book: Book) -> None:
    """metrics.csv, policies.csv and report.json (config.json and events.jsonl are written as
    the run starts and goes)."""
    outputs.write_metrics(out / "metrics.csv", metrics)
    rows = [book.policies[i] for i in sorted(book.policies)]
    outputs.write_policies(out / "policies.csv", rows)
    outputs.write_json(out / "report.json", report)
