"""The BitHedge engine's command line.

python run.py scenarios                       list the scenarios
python run.py knobs                           list every --set key with its range
python run.py sim NAME [--seed N] [--out DIR] [--set key=value ...] [--plot]
python run.py sweep NAME --grid key=v1,v2,... [--grid ...] [--runs R] [--seed BASE]
                   [--backend local|ray] [--address ADDR] [--workers W] [--set ...] --out DIR
python run.py plot DIR                        figures of a run, sweep or solvency folder
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def _cmd_scenarios(_args: argparse.Namespace) -> int:
    from scenarios.config import available

    names = available()
    width = max(map(len, names))
    for name, description in names.items():
        print(f"{name:<{width}}  {description}")
    return 0


def _cmd_knobs(_args: argparse.Namespace) -> int:
    from scenarios.config import KNOBS

    for key, knob in KNOBS.items():
        note = f"  ({knob.help})" if knob.help else ""
        print(f"{key:<28} default {knob.default!s:<10} {knob.allowed()}{note}")
    return 0


def _cmd_sim(args: argparse.Namespace) -> int:
    from scenarios import config
    from scenarios.runner import EXECUTORS, InvariantBroken, run

    scenario = config.load(args.name, args.set or [])
    if args.executor not in EXECUTORS:
        raise config.ConfigError(
            f"--executor: {args.executor!r} is not available; allowed: {', '.join(EXECUTORS)}"
        )
    out = Path(args.out) if args.out else Path("runs") / f"{args.name}-seed{args.seed}"
    if out.exists() and any(out.iterdir()):
        raise config.ConfigError(f"--out: {out} exists and is not empty; choose another folder")
    progress = _progress if sys.stderr.isatty() or args.progress else None
    created = not out.exists()
    try:
        report = run(scenario, args.seed, out, executor=args.executor, progress=progress)
    except InvariantBroken as exc:
        _progress_done()
        print(f"error: invariant violated, run stopped: {exc} (trace kept in {out})",
              file=sys.stderr)  # fmt: skip
        return 1
    except BaseException:
        _progress_done()
        if created:
            shutil.rmtree(out, ignore_errors=True)  # leave nothing half-written behind
        raise
    _progress_done()
    if args.plot:
        from scenarios.plots import plot_run

        for path in plot_run(out):
            print(f"wrote {path}")
    keys = ("policies_purchased", "policies_settled", "policies_expired", "premiums_usd",
            "payouts_usd", "shortfall_usd", "min_coverage_ratio", "max_utilisation",
            "settlement_delay_blocks", "invariant_violations")  # fmt: skip
    for key in keys:
        print(f"{key:<26} {report[key]}")
    print(f"run folder                 {out}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from scenarios import config
    from scenarios.parallel import check
    from scenarios.sweep import parse_grid, plan, sweep

    grid = parse_grid(args.grid)
    plan(args.name, grid, args.runs, args.seed, args.set or [])  # every point valid before any run
    check(args.backend, args.workers, args.address)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise config.ConfigError(f"--out: {out} is a file; choose a folder")
    if out.exists() and any(out.iterdir()):
        raise config.ConfigError(f"--out: {out} exists and is not empty; choose another folder")
    bar = _Bar("sweep", live=sys.stderr.isatty() or args.progress)
    created = not out.exists()
    started = time.perf_counter()
    try:
        table = sweep(args.name, grid, args.runs, args.seed, out, sets=args.set or [],
                      backend=args.backend, workers=args.workers, address=args.address,
                      progress=bar)  # fmt: skip
    except BaseException:
        bar.close()
        if created:
            shutil.rmtree(out, ignore_errors=True)  # leave nothing half-written behind
        raise
    bar.close()
    seconds = time.perf_counter() - started
    failed = sum(row["status"] != "ok" for row in table)
    print(f"runs        {len(table)} in {seconds:.1f} s ({len(table) / seconds:.2f} runs/s)")
    print(f"table       {out / 'sweep.csv'}")
    if failed:
        print(f"error: {failed} of {len(table)} runs failed (their rows say why)", file=sys.stderr)
        return 1
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from scenarios.plots import plot_folder

    for path in plot_folder(Path(args.folder)):
        print(f"wrote {path}")
    return 0


class _Bar:
    """A progress bar on stderr: redrawn in place on a terminal, a line per tenth when piped."""

    def __init__(self, label: str, live: bool):
        self.label, self.live, self.shown = label, live, -1

    def __call__(self, done: int, total: int, failed: int) -> None:
        width = 30
        fill = width * done // total
        line = (f"[{self.label}] |{'#' * fill}{'.' * (width - fill)}| {done}/{total} runs"
                f"{f', {failed} failed' if failed else ''}")  # fmt: skip
        if self.live:
            sys.stderr.write(f"\r{line}\033[K")
        elif 10 * done // total > self.shown:
            self.shown = 10 * done // total
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\n")


def _progress(line: str) -> None:
    sys.stderr.write(f"\r[sim] {line}\033[K")
    sys.stderr.flush()


def _progress_done() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run.py", description="BitHedge engine")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("scenarios", help="list the scenarios").set_defaults(func=_cmd_scenarios)
    sub.add_parser("knobs", help="list every --set key").set_defaults(func=_cmd_knobs)
    sim = sub.add_parser("sim", help="run one scenario in the simulated world")
    sim.add_argument("name")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--out", help="run folder (default runs/NAME-seedN)")
    sim.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a knob")
    sim.add_argument("--plot", action="store_true", help="also write PNG figures")
    sim.add_argument("--executor", default="python", help="contract executor (python)")
    sim.add_argument("--progress", action="store_true", help="progress line even when piped")
    sim.set_defaults(func=_cmd_sim)
    sw = sub.add_parser("sweep", help="run a scenario over a grid of knob values times seeds")
    sw.add_argument("name")
    sw.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                    help="a knob and the values to sweep (repeat for more knobs)")  # fmt: skip
    sw.add_argument("--runs", type=int, default=1, help="seeds per grid point")
    sw.add_argument("--seed", type=int, default=1, help="first seed; runs use seed..seed+R-1")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE", help="fix a knob for all runs")
    sw.add_argument("--backend", default="local", help="local (process pool) or ray")
    sw.add_argument("--address", help="an existing Ray cluster (with --backend ray)")
    sw.add_argument("--workers", type=int, help="parallel runs (default: CPU count)")
    sw.add_argument("--out", required=True, help="sweep folder (must be new or empty)")
    sw.add_argument("--progress", action="store_true", help="redraw the bar even when piped")
    sw.set_defaults(func=_cmd_sweep)
    pl = sub.add_parser("plot", help="draw the standard figures of a run/sweep/solvency folder")
    pl.add_argument("folder")
    pl.set_defaults(func=_cmd_plot)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from scenarios.config import ConfigError

    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
