"""A compromised oracle submitter key pushes the largest allowed moves around expiries while
holding puts on them (issue 11; scenarios/oracle-key-compromise.toml).

The premise: at deployment the admin named this adversary's first account a second oracle
submitter (a second price source, `oracle.init-submitter`, the deployment step allowed only
before the first BTC-USD observation), and its key leaked. `start` makes it one the way the
deployment does (a direct call before any block, like genesis's `set-quote-pubkey`).

Its strategy (`stay_within_bps` 0): it keeps a put (strike at spot, `amount_btc`, STX and sBTC
in turn) on each expiry about `days` ahead, bought through the registry like any buyer. From
`lead_blocks` burn blocks before each of its expiries E up to E, it pushes both feeds down by
the most the oracle accepts in each new burn block (`min(max-jump, max-deviation x elapsed)` of
the last observation), at a fee above the backend's so that its push is that block's
observation. The fixing of E then averages its prices over the window, and its put pays more.

Its gain, to the ledger when each of its policies settles: the payout, minus what
`min(formula, collateral)` would have paid at honest fixings (the true prices averaged over
the same window's burn blocks), both in USD at the true token price then, minus the premium
(USD at purchase). Whatever the cap lets it take is reported as measured, not hidden.

Against a guardian that watches the oracle (sim/guardian.py `OracleWatch`) it may instead stay
within `stay_within_bps` below the exchanges' price, so that no push strays further than the
guardian tolerates; once removed, it buys and pushes no more.
"""

from __future__ import annotations

from typing import Any

from actors.events import decode_prints
from chain.clarity import Some, StringAscii, UInt
from chain.protocol import BLOCKS_PER_DAY, BTC_USD, PRICE_SCALE, SBTC, STX, STX_USD, TOKEN_UNIT
from settings import Knob
from sim.adversaries import Stage
from sim.adversaries.buyer import PolicyBuyer, claim_at

SECTION = "oracle_key"
KNOBS = {
    f"{SECTION}.count": Knob(0, 0, 1, help="1: the attacker (a leaked submitter key)"),
    f"{SECTION}.amount_btc": Knob(0.5, 0.001, 100, help="each put it holds"),
    f"{SECTION}.days": Knob(1.1, 1.0, 90, help="how far ahead it buys (the grid rounds up)"),
    f"{SECTION}.lead_blocks": Knob(6, 1, 144, help="burn blocks before E it starts pushing"),
    f"{SECTION}.fee": Knob(10_000, 0, 1_000_000, help="micro-STX per push: above the backend's"),
    f"{SECTION}.poll_seconds": Knob(5.0, 1, 600, help="how often it looks for a new burn block"),
    f"{SECTION}.stay_within_bps": Knob(
        0,
        0,
        5000,
        help="never push further than this below the exchanges' price (to slip under "
        "a guardian watching the oracle); 0: push the cap",
    ),
}
FIXING_WINDOW = 6  # the oracle's (fixed at deployment)


