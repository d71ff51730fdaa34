"""PoolActor: mirrors the tranches, watches their health, reports; moves nothing.

Every pool event carries the tranche's state after it, so the mirror is a copy, not a sum that
could drift. Protocol v2: the chain keeps each tranche's lock at exactly its unsettled
policies' collateral, so there is no lock to manage (v1's `set-locked` is gone). The actor
computes the coverage at current prices (the cover the active policies were sold with, over
what the tranche holds), tells the registry the tranche view it quotes against (so it stops
quoting a tranche whose utilisation would pass its cap), and records a tranche's coverage
falling below 1 and recovering. It also follows each tranche's pending withdrawals (their
shares keep sharing premiums and payouts, but purchases may not use their value), so the view
it sends says how much is really free.
"""

from __future__ import annotations

from actors.base import ServiceActor, handles
from actors.messages import (
    NewBlock,
    PoolState,
    PriceUpdate,
    TrancheView,
)
from actors.params import follow, read_parameters
from chain.clarity import Some, Tuple, UInt, principal
from chain.contracts import TOKEN_UNIT, TRANCHES, Contracts, token_price_asset
from chain.port import Chain, EventLog, StorePort
from risk.pricing import max_payout_usd_units

PARAMETERS = ("collateral-ratio-0", "collateral-ratio-1", "collateral-ratio-2")
POOL_STATE_EVENTS = ("deposit", "withdraw-requested", "withdraw", "locked", "released", "payout")
SHARE_EVENTS = ("deposit", "withdraw-requested", "withdraw")


class PoolActor(ServiceActor):
    def __init__(
        self,
        chain: Chain,
        store: StorePort,
        log: EventLog,
        contracts: Contracts,
    ):
        super().__init__(chain, store, log, contracts)
        self.params: dict[str, int] = {}
        self.state: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.need_usd: dict[tuple[int, int], int] = dict.fromkeys(TRANCHES, 0)
        self.policies: dict[int, tuple[tuple[int, int], int]] = {}  # id -> (tranche, usd need)
        self.prices: dict[str, int] = {}
        self.undercovered: set[tuple[int, int]] = set()
        self.burn_height = 0
        self.pending: dict[tuple[int, int], int] = dict.fromkeys(TRANCHES, 0)  # shares

    def on_start(self) -> None:
        self.params = read_parameters(self.chain, self.contracts, PARAMETERS)
        self.burn_height = self.chain.tip().burn_height
        for token, tier in TRANCHES:
            t = self.chain.read_only(self.contracts.pool, "get-tranche", [UInt(token), UInt(tier)])
            assert isinstance(t, Tuple)
            self.state[(token, tier)] = (
                t["total-assets"].value,  # type: ignore[attr-defined]
                t["total-shares"].value,  # type: ignore[attr-defined]
                t["locked"].value,  # type: ignore[attr-defined]
            )
            self._read_pending((token, tier))

    @handles(PriceUpdate)
    def price(self, msg: PriceUpdate) -> None:
        self.prices[msg.asset] = msg.price

    def required(self, tranche: tuple[int, int]) -> int:
        """Collateral the tranche's active policies need now, in token units (0 without a
        price)."""
        price = self.prices.get(token_price_asset(tranche[0]))
        if not price:
            return 0
        return self.need_usd[tranche] * TOKEN_UNIT[tranche[0]] // price

    def view(self) -> PoolState:
        return PoolState(
            self.burn_height,
            tuple(
                TrancheView(
                    token,
                    tier,
                    *self.state[(token, tier)],
                    self.required((token, tier)),
                    self.pending[(token, tier)],
                )
                for token, tier in TRANCHES
            ),
        )

    @handles(NewBlock)
    def block(self, msg: NewBlock) -> None:
        self.burn_height = msg.burn_height
        pool, registry = self.contracts.pool.address, self.contracts.registry.address
        changed = set()
        for e in msg.prints:
            name, source = e["event"], e["_contract"]
            if source == pool and name in POOL_STATE_EVENTS:
                key = (e["token"], e["tier"])
                self.state[key] = (e["total-assets"], e["total-shares"], e["locked"])
                changed.add(key)
                if name in SHARE_EVENTS:
                    self._read_pending(key)
                    # the provider's history, kept (the API reads it; (txid, index) dedupes a
                    # block handed over again after a restart)
                    who = e["provider"]
                    self.store.flows.add(
                        name, who, key[0], key[1], e.get("amount", 0), e["shares"], e["epoch"],
                        e["_txid"], e["_index"], e["_block"], e["_burn"], e.get("ready-at"),
                    )  # fmt: skip
                if name in ("withdraw-requested", "withdraw"):
                    pending = self.chain.read_only(
                        self.contracts.pool, "get-pending",
                        [UInt(key[0]), UInt(key[1]), principal(who)],
                    )  # fmt: skip
                    if isinstance(pending, Some) and isinstance(pending.value, Tuple):
                        p = {
                            k: v.value for k, v in pending.value.data.items() if isinstance(v, UInt)
                        }
                        self.store.withdrawals.set(
                            key[0], key[1], who, p["shares"], p["value"], p["ready-at"], p["epoch"]
                        )
                    else:  # completed: nothing pending
                        self.store.withdrawals.set(key[0], key[1], who, 0, 0, 0, e["epoch"])
                if name in SHARE_EVENTS:  # a request moves shares to pending, too
                    got = self.chain.read_only(
                        self.contracts.pool,
                        "get-shares",
                        [UInt(key[0]), UInt(key[1]), principal(e["provider"])],
                    )
                    assert isinstance(got, UInt)  # get-shares: a uint, u0 when none
                    shares = got.value
                    self.store.shares.set(key[0], key[1], e["provider"], shares)
            elif source == registry and name == "policy-purchased":
                key = (e["token"], e["tier"])
                ratio = self.params[f"collateral-ratio-{e['tier']}"]
                need = max_payout_usd_units(e["strike"], e["amount"]) * ratio // 10_000
                self.policies[e["id"]] = (key, need)
                self.need_usd[key] += need
            elif source == registry and name in ("policy-settled", "policy-expired"):
                found = self.policies.pop(e["id"], None)
                if found is not None:
                    self.need_usd[found[0]] -= found[1]
            elif name == "parameter-set":
                follow(self.params, e)
        for key in sorted(changed):
            self.store.tranches.snapshot(msg.burn_height, key[0], key[1], *self.state[key])
        self._watch()
        if self.peers is not None:
            state = self.view()
            self.peers.registry.tell(state)
            if self.peers.observer is not None:
                self.peers.observer.tell(state)

    def _read_pending(self, key: tuple[int, int]) -> None:
        """The tranche's pending shares of its current epoch, as the chain counts them (a
        request, a completion or a deposit opening a new epoch changes them)."""
        v = self.chain.read_only(self.contracts.pool, "get-vault", [UInt(key[0]), UInt(key[1])])
        assert isinstance(v, Tuple)  # get-vault: the vault, EMPTY-VAULT when none
        self.pending[key] = v["pending"].value  # type: ignore[attr-defined]

    def _watch(self) -> None:
        """Records each tranche whose coverage (assets over the cover its active policies were
        sold with, at current prices) falls below 1, and when it recovers."""
        for key in TRANCHES:
            need = self.required(key)
            low = need > 0 and self.state[key][0] < need
            if low != (key in self.undercovered):
                self.undercovered ^= {key}
                event = "coverage-low" if low else "coverage-restored"
                self.log.record(event, token=key[0], tier=key[1], assets=self.state[key][0],
                                required=need)  # fmt: skip
