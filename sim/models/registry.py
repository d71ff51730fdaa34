"""Model of `policy-registry.clar`: signed-quote purchases and batched settlement.

Protocol v2: the collateral is computed at purchase from the latest token price and locked for
the policy alone; the payout is `min(claim, collateral)` at the oracle's stored fixings of the
policy's expiration (a grid point), so it depends on the expiration alone; the premium must
clear the intrinsic value, the token's minimum and the capital charge; anyone may settle.
"""

from __future__ import annotations

from chain import keys
from chain.clarity import NONE, TRUE, Bool, Buffer, Principal, Some, Tuple, UInt
from chain.protocol import BLOCKS_PER_YEAR, BTC_USD, PRICE_SCALE, STX, STX_USD, TOKEN_UNIT
from chain.quotes import DEVNET_DOMAIN, quote_hash
from sim.models.base import (
    Contract,
    ContractErr,
    Ctx,
    add,
    div,
    mul,
    p_bool,
    p_buff,
    p_principal,
    p_trait,
    p_tuple,
    p_uint,
    p_uint_list,
    public,
    read_only,
    sub,
)
from sim.models.oracle import EXPIRY_INTERVAL
from sim.models.parameters import ChangeQueue, QueueErrors

ERR_NOT_ADMIN = 300
ERR_PAUSED = 301
ERR_NOT_BUYER = 302
ERR_BAD_SIGNATURE = 303
ERR_QUOTE_EXPIRED = 304
ERR_QUOTE_USED = 305
ERR_BAD_TERMS = 306
ERR_BAD_DURATION = 307
ERR_BAD_AMOUNT = 308
ERR_NO_PRICE = 309
ERR_BAD_STRIKE = 310
ERR_STALE_PRICE = 317
ERR_BELOW_INTRINSIC = 318
ERR_BELOW_MIN_PREMIUM = 319
ERR_BELOW_CAPITAL_CHARGE = 320
ERR_OFF_GRID = 321
ERR_NOT_GUARDIAN = 340
ERR_QUEUED = 341
ERR_NOT_QUEUED = 342
ERR_NOT_READY = 343
ERR_LAPSED = 344
ERR_KEY_SET = 345
ERR_SHUTDOWN = 346
ZERO_KEY = bytes(33)  # no quote verifies
ERR_WRONG_REGISTRY = 330
ERR_QUOTE_STALE = 331
ERR_QUOTE_TOO_LONG = 332
ERR_NO_RECENT_PRICE = 333
ERR_SLIPPAGE = 334
SKIP_UNKNOWN = 312
SKIP_NOT_ACTIVE = 313
SKIP_NOT_EXPIRED = 314
DEFER_BTC_FIXING = 322
DEFER_STX_FIXING = 323

ACTIVE, SETTLED, EXPIRED = 0, 1, 2

p_quote = p_tuple(
    amount=p_uint,
    buyer=p_principal,
    collateral=p_uint,
    expiration=p_uint,
    premium=p_uint,
    quote_expiry=p_uint,
    quote_id=p_uint,
    registry=p_principal,
    spot=p_uint,
    strike=p_uint,
    tier=p_uint,
    token=p_uint,
    valid_until=p_uint,
)
# The registry's SIP-018 domain as deployed here: the simnet's `chain-id` is testnet's
DOMAIN = DEVNET_DOMAIN

POLICY_FIELDS = (
    "owner",
    "amount",
    "strike",
    "expiration",
    "premium",
    "collateral",
    "token",
    "tier",
    "status",
    "payout",
    "paid",
    "price",
    "ratio",
)


def div_up(a: int, b: int) -> int:
    """ceil(a / b) as the contract computes it: `(/ (+ a (- b u1)) b)`."""
    return div(add(a, sub(b, 1)), b)


