"""The BitHedge engine's command line.

python run.py scenarios                       list the scenarios
python run.py knobs                           list every --set key with its range
python run.py sim NAME [--seed N] [--out DIR] [--force] [--set key=value ...] [--plot] [--html]
python run.py live --config FILE [--dry-run | --standby]   the engine and its HTTP API
python run.py status --config FILE            what the running engine sees, from its API
python run.py devnet [--port P] [--dir DIR]   a local Stacks-node stand-in on the Clarity VM
python run.py demo --config devnet/live.toml   test wallets deposit and buy through the API
python run.py quote purchase|deposit|withdraw|withdraw-complete --config FILE ...   a wallet's call
python run.py solvency [--book SRC] [--paths N] [--days D] [--model gbm|jump|garch] [--seed S]
                       --out DIR [--force]
python run.py calibrate [--book SRC] [--grid key=v1,v2 ...] [--paths N] [--seed S] --out DIR
python run.py sweep NAME|--grid scenario=a,b --grid key=v1,v2,... [--runs R] [--seed BASE]
                   [--timeseries] [--backend local|ray] [--address ADDR] [--ray-token-file F]
                   [--workers W] [--set ...] --out DIR [--force]
python run.py stress [--scenarios a,b,...] [--seeds N] [--limits FILE] [--days D] [--policies P]
                    [--set ...] [--backend local|ray] [--address ADDR] --out DIR [--force]
python run.py report DIR                      one self-contained report.html for any folder
python run.py plot DIR [--metric NAME]        figures of a run, sweep, solvency, calibrate folder

Every command's --help shows its defaults. A bad value is one line naming the option and what
is allowed, exit status 2; output folders appear only complete (see _publishing).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from settings import ConfigError, allowed_range, check_range


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
        raise ConfigError(
            f"--executor: {args.executor!r} is not available; allowed: {', '.join(EXECUTORS)}"
        )
    out = Path(args.out) if args.out else Path("runs") / f"{args.name}-seed{args.seed}"
    progress = _Ticker("sim") if sys.stderr.isatty() or args.progress else None
    broken = None
    with _publishing(out, args.force) as stage:
        try:
            report = run(scenario, args.seed, stage, executor=args.executor, progress=progress)
        except InvariantBroken as exc:  # the folder is kept: its trace is the evidence
            broken = exc
        finally:
            _progress_done()
    if broken is not None:
        print(f"error: invariant violated, run stopped: {broken} (trace kept in {out})",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.plot:
        from scenarios.plots import plot_run

        for path in plot_run(out):
            print(f"wrote {path}")
    from scenarios.story import run_story

    for line in run_story(report):
        print(line)
    keys = ("policies_purchased", "policies_settled", "policies_expired", "premiums_usd",
            "payouts_usd", "shortfall_usd", "min_coverage_ratio", "hours_below_coverage_1",
            "max_utilisation_ratio", "settlement_delay_blocks", "invariant_violations")  # fmt: skip
    print()
    for key in keys:
        print(f"{key:<26} {report[key]}")
    print(f"run folder                 {out}")
    _html(args, out)
    return 0


# what marks a folder this program wrote, so --force never deletes anything else
_OUTPUT_MARKERS = (
    "config.json",
    "report.json",
    "summary.json",
    "calibrate.json",
    "sweep.json",
    "stress.json",
)


def _check_out(out: Path, force: bool) -> None:
    """Refuses an --out that cannot become this command's folder, before any work starts."""

    allowed = "allowed: a new or empty folder, or a run folder with --force"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} is a file; {allowed}")
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        raise ConfigError(f"--out: {out} holds the current folder; {allowed}")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"--out: {out} exists and is not empty; --force replaces it")
        if not any((out / marker).is_file() for marker in _OUTPUT_MARKERS):
            raise ConfigError(
                f"--out: {out} is not a run, sweep, solvency or calibrate folder; "
                "--force replaces only those"
            )


