"""Front-running providers (issue 11, F1 and F2): deposit at the start, then try to leave
before the buyers are paid: when BTC falls by `drop` from their entry, and whenever a policy of
their tranche has expired but is not settled yet (they watch the policies' events).

On v1 the first to leave took its full share of the assets while the stayers and the buyers
bore the payouts; on v2 a request past an unpaid expiry is refused (u414), and one made before
it is ready only once every policy unsettled at it is settled, at the share price of that
moment. Their ledger entry (`front_run`) is what the exit got beyond a passive holder of the
same shares at that moment.
"""

from __future__ import annotations

from typing import Any

from chain.contracts import TOKEN_UNIT
from chain.protocol import STX
from settings import Knob
from sim.adversaries import Stage
from sim.adversaries.exits import Position, Watcher, position_knobs, start_positions

SECTION = "front_run"
KNOBS = {
    **position_knobs("front_run", "front-running providers", 100_000.0, "at the start"),
    "front_run.drop": Knob(0.05, 0.001, 0.9, help="BTC fall from its entry that makes it leave"),
}


def start(stage: Stage, knobs: dict[str, Any]) -> None:
    start_positions(stage, knobs, _run)


def _run(stage: Stage, k: dict[str, Any], index: int):
    watcher = Watcher(stage)
    pos = Position(stage, "front_run", index, STX, int(k["tier"]))
    balance = stage.chain.balances(pos.wallet.address).stx
    pos.deposit(min(int(k["stx"] * TOKEN_UNIT[STX]), balance - 10 * TOKEN_UNIT[STX]))
    entry = stage.btc_at(stage.env.now)
    open_ends: dict[int, int] = {}  # its tranche's unsettled policies: id -> expiration
    while not pos.done:
        yield stage.env.timeout(k["check_seconds"])
        events = watcher.new_events()
        for e in events:
            if e["event"] == "policy-purchased" and (e["token"], e["tier"]) == (STX, pos.tier):
                open_ends[e["id"]] = e["expiration"]
            elif e["event"] in ("policy-settled", "policy-expired"):
                open_ends.pop(e["id"], None)
        burn = stage.burn_height()
        fell = stage.btc_at(stage.env.now) <= entry * (1 - k["drop"])
        unpaid = any(end <= burn for end in open_ends.values())  # expired, not yet settled
        if (fell or unpaid) and pos.held():
            pos.request_all()
        pos.try_complete(burn)
        pos.see(events, stage.env.now)