def _deepest(old: int, elapsed: int, config: dict[str, int]) -> int:
    """The lowest price the oracle accepts `elapsed` burn blocks after an observation `old`."""
    allowed = min(config["max-jump-bps"], config["max-deviation-bps"] * elapsed)
    return max(1, old - old * allowed // 10_000)


class _Attacker:
    def __init__(self, stage: Stage, knobs: dict[str, Any]):
        self.stage, self.knobs = stage, knobs
        self.buyer = PolicyBuyer(stage, stage.wallets[:1], fee=1000)
        self.wallet = stage.wallets[0]
        self.targets: set[int] = set()  # expiries of its unsettled policies
        self.true: dict[int, tuple[float, float]] = {}  # burn height -> true (BTC, STX) USD
        self.last_burn = -1
        self.bought_for: set[int] = set()  # grid days it has bought for
        self.terms: dict[int, dict[str, Any]] = {}
        self.removed = False

    def config(self) -> dict[str, int]:
        got = self.stage.chain.read_only(self.stage.contracts.oracle, "get-config", [])
        return {k: v.value for k, v in got.data.items()}  # type: ignore[attr-defined]

    def run(self):
        stage, k = self.stage, self.knobs
        while True:
            yield stage.env.timeout(k["poll_seconds"])
            for pid in self.buyer.confirm():
                p = self.buyer.policy(pid)
                self.terms[pid] = p
                self.targets.add(p["expiration"])
            burn = stage.burn_height()
            if burn == self.last_burn:
                continue
            self.last_burn = burn
            now = stage.env.now
            self.true[burn] = (stage.btc_at(now), stage.stx_at(now))
            if not self.still_submitter():
                continue  # removed (a guardian watching the oracle): it buys and pushes no more
            day = (burn + round(k["days"] * BLOCKS_PER_DAY)) // BLOCKS_PER_DAY
            if day not in self.bought_for and not self.buyer.pending:
                self.bought_for.add(day)
                token = (STX, SBTC)[len(self.bought_for) % 2]
                self.buyer.request(self.wallet, k["amount_btc"], 1.0, k["days"], token)
            if any(e - k["lead_blocks"] <= burn < e for e in self.targets):
                self.push_down()

    def still_submitter(self) -> bool:
        """Whether its key still pushes; the first time it does not, it says so and stops."""
        if self.removed:
            return False
        c = self.stage.contracts
        self.removed = not self.stage.chain.read_only(
            c.oracle, "is-submitter", [self.wallet.address]
        ).value  # type: ignore[attr-defined]
        if self.removed:
            self.stage.log.record("oracle-key-removed", height=self.stage.burn_height())
        return not self.removed

    def push_down(self) -> None:
        stage, c = self.stage, self.stage.contracts
        config = self.config()
        for asset in (BTC_USD, STX_USD):
            got = stage.chain.read_only(c.oracle, "get-latest", [StringAscii(asset)])
            if not isinstance(got, Some):
                continue
            o = got.value.data  # type: ignore[attr-defined]
            elapsed = stage.burn_height() - o["height"].value
            if elapsed < 1:
                continue  # this block's observation is taken (by the honest oracle)
            price = _deepest(o["price"].value, elapsed, config)
            within = self.knobs["stay_within_bps"]
            if within:  # the exchanges' price, as anyone reads it, less what it dares
                world = (
                    stage.btc_at(stage.env.now) if asset == BTC_USD else stage.stx_at(stage.env.now)
                )
                floor = round(world * PRICE_SCALE) * (10_000 - within) // 10_000
                price = max(price, floor)
            stage.log.record(
                "oracle-key-push", asset=asset, price=price, height=stage.burn_height()
            )
            self.buyer.send(self.wallet, c.oracle, "set-price", (StringAscii(asset), UInt(price)),
                            fee=self.knobs["fee"])  # fmt: skip

    def on_block(self, block) -> None:
        """Books each of its policies' gain when it settles."""
        for e in decode_prints(block.events):
            if e["event"] not in ("policy-settled", "policy-expired") or e["id"] not in self.terms:
                continue
            p = self.terms.pop(e["id"])
            expiry = p["expiration"]
            window = [self.true[h] for h in range(expiry - FIXING_WINDOW, expiry) if h in self.true]
            if not window:
                continue
            btc = round(sum(b for b, _ in window) / len(window) * PRICE_SCALE)
            stx = round(sum(s for _, s in window) / len(window) * PRICE_SCALE)
            honest = claim_at(p, btc, stx if p["token"] == STX else btc)
            now = self.stage.env.now
            usd = self.stage.stx_at(now) if p["token"] == STX else self.stage.btc_at(now)
            usd /= TOKEN_UNIT[p["token"]]
            gain = (e.get("paid", 0) - honest) * usd - self.buyer.premiums_usd[e["id"]]
            self.stage.ledger.gain(SECTION, gain)
            if not any(t["expiration"] == expiry for t in self.terms.values()):
                self.targets.discard(expiry)
            self.stage.log.record("oracle-key-gain", id=e["id"], paid=e.get("paid", 0),
                                  honest=honest, fixing=e["price"], honest_fixing=btc,
                                  gain_usd=round(gain, 2))  # fmt: skip


def _make_submitter(stage: Stage) -> None:
    """The scenario's premise, applied as the deployment applies its own settings: a direct
    call of the admin before any block (sim/genesis.py sets the quote key the same way)."""
    chain, deployer = stage.chain, stage.extra["accounts"].deployer.principal()
    executor = chain.executor  # type: ignore[attr-defined]
    call = executor.prepare(stage.contracts.oracle, "init-submitter", [stage.wallets[0].address])
    assert executor.execute(deployer, call, chain.tip().burn_height).success


def start(stage: Stage, knobs: dict[str, Any]) -> None:
    _make_submitter(stage)
    attacker = _Attacker(stage, knobs)
    stage.chain.subscribe(attacker.on_block)
    stage.env.process(attacker.run())
