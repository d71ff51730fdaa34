"""The BitHedge engine's command line.

python run.py scenarios                       list the scenarios
python run.py knobs                           list every --set key with its range
python run.py sim NAME [--seed N] [--out DIR] [--set key=value ...] [--plot]
python run.py live --config FILE [--dry-run | --standby]   the engine and its HTTP API
python run.py status --config FILE            what the running engine sees, from its API
python run.py devnet [--port P] [--dir DIR]   a local Stacks-node stand-in on the Clarity VM
python run.py quote purchase|deposit|withdraw --config FILE ...   a wallet's call, via the API
python run.py solvency [--book SRC] [--paths N] [--days D] [--model gbm|jump|garch] [--seed S]
                       --out DIR
python run.py calibrate [--book SRC] [--grid key=v1,v2 ...] [--paths N] [--seed S] --out DIR
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


def _fresh_out(out: Path) -> bool:
    """Refuses a non-empty folder; creates it; True if it did (so a failure may remove it)."""
    from scenarios.config import ConfigError

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} is a file; choose a folder")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out: {out} exists and is not empty; choose another folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return created


def _in_fresh_out(out: Path, work):
    """Runs `work()` writing into `out`; on any failure leaves no folder it created behind."""
    created = _fresh_out(out)
    try:
        return work()
    except BaseException:
        _progress_done()
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _study(args: argparse.Namespace, run_it):
    """What `solvency` and `calibrate` share: the book, the backend, a fresh output folder.
    `run_it(study, out, map_fn, progress)` does the command's own work inside it."""
    from risk.solvency import load_study
    from scenarios.parallel import check, mapper

    check(args.backend, args.workers, args.address)
    study = load_study(args.book, args.set or [], args.seed, args.model)
    progress = _progress if sys.stderr.isatty() or args.progress else None
    out = Path(args.out)

    def work():
        with mapper(args.backend, args.workers, args.address) as map_fn:
            return run_it(study, out, map_fn, progress)

    result = _in_fresh_out(out, work)
    _progress_done()
    return out, result


