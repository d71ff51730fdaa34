"""Operations for the conformance test: hypothesis strategies and their interpretation on a Twin.

An operation is a small frozen dataclass of *abstract* choices (who, which tranche, what size,
which fault); `Runner.run` turns it into concrete calls against the current state, read from the
Python models (which `Twin` keeps equal to the VM), so that generated sequences reach the
interesting states often: a withdrawal takes a fraction of what its sender holds, a purchase's
protected amount is sized so that the collateral the chain computes for it is a fraction of the
tranche's room under its utilisation cap, and its premium clears the chain's floors unless a
fault says otherwise, a price move is relative to the stored
price, a settlement lists the ids that are due. Every concrete call goes through `Twin.call`, so
it runs in both executors and must give equal results and equal events.

Amounts stay below 10**15 (the u128 overflow inputs that make the VM throw are a documented
difference, not a bug); the only `ft` ever passed is the deployed `.sbtc-token` (a contract
that does not exist is a VM runtime error, also documented); signatures come from coincurve,
which signs low-S only (simnet accepts high-S, nodes and the model do not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from hypothesis import strategies as st

from chain.clarity import (
    FALSE,
    NONE,
    TRUE,
    Buffer,
    ClarityValue,
    Err,
    List,
    Ok,
    Principal,
    Some,
    StringAscii,
    Tuple,
    UInt,
)
from chain.contracts import TRANCHES
from chain.keys import PrivateKey
from chain.protocol import expiry_on_grid
from chain.quotes import Quote, sign_quote
from risk.pricing import collateral_tokens, premium_floor
from sim.models.oracle import EXPIRY_INTERVAL, FIXING_WINDOW
from sim.models.parameters import ChangeQueue
from tests.contracts.relay import deploy_relay
from tests.contracts.twin import Twin

ACCOUNTS = ("deployer", *(f"wallet_{i}" for i in range(1, 9)))
USD = 100_000_000  # price units per USD
STX = 1_000_000  # micro-STX per STX
BTC = 100_000_000  # sats per BTC
QUOTE_KEY = PrivateKey.from_seed(b"conformance/quote")
OTHER_KEY = PrivateKey.from_seed(b"conformance/someone-else")
BASE_PRICE = {"BTC-USD": 65_000 * USD, "STX-USD": USD // 2, "ETH-USD": 3_000 * USD}
MIN_PRICE = 10_000  # keeps strikes and payouts meaningful after many crashes
MAX_PRICE = 10**13  # 100,000 USD x 1e8 stays far from any overflow
SBTC_MINT = 20 * BTC  # what the setup mints to each wallet

# (kind, outcome) of every concrete call over a whole session, outcome "ok" or "err uN"; and
# what settlements did: ("settlement", "settled" | "expired" | "deferred" | "skipped") per call
# with that count > 0, ("policy", "paid in full" | "paid its cap" | ...) per policy.
STATS: Counter[tuple[str, str]] = Counter()


# --- operations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deposit:
    who: int
    token: int
    tier: int
    size: str  # normal, dust, below-min, exact-min, zero, huge, zero-shares, one-share
    x: int
    into: str = "drawn"  # drawn: token and tier as drawn; held: a tranche with shares;
    # wiped: a tranche with shares and no assets (each when there is one)


@dataclass(frozen=True)
class Withdraw:
    who: int
    holder: bool  # replace `who` by a holder of the tranche when there is one
    token: int
    tier: int
    size: str  # fraction, all, more, zero, free-max, free-plus
    x: int
    step: str = "request"  # request: `request-withdraw`; complete: `complete-withdraw`


@dataclass(frozen=True)
class Mint:
    who: int
    to: int
    amount: int


@dataclass(frozen=True)
class Transfer:  # sbtc-token `transfer`, including "donations" to the pool
    who: int
    sender: int | None  # None: tx-sender itself (else u4 unless equal)
    to: str  # account, pool, self
    to_index: int
    size: str  # fraction, zero, over
    x: int
    memo: bytes | None


@dataclass(frozen=True)
class Buy:
    who: int
    funded: bool  # pick a tranche with free liquidity when there is one
    token: int
    tier: int
    amount: int  # sats protected
    strike_bps: int  # of spot
    extra_duration: int  # blocks above min-duration
    premium_bps: int  # of collateral, raised to the chain's floor unless a fault lowers it
    collateral_ppm: int  # of the tranche's room under its utilisation cap
    expiry_in: int  # quote-expiry - burn height
    fault: str
    x: int


@dataclass(frozen=True)
class Price:
    who: int
    role: bool  # a current submitter (else `who`, who may well not be one)
    asset: str
    move_bps: int  # relative to the stored price; -10000 is a zero price
    wait: int = 0  # burn blocks mined first (0: often the block of the last observation)
    edge: str = "none"  # none; cap / beyond: exactly at the time-scaled cap or one unit past it
    again: bool = False  # push the same price a second time in the same block (u106)


@dataclass(frozen=True)
class Fix:
    who: int
    asset: str
    expiry: str  # last (the latest grid point reached), earlier, off-grid, future, zero
    back: int  # for "earlier": how many grid points before the last
    hints: str  # right, start-early, start-late, end-early, end-late, swapped, garbage
    x: int
    reach: bool = False  # first mine to the next grid point (plus x % 8 blocks)


@dataclass(frozen=True)
class Mine:
    n: int


@dataclass(frozen=True)
class Settle:
    who: int
    role: bool  # the registry's backend
    refresh: str  # none, btc, stx, both: fresh prices pushed by a submitter first
    btc_move_bps: int
    stx_move_bps: int
    ids: str  # due, active, all, random, mixed, empty
    picks: tuple[int, ...]
    wait: int = 0  # > 0: first mine to the earliest active expiration + wait - 1 (<= 200)
    front_run: bool = False  # attack F1: the due policies' providers withdraw all they can first
    prove: bool = True  # first prove the fixings the due policies need, as a settler does


@dataclass(frozen=True)
class SetPaused:
    who: int
    role: bool
    paused: bool


@dataclass(frozen=True)
class SetParameter:
    who: int
    role: bool
    key: str
    value: int


@dataclass(frozen=True)
class Admin:
    who: int
    role: bool
    contract: str
    function: str
    arg: int


@dataclass(frozen=True)
class Govern:  # apply or cancel a queued admin change, or a guardian's move (contracts/README.md)
    who: int
    role: bool  # the guardian (or the admin) sends a cancel or a guardian move
    action: str  # a key of GOVERN_ACTIONS
    pick: int  # which queued key, when there are several


@dataclass(frozen=True)
class MineDelay:  # up to the first queued change's eta (+ offset), so it is ready, early or lapsed
    offset: int
    apply: bool  # then someone applies every queued change (each may be ready, early or lapsed)
    who: int


@dataclass(frozen=True)
class RelayCall:  # attack F15: a role key (or anyone) calls a relay that calls a role function
    who: int
    role: bool  # the pool's admin sends it
    function: str  # take-pool, take-quotes
    arg: int


@dataclass(frozen=True)
class Restricted:  # the registry-only pool functions, called directly: always u401
    who: int
    function: str
    token: int
    tier: int
    amount: int


Operation = (
    Deposit
    | Withdraw
    | Mint
    | Transfer
    | Buy
    | Price
    | Fix
    | Mine
    | Settle
    | SetPaused
    | SetParameter
    | Admin
    | RelayCall
    | Restricted
)


# --- strategies ------------------------------------------------------------------------------

who = st.integers(0, len(ACCOUNTS) - 1)
role = st.sampled_from([True, True, True, False])  # mostly the authorised principal
token = st.sampled_from([0, 0, 0, 1, 1, 1, 2])  # u2 is a bad token
tier = st.sampled_from([0, 1, 1, 2, 2, 0, 1, 2, 3])  # u3 is a bad tier
good_token = st.sampled_from([0, 1])
good_tier = st.sampled_from([0, 1, 2])
x = st.integers(0, 10**6)

deposits = st.builds(
    Deposit,
    who=who,
    token=token,
    tier=tier,
    size=st.sampled_from(
        ["normal"] * 6
        + ["dust", "below-min", "exact-min", "zero", "huge", "zero-shares"]
        + ["one-share"]
    ),
    x=x,
    into=st.sampled_from(["drawn", "drawn", "held", "wiped"]),
)
setup_deposits = st.builds(
    Deposit, who=who, token=good_token, tier=good_tier, size=st.just("normal"), x=x
)
withdrawals = st.builds(
    Withdraw,
    who=who,
    holder=st.sampled_from([True, True, True, True, False]),
    token=token,
    tier=tier,
    size=st.sampled_from(
        ["fraction"] * 4 + ["all", "all", "more", "zero", "free-max", "free-plus"]
    ),
    x=x,
    step=st.sampled_from(["request", "request", "complete", "complete", "complete"]),
)
mints = st.builds(
    Mint,
    who=st.sampled_from([0, 0, 0, 0, 3]),
    to=who,
    amount=st.sampled_from([1, 1, 1, 1, 0]).flatmap(lambda k: st.integers(k, k * 10 * BTC)),
)
transfers = st.builds(
    Transfer,
    who=who,
    sender=st.sampled_from([*[None] * 12, *range(len(ACCOUNTS))]),
    to=st.sampled_from(["account", "account", "pool", "self"]),
    to_index=who,
    size=st.sampled_from(["fraction", "fraction", "zero", "over"]),
    x=x,
    memo=st.one_of(st.none(), st.binary(max_size=34)),
)
BUY_FAULTS = ["none"] * 14 + [
    "expired",
    "reused",
    "tamper",
    "wrong-buyer",
    "wrong-key",
    "recovery-id",
    "sig64",
    "zero-sig",
    "bad-tier",
    "bad-token",
    "zero-premium",
    "zero-collateral",
    "strike-low",
    "strike-high",
    "strike-edge",
    "short",
    "long",
    "past",
    "min-duration",
    "max-duration",
    "off-grid",
    "amount-low",
    "amount-high",
    "over-capacity",
    "capacity-edge",
    "utilisation-edge",
    "over-utilisation",
    "below-intrinsic",
    "below-min-premium",
    "below-capital-charge",
    "low-collateral",
    "broke",
    # protocol v2 quotes: SIP-018, short-lived, pinned to spot (u330-u334)
    "stale",
    "ttl-edge",
    "too-long",
    "slippage",
    "slippage-edge",
    "other-registry",
]
buys = st.builds(
    Buy,
    who=who,
    funded=st.sampled_from([True, True, True, True, False]),
    token=good_token,
    tier=good_tier,
    amount=st.one_of(st.integers(100_000, BTC), st.integers(BTC, 5 * BTC)),
    strike_bps=st.one_of(st.integers(8_000, 11_000), st.integers(5_001, 14_999)),
    extra_duration=st.one_of(st.integers(0, 10), st.integers(0, 300)),
    premium_bps=st.integers(1, 1_000),
    collateral_ppm=st.one_of(st.integers(1, 1_000_000), st.integers(900_000, 1_000_000)),
    expiry_in=st.integers(0, 6),
    fault=st.sampled_from(BUY_FAULTS),
    x=x,
)
moves = st.one_of(
    st.integers(-500, 500),  # within the default cap for one block (5%)
    st.sampled_from([-501, 501, -500, 500, 0]),  # at the one-block cap
    st.integers(-7_000, 8_000),  # a jump: within the cap only after enough blocks (max 50%)
    st.just(-10_000),  # a zero price: u102
)
prices = st.builds(
    Price,
    who=who,
    role=role,
    asset=st.sampled_from(["BTC-USD"] * 5 + ["STX-USD"] * 3 + ["ETH-USD"]),
    move_bps=moves,
    wait=st.sampled_from([0, 0, 0, 1, 1, 2, 3, 5, 9, 10, 11, 40]),
    edge=st.sampled_from(["none"] * 6 + ["cap", "cap", "beyond"]),
    again=st.sampled_from([False] * 5 + [True]),
)
fixes = st.builds(
    Fix,
    who=who,
    asset=st.sampled_from(["BTC-USD"] * 4 + ["STX-USD"] * 2 + ["ETH-USD"]),
    expiry=st.sampled_from(["last"] * 6 + ["earlier", "earlier", "off-grid", "future", "zero"]),
    back=st.integers(1, 3),
    hints=st.sampled_from(
        ["right"] * 6 + ["start-early", "start-late", "end-early", "end-late", "swapped", "garbage"]
    ),
    x=x,
    reach=st.sampled_from([False, True]),
)


def setup_prices(asset: str) -> st.SearchStrategy:
    return st.builds(
        Price,
        who=st.just(0),
        role=st.just(True),
        asset=st.just(asset),
        move_bps=st.integers(-500, 500),
        wait=st.just(0),
    )


mines = st.builds(Mine, n=st.one_of(st.integers(1, 8), st.integers(140, 200), st.integers(1, 200)))
settles = st.builds(
    Settle,
    who=who,
    role=role,
    refresh=st.sampled_from(["none", "btc", "stx", "both", "both", "both", "both", "both"]),
    btc_move_bps=st.one_of(st.integers(-6_000, 0), st.integers(-500, 500), st.integers(0, 3_000)),
    stx_move_bps=st.one_of(st.integers(-500, 500), st.integers(-5_000, 5_000)),
    ids=st.sampled_from(["due", "due", "due", "active", "all", "random", "mixed", "empty"]),
    picks=st.lists(st.integers(0, 60), max_size=8).map(tuple),
    wait=st.sampled_from([0, 0, 1, 1, 3, 8]),
    front_run=st.sampled_from([False, False, False, True]),
    prove=st.sampled_from([True, True, True, False]),
)
set_pauseds = st.builds(SetPaused, who=who, role=role, paused=st.sampled_from([True, False, False]))
PARAMETER_VALUES = {
    "admin-delay": st.integers(1_000, 1_100),
    "min-duration": st.one_of(st.integers(0, 200), st.just(144)),
    "max-duration": st.integers(100, 13_000),
    "min-amount": st.integers(0, 1_000_000),
    "max-amount": st.integers(100_000, 20_000_000_000),
    "strike-band-bps": st.integers(0, 10_000),
    "min-first-deposit-0": st.integers(0, 20_000_000),
    "min-first-deposit-1": st.integers(0, 200_000),
    "protocol-fee-bps": st.integers(0, 10_000),
    "collateral-ratio-1": st.integers(0, 20_000),
    "max-utilisation-2": st.integers(0, 10_000),
    "min-premium-0": st.integers(0, 10 * STX),
    "capital-rate-bps": st.integers(0, 5_000),
    "price-max-age": st.integers(0, 12),
    "quote-ttl-seconds": st.one_of(st.integers(0, 120), st.just(60)),
    "quote-slippage-bps": st.one_of(st.integers(0, 200), st.just(50)),
    "no-such-key": st.integers(0, 10),
    "": st.integers(0, 10),
    "MIN-DURATION": st.integers(0, 10),
}
set_parameters = st.sampled_from(sorted(PARAMETER_VALUES)).flatmap(
    lambda key: st.builds(
        SetParameter, who=who, role=role, key=st.just(key), value=PARAMETER_VALUES[key]
    )
)
# (contract, function): the arguments are interpreted per function (see Runner.admin_args)
ADMIN_FUNCTIONS = [
    ("oracle", "queue-submitter"),
    ("oracle", "queue-submitter"),
    ("oracle", "remove-submitter"),
    ("oracle", "queue-setting"),
    ("oracle", "queue-setting"),
    ("policy-registry", "queue-backend"),
    ("policy-registry", "queue-quote-pubkey"),
    ("policy-registry", "queue-quote-pubkey"),
    ("policy-registry", "set-quote-pubkey"),
    ("parameters", "queue-role"),
    ("parameters", "init-guardian"),
]
ORACLE_SETTINGS = ("max-deviation-bps", "max-jump-bps", "max-age", "max-ages")
# name -> (contract, function, the queue's model attribute or None): applies and cancels of a
# keyed queue take the key of a live queued change (`pick` chooses); the others take no key
GOVERN_ACTIONS: dict[str, tuple[str, str, str | None]] = {
    "apply-parameter": ("parameters", "apply-parameter", "parameters.queued"),
    "cancel-parameter": ("parameters", "cancel-parameter", "parameters.queued"),
    "apply-role": ("parameters", "apply-role", "parameters.queued_roles"),
    "cancel-role": ("parameters", "cancel-role", "parameters.queued_roles"),
    "apply-setting": ("oracle", "apply-setting", "oracle.queued_settings"),
    "cancel-setting": ("oracle", "cancel-setting", "oracle.queued_settings"),
    "apply-submitter": ("oracle", "apply-submitter", None),
    "cancel-submitter": ("oracle", "cancel-submitter", None),
    "apply-quote-pubkey": ("policy-registry", "apply-quote-pubkey", None),
    "cancel-quote-pubkey": ("policy-registry", "cancel-quote-pubkey", None),
    "apply-backend": ("policy-registry", "apply-backend", None),
    "cancel-backend": ("policy-registry", "cancel-backend", None),
    "zero-quote-pubkey": ("policy-registry", "zero-quote-pubkey", None),
    "shutdown": ("parameters", "shutdown", None),
}
# the single-key queues' model attributes, for applying whatever is queued in them
GOVERN_SINGLE_QUEUES = {
    "apply-submitter": ("oracle", "queued_submitters"),
    "apply-quote-pubkey": ("registry", "queued_keys"),
    "apply-backend": ("registry", "queued_backends"),
}
# applies are drawn most, the shutdown (which ends purchases and deposits) least
GOVERN_WEIGHTS = {"shutdown": 1, "zero-quote-pubkey": 2}
governs = st.builds(
    Govern,
    who=who,
    role=role,
    action=st.sampled_from(
        [a for a in GOVERN_ACTIONS for _ in range(GOVERN_WEIGHTS.get(a, 6 if "apply" in a else 3))]
    ),
    pick=st.integers(0, 7),
)
mine_delays = st.builds(
    MineDelay,
    offset=st.sampled_from([-1, 0, 0, 1, 30, 143, 144, 200]),
    apply=st.sampled_from([True, True, True, False]),
    who=who,
)
admins = st.sampled_from(ADMIN_FUNCTIONS).flatmap(
    lambda cf: st.builds(
        Admin,
        who=who,
        role=role,
        contract=st.just(cf[0]),
        function=st.just(cf[1]),
        arg=st.integers(0, 10_050),
    )
)
relay_calls = st.builds(
    RelayCall,
    who=who,
    role=role,
    function=st.sampled_from(["take-pool", "take-quotes"]),
    arg=x,
)
restricteds = st.builds(
    Restricted,
    who=who,
    function=st.sampled_from(["lock-for-policy", "release-for-policy", "pay-out"]),
    token=token,
    tier=tier,
    amount=st.integers(0, 10**9),
)

WEIGHTS: list[tuple[st.SearchStrategy, int]] = [
    (deposits, 13),
    (withdrawals, 9),
    (buys, 20),
    (prices, 8),
    (fixes, 4),
    (mines, 12),
    (settles, 14),
    (set_pauseds, 2),
    (set_parameters, 4),
    (admins, 4),
    (governs, 5),
    (mine_delays, 3),
    (mints, 3),
    (transfers, 3),
    (restricteds, 2),
    (relay_calls, 2),
]
# (`one_of` would ignore repeated strategies: the weights are indices into this table)
operations: st.SearchStrategy = st.sampled_from(
    [i for i, (_, w) in enumerate(WEIGHTS) for _ in range(w)]
).flatmap(lambda i: WEIGHTS[i][0])
# A short generated setup (not counted in the sequence's steps), so that purchases and
# settlements have something to act on early: usually both prices, and a few deposits.
setups: st.SearchStrategy = st.tuples(
    st.sampled_from([True] * 9 + [False]).flatmap(
        lambda priced: (
            st.tuples(setup_prices("BTC-USD"), setup_prices("STX-USD")) if priced else st.just(())
        )
    ),
    st.lists(setup_deposits, min_size=1, max_size=6),
).map(lambda parts: [op for part in parts for op in part])


# --- interpretation ----------------------------------------------------------------------------


def outcome(result: ClarityValue) -> str:
    if isinstance(result, Err):
        code = result.value
        return f"err u{code.value}" if isinstance(code, UInt) else "err"
    return "ok" if isinstance(result, Ok) else "?"


def scale(value: int, bps: int) -> int:
    return value * (10_000 + bps) // 10_000


class Runner:
    """Runs operations on a Twin; `record` receives (kind, outcome) of every concrete call."""

    def __init__(self, twin: Twin, record: Callable[[str, str], None] | None = None):
        self.t = twin
        self.py = twin.py
        self.sbtc = twin.contracts.sbtc
        self.next_quote_id = 1
        self.keys_touched: set[str] = set()
        self.submitters_touched: set[str] = {"deployer"}
        self.fixed: set[tuple[str, int]] = set()  # (asset, expiry) of every fix call
        self.trace: list[str] = []
        self._record = record

    # -- plumbing --

    def record(self, kind: str, what: str) -> None:
        STATS[(kind, what)] += 1
        if self._record is not None:
            self._record(kind, what)

    def call(self, kind: str, sender: str, contract: str, function: str, *args: ClarityValue):
        self.trace.append(f"{sender} {contract}.{function}")
        result = self.t.call(sender, contract, function, *args)
        self.trace[-1] += f" -> {result}"
        self.record(kind, outcome(result))
        return result

    def name_of(self, who: Principal) -> str | None:
        for name, p in self.t.accounts.items():
            if p == who:
                return name
        return None

    def holder(self, contract: str, var: str, op_who: int, role: bool) -> str:
        """The account holding a role (admin, guardian, backend) if `role` and an account holds
        it; otherwise the operation's own account. The admin and the guardian are every
        contract's, held in `parameters`."""
        if role:
            where = self.py.parameters if var in ("admin", "guardian") else None
            model = where or self.py.contracts[self.t.contract(contract)]
            if var == "guardian" and model.var(var) is None:
                var = "admin"  # no guardian yet: the admin may do what a guardian may
            name = self.name_of(model.var(var))
            if name is not None:
                return name
        return ACCOUNTS[op_who]

    def submitter(self, op_who: int, role: bool) -> str:
        if role:
            current = [a for a in ACCOUNTS if self.py.oracle.submitters.get(self.t.accounts[a])]
            if current:
                return current[op_who % len(current)]
        return ACCOUNTS[op_who]

    def price(self, asset: str) -> int | None:
        found = self.py.oracle.price_of(asset)
        return None if found is None else found[0]

    def param(self, key: str) -> int:
        return self.py.parameters.get(key)

    def policy_count(self) -> int:
        return self.py.registry.var("count")

    def run(self, op: Operation) -> None:
        getattr(self, "do_" + type(op).__name__.lower())(op)

    # -- setup and checks --

    def setup(self) -> None:
        """The quote key, and sBTC for every wallet (the pool's first sBTC depositors need it)."""
        assert self.call(
            "setup", "deployer", "policy-registry", "set-quote-pubkey", Buffer(QUOTE_KEY.public_key)
        ) == Ok(TRUE)
        for name in ACCOUNTS[1:]:
            self.call(
                "setup", "deployer", "sbtc-token", "mint", UInt(SBTC_MINT), self.t.accounts[name]
            )
        self.relay = deploy_relay(self.t)

    def run_sequence(self, setup: list[Operation], steps: list[Operation], check_every: int):
        """The setup calls, the generated setup, then the steps; the whole state is compared
        every `check_every` steps and at the end (every call's result and events are compared
        as it runs anyway)."""
        self.setup()
        for op in setup:
            self.run(op)
        for i, op in enumerate(steps, 1):
            self.run(op)
            if i % check_every == 0:
                self.check_state()
        self.final_check()

    def check_state(self) -> None:
        self.t.assert_same_state(policies=self.policy_count())

    def final_check(self) -> None:
        """Everything `assert_same_state` does not read: shares, oracle, parameters, roles."""
        t = self.t
        self.check_state()
        for (tok, tr, provider), _ in sorted(
            self.py.pool.shares.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].address)
        ):
            t.read("liquidity-pool", "get-shares", UInt(tok), UInt(tr), provider)
        t.read("liquidity-pool", "get-shares", UInt(0), UInt(0), t.accounts["wallet_8"])
        for tok, tr in TRANCHES:
            t.read("liquidity-pool", "get-vault", UInt(tok), UInt(tr))
        for (tok, tr, provider), _ in sorted(
            self.py.pool.epochs.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].address)
        ):
            t.read("liquidity-pool", "get-provider-epoch", UInt(tok), UInt(tr), provider)
            t.read("liquidity-pool", "get-pending", UInt(tok), UInt(tr), provider)
        for tok, tr, epoch in sorted(self.py.pool.closed):
            t.read("liquidity-pool", "get-closed-epoch", UInt(tok), UInt(tr), UInt(epoch))
        for asset in BASE_PRICE:
            t.read("oracle", "get-price", StringAscii(asset))
            t.read("oracle", "get-latest", StringAscii(asset))
        for asset, height in sorted(self.py.oracle.observations):
            t.read("oracle", "get-observation", StringAscii(asset), UInt(height))
        for asset, expiry in sorted(self.fixed):
            t.read("oracle", "get-fixing", StringAscii(asset), UInt(expiry))
        t.read("oracle", "get-config")
        for name in sorted(self.submitters_touched):
            t.read("oracle", "is-submitter", t.accounts[name])
        for key in sorted(self.keys_touched):
            t.read("parameters", "get-parameter", StringAscii(key))
            t.read("parameters", "get-queued-parameter", StringAscii(key))
        for role_name in ("admin", "guardian"):
            t.read("parameters", "get-queued-role", StringAscii(role_name))
        for read in ("get-admin", "get-guardian", "is-shutdown"):
            t.read("parameters", read)
        for key in ORACLE_SETTINGS:
            t.read("oracle", "get-queued-setting", StringAscii(key))
        t.read("oracle", "get-queued-submitter")
        t.read("oracle", "get-submitter-count")
        for read in ("get-queued-quote-pubkey", "get-queued-backend", "get-quote-pubkey"):
            t.read("policy-registry", read)
        t.read("policy-registry", "get-policy-count")
        t.read("policy-registry", "get-policy", UInt(self.policy_count() + 1))
        for quote_id in range(1, self.next_quote_id + 1):
            t.read("policy-registry", "is-quote-used", UInt(quote_id))
        t.read("policy-registry", "is-paused")
        t.read("policy-registry", "get-backend")
        t.read("liquidity-pool", "get-sbtc-token")

    # -- the pool --

    def do_deposit(self, op: Deposit) -> None:
        sender = ACCOUNTS[op.who]
        tok, tr = op.token, op.tier
        if op.into != "drawn":
            held = [(a, b) for a, b in TRANCHES if self.py.pool.tranche(a, b)[1]]
            if op.into == "wiped":
                held = [(a, b) for a, b in held if not self.py.pool.tranche(a, b)[0]]
            if held:
                tok, tr = held[op.x % len(held)]
        assets, total, _ = self.py.pool.tranche(tok, tr)
        minimum = self.param(f"min-first-deposit-{min(tok, 1)}")
        big = tok != 1
        amount = {
            "normal": (10 * STX + op.x * 500 * STX // 1000) if big else 100_000 + op.x * 1000,
            "dust": 1 + op.x % 999,
            "below-min": max(0, minimum - 1 - op.x % 1000),
            "exact-min": minimum,
            "zero": 0,
            "huge": 9 * 10**14,
            "zero-shares": max(1, (assets - 1) // total) if total else 1 + op.x % 999,
            "one-share": -(-assets // total) if total and assets else minimum,
        }[op.size]
        self.call(
            f"deposit[{op.size}]",
            sender,
            "liquidity-pool",
            "deposit",
            self.sbtc,
            UInt(tok),
            UInt(tr),
            UInt(amount),
        )

    def do_withdraw(self, op: Withdraw) -> None:
        if op.step == "complete":
            self.complete_withdraw(op)
            return
        sender = ACCOUNTS[op.who]
        tok, tr = op.token, op.tier
        if op.holder:  # any holding, whatever the drawn tranche
            holdings = sorted(
                (key[0], key[1], self.name_of(key[2]) or "")
                for key, n in self.py.pool.shares.items()
                if n
            )
            if holdings:
                tok, tr, sender = holdings[op.x % len(holdings)]
        held = self.py.pool.shares_of(tok, tr, self.t.accounts[sender])
        assets, total, locked = self.py.pool.tranche(tok, tr)
        free_max = min(held, (assets - locked) * total // assets) if assets else held
        shares = {
            "fraction": max(1, held * (op.x % 1000 + 1) // 1000),
            "all": held,
            "more": held + 1 + op.x % 1000,
            "zero": 0,
            "free-max": free_max,
            "free-plus": free_max + 1,
        }[op.size]
        self.call(
            f"withdraw[{op.size}]",
            sender,
            "liquidity-pool",
            "request-withdraw",
            UInt(tok),
            UInt(tr),
            UInt(shares),
        )

    def pending_withdrawals(self) -> list[tuple[int, int, str]]:
        return sorted(
            (key[0], key[1], self.name_of(key[2]) or "")
            for key, p in self.py.pool.pending.items()
            if p is not None
        )

    def complete_withdraw(self, op: Withdraw) -> None:
        """Step 2, by a provider with a pending withdrawal when `holder` and there is one
        (whether ready or not), else by `who` on the drawn tranche."""
        sender, tok, tr = ACCOUNTS[op.who], op.token, op.tier
        pending = self.pending_withdrawals()
        if op.holder and pending:
            tok, tr, sender = pending[op.x % len(pending)]
        self.call(
            "withdraw[complete]",
            sender,
            "liquidity-pool",
            "complete-withdraw",
            self.sbtc,
            UInt(tok),
            UInt(tr),
        )

    def do_relaycall(self, op: RelayCall) -> None:
        sender = self.holder("parameters", "admin", op.who, op.role)
        arg = self.relay if op.function == "take-pool" else Buffer(bytes(33))
        self.call(f"relay[{op.function}]", sender, "relay", op.function, arg)

    def do_restricted(self, op: Restricted) -> None:
        sender = ACCOUNTS[op.who]
        a, tok, tr = UInt(op.amount), UInt(op.token), UInt(op.tier)
        args = {
            "lock-for-policy": (self.sbtc, tok, tr, a, a, a),
            "release-for-policy": (tok, tr, a, a),
            "pay-out": (self.sbtc, tok, tr, UInt(1), a, self.t.accounts[sender]),
        }[op.function]
        self.call(f"restricted[{op.function}]", sender, "liquidity-pool", op.function, *args)

    # -- the token --

    def do_mint(self, op: Mint) -> None:
        self.call(
            "mint",
            ACCOUNTS[op.who],
            "sbtc-token",
            "mint",
            UInt(op.amount),
            self.t.accounts[ACCOUNTS[op.to]],
        )

    def do_transfer(self, op: Transfer) -> None:
        sender = ACCOUNTS[op.who]
        source = sender if op.sender is None else ACCOUNTS[op.sender]
        recipient: Principal = {
            "account": self.t.accounts[ACCOUNTS[op.to_index]],
            "pool": self.t.contracts.pool,
            "self": self.t.accounts[source],
        }[op.to]
        balance = self.py.sbtc_balance(self.t.accounts[source])
        amount = {
            "fraction": max(1, balance * (op.x % 1000 + 1) // 1000),
            "zero": 0,
            "over": balance + 1 + op.x,
        }[op.size]
        memo = NONE if op.memo is None else Some(Buffer(op.memo))
        self.call(
            f"transfer[{op.to},{op.size}]",
            sender,
            "sbtc-token",
            "transfer",
            UInt(amount),
            self.t.accounts[source],
            recipient,
            memo,
        )

    # -- the oracle --

    def cap(self, asset: str) -> tuple[int, int] | None:
        """(price, cap in bps) the oracle would apply to a push now, or None for a first."""
        found = self.py.oracle.price_of(asset)
        if found is None:
            return None
        oracle = self.py.oracle
        elapsed = self.t.burn - found[1]
        return found[0], min(oracle.var("max_jump_bps"), oracle.var("max_deviation_bps") * elapsed)

    def push(
        self, kind: str, sender: str, asset: str, move_bps: int, edge: str = "none"
    ) -> ClarityValue:
        base = self.price(asset) or BASE_PRICE[asset]
        price = 0 if move_bps <= -10_000 else min(MAX_PRICE, max(MIN_PRICE, scale(base, move_bps)))
        capped = self.cap(asset)
        if edge != "none" and capped is not None and move_bps > -10_000:
            old, bps = capped
            if move_bps >= 0:
                price = old * (10_000 + bps) // 10_000 + (edge == "beyond")
            else:
                price = max(1, -(-old * (10_000 - bps) // 10_000) - (edge == "beyond"))
        return self.call(kind, sender, "oracle", "set-price", StringAscii(asset), UInt(price))

    def do_price(self, op: Price) -> None:
        if op.wait:
            self.do_mine(Mine(op.wait))
        sender = self.submitter(op.who, op.role)
        found = self.py.oracle.price_of(op.asset)
        when = "first" if found is None else min(self.t.burn - found[1], 11)
        kind = f"set-price[{when},{op.edge}]"
        self.push(kind, sender, op.asset, op.move_bps, op.edge)
        if op.again:
            self.push(kind + "[again]", sender, op.asset, 0)

    def do_fix(self, op: Fix) -> None:
        """`fix` of a grid point, with the right hints (from the model's observations) or
        wrong ones; called by anyone. A stored fixing is returned whatever the hints."""
        if op.reach:
            ahead = EXPIRY_INTERVAL - self.t.burn % EXPIRY_INTERVAL + op.x % 8
            self.do_mine(Mine(ahead))
        oracle, burn = self.py.oracle, self.t.burn
        last = burn - burn % EXPIRY_INTERVAL
        expiry = {
            "last": last,
            "earlier": max(0, last - op.back * EXPIRY_INTERVAL),
            "off-grid": last + 1 + op.x % (EXPIRY_INTERVAL - 1),
            "future": last + EXPIRY_INTERVAL * op.back,
            "zero": 0,
        }[op.expiry]
        start_x = max(0, expiry - FIXING_WINDOW)
        start = oracle.in_force(op.asset, start_x)
        end = oracle.in_force(op.asset, expiry)
        right = (start if start is not None else 0, end if end is not None else 0)
        heights = sorted(h for (a, h) in oracle.observations if a == op.asset)

        def neighbour(h: int, step: int) -> int:
            """The observation height `step` places from h; past either end (or when h is no
            observation), the height `step` blocks away, which holds no observation."""
            i = heights.index(h) + step if h in heights else -1
            return heights[i] if 0 <= i < len(heights) else max(0, h + step)

        hints = {
            "right": right,
            "start-early": (neighbour(right[0], -1), right[1]),
            "start-late": (neighbour(right[0], 1), right[1]),
            "end-early": (right[0], neighbour(right[1], -1)),
            "end-late": (right[0], neighbour(right[1], 1)),
            "swapped": (right[1], right[0]),
            "garbage": (op.x % 1000, op.x % 997),
        }[op.hints]
        stored = "stored" if (op.asset, expiry) in oracle.fixings else "new"
        self.fixed.add((op.asset, expiry))
        self.call(
            f"fix[{op.expiry},{op.hints},{stored}]",
            ACCOUNTS[op.who],
            "oracle",
            "fix",
            StringAscii(op.asset),
            UInt(expiry),
            UInt(hints[0]),
            UInt(hints[1]),
        )

    # -- time --

    def do_minedelay(self, op: MineDelay) -> None:
        etas = [
            v[1]
            for model in (self.py.parameters, self.py.oracle, self.py.registry)
            for q in vars(model).values()
            if isinstance(q, ChangeQueue)
            for v in q.entries.values()
            if v is not None
        ]
        target = (min(etas) if etas else self.t.burn + self.param("admin-delay")) + op.offset
        n = max(1, target - self.t.burn)
        self.trace.append(f"mine_burn({n})")
        self.t.mine_burn(n)
        self.record("mine-delay", "ok")
        if not op.apply:
            return
        sender = ACCOUNTS[op.who]
        for name, (contract, function, queue) in GOVERN_ACTIONS.items():
            if not name.startswith("apply-"):
                continue
            if queue is None:
                model_name, attr = GOVERN_SINGLE_QUEUES[name]
                live = [None] if self._live(model_name, attr) else []
            else:
                live = self._live(*queue.split("."))
            for key in live:
                args = () if key is None else (StringAscii(key),)
                self.call(f"govern[{name}]", sender, contract, function, *args)

    def _live(self, model_name: str, attr: str) -> list[str]:
        """The keys of one queue's changes, queued and not yet applied or cancelled."""
        entries = getattr(getattr(self.py, model_name), attr).entries
        return sorted(k for k, v in entries.items() if v is not None)

    def do_mine(self, op: Mine) -> None:
        self.trace.append(f"mine_burn({op.n})")
        self.t.mine_burn(op.n)
        self.record("mine", "ok")

    # -- the registry --

    def do_buy(self, op: Buy) -> None:
        t, py = self.t, self.py
        buyer = ACCOUNTS[op.who]
        tok, tr = op.token, op.tier
        if op.funded:
            funded = [
                (a, b) for a, b in TRANCHES if py.pool.tranche(a, b)[0] > py.pool.tranche(a, b)[2]
            ]
            if funded:
                tok, tr = funded[op.x % len(funded)]
        assets, _, locked = py.pool.tranche(tok, tr)
        free = assets - locked
        spot = self.price("BTC-USD") or BASE_PRICE["BTC-USD"]
        ttl, slippage = self.param("quote-ttl-seconds"), self.param("quote-slippage-bps")
        unit = STX if tok == 0 else BTC
        token_price = (self.price("STX-USD") or BASE_PRICE["STX-USD"]) if tok == 0 else spot
        band = self.param("strike-band-bps")
        low, high = self.param("min-amount"), self.param("max-amount")
        strike_bps = min(max(op.strike_bps, 10_000 - band + 1), 10_000 + band - 1)
        strike = max(1, spot * strike_bps // 10_000)
        ratio = self.param(f"collateral-ratio-{tr}")
        room = max(0, assets * self.param(f"max-utilisation-{tr}") // 10_000 - locked)
        target = room * op.collateral_ppm // 1_000_000
        # the protected amount whose chain collateral is about `target`
        fit = target * token_price * 10_000 * BTC // max(1, unit * strike * ratio)
        amount = min(op.amount, fit)
        amount = min(max(amount, low), high) if low <= high else amount
        shortest, longest = self.param("min-duration"), self.param("max-duration")
        duration = max(1, min(shortest + op.extra_duration, longest))
        computed = collateral_tokens(strike, amount, ratio, token_price, unit)
        collateral = max(1, [1, computed // 2, computed, computed + computed // 10][op.x % 4])
        locks = max(collateral, computed)
        floor = premium_floor(
            strike=strike,
            spot=spot,
            amount_sats=amount,
            collateral=locks,
            token_price=token_price,
            token_unit=unit,
            min_premium=self.param(f"min-premium-{tok}"),
            capital_rate_bps=self.param("capital-rate-bps"),
            blocks=duration,
        )
        premium = max(1, locks * op.premium_bps // 10_000, floor)
        quote_id = self.next_quote_id
        self.next_quote_id += 1
        terms = dict(
            buyer=t.accounts[buyer],
            amount=amount,
            strike=strike,
            expiration=expiry_on_grid(t.burn, duration, longest),
            premium=premium,
            collateral=collateral,
            token=tok,
            tier=tr,
            quote_expiry=t.burn + op.expiry_in,
            quote_id=quote_id,
            registry=t.contracts.registry,
            spot=spot,
            valid_until=t.time + 10 + ttl * (op.x % 4) // 3,  # the purchase's block is 10 s on
        )
        # the key the registry trusts now, when it is one of ours (a queued change may have
        # installed the other one); "wrong-key" signs with the key it does not trust
        trusted = py.registry.var("quote_pubkey") == OTHER_KEY.public_key
        ours, theirs = (OTHER_KEY, QUOTE_KEY) if trusted else (QUOTE_KEY, OTHER_KEY)
        fault, sender, key, tamper = op.fault, buyer, ours, None
        k = op.x
        if fault == "stale":
            terms["valid_until"] = t.time + 9 - k % 100
        elif fault == "ttl-edge":
            terms["valid_until"] = t.time + 10 + [0, ttl][k % 2]
        elif fault == "too-long":
            terms["valid_until"] = t.time + 10 + ttl + 1 + k % 100
        elif fault == "slippage":
            off = spot * (slippage + 1 + k % 50) // 10_000 + 1
            terms["spot"] = spot + off if k % 2 else max(0, spot - off)
        elif fault == "slippage-edge":
            # the largest quoted spot still within slippage of the latest observation, or 1 more
            edge = spot * 10_000 // max(1, 10_000 - slippage)
            terms["spot"] = edge + k % 2
        elif fault == "other-registry":
            terms["registry"] = [t.contracts.pool, t.contracts.oracle][k % 2]
        if fault == "expired":
            terms["quote_expiry"] = t.burn - 1 - k % 5
        elif fault == "reused":
            used = sorted(py.registry.used_quotes)
            if used:
                terms["quote_id"] = used[k % len(used)]
            else:
                fault = "reused(none yet)"
        elif fault == "tamper":
            field = [
                "amount",
                "strike",
                "premium",
                "collateral",
                "expiration",
                "quote_expiry",
                "quote_id",
                "tier",
                "token",
                "buyer",
                "registry",
                "spot",
                "valid_until",
            ][k % 13]
            fault = f"tamper-{field}"
            if field == "buyer":
                tamper = {"buyer": t.accounts[ACCOUNTS[(op.who + 1) % len(ACCOUNTS)]]}
                sender = ACCOUNTS[(op.who + 1) % len(ACCOUNTS)]
            elif field == "tier":
                tamper = {"tier": (tr + 1) % 3}
            elif field == "token":
                tamper = {"token": 1 - tok}
            elif field == "registry":
                tamper = {"registry": t.contracts.pool}
            else:
                tamper = {field: terms[field] + 1}
        elif fault == "wrong-buyer":
            sender = ACCOUNTS[(op.who + 1 + k % 8) % len(ACCOUNTS)]
        elif fault == "wrong-key":
            key = theirs
        elif fault == "bad-tier":
            terms["tier"] = 3 + k % 3
        elif fault == "bad-token":
            terms["token"] = 2 + k % 3
        elif fault == "zero-premium":
            terms["premium"] = 0
        elif fault == "zero-collateral":
            terms["collateral"] = 0
        elif fault == "strike-low":
            terms["strike"] = spot * (10_000 - band) // 10_000 - 1 - k % 1000
        elif fault == "strike-high":
            terms["strike"] = -(-spot * (10_000 + band) // 10_000) + 1 + k % 1000
        elif fault == "strike-edge":
            edge = [-(-spot * (10_000 - band) // 10_000), spot * (10_000 + band) // 10_000]
            terms["strike"] = edge[k % 2]
        elif fault == "short":
            terms["expiration"] = t.burn + max(1, shortest - 1 - k % 10)
        elif fault == "long":
            terms["expiration"] = t.burn + longest + 1 + k % 10
        elif fault == "past":
            terms["expiration"] = t.burn - k % 3
        elif fault == "min-duration":  # the shortest on the grid
            terms["expiration"] = expiry_on_grid(t.burn, shortest, 10**9)
        elif fault == "max-duration":  # the longest on the grid
            terms["expiration"] = expiry_on_grid(t.burn, longest, longest)
        elif fault == "off-grid":
            terms["expiration"] += 1 + k % (EXPIRY_INTERVAL - 1)
        elif fault == "amount-low":
            terms["amount"] = max(0, low - 1 - k % 1000)
        elif fault == "amount-high":
            terms["amount"] = high + 1 + k % 1000
        elif fault == "over-capacity":
            terms["collateral"] = free + premium + 1 + k % 1000
        elif fault == "capacity-edge":
            terms["collateral"] = max(1, free + premium)
        elif fault in ("utilisation-edge", "over-utilisation"):
            cap = self.param(f"max-utilisation-{tr}")
            edge = max(1, (assets + premium) * cap // 10_000 - locked)
            terms["collateral"] = edge + (1 + k % 1000 if fault == "over-utilisation" else 0)
            terms["premium"] = max(premium, edge // 100)  # clears the capital charge
        elif fault == "below-intrinsic":
            terms["strike"] = spot * (10_000 + min(band, 2_000)) // 10_000
            terms["premium"] = max(1, self.param(f"min-premium-{tok}"))
        elif fault == "below-min-premium":
            terms["premium"] = max(0, self.param(f"min-premium-{tok}") - 1 - k % 10)
        elif fault == "below-capital-charge":
            terms["premium"] = max(1, floor - 1 - k % 10)
        elif fault == "low-collateral":
            terms["collateral"] = 1
        elif fault == "broke":
            balance = (
                py.stx_balance(t.accounts[buyer])
                if tok == 0
                else py.sbtc_balance(t.accounts[buyer])
            )
            terms["premium"] = balance + 1 + k % 1000
        terms = {f: max(0, v) if isinstance(v, int) else v for f, v in terms.items()}
        quote = Quote(**terms)
        signature = sign_quote(quote, key)
        if fault == "recovery-id":
            fault = f"recovery-id={k % 256 if k % 2 else k % 4}"
            signature = signature[:64] + bytes([k % 256 if k % 2 else k % 4])
        elif fault == "sig64":
            signature = signature[:64]
        elif fault == "zero-sig":
            signature = bytes(65)
        if tamper is not None:
            quote = replace(quote, **tamper)
        self.call(
            f"buy[{fault}]",
            sender,
            "policy-registry",
            "purchase-policy",
            quote.to_clarity(),
            Buffer(signature),
            self.sbtc,
        )

    def settle_ids(self, op: Settle) -> list[int]:
        count, burn = self.policy_count(), self.t.burn
        policies = [(pid, self.py.registry.policy(pid)) for pid in range(1, count + 1)]
        active = [pid for pid, p in policies if p["status"] == 0]
        due = [pid for pid, p in policies if p["status"] == 0 and p["expiration"] <= burn]
        ids = {
            "due": due,
            "active": active,
            "all": list(range(1, count + 1)),
            "random": [p % (count + 3) for p in op.picks],
            "mixed": [*due, count + 1, 0, *due[:1], *active[-1:]],
            "empty": [],
        }[op.ids]
        return ids[:50]

    def front_run(self) -> None:
        """Every holder of a tranche with an expired unsettled policy asks to withdraw all it
        can, and every pending withdrawal there tries to complete (v2: both refused, u414)."""
        burn, due = self.t.burn, set()
        for pid in range(1, self.policy_count() + 1):
            p = self.py.registry.policy(pid)
            if p["status"] == 0 and p["expiration"] <= burn:
                due.add((p["token"], p["tier"]))
        for (tok, tr, holder), held in sorted(
            self.py.pool.shares.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].address)
        ):
            name = self.name_of(holder)
            assets, total, locked = self.py.pool.tranche(tok, tr)
            if (tok, tr) not in due or not held or name is None or not assets:
                continue
            shares = min(held, (assets - locked) * total // assets)
            if shares:
                self.call("front-run[withdraw]", name, "liquidity-pool", "request-withdraw",
                          UInt(tok), UInt(tr), UInt(shares))  # fmt: skip
        for tok, tr, name in self.pending_withdrawals():
            if (tok, tr) in due and name:
                self.call("front-run[complete]", name, "liquidity-pool", "complete-withdraw",
                          self.sbtc, UInt(tok), UInt(tr))  # fmt: skip

    def refresh(self, asset: str, move_bps: int) -> None:
        """A backend's price push before settling, within the time-scaled cap (a capped fall
        can still round to one unit over it: u103; in the block of the last observation: u106)."""
        capped = self.cap(asset)
        if capped is not None:
            move_bps = max(-capped[1], min(capped[1], move_bps))
        self.push(f"settle-refresh[{asset}]", self.submitter(0, True), asset, move_bps)

    def prove_fixings(self, sender: str, ids: list[int]) -> None:
        """`fix`, with the right hints, of every fixing the expired active policies among `ids`
        need and the oracle has not stored (it may fail: no feed, a feed younger than the
        window)."""
        oracle, burn = self.py.oracle, self.t.burn
        for pid in sorted(set(ids)):
            p = self.py.registry.policy(pid)
            if p is None or p["status"] != 0 or p["expiration"] > burn:
                continue
            expiry = p["expiration"]
            for asset in ("BTC-USD", "STX-USD") if p["token"] == 0 else ("BTC-USD",):
                if (asset, expiry) in oracle.fixings:
                    continue
                hints = (
                    oracle.in_force(asset, expiry - FIXING_WINDOW),
                    oracle.in_force(asset, expiry),
                )
                self.fixed.add((asset, expiry))
                self.call("fix[settler]", sender, "oracle", "fix", StringAscii(asset),
                          UInt(expiry), *(UInt(h or 0) for h in hints))  # fmt: skip

    def do_settle(self, op: Settle) -> None:
        if op.wait:
            count = self.policy_count()
            pending = [self.py.registry.policy(pid) for pid in range(1, count + 1)]
            ends = [p["expiration"] for p in pending if p["status"] == 0]
            if ends:
                n = min(200, max(0, min(ends) - self.t.burn + op.wait - 1))
                if n:
                    self.do_mine(Mine(n))
        if op.refresh in ("btc", "both"):
            self.refresh("BTC-USD", op.btc_move_bps)
        if op.refresh in ("stx", "both"):
            self.refresh("STX-USD", op.stx_move_bps)
        if op.front_run:
            self.front_run()
        sender = self.holder("policy-registry", "backend", op.who, op.role)
        ids = self.settle_ids(op)
        if op.prove:
            self.prove_fixings(sender, ids)
        before = {pid: self.py.registry.policy(pid) for pid in set(ids)}
        result = self.call(
            f"settle[{op.ids}]",
            sender,
            "policy-registry",
            "settle-policies",
            List(tuple(UInt(i) for i in ids)),
            self.sbtc,
        )
        if not isinstance(result, Ok) or not isinstance(result.value, Tuple):
            return
        for name in ("settled", "expired", "deferred", "skipped"):
            n = result.value.data[name].value
            if n:
                self.record("settlement", name)
        for pid, old in before.items():
            new = self.py.registry.policy(pid)
            if old is None or new is None or old["status"] != 0 or new["status"] == 0:
                continue
            if new["payout"] == 0:
                self.record("policy", "expired (no payout)")
            elif new["paid"] != new["payout"]:
                self.record("policy", "paid less than its payout")  # v2 forbids it
            elif new["payout"] == new["collateral"]:
                self.record("policy", "paid its cap")
            else:
                self.record("policy", "paid in full")
        for pid in ids:
            p = self.py.registry.policy(pid)
            if p is not None and p["status"] == 0 and p["expiration"] <= self.t.burn:
                self.record("policy", "deferred")

    # -- parameters and administration --

    def do_setpaused(self, op: SetPaused) -> None:
        # pausing is also the guardian's; unpausing the admin's alone
        var = "guardian" if op.paused and op.who % 2 else "admin"
        sender = self.holder("policy-registry", var, op.who, op.role)
        self.call(
            "set-paused", sender, "policy-registry", "set-paused", TRUE if op.paused else FALSE
        )

    def do_setparameter(self, op: SetParameter) -> None:
        sender = self.holder("parameters", "admin", op.who, op.role)
        if op.key in self.py.parameters.values:
            self.keys_touched.add(op.key)
        self.call(
            f"queue-parameter[{op.key}]",
            sender,
            "parameters",
            "queue-parameter",
            StringAscii(op.key),
            UInt(op.value),
        )

    def admin_args(self, op: Admin) -> tuple[ClarityValue, ...]:
        account = self.t.accounts[ACCOUNTS[op.arg % len(ACCOUNTS)]]
        # role changes go back to the deployer half of the time, so sequences stay drivable
        person = self.t.deployer if op.arg % 2 else account
        f = op.function
        if f in ("queue-submitter", "remove-submitter"):
            self.submitters_touched.add(self.name_of(account) or "deployer")
            return (account,)
        if f == "queue-setting":
            key = ORACLE_SETTINGS[op.arg % len(ORACLE_SETTINGS)]
            value = [0, 1, 100, 500, 1_000, 1_001, 5_000, 5_001, 6, 144, 145][op.arg % 11]
            return StringAscii(key), UInt(value)
        if f == "queue-backend":
            return (person,)
        if f == "queue-role":
            return StringAscii(["admin", "guardian", "admins"][op.arg % 3]), person
        if f == "init-guardian":
            return (account,)
        if f in ("set-quote-pubkey", "queue-quote-pubkey"):
            options = [
                QUOTE_KEY.public_key,
                QUOTE_KEY.public_key,
                OTHER_KEY.public_key,
                bytes(33),
                QUOTE_KEY.public_key[:32],
                b"\x05" + QUOTE_KEY.public_key[1:],
            ]
            return (Buffer(options[op.arg % len(options)]),)
        raise AssertionError(f)

    def do_admin(self, op: Admin) -> None:
        sender = self.holder(op.contract, "admin", op.who, op.role)
        args = self.admin_args(op)
        self.call(f"{op.contract}.{op.function}", sender, op.contract, op.function, *args)

    def do_govern(self, op: Govern) -> None:
        contract, function, queue = GOVERN_ACTIONS[op.action]
        var = "guardian" if op.who % 2 else "admin"
        sender = self.holder(contract, var, op.who, op.role)
        args: tuple[ClarityValue, ...] = ()
        if queue is not None:
            keys = self._live(*queue.split(".")) or ["min-duration", "admin", "max-age"]
            args = (StringAscii(keys[op.pick % len(keys)]),)
        self.call(f"govern[{op.action}]", sender, contract, function, *args)