def _stage_beside(out: Path) -> tuple[Path, Path | None]:
    """A new staging folder in `out`'s parent (made with any missing parents); returns it and
    the topmost parent it created (to remove on failure), or None."""

    parent, top = out.absolute().parent, None
    for candidate in (parent, *parent.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise ConfigError(f"--out: {candidate} is a file; allowed: a folder path")
            break
        top = candidate
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    except OSError as exc:
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)
        raise ConfigError(
            f"--out: cannot create {out} ({exc.strerror}); allowed: a folder you can write"
        ) from None
    umask = os.umask(0)
    os.umask(umask)
    stage.chmod(0o777 & ~umask)  # mkdtemp's 0700 would otherwise become the run folder's
    return stage, top


@contextmanager
def _publishing(out: Path, force: bool):
    """Yields a staging folder beside `out`; when the block succeeds the staging folder becomes
    `out` (replacing the old one with --force), and when it fails it is removed, so a failed or
    interrupted run leaves no partial folder and loses no earlier one."""
    _check_out(out, force)
    stage, created = _stage_beside(out)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    if out.exists():  # empty, or replaced with --force: moved aside until the new one is in place
        old = stage.with_suffix(".old")
        out.rename(old)
        stage.rename(out)
        shutil.rmtree(old)
    else:
        stage.rename(out)


def _shown(paths, stage: Path, out: Path) -> list[Path]:
    """Files written in the staging folder, named where they now are."""
    return [out / Path(p).relative_to(stage) for p in paths]


def _study(args: argparse.Namespace, run_it):
    """What `solvency` and `calibrate` share: the book, the backend, the output folder.
    `run_it(study, stage, map_fn, progress)` does the command's own work inside it."""
    from scenarios.parallel import check, mapper, use_token
    from scenarios.study import load_study

    check(args.backend, args.workers, args.address)
    use_token(args.ray_token_file, args.address)
    study = load_study(args.book, args.set or [], args.seed, args.model)
    progress = _Ticker(args.command) if sys.stderr.isatty() or args.progress else None
    out = Path(args.out)
    with _publishing(out, args.force) as stage:
        try:
            with mapper(args.backend, args.workers, args.address) as map_fn:
                result = run_it(study, stage, map_fn, progress)
        finally:
            _progress_done()
    return out, stage, result


def _cmd_solvency(args: argparse.Namespace) -> int:
    from risk.plots import plot_solvency
    from scenarios.study import run_solvency

    def run_it(study, out, map_fn, progress):
        doc = run_solvency(study, out, paths=args.paths, days=args.days, seed=args.seed,
                           stress_paths=args.stress_paths, chunk_size=args.chunk_size,
                           progress=progress, map_fn=map_fn)  # fmt: skip
        return doc, plot_solvency(out)

    out, stage, (doc, figures) = _study(args, run_it)
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
    for path in _shown(figures, stage, out):
        print(f"wrote {path}")
    print(f"solvency folder            {out}")
    _html(args, out)
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from risk.plots import plot_calibrate
    from scenarios.study import run_calibrate

    def run_it(study, out, map_fn, progress):
        return run_calibrate(study, out, grid_items=args.grid or [], paths=args.paths,
                             days=args.days, seed=args.seed, chunk_size=args.chunk_size,
                             progress=progress, map_fn=map_fn)  # fmt: skip

    out, _stage, doc = _study(args, run_it)
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
    unresolved = any(n["finding"] == "unresolved" for n in doc["notes"])
    if best is None and not unresolved:
        print("no grid point keeps ruin at most 0.5% (95% upper bound); try safer values "
              "(higher collateral_scale or vol_multiplier, lower cap_scale)")  # fmt: skip
    for note in doc["notes"]:
        print(f"warning: {note['text']}", file=sys.stderr)
    print(f"wrote {plot_calibrate(out)[0]}")  # the frontier figure (risk/plots.py)
    print(f"calibrate folder           {out}")
    _html(args, out)
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from scenarios.parallel import check, use_token
    from scenarios.sweep import parse_grid, plan, scenarios_of, sweep

    grid = parse_grid(args.grid)
    scenarios_of(args.name, grid)  # NAME or --grid scenario=..., exactly one
    plan(args.name, grid, args.runs, args.seed, args.set or [])  # every point valid before any run
    check(args.backend, args.workers, args.address)
    use_token(args.ray_token_file, args.address)
    out = Path(args.out)
    bar = _Bar("sweep", live=sys.stderr.isatty() or args.progress)
    started = time.perf_counter()
    try:
        with _publishing(out, args.force) as stage:
            table = sweep(args.name, grid, args.runs, args.seed, stage, sets=args.set or [],
                          backend=args.backend, workers=args.workers, address=args.address,
                          progress=bar, timeseries=args.timeseries)  # fmt: skip
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    failed = sum(row["status"] != "ok" for row in table)
    print(f"runs        {len(table)} in {seconds:.1f} s ({len(table) / seconds:.2f} runs/s)")
    print(f"table       {out / 'sweep.csv'}")
    if args.timeseries:
        print(f"timeseries  {out / 'timeseries.csv'}")
    _html(args, out)  # failed runs too: their rows say why
    if failed:
        print(f"error: {failed} of {len(table)} runs failed (their rows say why)", file=sys.stderr)
        return 1
    return 0


