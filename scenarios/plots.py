"""The standard figures of a run folder, drawn from its metrics.csv and events.jsonl."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _column(rows: list[dict], key: str) -> list[float]:
    return [float(r[key]) if r[key] not in ("", "inf") else float("nan") for r in rows]


def _settlement_times(folder: Path) -> list[float]:
    times = []
    with (folder / "events.jsonl").open() as f:
        for line in f:
            e = json.loads(line)
            if e["kind"] == "tx" and e["call"].endswith("settle-policies"):
                times.append(e["t"] / 3600)
    return times


def plot_run(folder: Path) -> list[Path]:
    """Writes price.png, coverage.png, utilisation.png and payouts.png; returns their paths."""
    with (folder / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    hours = [float(r["time_s"]) / 3600 for r in rows]
    scenario = json.loads((folder / "report.json").read_text())["scenario"]
    written = []

    def figure(name: str, title: str, ylabel: str, draw) -> None:
        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
        draw(ax)
        ax.set_title(f"{scenario}: {title}")
        ax.set_xlabel("time (hours)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)

    def price(ax) -> None:
        ax.plot(hours, _column(rows, "btc_true_usd"), label="true BTC-USD", lw=1)
        ax.plot(hours, _column(rows, "btc_onchain_usd"), label="on-chain BTC-USD", lw=1,
                drawstyle="steps-post")  # fmt: skip
        for i, t in enumerate(_settlement_times(folder)):
            ax.axvline(t, color="red", alpha=0.25, lw=0.8, label="settlement" if i == 0 else None)

    figure("price", "true vs on-chain price", "USD per BTC", price)
    figure("coverage", "coverage ratio (assets / required), worst tranche", "ratio",
           lambda ax: (ax.plot(hours, _column(rows, "coverage"), lw=1),
                       ax.axhline(1.0, color="red", ls="--", lw=0.8, label="ratio 1")))  # fmt: skip
    figure("utilisation", "utilisation (locked / assets), busiest tranche", "fraction",
           lambda ax: ax.plot(hours, _column(rows, "utilisation"), lw=1))  # fmt: skip

    def payouts(ax) -> None:
        ax.plot(hours, _column(rows, "payouts_usd"), label="paid", lw=1)
        ax.plot(hours, _column(rows, "shortfall_usd"), label="shortfall (unpaid)", lw=1)

    figure("payouts", "cumulative payouts", "USD", payouts)
    return written
