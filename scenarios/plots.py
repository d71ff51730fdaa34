"""The standard figures of a folder: a run (metrics.csv, events.jsonl, policies.csv, config.json),
a sweep (sweep.csv) or, through risk.plots, a solvency or calibrate analysis.

Figures are drawn only from the files a command wrote, so `run.py plot DIR` redraws a folder
written earlier and every figure shows exactly the numbers the tables hold. Each figure is
laid out with matplotlib's constrained layout at its saved size, so no label is cut off
(tests/scenarios/test_plots.py measures every text artist against the canvas).
"""

from __future__ import annotations

import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import StrMethodFormatter

from chain.protocol import PRICE_SCALE, SBTC, STX, TOKEN_UNIT
from risk.book import TIER_NAMES, TOKEN_NAMES
from risk.figures import new_figure, save, spans_decades
from risk.montecarlo import wilson
from scenarios.config import KNOBS, ConfigError
from sim.models.parameters import DEFAULTS

LONG_AXIS_HOURS = 72  # beyond this a time axis is in days
WITHDRAW = "liquidity-pool.request-withdraw"  # a provider's exit starts here (protocol v2)
SETTLE = "policy-registry.settle-policies"


@dataclass(frozen=True)
class Window:
    """A stretch of the run where the scenario scripted trouble (a crash, an outage)."""

    label: str
    start_h: float
    end_h: float
    color: str


def fault_windows(values: dict) -> list[Window]:
    """The scripted crash and fault windows of a run, from its config.json knob values."""
    v = values.get
    out = []
    if v("crash.change", 0) and v("crash.duration_hours", 0) > 0:
        start = v("crash.start_hours", 0.0)
        out.append(Window(f"crash {v('crash.change'):+.0%}", start,
                          start + v("crash.duration_hours"), "tab:red"))  # fmt: skip
    for key, label, color in (("faults.oracle_fail", "oracle refused", "tab:purple"),
                              ("faults.signer_down", "signer down", "tab:orange")):  # fmt: skip
        hours = v(f"{key}_hours", 0)
        if hours > 0:
            start = v(f"{key}_from_hours", 0.0)
            out.append(Window(label, start, start + hours, color))
    if v("exchanges.manipulated", 0) and v("exchanges.bias_bps", 0):
        start, end = v("exchanges.bias_from_hours", 0.0), v("exchanges.bias_to_hours", 0.0)
        if end > start:
            out.append(
                Window(f"{v('exchanges.manipulated')} sources biased", start, end, "tab:brown")
            )
    return out


@dataclass(frozen=True)
class TrancheFlows:
    """A tranche's premiums earned and payouts made, each as (hours, USD) arrays in time order."""

    premium_h: np.ndarray
    premium_usd: np.ndarray
    payout_h: np.ndarray
    payout_usd: np.ndarray

    @property
    def pnl_usd(self) -> float:
        return float(self.premium_usd.sum() - self.payout_usd.sum())


def tranche_name(token: int, tier: int) -> str:
    return f"{TOKEN_NAMES[token]} {TIER_NAMES[tier]}"


@dataclass(frozen=True)
class RunData:
    """Everything the run figures and the HTML report read from a run folder."""

    folder: Path
    scenario: str
    seed: int
    values: dict
    report: dict
    metrics: dict[str, np.ndarray]
    hours: np.ndarray
    windows: list[Window]
    settle_h: np.ndarray
    withdraw_ok_h: np.ndarray
    withdraw_refused_h: np.ndarray
    deposit_h: np.ndarray
    panic_h: float | None
    locked: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]  # (token, tier) -> (h, tokens)
    tranches: dict[tuple[int, int], TrancheFlows]

    @property
    def title(self) -> str:
        return f"{self.scenario}, seed {self.seed}"

    @property
    def hours_below_one(self) -> float:
        """How long the worst tranche's coverage stayed below 1: each metrics row's ratio
        holds until the next row."""
        cov = self.metrics["coverage_ratio"]
        below = np.isfinite(cov) & (cov < 1)
        return float(np.diff(self.hours, append=self.hours[-1])[below].sum())


def _float(raw: str) -> float:
    return float(raw) if raw not in ("", "None") else float("nan")