def _cmd_stress(args: argparse.Namespace) -> int:
    from scenarios.config import available
    from scenarios.parallel import check, use_token
    from scenarios.stress import DEFAULT_LIMITS, plan, read_limits, stress

    names = [n.strip() for n in args.scenarios.split(",")] if args.scenarios else list(available())
    limits = Path(args.limits) if args.limits else DEFAULT_LIMITS
    read_limits(limits)  # a malformed file stops here, before any run
    plan(names, args.seeds, args.seed, args.set or [], args.days, args.policies)
    check(args.backend, args.workers, args.address)
    use_token(args.ray_token_file, args.address)
    out = Path(args.out)
    bar = _Bar("stress", live=sys.stderr.isatty() or args.progress)
    try:
        with _publishing(out, args.force) as stage:
            doc = stress(names, args.seeds, args.seed, limits, stage, sets=args.set or [],
                         days=args.days, policies=args.policies, backend=args.backend,
                         workers=args.workers, address=args.address, progress=bar)  # fmt: skip
    finally:
        bar.close()
    fields = list(doc["limits"])
    width = max(map(len, names))
    print(f"{'scenario':<{width}}  " + "  ".join(fields))
    for name in names:
        cells = doc["worst"].get(name, {})
        print(f"{name:<{width}}  " + "  ".join(f"{cells.get(f, 'n/a')!s:>{len(f)}}"
                                                for f in fields))  # fmt: skip
    print(f"runs        {doc['rows']} ({len(names)} scenarios x {args.seeds} seeds)")
    print(f"table       {out / 'stress.csv'}")
    _html(args, out)
    for b in doc["breaches"]:
        print(f"limit failed: scenario {b['scenario']}, seed {b['seed']}: {b['field']} = "
              f"{b['value']} ({b['bound']})", file=sys.stderr)  # fmt: skip
    if doc["breaches"]:
        print(f"FAIL: {len(doc['breaches'])} limits broken ({limits})", file=sys.stderr)
        return 1
    print(f"PASS: every run within {limits}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from scenarios.plots import plot_folder

    for path in plot_folder(Path(args.folder), args.metric):
        print(f"wrote {path}")
    return 0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _timing(started: float, fraction: float | None) -> str:
    """`elapsed 0:12, ETA 0:30`: the ETA assumes the rest goes at the pace so far."""
    elapsed = time.monotonic() - started
    text = f"elapsed {_clock(elapsed)}"
    if fraction is not None and 0 < fraction < 1:
        text += f", ETA {_clock(elapsed * (1 - fraction) / fraction)}"
    return text


def _cmd_report(args: argparse.Namespace) -> int:
    from scenarios.html_report import write_report

    print(f"wrote {write_report(Path(args.folder))}")
    return 0


def _html(args: argparse.Namespace, out: Path) -> None:
    """`--html`: the folder's self-contained report.html (scenarios/html_report.py)."""
    if args.html:
        _cmd_report(argparse.Namespace(folder=out))


class _Bar:
    """A progress bar on stderr: redrawn in place on a terminal, a line per tenth when piped."""

    def __init__(self, label: str, live: bool):
        self.label, self.live, self.shown = label, live, -1
        self.started = time.monotonic()

    def __call__(self, done: int, total: int, failed: int) -> None:
        width = 30
        fill = width * done // total
        line = (f"[{self.label}] |{'#' * fill}{'.' * (width - fill)}| {done}/{total} runs"
                f"{f', {failed} failed' if failed else ''}  "
                f"{_timing(self.started, done / total)}")  # fmt: skip
        if self.live:
            sys.stderr.write(f"\r{line}\033[K")
        elif 10 * done // total > self.shown:
            self.shown = 10 * done // total
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\n")


# the first `a/b` of a progress line (day 3.20/30.00, calibrate 4/64, stress 7/120)
_FRACTION = re.compile(r"(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")


class _Ticker:
    """A progress line redrawn in place, with the time so far and an ETA read from its `a/b`."""

    def __init__(self, label: str):
        self.label, self.started = label, time.monotonic()

    def __call__(self, line: str) -> None:
        m = _FRACTION.search(line)
        fraction = float(m[1]) / float(m[2]) if m and float(m[2]) else None
        sys.stderr.write(f"\r[{self.label}] {line}  {_timing(self.started, fraction)}\033[K")
        sys.stderr.flush()


def _progress_done() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default where it has one (not "None" or "False"), and the epilogs'
    lists as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help or ""
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line and exit 2 (no usage block), like every other bad value; the
    --help epilog is built only when asked for, since listing executors imports the simulator."""

    def __init__(self, *args, lazy_epilog=None, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)
        self.lazy_epilog = lazy_epilog

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog = self.lazy_epilog()
        return super().format_help()

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _integer(lo: int | None = None, hi: int | None = None):
    """An argparse type: an integer in [lo, hi], refused with the range it allows. Without
    bounds, the command checks the range itself (and names it)."""
    allowed = allowed_range(lo, hi, int)

    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid; allowed: {allowed}") from None
        try:
            check_range("", value, lo, hi, kind=int)
        except ConfigError as exc:  # argparse names the option: only the value and the range
            raise argparse.ArgumentTypeError(str(exc).removeprefix(": ")) from None
        return value

    return parse


SEED = _integer(0)  # numpy's SeedSequence takes any non-negative integer
INT = _integer()


def _epilog(*parts: str) -> Callable[[], str]:
    def build() -> str:
        out = []
        if "scenarios" in parts:
            from scenarios.config import available

            names = available()
            width = max(map(len, names), default=0)
            out.append("scenarios:\n" + "\n".join(f"  {n:<{width}}  {d}" for n, d in names.items()))
        if "executors" in parts:
            from scenarios.runner import EXECUTORS

            out.append("executors: " + ", ".join(EXECUTORS))
        if "models" in parts:
            from risk.paths import MODELS

            out.append("price models: " + ", ".join(MODELS))
        if "backends" in parts:
            from scenarios.parallel import BACKENDS

            out.append(f"backends: {', '.join(BACKENDS)} (README: Running on a Ray cluster)")
        return "\n".join(out)

    return build


def _out_args(cmd: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    if required:
        cmd.add_argument("--out", required=True, help=f"{what} (new or empty)")
    cmd.add_argument(
        "--force", action="store_true", help="replace --out if it holds an earlier output folder"
    )
    cmd.add_argument("--progress", action="store_true", help="progress line even when piped")
    cmd.add_argument("--html", action="store_true", help="also write report.html")


def _backend_args(cmd: argparse.ArgumentParser, workers: str) -> None:
    cmd.add_argument("--backend", default="local", help="local (process pool) or ray")
    cmd.add_argument("--workers", type=INT, help=f"{workers} (default: all cores)")
    cmd.add_argument("--address", help="an existing Ray cluster, host:port (with --backend ray)")
    cmd.add_argument(
        "--ray-token-file",
        metavar="FILE",
        help="the cluster's token file for Ray token authentication (with --address; "
        "default: $RAY_AUTH_TOKEN_PATH, $RAY_AUTH_TOKEN or ~/.ray/auth_token if set or present)",
    )


def parser() -> argparse.ArgumentParser:
    p = _Parser(description="BitHedge engine")  # prog: run.py or bithedge
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("scenarios", help="list the scenarios").set_defaults(func=_cmd_scenarios)
    sub.add_parser("knobs", help="list every --set key").set_defaults(func=_cmd_knobs)
    sim = sub.add_parser("sim", help="run one scenario in the simulated world",
                         lazy_epilog=_epilog("scenarios", "executors"))  # fmt: skip
    sim.add_argument("name", help="scenario (listed below)")
    sim.add_argument("--seed", type=SEED, default=1, help="random seed, an integer from 0")
    sim.add_argument("--out", help="run folder (default runs/NAME-seedN)")
    sim.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a knob")
    sim.add_argument("--plot", action="store_true", help="also write PNG figures")
    sim.add_argument("--executor", default="python", help="contract executor (listed below)")
    _out_args(sim, "run folder", required=False)
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
    dev.add_argument("--feed-port", type=int, default=0, help="the exchange feed (0: any free)")
    dev.add_argument("--seed", type=int, default=1, help="the feed's price path seed")
    dev.add_argument("--crash", metavar="PCT[@MIN]", help="prices fall PCT%% at minute MIN (5)")
    dev.add_argument("--strict", action="store_true",
                     help="answer as Hiro's API does: /extended/v1 gone (410), 50 requests a "
                     "minute per client (429 with Retry-After)")  # fmt: skip
    dev.set_defaults(func=_live("devnet"))

    demo = sub.add_parser("demo", help="devnet test wallets deposit and buy through the API")
    demo.add_argument("--config", required=True, help="the live.toml `run.py devnet` wrote")
    demo.add_argument("--wait", type=float, default=120.0, help="seconds to wait for each step")
    demo.add_argument("--blocks", type=int, default=160, help="policy duration in burn blocks")
    demo.set_defaults(func=_live("demo"))

    q = sub.add_parser("quote", help="ask the engine's API for the unsigned call a wallet signs")
    q.add_argument("action", choices=("purchase", "deposit", "withdraw", "withdraw-complete"))
    q.add_argument("--config", required=True, help="live configuration (TOML)")
    q.add_argument("--sender", required=True, help="the user's address (buyer or provider)")
    q.add_argument("--token", default="stx", help="stx or sbtc")
    q.add_argument("--tier", type=int, help="0, 1 or 2 (purchase: default from the strike)")
    q.add_argument("--btc", help="purchase: BTC protected")
    q.add_argument("--strike", help="purchase: strike in USD")
    q.add_argument("--days", help="purchase: days to expiry (144 burn blocks a day)")
    q.add_argument("--amount", help="deposit: amount in STX or sBTC")
    q.add_argument("--shares", help="withdraw: shares to ask for (withdraw-complete pays them)")
    q.set_defaults(func=_live("quote"))

    def study_args(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--book", default="baseline",
                         help="scenario name, run folder, or CSV of policies")  # fmt: skip
        cmd.add_argument("--set", action="append", metavar="KEY=VALUE",
                         help="override a scenario knob (scenario and CSV books)")  # fmt: skip
        cmd.add_argument("--paths", type=INT, default=10_000, help="Monte Carlo paths")
        cmd.add_argument("--days", type=INT,
                         help="horizon (default: until the book has settled)")  # fmt: skip
        cmd.add_argument("--model", help="price model (listed below; default: the book's)")
        cmd.add_argument("--seed", type=SEED, default=1, help="random seed, an integer from 0")
        cmd.add_argument("--chunk-size", type=INT, default=2000, help="paths per chunk")
        _out_args(cmd, "output folder")
        _backend_args(cmd, "processes / Ray CPUs")

    solv = sub.add_parser("solvency", help="Monte Carlo solvency of a book, with stress curves",
                          lazy_epilog=_epilog("scenarios", "models", "backends"))  # fmt: skip
    study_args(solv)
    solv.add_argument("--stress-paths", type=INT, default=1000,
                      help="paths per stress point")  # fmt: skip
    solv.set_defaults(func=_cmd_solvency)
    calib = sub.add_parser("calibrate", help="parameters maximising premiums at ruin <= 0.5%%",
                           lazy_epilog=_epilog("scenarios", "models", "backends"))  # fmt: skip
    study_args(calib)
    calib.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="vol_multiplier, cap_scale or collateral_scale values "
        "(default: 1,1.25,1.5,2 / 0.5,0.75,1,1.1 / 0.4,0.6,0.8,1)",
    )
    calib.set_defaults(func=_cmd_calibrate)

    sw = sub.add_parser("sweep", help="run scenarios over a grid of knob values times seeds",
                        lazy_epilog=_epilog("scenarios", "backends"))  # fmt: skip
    sw.add_argument("name", nargs="?", help="scenario (listed below), or --grid scenario=a,b")
    sw.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                    help="a knob, or scenario, and its values; repeat for more")  # fmt: skip
    sw.add_argument("--runs", type=INT, default=1, help="seeds per grid point")
    sw.add_argument("--seed", type=SEED, default=1, help="first seed; runs use seed..seed+R-1")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE", help="fix a knob for all runs")
    sw.add_argument("--timeseries", action="store_true",
                    help="also keep every run's metrics over time in timeseries.csv")  # fmt: skip
    _out_args(sw, "sweep folder")
    _backend_args(sw, "parallel runs")
    sw.set_defaults(func=_cmd_sweep)
    stress = sub.add_parser("stress", help="scenarios x seeds checked against risk limits",
                            lazy_epilog=_epilog("scenarios", "backends"))  # fmt: skip
    stress.add_argument("--scenarios", metavar="A,B,...", help="scenarios (default: all)")
    stress.add_argument("--seeds", type=INT, default=1, help="seeds per scenario")
    stress.add_argument("--seed", type=SEED, default=1, help="first seed; runs use seed..")
    stress.add_argument("--limits", metavar="FILE",
                        help="limits TOML (default: scenarios/limits/default.toml)")  # fmt: skip
    stress.add_argument(
        "--days", type=float, help="reduced size: compress each scenario to at most D active days"
    )
    stress.add_argument("--policies", type=INT, help="reduced size: at most P burst policies")
    stress.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="fix a knob for every scenario")  # fmt: skip
    _out_args(stress, "stress folder")
    _backend_args(stress, "parallel runs")
    stress.set_defaults(func=_cmd_stress)
    pl = sub.add_parser("plot", help="draw the standard figures of a run/sweep/solvency folder")
    pl.add_argument("folder")
    pl.add_argument("--metric", help="sweep: ruin (default) or a sweep.csv column")
    pl.set_defaults(func=_cmd_plot)
    rp = sub.add_parser("report", help="write a folder's self-contained report.html")
    rp.add_argument("folder")
    rp.set_defaults(func=_cmd_report)
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


# Optional packages, imported only by the commands that need them, and the extra installing each
EXTRAS = {"ray": "ray", "psycopg": "postgres"}


def main(argv: list[str] | None = None) -> int:
    """The command line: `python run.py ...` or the installed `bithedge ...` script."""
    args = parser().parse_args(argv)

    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").partition(".")[0])
        if extra is None:
            raise
        hint = f"pip install 'bithedge[{extra}]'"
        print(f"error: this needs the {exc.name} package: {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
