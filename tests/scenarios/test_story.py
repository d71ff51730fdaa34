"""The console's and the HTML report's story lines come from the report, not the scenario name."""

from __future__ import annotations

from scenarios.story import run_story

BASE = {"scenario": "anything", "seed": 1, "virtual_days": 2.0, "burn_blocks": 290,
        "policies_purchased": 10, "policies_settled": 4, "policies_expired": 1,
        "policies_active_at_end": 0, "premiums_usd": 100.0, "payouts_usd": 40.0,
        "shortfall_usd": 0.0, "min_coverage_ratio": 3.0, "min_coverage_at_hours": 5.0,
        "hours_below_coverage_1": 0.0, "withdrawals": 0, "withdrawals_refused_locked": 0,
        "settlement_delay_blocks": {"p50": 0, "p95": 0, "max": 0}}  # fmt: skip


def _story(**fields) -> str:
    return "\n".join(run_story({**BASE, **fields}))


def test_a_quiet_run_says_no_more_than_it_must():
    text = _story()
    assert "gained 60 USD net" in text and "no ruin" in text
    for absent in ("still active at the end (", "withdrawal", "below 1", "after expiry", "RUIN"):
        assert absent not in text


def test_each_line_appears_when_the_report_holds_its_reason():
    text = _story(policies_active_at_end=265, withdrawals=4144, withdrawals_refused_locked=1448,
                  min_coverage_ratio=0.7, hours_below_coverage_1=72.0, shortfall_usd=12.5,
                  settlement_delay_blocks={"p50": 3, "p95": 30, "max": 41},
                  faults_injected={"oracle": 7})  # fmt: skip
    assert "265 still active at the end (the run ended before they expired)" in text
    assert "4,144 withdrawal attempts, 1,448 refused because collateral was locked" in text
    assert "fell to 0.7 at hour 5.0, below 1 for 72.0 hours" in text and "not ruin" in text
    assert "RUIN: a shortfall of 12 USD went unpaid" in text
    assert "up to 41 burn blocks after expiry (95% within 30)" in text
    assert "Faults injected: oracle 7" in text
    two_step = _story(withdrawals=120, withdrawals_refused_locked=120, withdrawal_steps=2)
    assert "120 withdrawal attempts (requests), 120 made to wait for the policies" in two_step
    assert "refused because" not in two_step


def test_the_tranche_that_absorbed_the_loss_is_named():
    tranches = {
        "stx-0": {"premiums_usd": 50.0, "payouts_usd": 10.0, "pnl_usd": 40.0,
                  "share_price_return": 0.01},
        "sbtc-2": {"premiums_usd": 20.0, "payouts_usd": 2420.0, "pnl_usd": -2400.0,
                   "share_price_return": -0.25},
        "sbtc-1": {"premiums_usd": 0.0, "payouts_usd": 0.0, "pnl_usd": 0.0,
                   "share_price_return": None},
    }  # fmt: skip
    text = _story(tranches=tranches)
    assert "1 of 2 tranches paid out more than they earned; sbtc-2 lost most: -2,400 USD" in text
    assert "share price -25.00%" in text
    del tranches["sbtc-2"]
    assert "Every tranche earned more than it paid; stx-0 most: 40 USD" in _story(tranches=tranches)


def test_older_run_folders_still_tell_coverage_and_refusals_from_the_callers_numbers():
    old = {k: v for k, v in BASE.items() if k not in ("hours_below_coverage_1",
                                                      "withdrawals_refused_locked")}  # fmt: skip
    text = "\n".join(run_story({**old, "min_coverage_ratio": 0.5, "withdrawals": 3}, 2.5, 1))
    assert "below 1 for 2.5 hours" in text and "3 withdrawal attempts, 1 refused" in text