class Registry(Contract):
    name = "policy-registry"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.policies = self.state.map("registry/policies")  # id -> tuple in POLICY_FIELDS order
        self.used_quotes = self.state.map("registry/used-quotes")
        self.vars.update(
            backend=deployer, quote_pubkey=ZERO_KEY, quote_key_set=False, paused=False, count=0
        )
        errors = QueueErrors(ERR_QUEUED, ERR_NOT_QUEUED, ERR_NOT_READY, ERR_LAPSED)
        self.queued_keys = ChangeQueue(self, "keys", errors, Buffer)
        self.queued_backends = ChangeQueue(self, "backends", errors, lambda who: who)

    def policy(self, policy_id: int) -> dict | None:
        row = self.policies.get(policy_id)
        return None if row is None else dict(zip(POLICY_FIELDS, row, strict=True))

    # -- purchase --

    @public(p_quote, p_buff(65), p_trait)
    def purchase_policy(self, ctx: Ctx, quote: Tuple, signature: bytes, ft):
        q = {k: v.value if isinstance(v, UInt) else v for k, v in quote.data.items()}
        if self.var("paused"):
            raise ContractErr(ERR_PAUSED)
        if self.world.parameters.shut_down():
            raise ContractErr(ERR_SHUTDOWN)
        if ctx.sender != q["buyer"]:
            raise ContractErr(ERR_NOT_BUYER)
        if not keys.verify(quote_hash(quote, DOMAIN), signature, self.var("quote_pubkey")):
            raise ContractErr(ERR_BAD_SIGNATURE)
        if q["registry"] != self.principal:
            raise ContractErr(ERR_WRONG_REGISTRY)
        now = ctx.burn_height
        if now > q["quote-expiry"]:
            raise ContractErr(ERR_QUOTE_EXPIRED)
        if ctx.time > q["valid-until"]:
            raise ContractErr(ERR_QUOTE_STALE)
        if q["valid-until"] > add(ctx.time, self.world.parameters.get("quote-ttl-seconds")):
            raise ContractErr(ERR_QUOTE_TOO_LONG)
        if self.used_quotes.get(q["quote-id"], False):
            raise ContractErr(ERR_QUOTE_USED)
        token, tier = q["token"], q["tier"]
        if token > 1 or tier > 2 or q["premium"] == 0 or q["collateral"] == 0:
            raise ContractErr(ERR_BAD_TERMS)
        params = self.world.parameters
        if q["expiration"] <= now:
            raise ContractErr(ERR_BAD_DURATION)
        duration = q["expiration"] - now
        if not params.get("min-duration") <= duration <= params.get("max-duration"):
            raise ContractErr(ERR_BAD_DURATION)
        if q["expiration"] % EXPIRY_INTERVAL:  # one fixing serves every policy of a grid point
            raise ContractErr(ERR_OFF_GRID)
        if not params.get("min-amount") <= q["amount"] <= params.get("max-amount"):
            raise ContractErr(ERR_BAD_AMOUNT)
        found = self.world.oracle.price_of(BTC_USD)
        if found is None:
            raise ContractErr(ERR_NO_PRICE)
        spot, band, strike = found[0], params.get("strike-band-bps"), q["strike"]
        if now > add(found[1], params.get("quote-price-blocks")):
            raise ContractErr(ERR_NO_RECENT_PRICE)
        quoted = q["spot"]
        if mul(abs(spot - quoted), 10000) > mul(quoted, params.get("quote-slippage-bps")):
            raise ContractErr(ERR_SLIPPAGE)
        if add(mul(strike, 10000), mul(spot, band)) < mul(spot, 10000) or mul(strike, 10000) > mul(
            spot, add(10000, band)
        ):
            raise ContractErr(ERR_BAD_STRIKE)
        price = self._token_price(token, found, now)
        unit, amount, premium = TOKEN_UNIT[token], q["amount"], q["premium"]
        ratio = params.get(f"collateral-ratio-{tier}")
        cover = div(mul(div(mul(strike, amount), PRICE_SCALE), ratio), 10000)
        locks = max(q["collateral"], div_up(mul(cover, unit), price))
        intrinsic = div(mul(strike - spot, amount), PRICE_SCALE) if strike > spot else 0
        if premium < div_up(mul(intrinsic, unit), price):
            raise ContractErr(ERR_BELOW_INTRINSIC)
        if premium < params.get(f"min-premium-{token}"):
            raise ContractErr(ERR_BELOW_MIN_PREMIUM)
        charge = div_up(
            mul(mul(locks, params.get("capital-rate-bps")), duration), mul(10000, BLOCKS_PER_YEAR)
        )
        if premium < charge:
            raise ContractErr(ERR_BELOW_CAPITAL_CHARGE)
        self.world.pool.lock_for_policy(
            ctx.calling(self.principal), ft, token, tier, premium, locks, q["expiration"]
        )
        policy_id = add(self.var("count"), 1)
        row = (q["buyer"], amount, strike, q["expiration"], premium, locks, token, tier)
        self.state.set(self.policies, policy_id, (*row, ACTIVE, 0, 0, 0, ratio))
        self.set_var("count", policy_id)
        self.state.set(self.used_quotes, q["quote-id"], True)
        self.print(
            ctx,
            "policy-purchased",
            id=UInt(policy_id),
            owner=q["buyer"],
            amount=UInt(q["amount"]),
            strike=UInt(strike),
            expiration=UInt(q["expiration"]),
            premium=UInt(q["premium"]),
            collateral=UInt(locks),
            token=UInt(token),
            tier=UInt(tier),
            quote_id=UInt(q["quote-id"]),
        )
        return UInt(policy_id)

    def _token_price(self, token: int, btc: tuple[int, int], now: int) -> int:
        """The latest price of the token's feed, at most `price-max-age` blocks old."""
        found = btc if token != STX else self.world.oracle.price_of(STX_USD)
        if found is None:
            raise ContractErr(ERR_NO_PRICE)
        if sub(now, found[1]) > self.world.parameters.get("price-max-age"):
            raise ContractErr(ERR_STALE_PRICE)
        return found[0]

    # -- settlement --

    def _fixing(self, asset: str, expiration: int) -> int | None:
        """The oracle's stored fixing of (asset, expiration), as `get-fixing` reads it."""
        found = self.world.oracle.fixings.get((asset, expiration))
        return None if found is None else found.price

    @public(p_uint_list(50), p_trait)
    def settle_policies(self, ctx: Ctx, ids: list[int], ft):
        """Callable by anyone: a payout depends on the policy and its expiration's fixings."""
        counts = {"settled": 0, "expired": 0, "deferred": 0, "skipped": 0}
        for policy_id in ids:
            counts[self._settle_one(ctx, policy_id, ft)] += 1
        return Tuple({k: UInt(v) for k, v in counts.items()})

    def _settle_one(self, ctx: Ctx, policy_id: int, ft) -> str:
        now = ctx.burn_height
        row = self.policies.get(policy_id)
        reason = None
        if row is None:
            reason = SKIP_UNKNOWN
        elif row[8] != ACTIVE:
            reason = SKIP_NOT_ACTIVE
        elif now < row[3]:
            reason = SKIP_NOT_EXPIRED
        if reason is not None:
            self.print(ctx, "settlement-skipped", id=UInt(policy_id), reason=UInt(reason))
            return "skipped"
        owner, amount, strike, expiration, _premium, collateral, token, tier = row[:8]
        price = self._fixing(BTC_USD, expiration)
        token_price = price if token != STX else self._fixing(STX_USD, expiration)
        if price is None or token_price is None:
            reason = DEFER_BTC_FIXING if price is None else DEFER_STX_FIXING
            self.print(ctx, "settlement-deferred", id=UInt(policy_id), reason=UInt(reason))
            return "deferred"
        payout_usd = div(mul(strike - price, amount), PRICE_SCALE) if strike > price else 0
        claim = div(mul(payout_usd, TOKEN_UNIT[token]), token_price)
        payout = min(claim, collateral)
        inner = ctx.calling(self.principal)
        paid = 0
        if payout > 0:
            paid = self.world.pool.pay_out(inner, ft, token, tier, policy_id, payout, owner).value
        self.world.pool.release_for_policy(inner, token, tier, collateral, expiration)
        status = SETTLED if payout > 0 else EXPIRED
        self.state.set(self.policies, policy_id, (*row[:8], status, payout, paid, price, *row[12:]))
        if status == SETTLED:
            self.print(
                ctx,
                "policy-settled",
                id=UInt(policy_id),
                owner=owner,
                price=UInt(price),
                token_price=UInt(token_price),
                payout=UInt(payout),
                paid=UInt(paid),
                claim=UInt(claim),
                token=UInt(token),
                tier=UInt(tier),
            )
            return "settled"
        self.print(
            ctx,
            "policy-expired",
            id=UInt(policy_id),
            price=UInt(price),
            token_price=UInt(token_price),
            token=UInt(token),
            tier=UInt(tier),
        )
        return "expired"

    # -- admin (protocol v2: queued; the guardian only reduces) --

    def _admin(self, ctx: Ctx) -> None:
        if not self.world.parameters.admin(ctx.caller):  # contract-caller; role in .parameters
            raise ContractErr(ERR_NOT_ADMIN)

    def _guardian(self, ctx: Ctx) -> None:
        if not self.world.parameters.guardian(ctx.caller):
            raise ContractErr(ERR_NOT_GUARDIAN)

    def _set_key(self, ctx: Ctx, key: bytes) -> None:
        self.set_var("quote_key_set", True)
        self.set_var("quote_pubkey", key)
        self.print(ctx, "quote-pubkey-set", key=Buffer(key))

    @public(p_buff(33))
    def set_quote_pubkey(self, ctx: Ctx, key: bytes):
        """The deployment step: the first key, at once and only once."""
        self._admin(ctx)
        if self.var("quote_key_set"):
            raise ContractErr(ERR_KEY_SET)
        if len(key) != 33:  # secp256k1-verify takes exactly a compressed key
            raise ContractErr(ERR_BAD_TERMS)
        self._set_key(ctx, key)
        return TRUE

    @public(p_buff(33))
    def queue_quote_pubkey(self, ctx: Ctx, key: bytes):
        self._admin(ctx)
        if len(key) != 33:
            raise ContractErr(ERR_BAD_TERMS)
        return UInt(self.queued_keys.queue(ctx, "quote-pubkey", key))

    @public()
    def apply_quote_pubkey(self, ctx: Ctx):
        self._set_key(ctx, self.queued_keys.take(ctx, "quote-pubkey"))
        return TRUE

    @public()
    def cancel_quote_pubkey(self, ctx: Ctx):
        self._guardian(ctx)
        self.queued_keys.cancel(ctx, "quote-pubkey")
        return TRUE

    @public()
    def zero_quote_pubkey(self, ctx: Ctx):
        self._guardian(ctx)
        self._set_key(ctx, ZERO_KEY)
        return TRUE

    @public(p_principal)
    def queue_backend(self, ctx: Ctx, who: Principal):
        self._admin(ctx)
        return UInt(self.queued_backends.queue(ctx, "backend", who))

    @public()
    def apply_backend(self, ctx: Ctx):
        who = self.queued_backends.take(ctx, "backend")
        self.set_var("backend", who)
        self.print(ctx, "backend-set", who=who)
        return TRUE

    @public()
    def cancel_backend(self, ctx: Ctx):
        self._guardian(ctx)
        self.queued_backends.cancel(ctx, "backend")
        return TRUE

    @public(p_bool)
    def set_paused(self, ctx: Ctx, paused: bool):
        """Pausing (the admin or the guardian) and unpausing (the admin) act at once."""
        if paused:
            self._guardian(ctx)
        else:
            self._admin(ctx)
        self.set_var("paused", paused)
        return TRUE

    @read_only()
    def get_queued_quote_pubkey(self):
        return self.queued_keys.read("quote-pubkey")

    @read_only()
    def get_queued_backend(self):
        return self.queued_backends.read("backend")

    @read_only()
    def get_quote_pubkey(self):
        return Buffer(self.var("quote_pubkey"))

    # -- read-only --

    @read_only(p_uint)
    def get_policy(self, policy_id: int):
        p = self.policy(policy_id)
        if p is None:
            return NONE
        return Some(Tuple({k: v if k == "owner" else UInt(v) for k, v in p.items()}))

    @read_only()
    def get_policy_count(self):
        return UInt(self.var("count"))

    @read_only(p_uint)
    def is_quote_used(self, quote_id: int):
        return Bool(self.used_quotes.get(quote_id, False))

    @read_only(p_quote)
    def get_quote_hash(self, quote: Tuple):
        return Buffer(quote_hash(quote, DOMAIN))

    @read_only()
    def get_block_time(self):
        return UInt(self.world.clock.time())

    @read_only()
    def get_backend(self):
        return self.var("backend")

    @read_only()
    def is_paused(self):
        return Bool(self.var("paused"))
