"""The few lines that tell what happened in a run, read off its report.json.

The console summary of `run.py sim` and the HTML report both print these. Nothing here knows a
scenario by name: each line appears when the report holds what makes it worth saying (policies
left active, withdrawals refused or waiting, coverage below 1, a delayed settlement, a tranche
that lost), so a new scenario tells its own story without an entry here.
"""

from __future__ import annotations

from typing import Any


def number(v: Any) -> str:
    """A report value as a person reads it: thousands separators, six significant digits."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:.6g}"
    return str(v)


def usd(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):,.0f} USD"


def _tranche_lines(tranches: dict[str, dict[str, Any]]) -> list[str]:
    """Who absorbed the losses (or earned the most): the tranche with the lowest P&L."""
    active = {k: t for k, t in tranches.items() if t.get("premiums_usd") or t.get("payouts_usd")}
    if not active:
        return []
    name, worst = min(active.items(), key=lambda kv: (kv[1]["pnl_usd"], kv[0]))
    ret = worst.get("share_price_return")
    share = "" if ret is None else f", share price {ret:+.2%}"
    if worst["pnl_usd"] < 0:
        losers = sum(t["pnl_usd"] < 0 for t in active.values())
        return [
            f"{losers} of {len(active)} tranches paid out more than they earned; {name} lost most: "
            f"{usd(worst['pnl_usd'])} (premiums {usd(worst['premiums_usd'])}, payouts "
            f"{usd(worst['payouts_usd'])}{share})."
        ]
    best = max(active.items(), key=lambda kv: (kv[1]["pnl_usd"], kv[0]))
    return [f"Every tranche earned more than it paid; {best[0]} most: {usd(best[1]['pnl_usd'])}."]


def run_story(
    report: dict[str, Any], hours_below_1: float | None = None, refused: int | None = None
) -> list[str]:
    """The story lines of a run; `hours_below_1` and `refused` stand in for the report's own
    fields in run folders written before those fields existed."""
    g = report.get
    lines = [
        f"{g('scenario')} with seed {g('seed')}: {number(g('virtual_days'))} virtual days, "
        f"{number(g('burn_blocks'))} burn blocks.",
        f"{number(g('policies_purchased'))} policies bought: {number(g('policies_settled'))} "
        f"settled (paid out), {number(g('policies_expired'))} expired, "
        f"{number(g('policies_active_at_end', 'n/a'))} still active at the end"
        + (" (the run ended before they expired)." if g("policies_active_at_end") else "."),
    ]
    prem, paid = g("premiums_usd") or 0.0, g("payouts_usd") or 0.0
    lines.append(
        f"Premiums {usd(prem)} against payouts {usd(paid)}: providers "
        f"{'gained' if prem >= paid else 'lost'} {usd(abs(prem - paid))} net."
    )
    lines += _tranche_lines(g("tranches") or {})
    short = g("shortfall_usd") or 0.0
    lines.append(
        "No shortfall: every claim was paid in full (no ruin)."
        if not short
        else f"RUIN: a shortfall of {usd(short)} went unpaid."
    )
    cov = g("min_coverage_ratio")
    below = g("hours_below_coverage_1", hours_below_1)
    if cov is not None:
        at = g("min_coverage_at_hours")
        when = f" at hour {at:.1f}" if at is not None else ""
        if cov < 1:
            when += (
                f", below 1 for {below or 0:.1f} hours (backing at current prices short of "
                "the worst case; not ruin)"
            )
        lines.append(f"Coverage (assets / required, worst tranche) fell to {cov:.3g}{when}.")
    if g("withdrawals"):
        refused = g("withdrawals_refused_locked", refused)
        if g("withdrawal_steps") == 2:  # requests: refused (u414) or ready only later
            lines.append(
                f"{number(g('withdrawals'))} withdrawal attempts (requests), {number(refused)} "
                "made to wait for the policies they back to be settled."
            )
        else:  # run folders of the one-step withdraw
            lines.append(
                f"{number(g('withdrawals'))} withdrawal attempts, {number(refused)} refused "
                "because collateral was locked."
            )
    delay = (g("settlement_delay_blocks") or {}).get("max")
    if delay:
        p95 = g("settlement_delay_blocks")["p95"]
        lines.append(
            f"Settlements came up to {number(delay)} burn block{'s' * (delay != 1)} after "
            f"expiry (95% within {number(p95)})."
        )
    if g("faults_injected"):
        faults = ", ".join(f"{k} {number(v)}" for k, v in sorted(g("faults_injected").items()))
        lines.append(f"Faults injected: {faults}.")
    if g("attacker_profit_usd"):
        lines.append(f"The attacker's profit: {usd(g('attacker_profit_usd'))}.")
    for key, text in (
        ("unpaid_claims_usd", "Unpaid claims"),
        ("capped_claims_usd", "Claims above the collateral cap (not owed)"),
    ):
        if g(key):
            lines.append(f"{text}: {usd(g(key))}.")
    stuck = g("stuck_collateral") or {}
    if any(stuck.values()):
        lines.append(f"Collateral stuck: {number(stuck)}.")
    if g("invariant_violations"):
        lines.append(f"INVARIANTS BROKEN: {g('invariant_violations')} violations.")
    if g("stopped"):
        lines.append(f"The run stopped early: {g('stopped')}.")
    return lines
