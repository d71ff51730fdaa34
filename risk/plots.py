"""The standard figures of a solvency folder (solvency.csv, summary.json) and of a calibrate
folder (calibrate.csv, calibrate.json), drawn from those files alone.

Reading only the files (not the engine's arrays) means `run.py plot DIR` can redraw a folder
written earlier, and the figures show exactly the numbers the tables hold. Every title names
the book, the price model, the path count and the seed, so two folders' figures never look
alike by accident.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from risk.book import TIER_NAMES
from risk.figures import new_figure, save, spans_decades
from risk.montecarlo import wilson

FAN = (5, 25, 50, 75, 95)
RUIN_LIMIT = 0.005  # the calibrate rule's default limit, used when a folder does not say


def _f(v: str | None) -> float:
    return float(v) if v not in (None, "", "inf", "None") else float("nan")


def study_label(inputs: dict, seed) -> str:
    """`book ..., model ..., N paths, seed S`: what makes one folder's figures its own."""
    model = inputs.get("model", {})
    name = model.get("model", "?") if isinstance(model, dict) else str(model)
    return (f"book {inputs.get('book', '?')}, model {name}, {inputs.get('paths', '?')} paths, "
            f"seed {seed}")  # fmt: skip


def plot_solvency(folder: Path) -> list[Path]:
    """Writes solvency_curve.png, coverage_fan.png and ruin_stress.png; returns their paths."""
    with (folder / "solvency.csv").open() as f:
        rows = list(csv.DictReader(f))
    summary = json.loads((folder / "summary.json").read_text())
    inputs = summary.get("inputs", {})
    label = study_label(inputs, summary.get("seed", "?"))
    stress_paths = inputs.get("stress_paths", "?")
    written: list[Path] = []

    # solvency curve: median worst coverage against crash depth per tier, with 5-95% bands;
    # the pool (worst tranche) is a wide pale line underneath, so a tier equal to it still shows
    fig, ax = new_figure(size=(9, 5))
    pts = [r for r in rows if r["curve"] == "crash_depth" and r["tier"] == "all"]
    if pts:
        ax.plot([100 * _f(r["x"]) for r in pts], [_f(r["coverage_p50"]) for r in pts],
                color="0.5", lw=7, alpha=0.35, zorder=1, label="pool (worst tranche)")  # fmt: skip
    for i, tier in enumerate(TIER_NAMES):
        pts = [r for r in rows if r["curve"] == "crash_depth" and r["tier"] == tier]
        if not pts:
            continue
        xs = [100 * _f(r["x"]) for r in pts]
        ax.fill_between(xs, [_f(r["coverage_p5"]) for r in pts],
                        [_f(r["coverage_p95"]) for r in pts], color=f"C{i}", alpha=0.12,
                        zorder=2)  # fmt: skip
        ax.plot(xs, [_f(r["coverage_p50"]) for r in pts], marker="osD"[i], ms=3, lw=1.2,
                color=f"C{i}", zorder=3, label=f"{tier} (median, 5-95% band)")  # fmt: skip
    ax.axhline(1.0, color="red", ls="--", lw=0.8, label="coverage 1")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("instantaneous crash of BTC and STX (% of price)")
    ax.set_ylabel("coverage (assets / required):\npath minimum over paths")
    ax.set_title(f"Solvency curve: coverage against crash depth\n{label}, "
                 f"{stress_paths} paths per point", fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    written.append(save(fig, folder / "solvency_curve.png"))

    # fan chart of coverage over time, on a log axis whose ticks start at the data
    pts = [r for r in rows if r["curve"] == "coverage_over_time"]
    fig, ax = new_figure()
    if pts:
        days = [_f(r["x"]) for r in pts]
        q = {p: np.array([_f(r[f"coverage_p{p}"]) for r in pts]) for p in FAN}
        ax.fill_between(days, q[5], q[95], alpha=0.2, color="C0", label="5-95% of paths")
        ax.fill_between(days, q[25], q[75], alpha=0.4, color="C0", label="25-75% of paths")
        ax.plot(days, q[50], color="C0", lw=1.5, label="median")
        positive = np.concatenate([v[v > 0] for v in q.values()])
        if len(positive):
            ax.set_yscale("log")
            ax.set_ylim(min(positive.min(), 1.0) / 1.3, max(positive.max(), 1.0) * 1.3)
        if (q[5] <= 0).any():
            ax.annotate("5% band reaches 0 (ruined paths): below the axis", (0.01, 0.02),
                        xycoords="axes fraction", fontsize=8)  # fmt: skip
    ax.axhline(1.0, color="red", ls="--", lw=0.8, label="coverage 1")
    ax.set_xlabel("time (days)")
    ax.set_ylabel("coverage ratio, worst tranche\n(assets / required), log scale")
    ax.set_title(f"Coverage over time across paths\n{label}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    written.append(save(fig, folder / "coverage_fan.png"))

    # ruin probability against the stressed inputs
    curves = (("volatility", "market vol (x model vol)"),
              ("utilisation_cap", "utilisation cap\n(fraction of tranche assets)"),
              ("vol_multiplier", "pricing vol multiplier"),
              ("crash_speed", "days for a 50% fall"))  # fmt: skip
    fig, axes = new_figure(1, len(curves), size=(14, 4.5), sharey=True)
    for ax, (curve, xlabel) in zip(axes, curves, strict=True):
        pts = [r for r in rows if r["curve"] == curve and r["tier"] == "all"]
        xs = [_f(r["x"]) for r in pts]
        ax.fill_between(xs, [100 * _f(r["ruin_ci95_low"]) for r in pts],
                        [100 * _f(r["ruin_ci95_high"]) for r in pts], alpha=0.25, color="C3",
                        label="95% Wilson")  # fmt: skip
        ax.plot(xs, [100 * _f(r["ruin_probability"]) for r in pts], marker="o", ms=3,
                color="C3", label="estimate")  # fmt: skip
        ax.axhline(100 * RUIN_LIMIT, color="k", ls=":", lw=0.8, label="0.5% limit")
        if spans_decades(xs):
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("probability of ruin (%)")
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(f"Ruin probability under stress: {label}, {stress_paths} paths per point",
                 fontsize=11)  # fmt: skip
    written.append(save(fig, folder / "ruin_stress.png"))
    return written


def plot_calibrate(folder: Path) -> list[Path]:
    """Writes calibrate_frontier.png: premiums against the ruin upper bound for every grid
    point, the frontier, the limit and the chosen point; returns its path."""
    doc = json.loads((folder / "calibrate.json").read_text())
    with (folder / "calibrate.csv").open() as f:
        rows = list(csv.DictReader(f))
    inputs = doc.get("inputs", {})
    limit = float(doc.get("ruin_limit", RUIN_LIMIT))
    label = study_label(inputs, doc.get("seed", "?"))
    fig, ax = new_figure(size=(9, 5.5))
    hi = np.array([100 * _f(r["ruin_ci95_high"]) for r in rows])
    prem = np.array([_f(r["premiums_usd"]) for r in rows])
    feasible = np.array([r["feasible"] in ("1", "True", "true") for r in rows], dtype=bool)
    frontier = np.array([r["frontier"] in ("1", "True", "true") for r in rows], dtype=bool)
    ax.scatter(hi[~feasible], prem[~feasible], marker="x", color="0.55",
               label="infeasible (upper bound > limit)")  # fmt: skip
    ax.scatter(hi[feasible], prem[feasible], marker="o", color="C0", label="feasible")
    order = np.argsort(hi[frontier], kind="stable")
    ax.plot(hi[frontier][order], prem[frontier][order], color="C1", lw=1.2, marker="s", ms=4,
            mfc="none", label="frontier (most premium for its ruin bound)")  # fmt: skip
    best = doc.get("best")
    if best:
        ax.scatter([100 * best["ruin_ci95_high"]], [best["premiums_usd"]], s=160, marker="*",
                   color="C2", zorder=5, edgecolor="k",
                   label=(f"best: vol x{best['vol_multiplier']:g}, cap x{best['cap_scale']:g}, "
                          f"collateral x{best['collateral_scale']:g}"))  # fmt: skip
    ax.axvline(100 * limit, color="red", ls="--", lw=0.9, label=f"limit {limit:.1%}")
    paths = inputs.get("paths")
    if isinstance(paths, int) and paths > 0:  # no point can sit left of this line
        floor = 100 * wilson(0, paths)[1]
        ax.axvline(floor, color="0.4", ls=":", lw=0.9,
                   label=f"upper bound with 0 ruins in {paths:,} paths: {floor:.2f}%")  # fmt: skip
    if spans_decades(hi):
        ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("ruin probability, 95% Wilson upper bound (%)")
    ax.set_ylabel("premiums collected (USD)")
    verdict = "no feasible point" if not best else "best feasible point starred"
    ax.set_title(f"Calibration frontier ({len(rows)} grid points, {verdict})\n{label}",
                 fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    return [save(fig, folder / "calibrate_frontier.png")]
