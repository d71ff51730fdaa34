"""The BitHedge engine's command line.

python run.py scenarios                       list the scenarios
python run.py knobs                           list every --set key with its range
python run.py sim NAME [--seed N] [--out DIR] [--set key=value ...] [--plot]
python run.py live --config FILE [--dry-run]  the engine against a Stacks node and exchanges
python run.py devnet [--port P] [--dir DIR]   a local Stacks-node stand-in on the Clarity VM
python run.py quote purchase|deposit|withdraw --config FILE ...   a wallet's unsigned call
"""

from __future__ import annotations

import argparse
import shutil
import sys
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
    live.set_defaults(func=_live("live"))

    dev = sub.add_parser("devnet", help="a local Stacks-node stand-in (Clarity VM) on loopback")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3999)
    dev.add_argument("--dir", default="devnet", help="where keys and live.toml are written")
    dev.add_argument("--users", type=int, default=4, choices=range(1, 101), metavar="1..100")
    dev.add_argument("--block-seconds", type=float, default=2.0)
    dev.add_argument("--burn-seconds", type=float, default=10.0)
    dev.set_defaults(func=_live("devnet"))

    q = sub.add_parser("quote", help="print the unsigned call a wallet signs, as JSON")
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
    return p


def _live(name: str):
    def run(args: argparse.Namespace) -> int:
        from live import commands

        try:
            return getattr(commands, name)(args)
        except commands.NodeDown as exc:
            print(f"error: node unreachable: {exc}", file=sys.stderr)
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
