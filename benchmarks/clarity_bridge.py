"""Public calls per second through the Clarity VM bridge (`sim.clarity_vm.ClarityBridge`).

Deploys the contracts in the Clarinet SDK simnet, seeds the STX tranches, then sends a workload
of realistic public calls: oracle prices alternating small moves (well inside the cap; one
observation per feed per burn block, so each round prices feeds of its own), deposits by eight
providers and withdrawal requests (`request-withdraw`, step 1 of protocol v2's two) of exactly
the shares those deposits minted. Every call must return
`(ok …)`. The same workload runs three times on a fresh simnet each: (a) one request per round
trip, (b) pipelined with `bridge.batch` in batches of `--batch`, (c) `--batch` calls mined
together in one Stacks block. Requests are built (Clarity values serialized) before the clock
starts, as a wallet signs beforehand.

Then benchmarks/clarity_inprocess.mjs makes the same setup and workload calls in one Node
process with no bridge (one `callPublicFn` each, twice, and `--batch` per `mineBlock`): the
SDK's own rate, measured in the same run, and the bridge's share of it, mode by mode.

    python benchmarks/clarity_bridge.py [--calls 1000] [--batch 100]

Last line: calls_per_s=<number> ratio=<bridge best / in-process best>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from chain.clarity import ContractPrincipal, StringAscii, UInt, principal
from chain.protocol import PRICE_SCALE, TOKEN_UNIT
from chain.protocol import STX as STX_ID
from sim.clarity_vm import ClarityBridge, call_request

USD = PRICE_SCALE  # one USD in price units
STX = TOKEN_UNIT[STX_ID]  # one STX in micro-STX
OK_RESPONSE = "07"  # the consensus serialization of `(ok …)` starts with type byte 0x07
PROVIDERS = tuple(f"wallet_{i}" for i in range(1, 9))
INPROCESS = Path(__file__).with_name("clarity_inprocess.mjs")


def setup(bridge: ClarityBridge) -> tuple[dict[str, str], ContractPrincipal, list[dict]]:
    """A fresh simnet with prices and a seeded STX tranche per tier; the accounts, the sBTC
    contract to pass as `ft` and the seeding calls (the in-process run makes them too)."""
    info = bridge.request("init")
    accounts: dict[str, str] = info["accounts"]
    sbtc = principal(info["deployer"]).contract("sbtc-token")
    assert isinstance(sbtc, ContractPrincipal)
    seed = [
        call_request(
            "oracle", "set-price", [StringAscii("BTC-USD"), UInt(65_000 * USD)], info["deployer"]
        ),
        call_request(
            "oracle", "set-price", [StringAscii("STX-USD"), UInt(50_000_000)], info["deployer"]
        ),
        *(
            call_request(
                "liquidity-pool",
                "deposit",
                [sbtc, UInt(0), UInt(tier), UInt(10 * STX)],
                info["deployer"],
            )
            for tier in range(3)
        ),
    ]
    check(bridge.batch(seed))
    return accounts, sbtc, seed


def workload(calls: int, accounts: dict[str, str], sbtc: ContractPrincipal) -> list[dict]:
    """`calls` requests: per round of eight, a BTC-USD price, a deposit, a withdrawal, an
    STX-USD price, a deposit, a deposit, a withdrawal, a withdrawal (each a `request-withdraw`
    of a provider's earlier deposit: always held, so always `(ok ready-at)`)."""
    deployer = accounts["deployer"]
    owed: dict[tuple[str, int], list[int]] = {}  # (provider, tier) -> deposits not withdrawn
    pattern = ("btc", "deposit", "withdraw", "stx", "deposit", "deposit", "withdraw", "withdraw")
    out: list[dict[str, Any]] = []
    n_dep = n_wd = 0
    for i in range(calls):
        kind = pattern[i % len(pattern)]
        step = i // len(pattern)
        if kind in ("btc", "stx"):
            asset, base = ("BTC-USD", 65_000 * USD) if kind == "btc" else ("STX-USD", 50_000_000)
            moved = base + (base // 1000) * (step % 2)  # +-0.1%, alternating
            # one observation per asset per burn block (oracle v2) and no burn block is
            # mined here: each round prices its own feed name
            feed = StringAscii(f"{asset}-{step}")
            out.append(call_request("oracle", "set-price", [feed, UInt(moved)], deployer))
        elif kind == "deposit" or not any(owed.values()):
            who = accounts[PROVIDERS[n_dep % len(PROVIDERS)]]
            tier = n_dep % 3
            amount = (1 + n_dep % 7) * STX
            owed.setdefault((who, tier), []).append(amount)
            n_dep += 1
            out.append(
                call_request(
                    "liquidity-pool", "deposit", [sbtc, UInt(0), UInt(tier), UInt(amount)], who
                )
            )
        else:
            keys = [k for k, v in owed.items() if v]
            who, tier = keys[n_wd % len(keys)]
            shares = owed[(who, tier)].pop(0)
            n_wd += 1
            out.append(
                call_request(
                    "liquidity-pool", "request-withdraw", [UInt(0), UInt(tier), UInt(shares)], who
                )
            )
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check(answers: list[Any]) -> None:
    bad = [a["result"] for a in answers if not a["result"].startswith(OK_RESPONSE)]
    if bad:
        raise SystemExit(f"{len(bad)} calls failed, first result {bad[0]}")


def sequential(bridge: ClarityBridge, requests: list[dict]) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    answers = [bridge.do(r) for r in requests]
    return time.perf_counter() - start, answers


def pipelined(bridge: ClarityBridge, requests: list[dict], size: int) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    answers: list[Any] = []
    for i in range(0, len(requests), size):
        answers.extend(bridge.batch(requests[i : i + size]))
    return time.perf_counter() - start, answers


def blocks(bridge: ClarityBridge, requests: list[dict], size: int) -> tuple[float, list[Any]]:
    """Many calls mined in one Stacks block (`simnet.mineBlock`), as a node mines a block."""
    calls = [{k: v for k, v in r.items() if k != "op"} for r in requests]
    start = time.perf_counter()
    answers: list[Any] = []
    for i in range(0, len(calls), size):
        answers.extend(bridge.request("block", calls=calls[i : i + size]))
    return time.perf_counter() - start, answers


def in_process(seed: list[dict], requests: list[dict], size: int) -> dict[str, tuple[float, float]]:
    """The Clarinet SDK's own rates (benchmarks/clarity_inprocess.mjs) on the same calls:
    mode -> (calls per second, calls per CPU second)."""
    strip = [{k: v for k, v in r.items() if k != "op"} for r in (*seed, *requests)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.json"
        path.write_text(json.dumps({"setup": strip[: len(seed)], "workload": strip[len(seed) :]}))
        done = subprocess.run(
            ["node", str(INPROCESS), str(path), str(size)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"in-process run failed: {done.stderr.strip().splitlines()[-1:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        mode: (a["calls"] / a["seconds"], a["calls"] / a["cpu_seconds"])
        for mode, a in answer.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # protocol v2's contracts take 5 to 15 ms a call in the simnet itself (one run: 78 calls/s in
    # process): 1,000 calls keep the five timed runs near a minute
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100, help="requests per pipelined batch")
    args = ap.parse_args()

    rates: dict[str, tuple[float, float]] = {}
    with ClarityBridge() as bridge:
        for mode in ("sequential", f"batch={args.batch}", f"block={args.batch}"):
            accounts, sbtc, seed = setup(bridge)  # a fresh simnet for each mode
            requests = workload(args.calls, accounts, sbtc)
            # the bridge's cost is both processes' CPU: Node's and this one's
            cpu = cpu_seconds(bridge.pid) + time.process_time()
            if mode == "sequential":
                elapsed, answers = sequential(bridge, requests)
            elif mode.startswith("batch"):
                elapsed, answers = pipelined(bridge, requests, args.batch)
            else:
                elapsed, answers = blocks(bridge, requests, args.batch)
            cpu = cpu_seconds(bridge.pid) + time.process_time() - cpu
            check(answers)
            rates[mode] = (len(requests) / elapsed, len(requests) / cpu)
            print(
                f"{mode}: calls={len(requests)} seconds={elapsed:.3f} cpu_seconds={cpu:.3f} "
                f"calls_per_s={rates[mode][0]:.0f} calls_per_cpu_s={rates[mode][1]:.0f}"
            )
    native = in_process(seed, requests, args.batch)
    for mode, (rate, per_cpu) in native.items():
        print(f"in-process {mode}: calls_per_s={rate:.0f} calls_per_cpu_s={per_cpu:.0f}")
    # each bridge mode against the in-process mode run at the same point of its process (the
    # first run of a process pays the VM's warm-up): a round trip per call against the SDK's
    # loop, pipelined batches against the loop again, blocks against mineBlock; by the wall
    # clock and by CPU seconds (the machine is shared, and load moves the wall clock most)
    pairs = {
        "sequential": "sequential",
        f"batch={args.batch}": "sequential_again",
        f"block={args.batch}": f"block={args.batch}",
    }
    for mode, other in pairs.items():
        wall, cpu = (rates[mode][i] / native[other][i] for i in (0, 1))
        print(f"ratio {mode}/{other}: wall={wall:.2f} cpu={cpu:.2f}")
    best = max(rates, key=lambda m: rates[m][0])
    best_native = max(native, key=lambda m: native[m][0])
    print(f"best={best} in_process_best={best_native}")
    print(f"inprocess_calls_per_s={native[best_native][0]:.0f}")
    print(f"calls_per_s={rates[best][0]:.0f} ratio={rates[best][0] / native[best_native][0]:.2f}")


if __name__ == "__main__":
    main()