def load_run(folder: Path) -> RunData:
    """Reads a run folder; tolerates fields a newer or older engine writes or leaves out."""
    with (folder / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ConfigError(f"plot: {folder / 'metrics.csv'} has no rows")
    metrics = {k: np.array([_float(r[k]) for r in rows]) for k in rows[0] if k}
    hours = metrics["time_s"] / 3600
    report = json.loads((folder / "report.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    values = config.get("values", {})
    settle, ok, refused, deposit, panic = [], [], [], [], None
    locked: dict[tuple[int, int], tuple[list, list]] = {}
    with (folder / "events.jsonl").open() as f:
        for line in f:
            e = json.loads(line)
            kind, t = e["kind"], e["t"] / 3600
            if kind == "tx":
                call = e.get("call", "")
                is_err = (e.get("result") or {}).get("type") == "err"
                if call == SETTLE and not is_err:
                    settle.append(t)
                elif call == WITHDRAW:  # refused, or ready only later (runner.withdrawal_waits)
                    ready = int((e.get("result") or {}).get("value", {}).get("value", 0))
                    waits = is_err or ready > e.get("burn", ready)
                    (refused if waits else ok).append(t)
                elif call == "liquidity-pool.deposit" and not is_err:
                    deposit.append(t)
            elif kind == "set-locked":
                hs, amounts = locked.setdefault((e["token"], e["tier"]), ([], []))
                hs.append(t)
                amounts.append(e["locked"] / TOKEN_UNIT[e["token"]])
            elif kind == "providers-panic" and panic is None:
                panic = t
    return RunData(
        folder=folder,
        scenario=report.get("scenario", config.get("scenario", folder.name)),
        seed=report.get("seed", config.get("seed", 0)),
        values=values,
        report=report,
        metrics=metrics,
        hours=hours,
        windows=fault_windows(values),
        settle_h=np.array(settle),
        withdraw_ok_h=np.array(ok),
        withdraw_refused_h=np.array(refused),
        deposit_h=np.array(deposit),
        panic_h=panic,
        locked={k: (np.array(h), np.array(a)) for k, (h, a) in sorted(locked.items())},
        tranches=_tranche_flows(folder, metrics),
    )


def _tranche_flows(folder: Path, metrics: dict[str, np.ndarray]) -> dict:
    """Premiums (at the on-chain price when bought) and payouts (at the price the contract
    settled at) per tranche, in USD, from policies.csv; empty when the run wrote none."""
    path = folder / "policies.csv"
    if not path.is_file():
        return {}
    burn = metrics["burn_height"]
    price = {STX: metrics["stx_onchain_usd"], SBTC: metrics["btc_onchain_usd"]}

    def at(height: float) -> int:
        return int(min(max(np.searchsorted(burn, height, side="right") - 1, 0), len(burn) - 1))

    flows: dict[tuple[int, int], tuple[list, list, list, list]] = {}
    with path.open() as f:
        for r in csv.DictReader(f):
            token, tier = int(r["token"]), int(r["tier"])
            ph, pu, xh, xu = flows.setdefault((token, tier), ([], [], [], []))
            i = at(float(r["purchased_burn_height"]))
            ph.append(metrics["time_s"][i] / 3600)
            pu.append(int(r["premium_token_units"]) / TOKEN_UNIT[token] * price[token][i])
            if r.get("paid_token_units") not in (None, "", "0"):
                j = at(float(r["settled_burn_height"]))
                xh.append(metrics["time_s"][j] / 3600)
                xu.append(
                    int(r["paid_token_units"])
                    / TOKEN_UNIT[token]
                    * int(r["token_price_e8"])
                    / PRICE_SCALE
                )
    out = {}
    for key, (ph, pu, xh, xu) in sorted(flows.items()):
        po, xo = np.argsort(ph, kind="stable"), np.argsort(xh, kind="stable")
        out[key] = TrancheFlows(np.array(ph)[po], np.array(pu)[po],
                                np.array(xh)[xo], np.array(xu)[xo])  # fmt: skip
    return out


def time_axis(hours: np.ndarray) -> tuple[float, str]:
    """(divisor, label): hours for short runs, days once the axis runs past three days."""
    span = float(np.nanmax(hours)) if len(hours) else 0.0
    return (24.0, "time (days)") if span > LONG_AXIS_HOURS else (1.0, "time (hours)")


def _dollars(*axes) -> None:
    """Plain USD tick labels with thousands separators (no 1e6 offset to multiply in)."""
    for ax in axes:
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _shade(ax, run: RunData, div: float) -> None:
    seen = set()
    for w in run.windows:
        ax.axvspan(w.start_h / div, w.end_h / div, color=w.color, alpha=0.12,
                   label=None if w.label in seen else w.label)  # fmt: skip
        seen.add(w.label)


def rate_bin_hours(end_h: float) -> float:
    """Bin width for event rates: an hour up to ten days, then six hours, then a day, so a
    long run still shows its bursts without a thousand bars."""
    return 1.0 if end_h <= 240 else 6.0 if end_h <= 1440 else 24.0


def _rate(ax, times_h: np.ndarray, end_h: float, div: float, **style) -> None:
    """Events per hour, counted in bins of `rate_bin_hours`, drawn as a step line."""
    width = rate_bin_hours(end_h)
    edges = np.arange(0, max(end_h, width) + width, width)
    counts, _ = np.histogram(times_h, bins=edges)
    ax.stairs(counts / width, edges / div, **style)


def _per(end_h: float) -> str:
    width = rate_bin_hours(end_h)
    return "per hour" if width == 1 else f"per hour ({width:g} h bins)"


def plot_run(folder: Path) -> list[Path]:
    """Writes price.png, coverage.png, utilisation.png, flows.png, withdrawals.png and pool.png."""
    run = load_run(folder)
    div, xlabel = time_axis(run.hours)
    x = run.hours / div
    end = float(np.nanmax(run.hours))
    m = run.metrics
    written = []

    def finish(fig, axes, name: str, title: str) -> None:
        for ax in np.atleast_1d(axes):
            ax.grid(alpha=0.3, which="both")
            ax.set_xlim(0, end / div)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize=8)
        np.atleast_1d(axes)[-1].set_xlabel(xlabel)
        fig.suptitle(f"{run.title}: {title}")
        written.append(save(fig, folder / f"{name}.png"))

    # price with the scripted windows, and settlements as a rate beneath it
    fig, (ax, ax2) = new_figure(2, 1, size=(9, 6), sharex=True, height_ratios=(3, 1))
    _shade(ax, run, div)
    ax.plot(x, m["btc_true_usd"], lw=1, label="true BTC-USD")
    ax.plot(x, m["btc_onchain_usd"], lw=1, drawstyle="steps-post", label="on-chain BTC-USD")
    ax.set_ylabel("USD per BTC")
    _dollars(ax)
    _rate(ax2, run.settle_h, end, div, color="tab:red", fill=True, alpha=0.6,
          label=f"settlement transactions {_per(end)}")  # fmt: skip
    ax2.set_ylabel(f"settlements\n{_per(end)}")
    finish(fig, (ax, ax2), "price", "true vs on-chain BTC price, settlements")

    # coverage on a log axis with the ratio-1 line and the stretch below it
    fig, ax = new_figure()
    floor = 1e-3  # a log axis has no 0: a ratio of 0 (nothing backing) is drawn here
    cov = np.where(
        m["coverage_ratio"] > 0,
        m["coverage_ratio"],
        np.where(m["coverage_ratio"] == 0, floor, np.nan),
    )
    _shade(ax, run, div)
    short = "below 1: backing short of worst case"
    ax.axhspan(floor, 1.0, color="tab:red", alpha=0.06, label=short)
    ax.plot(x, cov, lw=1, color="tab:blue", label="coverage, worst tranche")
    ax.axhline(1.0, color="red", ls="--", lw=0.8, label="coverage 1")
    ax.set_yscale("log")
    finite = cov[np.isfinite(cov)]
    if len(finite):
        lo, hi = finite.min(), finite.max()
        ax.set_ylim(min(lo, 1.0) / 1.5, max(hi, 1.0) * 1.5)
        i = int(np.nanargmin(cov))
        low = float(np.nanmin(m["coverage_ratio"]))
        ax.plot([x[i]], [lo], marker="v", color="k", ls="none", label=f"minimum {low:.3g}")
        below = run.hours_below_one
        title = (f"coverage ratio: minimum {low:.3g} at {x[i]:.1f} {xlabel[6:-1]}, "
                 + (f"{below:.1f} hours below 1" if below else "never below 1"))  # fmt: skip
    else:
        title = "coverage ratio (no policy ever required collateral)"
    ax.set_ylabel("coverage (assets / required), log scale")
    finish(fig, ax, "coverage", title)

    # utilisation of the busiest tranche against the tier caps; locked collateral per tranche
    fig, (ax, ax2) = new_figure(2, 1, size=(9, 6.5), sharex=True)
    _shade(ax, run, div)
    ax.plot(x, m["utilisation_ratio"], lw=1, color="k", label="busiest tranche")
    for tier, name in enumerate(TIER_NAMES):
        cap = DEFAULTS[f"max-utilisation-{tier}"] / 10_000
        ax.axhline(cap, ls="--", lw=0.9, color=f"C{tier}", label=f"{name} cap {cap:.0%}")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("utilisation\n(locked / assets)")
    for (token, tier), (h, amount) in run.locked.items():
        ax2.step(np.append(h, end) / div, np.append(amount, amount[-1] if len(amount) else 0),
                 where="post", lw=1, color=f"C{tier}", ls="-" if token == STX else ":",
                 label=tranche_name(token, tier))  # fmt: skip
    if run.locked and spans_decades(np.concatenate([a for _, a in run.locked.values()])):
        ax2.set_yscale("symlog", linthresh=1.0)
    ax2.set_ylabel("collateral locked\n(tokens: STX or BTC)")
    finish(fig, (ax, ax2), "utilisation", "utilisation against caps, locked per tranche")

    # premiums beside payouts: cumulative in time, and per tranche
    fig, (ax, ax2) = new_figure(1, 2, size=(11, 4.5), width_ratios=(3, 2))
    _shade(ax, run, div)
    flows = run.tranches.values()
    for label, hs, us, color in (
        ("premiums earned", [f.premium_h for f in flows], [f.premium_usd for f in flows], "C2"),
        ("payouts", [f.payout_h for f in flows], [f.payout_usd for f in flows], "C3"),
    ):
        h, u = np.concatenate([[0.0], *hs]), np.concatenate([[0.0], *us])
        order = np.argsort(h, kind="stable")
        ax.step(np.append(h[order], end) / div, np.append(np.cumsum(u[order]), u.sum()),
                where="post", color=color, label=label)  # fmt: skip
    ax.plot(x, m["shortfall_usd"], color="k", ls=":", label="shortfall (unpaid)")
    ax.set_ylabel("cumulative USD")
    _dollars(ax)
    names = [tranche_name(*k) for k in run.tranches]
    pos = np.arange(len(names))
    prem = [f.premium_usd.sum() for f in run.tranches.values()]
    paid = [f.payout_usd.sum() for f in run.tranches.values()]
    ax2.bar(pos - 0.2, prem, 0.4, color="C2", label="premiums")
    ax2.bar(pos + 0.2, paid, 0.4, color="C3", label="payouts")
    ax2.set_xticks(pos, names, fontsize=7, rotation=35, ha="right", rotation_mode="anchor")
    if spans_decades(prem + paid):
        ax2.set_yscale("log")
    ax2.set_ylabel("USD per tranche")
    ax2.grid(alpha=0.3, axis="y")
    ax2.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_xlim(0, end / div)
    ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(xlabel)
    fig.suptitle(f"{run.title}: premiums beside payouts")
    written.append(save(fig, folder / "flows.png"))

    # withdrawals and refusals (the bank-run story)
    fig, ax = new_figure()
    _shade(ax, run, div)
    _rate(ax, run.withdraw_ok_h, end, div, color="C0", lw=1.2,
          label=f"withdrawal requests ready at once ({len(run.withdraw_ok_h)})")  # fmt: skip
    _rate(ax, run.withdraw_refused_h, end, div, color="C3", lw=1.2,
          label=f"requests refused or made to wait ({len(run.withdraw_refused_h)})")  # fmt: skip
    _rate(ax, run.deposit_h, end, div, color="C2", lw=1.0, ls="--",
          label=f"deposits ({len(run.deposit_h)})")  # fmt: skip
    if run.panic_h is not None:
        ax.axvline(run.panic_h / div, color="k", ls=":", lw=1, label="providers panic")
    ax.set_ylabel(f"transactions {_per(end)}")
    finish(fig, ax, "withdrawals", "deposits, withdrawals and refusals")

    # pool assets by token (USD) and P&L per tranche
    fig, (ax, ax2) = new_figure(2, 1, size=(9, 6.5), sharex=True)
    _shade(ax, run, div)
    stx = m["assets_ustx"] / TOKEN_UNIT[STX] * m["stx_onchain_usd"]
    btc = m["assets_sats"] / TOKEN_UNIT[SBTC] * m["btc_onchain_usd"]
    ax.stackplot(x, stx, btc, labels=("STX tranches", "sBTC tranches"), alpha=0.6)
    ax.plot(x, (m["locked_ustx"] / TOKEN_UNIT[STX] * m["stx_onchain_usd"]
                + m["locked_sats"] / TOKEN_UNIT[SBTC] * m["btc_onchain_usd"]),
            color="k", lw=1, label="locked (both tokens)")  # fmt: skip
    ax.set_ylabel("pool assets (USD at\non-chain prices)")
    for (token, tier), f in run.tranches.items():
        h = np.concatenate([[0.0], f.premium_h, f.payout_h])
        u = np.concatenate([[0.0], f.premium_usd, -f.payout_usd])
        order = np.argsort(h, kind="stable")
        ax2.step(np.append(h[order], end) / div, np.append(np.cumsum(u[order]), u.sum()),
                 where="post", color=f"C{tier}", ls="-" if token == STX else ":",
                 label=f"{tranche_name(token, tier)} ({f.pnl_usd:+,.0f})")  # fmt: skip
    ax2.axhline(0, color="grey", lw=0.8)
    ax2.set_ylabel("P&L: premiums minus\npayouts (USD)")
    _dollars(ax, ax2)
    finish(fig, (ax, ax2), "pool", "pool assets and P&L per tranche")
    return written


def plot_folder(folder: Path, metric: str | None = None) -> list[Path]:
    """Draws whatever figures the folder's kind has; an unknown folder is a user error."""
    if not folder.is_dir():
        raise ConfigError(f"plot: {folder} is not a folder")
    if metric is not None and not (folder / "sweep.csv").is_file():
        raise ConfigError("--metric: only a sweep folder (sweep.csv) has metrics to choose from")
    if (folder / "sweep.csv").is_file():
        return plot_sweep(folder, metric or "ruin")
    if (folder / "stress.json").is_file() and (folder / "stress.csv").is_file():
        return plot_stress(folder)
    if (folder / "summary.json").is_file() and (folder / "solvency.csv").is_file():
        from risk.plots import plot_solvency

        return plot_solvency(folder)
    if (folder / "calibrate.json").is_file():
        from risk.plots import plot_calibrate

        return plot_calibrate(folder)
    if (folder / "config.json").is_file() and (folder / "metrics.csv").is_file():
        return plot_run(folder)
    raise ConfigError(
        f"plot: {folder} is not a run (config.json + metrics.csv), sweep (sweep.csv), "
        "stress (stress.json + stress.csv), solvency (summary.json + solvency.csv) or "
        "calibrate (calibrate.json) folder"
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


def metric_values(rows: list[dict], keys: list[str], metric: str) -> dict[tuple, list[float]]:
    """Grid point -> the metric's value in each completed run (failed runs left out)."""
    out: dict[tuple, list[float]] = {}
    for row in rows:
        values = out.setdefault(tuple(_value(row[k]) for k in keys), [])
        if row["status"] == "ok" and row.get(metric) not in (None, "", "inf", "nan"):
            values.append(float(row[metric]))
    return out


def sweep_metrics(columns: list[str], rows: list[dict]) -> list[str]:
    """The columns of sweep.csv that `--metric` accepts: numeric results, and `ruin`."""
    grid_end = columns.index("seed") + 1
    skip = ("status", "error", "events_sha256")
    numeric = [c for c in columns[grid_end:]
               if c not in skip and any(_is_number(r.get(c, "")) for r in rows)]  # fmt: skip
    return ["ruin", *numeric]


def _is_number(raw: str) -> bool:
    try:
        float(raw)
    except (TypeError, ValueError):
        return False
    return True


def plot_sweep(folder: Path, metric: str = "ruin") -> list[Path]:
    """A metric over the swept parameters: a heatmap over the first two (one figure per value
    of any further ones), or a line when one was swept. `ruin` is the probability of a
    shortfall with a 95% Wilson interval; any other metric is its mean over the seeds."""
    with (folder / "sweep.csv").open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    if not rows or "shortfall_usd" not in columns or "seed" not in columns:
        raise ConfigError(f"plot: {folder / 'sweep.csv'} has no runs with a shortfall_usd column")
    allowed = sweep_metrics(columns, rows)
    if metric not in allowed:
        raise ConfigError(f"--metric: {metric!r} is not one of {', '.join(allowed)}")
    keys = columns[1 : columns.index("seed")]  # the grid parameters sit between run and seed
    points = sorted({tuple(_value(r[k]) for k in keys) for r in rows})
    levels = [sorted({p[i] for p in points}, key=_order) for i in range(len(keys))]
    seeds = len({row["seed"] for row in rows})
    name = next((row["scenario"] for row in rows if row.get("scenario")), folder.name)
    what = "P(a claim unpaid or above its cap)" if metric == "ruin" else f"mean {metric}"
    title = (
        f"{name}: {what}, {seeds} seeds per point, first seed {min(int(r['seed']) for r in rows)}"
    )
    cells = (_ruin_cells(ruin_counts(rows, keys)) if metric == "ruin"
             else _mean_cells(metric_values(rows, keys, metric)))  # fmt: skip
    if len(keys) == 1:
        return [_sweep_line(folder, keys[0], levels[0], cells, metric, title)]
    written = []
    for rest in itertools.product(*levels[2:]):
        fixed = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in zip(keys[2:], rest, strict=True))  # fmt: skip
        suffix = "".join(f"_{k}={v}" for k, v in zip(keys[2:], rest, strict=True))
        path = folder / f"{metric}_heatmap{suffix}.png"
        written.append(_heatmap(path, keys[:2], levels[:2],
                                {p[:2]: c for p, c in cells.items() if p[2:] == rest},
                                metric, title + (f"\n{fixed}" if fixed else "")))  # fmt: skip
    return written


@dataclass(frozen=True)
class Cell:
    """One grid point of a sweep figure: its value, interval and the text written on it."""

    value: float
    low: float
    high: float
    text: str


def _ruin_cells(counts: dict) -> dict[tuple, Cell]:
    out = {}
    for point, (ruined, done, failed) in counts.items():
        lo, hi = wilson(ruined, done) if done else (np.nan, np.nan)
        text = f"{ruined}/{done}" + (f"\n{failed} failed" if failed else "")
        out[point] = Cell(ruined / done if done else np.nan, lo, hi, text)
    return out


def _mean_cells(values: dict) -> dict[tuple, Cell]:
    out = {}
    for point, v in values.items():
        if v:
            mean = float(np.mean(v))
            out[point] = Cell(
                mean, min(v), max(v), f"{mean:,.0f}" if abs(mean) >= 1000 else f"{mean:.3g}"
            )
        else:
            out[point] = Cell(np.nan, np.nan, np.nan, "no runs")
    return out


def _order(v):
    return (0, v, "") if isinstance(v, float) else (1, 0.0, str(v))


def _tick(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _heatmap(path: Path, keys, levels, cells: dict, metric: str, title: str) -> Path:
    ys, xs = levels
    grid = np.full((len(ys), len(xs)), np.nan)
    fig, ax = new_figure(size=(max(7, 1.1 * len(xs) + 4), max(4.5, 0.7 * len(ys) + 2.5)))
    for (y, x), cell in cells.items():
        grid[ys.index(y), xs.index(x)] = cell.value
    if metric == "ruin":
        norm, label, cmap = plt.Normalize(0, 1), "ruin probability (fraction of seeds)", "Reds"
    elif spans_decades(grid) and np.nanmin(grid) > 0:
        norm, label, cmap = LogNorm(np.nanmin(grid), np.nanmax(grid)), f"{metric} (log)", "viridis"
    else:
        norm, label, cmap = None, metric, "viridis"
    image = ax.imshow(grid, origin="lower", cmap=cmap, norm=norm, aspect="auto")
    for (y, x), cell in cells.items():
        dark = np.isfinite(cell.value) and image.norm(cell.value) > 0.6
        shade = (
            ("white" if dark else "black") if metric == "ruin" else ("black" if dark else "white")
        )
        ax.text(xs.index(x), ys.index(y), cell.text, ha="center", va="center", fontsize=8,
                color=shade)  # fmt: skip
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xticks(range(len(xs)), [_tick(x) for x in xs])
    ax.set_yticks(range(len(ys)), [_tick(y) for y in ys])
    ax.set_xlabel(_label(keys[1]), wrap=True)
    ax.set_ylabel(_label(keys[0]), wrap=True)
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def _sweep_line(folder: Path, key: str, xs, cells: dict, metric: str, title: str) -> Path:
    numeric = all(isinstance(x, float) for x in xs)
    pos = list(xs) if numeric else list(range(len(xs)))
    c = [cells[(x,)] for x in xs]
    fig, ax = new_figure(size=(8, 4.5))
    band = "95% Wilson interval" if metric == "ruin" else "min to max over seeds"
    ax.fill_between(pos, [k.low for k in c], [k.high for k in c], alpha=0.25, label=band)
    ax.plot(pos, [k.value for k in c], marker="o", lw=1.2,
            label="ruin probability" if metric == "ruin" else f"mean {metric}")  # fmt: skip
    for x, k in zip(pos, c, strict=True):
        ax.annotate(k.text, (x, 0 if np.isnan(k.value) else k.value), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=8)  # fmt: skip
    if not numeric:
        ax.set_xticks(pos, xs)
    elif spans_decades(pos):
        ax.set_xscale("log")
    if metric == "ruin":
        ax.set_ylim(-0.02, 1.08)
        ax.set_ylabel("ruin probability (fraction of seeds)")
    else:
        if spans_decades([k.value for k in c]):
            ax.set_yscale("log")
        ax.set_ylabel(metric)
    ax.set_xlabel(_label(key))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    return save(fig, folder / ("ruin.png" if metric == "ruin" else f"{metric}.png"))


def plot_stress(folder: Path) -> list[Path]:
    """limits.png: per limit, every run's value by scenario (one dot per seed) against its
    bound; a dot past the bound is red. A field spanning decades gets a symmetric log axis."""
    doc = json.loads((folder / "stress.json").read_text())
    with (folder / "stress.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    limits, names = doc["limits"], doc["scenarios"]
    if not limits:
        return []
    fig, axes = new_figure(len(limits), 1, size=(9, 1.2 + 0.25 * len(names) * len(limits)),
                           squeeze=False)  # fmt: skip
    for ax, (field, bound) in zip(axes[:, 0], limits.items(), strict=True):
        for i, name in enumerate(names):
            values = [float(r[field]) for r in rows
                      if r["scenario"] == name and _is_number(r.get(field, ""))]  # fmt: skip
            bad = [v for v in values if ("min" in bound and v < bound["min"])
                   or ("max" in bound and v > bound["max"])]  # fmt: skip
            good = [v for v in values if v not in bad]
            ax.plot(good, [i] * len(good), "o", color="tab:blue", ms=4)
            ax.plot(bad, [i] * len(bad), "o", color="tab:red", ms=5)
        for side, value in bound.items():
            ax.axvline(value, color="red", ls="--", lw=0.9, label=f"{side} {value:g}")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_ylim(-0.7, len(names) - 0.3)
        values = [float(r[field]) for r in rows if _is_number(r.get(field, ""))]
        if spans_decades([abs(v) for v in values if v]):
            ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel(field)
        ax.legend(loc="best", fontsize=8)
    verdict = "all within limits" if doc["passed"] else f"{len(doc['breaches'])} limits broken"
    seeds = doc["seeds"]
    fig.suptitle(f"stress: {len(names)} scenarios x {len(seeds)} seeds (first {seeds[0]}), "
                 f"{verdict}; limits {doc['limits_file']}", fontsize=10)  # fmt: skip
    return [save(fig, folder / "limits.png")]
