"""The standard figures of a solvency folder, drawn from its solvency.csv alone.

Reading only the CSV (not the engine's arrays) means `run.py plot DIR` can redraw a folder
written earlier, and the figures show exactly the numbers the table holds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from risk.book import TIER_NAMES

FAN = (5, 25, 50, 75, 95)


def _f(v: str) -> float:
    return float(v) if v not in ("", "inf", "None") else float("nan")


def plot_solvency(folder: Path) -> list[Path]:
    """Writes solvency_curve.png, coverage_fan.png and ruin_stress.png; returns their paths."""
    with (folder / "solvency.csv").open() as f:
        rows = list(csv.DictReader(f))
    written: list[Path] = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)

    # solvency curve: median worst coverage against crash depth, one line per tier
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for tier in (*TIER_NAMES, "all"):
        pts = [r for r in rows if r["curve"] == "crash_depth" and r["tier"] == tier]
        xs = [100 * _f(r["x"]) for r in pts]
        ys = [_f(r["coverage_p50"]) for r in pts]
        if pts:
            style = {"color": "k", "ls": ":", "lw": 2} if tier == "all" else {"lw": 1.2}
            ax.plot(xs, ys, marker="o", ms=3, **style,
                    label="pool (worst tranche)" if tier == "all" else tier)  # fmt: skip
    ax.axhline(1.0, color="red", ls="--", lw=0.8, label="coverage 1")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("instantaneous crash of BTC and STX (% of price)")
    ax.set_ylabel("coverage (assets / required)\nmedian over paths of the path minimum")
    ax.set_title("Solvency curve: coverage against crash depth")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best")
    save(fig, "solvency_curve")

    # fan chart of coverage over time
    pts = [r for r in rows if r["curve"] == "coverage_over_time"]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    if pts:
        days = [_f(r["x"]) for r in pts]
        q = {p: [_f(r[f"coverage_p{p}"]) for r in pts] for p in FAN}
        ax.fill_between(days, q[5], q[95], alpha=0.2, color="C0", label="5-95%")
        ax.fill_between(days, q[25], q[75], alpha=0.4, color="C0", label="25-75%")
        ax.plot(days, q[50], color="C0", lw=1.5, label="median")
    ax.axhline(1.0, color="red", ls="--", lw=0.8, label="coverage 1")
    ax.set_yscale("symlog", linthresh=1.0)  # linear below 1 (ruin shows as 0), log above
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time (days)")
    ax.set_ylabel("coverage ratio, worst tranche (assets / required)")
    ax.set_title("Coverage over time across paths")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best")
    save(fig, "coverage_fan")

    # ruin probability against the stressed inputs
    curves = (("volatility", "market vol (x model vol)"),
              ("utilisation_cap", "utilisation cap (fraction of tranche assets)"),
              ("vol_multiplier", "pricing vol multiplier"),
              ("crash_speed", "days for a 50% fall"))  # fmt: skip
    fig, axes = plt.subplots(1, len(curves), figsize=(14, 4), dpi=110, sharey=True)
    for ax, (curve, label) in zip(axes, curves, strict=True):
        pts = [r for r in rows if r["curve"] == curve and r["tier"] == "all"]
        xs = [_f(r["x"]) for r in pts]
        p = [100 * _f(r["ruin_probability"]) for r in pts]
        lo = [100 * _f(r["ruin_ci95_low"]) for r in pts]
        hi = [100 * _f(r["ruin_ci95_high"]) for r in pts]
        ax.fill_between(xs, lo, hi, alpha=0.25, color="C3", label="95% Wilson")
        ax.plot(xs, p, marker="o", ms=3, color="C3", label="estimate")
        ax.axhline(0.5, color="k", ls=":", lw=0.8, label="0.5% limit")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("probability of ruin (%)")
    axes[0].legend(loc="best")
    fig.suptitle("Ruin probability under stress")
    save(fig, "ruin_stress")
    return written
