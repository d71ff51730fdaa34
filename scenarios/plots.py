"""The standard figures of a folder: a run (metrics.csv, events.jsonl), a sweep (sweep.csv) or,
through risk.plots, a solvency analysis (summary.json, solvency.csv)."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from risk.montecarlo import wilson
from scenarios.config import KNOBS, ConfigError


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


def plot_folder(folder: Path) -> list[Path]:
    """Draws whatever figures the folder's kind has; an unknown folder is a user error."""
    if not folder.is_dir():
        raise ConfigError(f"plot: {folder} is not a folder")
    if (folder / "sweep.csv").is_file():
        return plot_sweep(folder)
    if (folder / "summary.json").is_file() and (folder / "solvency.csv").is_file():
        # --- dispatch point: solvency folders (risk.plots comes with the Monte Carlo engine) ---
        try:
            from risk.plots import plot_solvency  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError(
                f"plot: {folder} is a solvency folder, but this build has no risk.plots to draw it"
            ) from None
        return plot_solvency(folder)
    if (folder / "config.json").is_file() and (folder / "metrics.csv").is_file():
        return plot_run(folder)
    raise ConfigError(
        f"plot: {folder} is not a run (config.json + metrics.csv), sweep (sweep.csv) or "
        "solvency (summary.json + solvency.csv) folder"
    )


def _label(key: str) -> str:
    """A knob's axis label with its unit or meaning, as `run.py knobs` gives it."""
    knob = KNOBS.get(key)
    return f"{key} ({knob.help})" if knob is not None and knob.help else key


def _value(raw: str):
    try:
        return float(raw)
    except ValueError:
        return raw


def ruin_counts(rows: list[dict], keys: list[str]) -> dict[tuple, tuple[int, int, int]]:
    """Grid point -> (ruined, completed, failed) runs; ruined means some buyer was not paid its
    whole intrinsic value: shortfall_usd > 0 or (protocol v2, whose caps make a shortfall
    impossible) capped_claims_usd > 0.

    Failed runs have no figures, so they are counted apart, never as safe or ruined.
    """
    out: dict[tuple, list[int]] = {}
    for row in rows:
        point = tuple(_value(row[k]) for k in keys)
        counts = out.setdefault(point, [0, 0, 0])
        if row["status"] != "ok":
            counts[2] += 1
            continue
        counts[1] += 1
        capped = float(row.get("capped_claims_usd") or 0)
        counts[0] += float(row["shortfall_usd"]) > 0 or capped > 0
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


def plot_sweep(folder: Path) -> list[Path]:
    """Ruin probability over the swept parameters: a heatmap over the first two (one figure per
    value of any further ones), or a line with a 95% Wilson interval when one was swept."""
    with (folder / "sweep.csv").open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames or []
    if not rows or "shortfall_usd" not in columns or "seed" not in columns:
        raise ConfigError(f"plot: {folder / 'sweep.csv'} has no runs with a shortfall_usd column")
    keys = columns[1 : columns.index("seed")]  # the grid parameters sit between run and seed
    counts = ruin_counts(rows, keys)
    levels = [sorted({p[i] for p in counts}, key=_order) for i in range(len(keys))]
    seeds = len({row["seed"] for row in rows})
    name = next((row["scenario"] for row in rows if row.get("scenario")), folder.name)
    title = f"{name}: P(a claim unpaid or above its cap), {seeds} seeds per point"
    if len(keys) == 1:
        return [_ruin_line(folder, keys[0], levels[0], counts, title)]
    written = []
    for rest in itertools.product(*levels[2:]):
        fixed = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in zip(keys[2:], rest, strict=True))  # fmt: skip
        suffix = "".join(f"_{k}={v}" for k, v in zip(keys[2:], rest, strict=True))
        written.append(_ruin_heatmap(folder / f"ruin_heatmap{suffix}.png", keys[:2], levels[:2],
                                     {p[:2]: c for p, c in counts.items() if p[2:] == rest},
                                     title + (f"\n{fixed}" if fixed else "")))  # fmt: skip
    return written


def _order(v):
    return (0, v, "") if isinstance(v, float) else (1, 0.0, str(v))


def _ruin_heatmap(path: Path, keys, levels, counts, title: str) -> Path:
    ys, xs = levels
    grid = np.full((len(ys), len(xs)), np.nan)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(xs) + 3), max(4, 0.7 * len(ys) + 2)), dpi=110)
    for (y, x), (ruined, done, failed) in counts.items():
        i, j = ys.index(y), xs.index(x)
        if done:
            grid[i, j] = ruined / done
        text = f"{ruined}/{done}" + (f"\n{failed} failed" if failed else "")
        shade = "white" if done and ruined / done > 0.6 else "black"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color=shade)
    image = ax.imshow(grid, origin="lower", cmap="Reds", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(image, ax=ax, label="ruin probability (fraction of seeds)")
    ax.set_xticks(range(len(xs)), [f"{x:g}" if isinstance(x, float) else x for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" if isinstance(y, float) else y for y in ys])
    ax.set_xlabel(_label(keys[1]))
    ax.set_ylabel(_label(keys[0]))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _ruin_line(folder: Path, key: str, xs, counts, title: str) -> Path:
    numeric = all(isinstance(x, float) for x in xs)
    pos = list(xs) if numeric else list(range(len(xs)))
    ruined = [counts[(x,)][0] for x in xs]
    done = [counts[(x,)][1] for x in xs]
    p = [r / d if d else np.nan for r, d in zip(ruined, done, strict=True)]
    lo, hi = zip(*(wilson(r, d) for r, d in zip(ruined, done, strict=True)), strict=True)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.fill_between(pos, lo, hi, alpha=0.25, label="95% Wilson interval")
    ax.plot(pos, p, marker="o", lw=1.2, label="ruin probability")
    for x, y, r, d in zip(pos, p, ruined, done, strict=True):
        ax.annotate(f"{r}/{d}", (x, 0 if np.isnan(y) else y), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=8)  # fmt: skip
    if not numeric:
        ax.set_xticks(pos, xs)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(_label(key))
    ax.set_ylabel("ruin probability (fraction of seeds)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    path = folder / "ruin.png"
    fig.savefig(path)
    plt.close(fig)
    return path
