"""Just-in-time depositors (issue 11, F3): deposit into a tranche when a burst of large
purchases starts, ask to leave as soon as the burst is over, and keep the premiums' share.

What they see is what anyone sees: the purchases mined so far (`policy-purchased` events; the
sim has no mempool API, so the first purchases of a burst go by before the deposit lands). On
v1 the premium's share came risk free in two blocks; on v2 the request is ready only at the
last expiry among the policies unsettled at it and completes after their settlement, so the
depositor carries their risk to the end and gets the passive provider's price: its ledger
entry (`jit`) is what its exit got beyond a passive holder of the same shares at that moment.
"""

from __future__ import annotations

from typing import Any

from chain.contracts import TOKEN_UNIT
from chain.protocol import STX
from settings import Knob
from sim.adversaries import Stage
from sim.adversaries.exits import Position, Watcher, position_knobs, start_positions

SECTION = "jit"
KNOBS = {
    **position_knobs("jit", "just-in-time depositors", 500_000.0, "when a burst starts"),
    "jit.trigger": Knob(3, 1, 10_000, help="purchases there within the window: a burst"),
    "jit.window_minutes": Knob(10.0, 1, 1440, help="a burst is on while purchases come this often"),
}


def start(stage: Stage, knobs: dict[str, Any]) -> None:
    start_positions(stage, knobs, _run)


def _run(stage: Stage, k: dict[str, Any], index: int):
    watcher = Watcher(stage)
    pos = Position(stage, "jit", index, STX, int(k["tier"]))
    phase = "watch"  # watch -> in (burst going on) -> out (asked to leave) -> done
    seen: list[float] = []  # when each purchase in its tranche was seen
    window = k["window_minutes"] * 60
    while not pos.done:
        yield stage.env.timeout(k["check_seconds"])
        now = stage.env.now
        events = watcher.new_events()
        seen += [
            now for e in events
            if e["event"] == "policy-purchased" and (e["token"], e["tier"]) == (STX, pos.tier)
        ]  # fmt: skip
        recent = sum(1 for t in seen if t > now - window)
        if phase == "watch" and recent >= k["trigger"]:
            balance = stage.chain.balances(pos.wallet.address).stx
            amount = min(int(k["stx"] * TOKEN_UNIT[STX]), balance - 10 * TOKEN_UNIT[STX])
            if amount > 0:
                pos.deposit(amount)
                phase = "in"
        elif phase == "in" and recent == 0 and pos.held():
            pos.request_all()  # the burst is over: leave right away
            phase = "out"
        elif phase == "out":
            if pos.held():  # the request was refused (u414): ask again
                pos.request_all()
            pos.try_complete(stage.burn_height())
        pos.see(events, now)