def _cmd_solvency(args: argparse.Namespace) -> int:
    from risk.plots import plot_solvency
    from risk.solvency import run_solvency

    def run_it(study, out, map_fn, progress):
        doc = run_solvency(study, out, paths=args.paths, days=args.days, seed=args.seed,
                           stress_paths=args.stress_paths, chunk_size=args.chunk_size,
                           progress=progress, map_fn=map_fn)  # fmt: skip
        return doc, plot_solvency(out)

    out, (doc, figures) = _study(args, run_it)
    m = doc["metrics"]
    ruin = m["probability_of_ruin"]
    print(f"policies                   {doc['inputs']['policies']}")
    print(f"paths x days               {doc['inputs']['paths']} x {doc['inputs']['days']}")
    print(f"probability_of_ruin        {ruin['estimate']:.4%} "
          f"(95% CI {ruin['ci95_low']:.4%} to {ruin['ci95_high']:.4%})")  # fmt: skip
    for level, v in m["loss_usd"].items():
        print(f"loss VaR/ES {float(level):<6.1%}         {v['var']:,.0f} / {v['es']:,.0f} USD")
    pa = m["premium_adequacy"]
    ratio = "n/a" if pa["ratio"] is None else f"{pa['ratio']:.3f}"
    print(f"premium adequacy           {ratio} (premiums {pa['premiums_usd']:,.0f} USD vs "
          f"expected payouts {pa['expected_payouts_usd']:,.0f} USD)")  # fmt: skip
    for path in figures:
        print(f"wrote {path}")
    print(f"solvency folder            {out}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from risk.solvency import run_calibrate

    def run_it(study, out, map_fn, progress):
        return run_calibrate(study, out, grid_items=args.grid or [], paths=args.paths,
                             days=args.days, seed=args.seed, chunk_size=args.chunk_size,
                             progress=progress, map_fn=map_fn)  # fmt: skip

    out, doc = _study(args, run_it)
    head = ("vol_mult", "cap_scale", "coll_scale", "policies", "premiums_usd", "ruin", "ruin_hi")
    print("frontier (most premium for its ruin probability); * = best feasible")
    print("  " + " ".join(f"{h:>12}" for h in head))
    best = doc["best"]
    for r in doc["frontier"]:
        mark = "*" if r == best else " "
        cells = (f"{r['vol_multiplier']:g}", f"{r['cap_scale']:g}", f"{r['collateral_scale']:g}",
                 str(r["policies"]), f"{r['premiums_usd']:,.0f}",
                 f"{r['ruin_probability']:.3%}", f"{r['ruin_ci95_high']:.3%}")  # fmt: skip
        print(f"{mark} " + " ".join(f"{c:>12}" for c in cells))
    if best is None:
        print("no grid point keeps ruin at most 0.5% (95% upper bound); widen the grid")
    print(f"calibrate folder           {out}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from scenarios.parallel import check
    from scenarios.sweep import parse_grid, plan, sweep

    grid = parse_grid(args.grid)
    plan(args.name, grid, args.runs, args.seed, args.set or [])  # every point valid before any run
    check(args.backend, args.workers, args.address)
    out = Path(args.out)
    bar = _Bar("sweep", live=sys.stderr.isatty() or args.progress)
    started = time.perf_counter()

    def work():
        return sweep(args.name, grid, args.runs, args.seed, out, sets=args.set or [],
                     backend=args.backend, workers=args.workers, address=args.address,
                     progress=bar)  # fmt: skip

    try:
        table = _in_fresh_out(out, work)
    finally:
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

    live = sub.add_parser("live", help="run the engine against a Stacks node")
    live.add_argument("--config", required=True, help="live configuration (TOML)")
    live.add_argument(
        "--dry-run", action="store_true", help="decide, build and sign once; never broadcast"
    )
    live.add_argument(
        "--standby", action="store_true", help="wait as a hot standby for the writer lock"
    )
    live.add_argument("--verbose", action="store_true", help="debug lines on the console")
    live.set_defaults(func=_live("live"))

    st = sub.add_parser("status", help="what the running engine sees, from its API")
    st.add_argument("--config", required=True, help="live configuration (TOML)")
    st.set_defaults(func=_live("status"))

    dev = sub.add_parser("devnet", help="a local Stacks-node stand-in (Clarity VM) on loopback")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3999)
    dev.add_argument("--dir", default="devnet", help="where keys and live.toml are written")
    dev.add_argument("--users", type=int, default=4, choices=range(1, 101), metavar="1..100")
    dev.add_argument("--block-seconds", type=float, default=2.0)
    dev.add_argument("--burn-seconds", type=float, default=10.0)
    dev.set_defaults(func=_live("devnet"))

    q = sub.add_parser("quote", help="ask the engine's API for the unsigned call a wallet signs")
    q.add_argument("action", choices=("purchase", "deposit", "withdraw"))
    q.add_argument("--config", required=True, help="live configuration (TOML)")
    q.add_argument("--sender", required=True, help="the user's address (buyer or provider)")
    q.add_argument("--token", default="stx", help="stx or sbtc")
    q.add_argument("--tier", type=int, help="0, 1 or 2 (purchase: default from the strike)")
    q.add_argument("--btc", help="purchase: BTC protected")
    q.add_argument("--strike", help="purchase: strike in USD")
    q.add_argument("--days", help="purchase: days to expiry (144 burn blocks a day)")
    q.add_argument("--amount", help="deposit: amount in STX or sBTC")
    q.add_argument("--shares", help="withdraw: shares to burn")
    q.set_defaults(func=_live("quote"))

    def study_args(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--book",
            default="baseline",
            help="scenario name, run folder, or CSV of policies (default baseline)",
        )
        cmd.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override a scenario knob (scenario and CSV books)",
        )
        cmd.add_argument("--paths", type=int, default=10_000)
        cmd.add_argument("--days", type=int, help="horizon (default: until the book has settled)")
        cmd.add_argument("--model", help="price model: gbm, jump or garch (default: the book's)")
        cmd.add_argument("--seed", type=int, default=1)
        cmd.add_argument("--chunk-size", type=int, default=2000, help="paths per chunk")
        cmd.add_argument("--out", required=True, help="output folder (new or empty)")
        cmd.add_argument("--progress", action="store_true", help="progress line even when piped")
        cmd.add_argument("--backend", default="local", help="local (process pool) or ray")
        cmd.add_argument("--workers", type=int, help="processes / Ray CPUs (default: all cores)")
        cmd.add_argument("--address", help="an existing Ray cluster (with --backend ray)")

    solv = sub.add_parser("solvency", help="Monte Carlo solvency of a book, with stress curves")
    study_args(solv)
    solv.add_argument("--stress-paths", type=int, default=1000, help="paths per stress point")
    solv.set_defaults(func=_cmd_solvency)
    calib = sub.add_parser("calibrate", help="parameters maximising premiums at ruin <= 0.5%%")
    study_args(calib)
    calib.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="vol_multiplier, cap_scale or collateral_scale values",
    )
    calib.set_defaults(func=_cmd_calibrate)

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


def _live(name: str):
    def run(args: argparse.Namespace) -> int:
        from live import commands

        try:
            return getattr(commands, name)(args)
        except commands.NodeDown as exc:
            print(f"error: node unreachable: {exc}", file=sys.stderr)
            return 3
        except commands.ApiDown as exc:
            print(f"error: engine API unreachable: {exc}", file=sys.stderr)
            return 3

    return run


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
