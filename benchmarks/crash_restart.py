"""Exactly-once under SIGKILL: a mass settlement with the engine killed at random points.

Each trial starts a devnet in this process (the chain outlives the engine, as a real node
does), buys a book of policies that expire together in the money, then runs the real engine
(`python run.py live`, its store a SQLite file) in a subprocess, kills it with SIGKILL after a
random while, restarts it, and so on, and finally lets it finish and stops it cleanly. Then:

- double_settlements: settle attempts on policies already final (`settlement-skipped`, u313):
  a second transaction sent for a policy another one settled;
- lost: policies not final at the end, outbox rows still pending after the clean stop, and
  backend nonces on chain that no outbox row accounts for;
- mismatches: policies whose store row differs from the chain (status, payout, paid, price).

    python benchmarks/crash_restart.py --trials N [--policies P] [--executor python|lockstep]
                                       [--strict]

`--strict` puts the strict double in front (`StrictHiro`, tests/live/conftest.py `STRICT`: the
/extended/v1 endpoints gone and a rate limit that answers 429 with Retry-After), so the engine
is killed and restarted while it also meets rate limits.

prints `trials=<n> double_settlements=<n> lost=<n> mismatches=<n> rate_limited=<n>` as its
last line (rate_limited: requests answered 429, always 0 without `--strict`).
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chain import transactions as txs  # noqa: E402
from chain.clarity import Buffer, Some, StringAscii, UInt  # noqa: E402
from chain.contracts import Contracts  # noqa: E402
from chain.payloads import sends  # noqa: E402
from chain.protocol import PRICE_SCALE, SATS, STX, TOKEN_UNIT  # noqa: E402
from chain.quotes import Quote, sign_quote  # noqa: E402
from chain.wallet import Wallet  # noqa: E402
from sim.devnet import Devnet, DevnetServer  # noqa: E402
from store import open_store  # noqa: E402
from tests.chain.exchange_server import ExchangeServer  # noqa: E402
from tests.live.conftest import STRICT, live_toml  # noqa: E402

USD, STX_UNIT = PRICE_SCALE, TOKEN_UNIT[STX]  # one USD in price units, one STX in micro-STX
SKIP_NOT_ACTIVE = 313
FINAL_BTC = 50_000 * USD  # the exchanges' BTC-USD after the crash (trial)


@dataclass
class Outcome:
    double_settlements: int = 0
    lost: int = 0
    mismatches: int = 0
    kills: int = 0
    seconds: float = 0.0
    rate_limited: int = 0  # requests the strict double answered 429


def _book(devnet: Devnet, policies: int) -> list[int]:
    """Deposits and `policies` purchases expiring at one burn height, straight on the chain
    (users sign their own calls; the quote key signs the quotes, as the registry would)."""
    chain, accounts = devnet.chain, devnet.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    admin = Wallet(accounts.deployer, chain)
    users = [Wallet(k, chain) for k in accounts.users]
    with devnet.lock:
        for asset, price in (("BTC-USD", 65_000 * USD), ("STX-USD", 150_000_000)):
            admin.call(contracts.oracle, "set-price", StringAscii(asset), UInt(price))
        provider = users[0]
        for tier in (0, 1, 2):
            amount = 3_000_000 * STX_UNIT
            provider.call(contracts.pool, "deposit", contracts.sbtc, UInt(0), UInt(tier),
                          UInt(amount), post_conditions=[sends(contracts, txs.ORIGIN, 0, amount)],
                          mode=txs.PostConditionMode.DENY)  # fmt: skip
        # the purchases below are mined 20 at a time, and the chain clock runs 10 s a
        # transaction (sim/models/clock.py): their quotes live for the whole booking
        ttl = 10**9
        admin.call(contracts.parameters, "set-parameter", StringAscii("quote-ttl-seconds"),
                   UInt(ttl))  # fmt: skip
        chain.mine()
        burn = chain.tip().burn_height
        valid_until = chain.read_only(contracts.registry, "get-block-time", []).value + ttl
        buyers = users[1:]
        for i in range(policies):
            buyer = buyers[i % len(buyers)]
            q = Quote(buyer.address, SATS // 100, 60_000 * USD, burn + 144, 100 * STX_UNIT,
                      2_000 * STX_UNIT, 0, 1, burn + 6, i + 1, contracts.registry, 65_000 * USD,
                      valid_until)  # fmt: skip
            sig = sign_quote(q, accounts.quote)
            buyer.call(contracts.registry, "purchase-policy", q.to_clarity(), Buffer(sig),
                       contracts.sbtc, fee=1000, post_conditions=[sends(contracts, txs.ORIGIN, 0,
                       q.premium)], mode=txs.PostConditionMode.DENY)  # fmt: skip
            if (i + 1) % 20 == 0:
                chain.mine()
        chain.mine()
        count = chain.read_only(contracts.registry, "get-policy-count", [])
    assert count.value == policies, f"{count.value} of {policies} policies bought"
    devnet.mine_burn(146)  # all expired; the price on chain is stale: the engine must push
    return list(range(1, policies + 1))


def _check(devnet: Devnet, store_url: str, ids: list[int], base_nonce: int) -> Outcome:
    chain = devnet.chain
    contracts = Contracts.of(devnet.deployment.accounts.deployer.principal())
    out = Outcome()
    with devnet.lock:
        finals = {}
        for pid in ids:
            got = chain.read_only(contracts.registry, "get-policy", [UInt(pid)])
            assert isinstance(got, Some)
            finals[pid] = {k: got.value[k].value for k in ("status", "payout", "paid", "price")}
        events = chain.events_since(0, 10**9)
        backend_nonce = chain.nonce(contracts.deployer)
    for ce in events:
        v = ce.event.value
        if ce.event.kind == "print" and v["event"].value == "settlement-skipped":
            out.double_settlements += v["reason"].value == SKIP_NOT_ACTIVE
    out.lost += sum(f["status"] == 0 for f in finals.values())
    with open_store(store_url) as store:
        out.lost += len(store.outbox.pending())
        confirmed = store.outbox.confirmed_nonces(contracts.deployer.address)
        engine_nonces = set(range(base_nonce, backend_nonce))
        out.lost += len(engine_nonces - set(confirmed))
        for pid, f in finals.items():
            row = store.policies.get(pid)
            got = None if row is None else {k: row[k] for k in f}
            out.mismatches += got != f
    return out


def trial(
    seed: int, policies: int, executor: str, kills: int, work: Path, strict: bool = False
) -> Outcome:
    rng = random.Random(seed)
    start = time.monotonic()
    devnet = Devnet(users=6, executor=executor, block_seconds=0.25, burn_seconds=2.0)
    server = DevnetServer(devnet, strict=STRICT if strict else None)
    server.start()
    devnet.server_url = server.url
    exchanges = ExchangeServer()
    exchanges.set_price("BTC-USD", f"{FINAL_BTC // USD}.00")  # the crash: every policy pays
    exchanges.set_price("STX-USD", "1.50")
    try:
        ids = _book(devnet, policies)
        base_nonce = devnet.chain.nonce(devnet.deployment.accounts.deployer.principal())
        config = live_toml(work, devnet, exchanges)
        text = config.read_text().replace("poll_seconds = 60", "poll_seconds = 1")
        text = text.replace("min_interval_seconds = 30", "min_interval_seconds = 1")
        config.write_text(text)
        devnet.start()
        cmd = [sys.executable, "run.py", "live", "--config", str(config)]
        out = Outcome()
        for _ in range(kills):
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(rng.uniform(0.8, 3.0))  # from mid-start-up to mid-settlement
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            out.kills += 1
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        contracts = Contracts.of(devnet.deployment.accounts.deployer.principal())
        while time.monotonic() < deadline:
            with devnet.lock:
                last = devnet.chain.read_only(contracts.registry, "get-policy", [UInt(ids[-1])])
                done = all(
                    devnet.chain.read_only(contracts.registry, "get-policy", [UInt(i)])
                    .value["status"].value != 0
                    for i in ids
                ) if last.value["status"].value != 0 else False  # fmt: skip
                # and the oracle has walked the price down to the exchanges': stopping during
                # its last push would leave that pending, not lost (v2 settles before the walk
                # ends, v1's set-locked traffic used to make it finish first)
                btc = devnet.chain.read_only(contracts.oracle, "get-price",
                                             [StringAscii("BTC-USD")])  # fmt: skip
                done = done and btc.value["price"].value == FINAL_BTC
            if done:
                break
            time.sleep(0.5)
        _quiesce(devnet, time.monotonic() + 60)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        checked = _check(devnet, f"sqlite:///{work / 'live.db'}", ids, base_nonce)
        checked.kills, checked.seconds = out.kills, time.monotonic() - start
        checked.rate_limited = server.limited
        return checked
    finally:
        server.shutdown()
        exchanges.close()
        devnet.close()


def _quiesce(devnet: Devnet, deadline: float, grace: float = 3.0) -> None:
    """Waits until the chain has nothing of the engine's left to mine: the oracle has walked
    the on-chain price down to the exchanges' and the backend has nothing in the mempool;
    then gives the engine `grace` seconds of polls to take in the last receipts. A clean stop
    before the last push's receipt arrived leaves it pending in the outbox (a restart would
    take it up, `_check` counts it as lost): with a fixed second after the last settlement,
    lost=2 in 7 of 20 trials before issue 12 and in 3 of 20 after, on a loaded machine."""
    contracts = Contracts.of(devnet.deployment.accounts.deployer.principal())
    while time.monotonic() < deadline:
        with devnet.lock:
            got = devnet.chain.read_only(contracts.oracle, "get-price", [StringAscii("BTC-USD")])
            queued = devnet.chain.ledger.mempool.get(contracts.deployer)
        if got.value["price"].value == 50_000 * USD and not queued:
            break
        time.sleep(0.25)
    time.sleep(grace)


def run(
    trials: int, policies: int, executor: str, kills: int, seed: int = 1, strict: bool = False
) -> Outcome:
    total = Outcome()
    for i in range(trials):
        with tempfile.TemporaryDirectory() as tmp:
            got = trial(seed * 1000 + i, policies, executor, kills, Path(tmp), strict)
        print(f"trial {i}: kills={got.kills} double_settlements={got.double_settlements} "
              f"lost={got.lost} mismatches={got.mismatches} rate_limited={got.rate_limited} "
              f"({got.seconds:.1f} s)",
              file=sys.stderr, flush=True)  # fmt: skip
        total.double_settlements += got.double_settlements
        total.lost += got.lost
        total.mismatches += got.mismatches
        total.kills += got.kills
        total.rate_limited += got.rate_limited
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--policies", type=int, default=60)
    p.add_argument("--kills", type=int, default=2, help="SIGKILLs per trial before the last run")
    p.add_argument("--executor", choices=("python", "lockstep"), default="python")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--strict", action="store_true", help="the strict Hiro double in front")
    a = p.parse_args()
    total = run(a.trials, a.policies, a.executor, a.kills, a.seed, a.strict)
    print(f"trials={a.trials} double_settlements={total.double_settlements} lost={total.lost} "
          f"mismatches={total.mismatches} rate_limited={total.rate_limited}")  # fmt: skip


if __name__ == "__main__":
    main()
