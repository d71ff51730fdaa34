"""The engine's HTTP API (FastAPI on uvicorn, in the engine's own process), versioned under /v1.

FastAPI rather than bare Starlette: the API's contract is its OpenAPI schema (checked into
`ops/openapi.json` and compared with the served one by a test), and FastAPI derives it from
the same pydantic models that validate every input, so the schema cannot drift from the checks.
It runs on Starlette, so the middleware (CORS, body limit) is Starlette's.

What it may touch: quotes go to the Registry actor as a message (reservations and quote ids stay
the actor's); unsigned payloads are built by `chain.payloads`; reads go to the store through
read-only async connections (`live/reads.py`); the Registry's live view (prices, volatility,
parameters, tranche coverage) is read through its pykka proxy. It never signs, never writes the
store, and never sees a key: the signer's keys stay inside the Signer actor.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from actors.messages import QuoteOffer, QuoteRefused, QuoteRequest
from chain import payloads
from chain.clarity import StandardPrincipal, principal
from chain.contracts import BTC_USD, SBTC, STX, STX_USD
from chain.node import NodeError, NodeUnavailable
from chain.protocol import BLOCKS_PER_YEAR
from live.auth import SignInRefused
from live.limits import BodyLimit, retry_after
from live.metrics import CONTENT_TYPE
from live.providers import PendingView, pending_views, pnl
from live.reads import TrancheRow
from live.responses import (
    HealthOut,
    PoliciesOut,
    PolicyOut,
    PoolOut,
    PositionsOut,
    PricesOut,
    ProviderOut,
    ReadyOut,
    StatusOut,
)
from store.schema import FlowKind, PolicyStatus

API_VERSION = "1"
TOKENS = {"stx": STX, "sbtc": SBTC}
TOKEN_TEXT = {v: k for k, v in TOKENS.items()}
STATUS = {s.label: int(s) for s in PolicyStatus}
STATUS_TEXT = {int(s): s.label for s in PolicyStatus}
YEAR_BLOCKS = BLOCKS_PER_YEAR
TRAILING_BLOCKS = 4_320  # premium yield over the last 30 days of burn blocks
QUOTE_TIMEOUT = 10.0


class ApiError(Exception):
    """An answer other than 200, with a machine-readable `error` and a one-line `detail`."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = status, error, detail, extra
        self.headers: dict[str, str] = {}


def invalid(name: str, detail: str) -> ApiError:
    return ApiError(400, "invalid", f"{name}: {detail}")


# -- request models ----------------------------------------------------------------------------

Token = Literal["stx", "sbtc"]
Tier = Annotated[int, Field(ge=0, le=2)]
Positive = Annotated[int, Field(gt=0, lt=2**128)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QuoteIn(_In):
    buyer: str = Field(description="the buyer's Stacks address (ST… or SP…)")
    amount_sats: Positive = Field(description="BTC protected, in satoshis")
    strike: Positive = Field(description="strike in price units (USD x 1e8)")
    expiration: Positive = Field(description="expiry as a burn block height")
    token: Token = Field(description="settlement token")
    tier: Tier | None = Field(None, description="tranche tier; default: the tier of the strike")


class DepositIn(_In):
    sender: str
    token: Token
    tier: Tier
    amount: Positive = Field(description="token units (micro-STX or sats of sBTC)")


class WithdrawRequestIn(_In):
    sender: str
    token: Token
    tier: Tier
    shares: Positive


class WithdrawCompleteIn(_In):
    sender: str
    token: Token
    tier: Tier


class ChallengeIn(_In):
    principal: str


class SessionIn(_In):
    nonce: Annotated[str, Field(pattern="^[0-9a-f]{32}$")]
    signature: Annotated[str, Field(pattern="^(0x)?[0-9a-fA-F]{130}$")]


# -- response models (the schema a front end codes against) -----------------------------------


class ErrorOut(BaseModel):
    error: str = Field(description="machine-readable: invalid, quote-refused, rate-limited, ...")
    detail: str = Field(description="one line naming the field or the cause")
    reason: str | None = Field(None, description="quote-refused and sign-in-refused: why")
    allowed: dict[str, dict[str, Any]] | None = Field(
        None, description="quote-refused for bounds: the allowed range of the field"
    )


class QuoteTerms(BaseModel):
    quote_id: str
    buyer: str
    amount_sats: str
    strike: str
    expiration: int
    premium: str = Field(description="token units the buyer pays")
    collateral: str = Field(description="token units locked for the policy")
    token: Token
    tier: int
    quote_expiry: int = Field(description="last burn height at which the quote is accepted")
    registry: str = Field(description="the registry contract that accepts it (SIP-018 quote)")
    spot: str = Field(
        description="BTC-USD it was priced at (USD x 1e8); the purchase needs the chain's latest "
        "observation within quote-slippage-bps of it"
    )
    valid_until: int = Field(
        description="stacks-block-time (unix seconds) after which the registry refuses it"
    )


class PayloadOut(BaseModel):
    payload: dict[str, Any] = Field(
        description="the unsigned contract call (Stacks Connect / @stacks/transactions options: "
        "hex Clarity arguments, post-conditions in deny mode)"
    )


class QuoteOut(PayloadOut):
    quote: QuoteTerms
    signature: str = Field(description="the quote key's 65-byte signature, hex")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "invalid input"},
    413: {"model": ErrorOut, "description": "body too large"},
}
SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no session, or an expired one"}
}
SHARE_PRICE_POINTS = 500  # the most snapshots per tranche in a provider's share-price history


def _validation_is_400(doc: dict[str, Any]) -> dict[str, Any]:
    """FastAPI lists a 422 HTTPValidationError on every route with a body or parameters, but
    this API answers invalid input with 400 and ErrorOut (the handler in create_app): list that
    instead, and keep 422 only where a route says what it means (a refused quote)."""
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    for operations in doc["paths"].values():
        for op in operations.values():
            responses = op["responses"]
            schema = responses.get("422", {}).get("content", {}).get("application/json", {})
            if schema.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
                responses.setdefault(
                    "400",
                    {
                        "description": "invalid input",
                        "content": {"application/json": {"schema": error_ref}},
                    },
                )
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return doc


# -- the engine side the API talks to ----------------------------------------------------------


@dataclass
class Health:
    """What the engine's loop saw last: the node's answers (clock times)."""

    last_poll_ok: float | None = None
    last_poll_error: float | None = None
    last_error: str = ""
    no_quorum_at: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryView:
    params: dict[str, int]
    burn_height: int
    onchain: dict[str, tuple[int, int]]
    prices: dict[str, Any]  # asset -> PriceUpdate
    tranches: dict[tuple[int, int], Any]  # (token, tier) -> TrancheView
    quote_ttl_blocks: int


class _Reply:
    """The `reply_to` of a QuoteRequest: hands the actor's answer to the waiting request."""

    __slots__ = ("fut", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future):
        self.loop, self.fut = loop, fut

    def tell(self, message: Any) -> None:
        self.loop.call_soon_threadsafe(_resolve, self.fut, message)


def _resolve(fut: asyncio.Future, message: Any) -> None:
    if not fut.done():
        fut.set_result(message)


def _principal(name: str, text: str, service: Any) -> StandardPrincipal:
    try:
        p = principal(text) if isinstance(text, str) and text.isascii() else None
    except (ValueError, KeyError):
        p = None
    mainnet = service.config.network == "mainnet"
    versions = (22, 20) if mainnet else (26, 21)
    if not isinstance(p, StandardPrincipal) or p.version not in versions:
        prefix = "SP…" if mainnet else "ST…"
        raise invalid(name, f"{text!r} is not valid; allowed: a {prefix} Stacks address")
    return p


def _int(v: int) -> str:
    return str(v)


class Timed:
    """ASGI middleware: each request's latency by route template, method and status (plain
    ASGI rather than `@app.middleware`, which costs a task and a stream per request)."""

    def __init__(self, app: Any, histogram: Any):
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.histogram.labels(path, scope["method"], str(status[0])).observe(
                time.perf_counter() - start
            )


def create_app(service: Any) -> FastAPI:
    """The ASGI app of one engine; `service` is `live.service.Service`."""
    cfg = service.config.api
    app = FastAPI(
        title="BitHedge engine API",
        version=API_VERSION,
        description="Quotes, unsigned wallet payloads, pool and policy data, wallet sign-in and "
        "operations endpoints of one BitHedge engine. Amounts are integers in protocol units "
        "(sats, micro-STX, price units of USD x 1e8) sent as decimal strings.",
    )
    if cfg.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cfg.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    metrics = service.metrics

    app.add_middleware(Timed, histogram=metrics.http)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        body = {"error": exc.error, "detail": exc.detail, **exc.extra}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        msg = first.get("msg", "invalid")
        if first.get("type") == "extra_forbidden":
            msg = "unknown field"
        return JSONResponse({"error": "invalid", "detail": f"{where}: {msg}"}, status_code=400)

    @app.exception_handler(NodeUnavailable)
    @app.exception_handler(NodeError)
    async def node_error(_request: Request, exc: Exception) -> JSONResponse:
        detail = " ".join(str(exc).split())[:200]
        return JSONResponse({"error": "node-unavailable", "detail": detail}, status_code=503)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        # the type only: an exception's text may quote a URL with a password in it
        return JSONResponse({"error": "internal", "detail": type(exc).__name__}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
        return JSONResponse(
            {"error": error, "detail": str(exc.detail)}, status_code=exc.status_code
        )

    def client_address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def limit(limiter: Any, key: str, what: str) -> None:
        wait = limiter.take(key)
        if wait:
            err = ApiError(429, "rate-limited", f"too many {what}; retry later")
            err.headers["Retry-After"] = retry_after(wait)
            raise err

    async def session_principal(authorization: Annotated[str | None, Header()] = None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "unauthenticated", "Authorization: Bearer <session token> needed")
        s = service.auth.session(authorization[7:].strip())
        if s is None:
            raise ApiError(401, "unauthenticated", "the session is unknown or has expired")
        return s.principal

    # -- quotes and payloads --

    @app.post(
        "/v1/quotes",
        tags=["actions"],
        response_model=QuoteOut,
        responses={**ERRORS, 422: {"model": ErrorOut, "description": "quote refused"},
                   429: {"model": ErrorOut, "description": "rate limited (Retry-After)"}},
    )  # fmt: skip
    async def quote(body: QuoteIn, request: Request) -> dict[str, Any]:
        """A signed quote and the unsigned `purchase-policy` call the buyer's wallet signs,
        or 422 with the refusal's reason (and, for bounds, the allowed range)."""
        buyer = _principal("buyer", body.buyer, service)
        limit(service.quote_address_limit, client_address(request), "quotes from this address")
        limit(service.quote_principal_limit, buyer.address, "quotes for this principal")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        token = TOKENS[body.token]
        service.registry.tell(
            QuoteRequest(
                buyer,
                body.amount_sats,
                body.strike,
                body.expiration,
                token,
                _Reply(loop, fut),
                body.tier,
            )
        )
        try:
            answer = await asyncio.wait_for(fut, QUOTE_TIMEOUT)
        except TimeoutError:
            raise ApiError(503, "engine-busy", "the registry did not answer in time") from None
        if isinstance(answer, QuoteRefused):
            view = await service.registry_view()
            raise ApiError(
                422,
                "quote-refused",
                f"quote refused: {answer.reason}",
                reason=answer.reason,
                allowed=allowed_range(answer.reason, view),
            )
        assert isinstance(answer, QuoteOffer)
        await service.durable()  # its id survives a kill before it leaves
        q = answer.quote
        payload = payloads.purchase(service.config.contracts, q, answer.signature)
        return {
            "quote": {
                "quote_id": _int(q.quote_id),
                "buyer": q.buyer.address,
                "amount_sats": _int(q.amount),
                "strike": _int(q.strike),
                "expiration": q.expiration,
                "premium": _int(q.premium),
                "collateral": _int(q.collateral),
                "token": TOKEN_TEXT[q.token],
                "tier": q.tier,
                "quote_expiry": q.quote_expiry,
                "registry": q.registry.address,
                "spot": _int(q.spot),
                "valid_until": q.valid_until,
            },
            "signature": answer.signature.hex(),
            "payload": payload.to_json(service.config.tx_network),
        }

    @app.post("/v1/payloads/deposit", tags=["actions"], response_model=PayloadOut, responses=ERRORS)
    async def deposit(body: DepositIn) -> dict[str, Any]:
        """The unsigned `deposit` call, with a post-condition that it sends exactly `amount`."""
        sender = _principal("sender", body.sender, service)
        call = payloads.deposit(
            service.config.contracts, sender, TOKENS[body.token], body.tier, body.amount
        )
        return {"payload": call.to_json(service.config.tx_network)}

    @app.post(
        "/v1/payloads/withdraw/request",
        tags=["actions"],
        response_model=PayloadOut,
        responses=ERRORS,
    )
    async def withdraw_request(body: WithdrawRequestIn) -> dict[str, Any]:
        """Step 1 of a withdrawal (`request-withdraw`): the shares become pending, ready once
        every policy they back is settled; the call moves no tokens."""
        sender = _principal("sender", body.sender, service)
        call = await run_in_threadpool(
            service.withdraw_builders.request, sender, TOKENS[body.token], body.tier, body.shares
        )
        return {"payload": call.to_json(service.config.tx_network)}

    @app.post(
        "/v1/payloads/withdraw/complete",
        tags=["actions"],
        response_model=PayloadOut,
        responses=ERRORS,
    )
    async def withdraw_complete(body: WithdrawCompleteIn) -> dict[str, Any]:
        """Step 2 of a withdrawal (`complete-withdraw`), with the pool promising at least what
        the pending shares are worth now; 400 without a pending withdrawal."""
        sender = _principal("sender", body.sender, service)
        build = service.withdraw_builders.complete
        try:
            call = await run_in_threadpool(build, sender, TOKENS[body.token], body.tier)
        except ValueError as exc:  # nothing pending for this sender in this tranche
            raise ApiError(400, "no-pending-withdrawal", str(exc)) from None
        return {"payload": call.to_json(service.config.tx_network)}

    # -- reads --

    @app.get("/v1/prices", tags=["data"], response_model=PricesOut)
    async def prices(
        asset: Literal["BTC-USD", "STX-USD"] = BTC_USD,
        since: Annotated[float | None, Query(ge=0, description="Unix seconds")] = None,
        until: Annotated[float | None, Query(ge=0, description="Unix seconds")] = None,
    ) -> dict[str, Any]:
        """Latest on-chain and aggregated price, sources, realised volatility, and the
        aggregated history in [since, until] (default: the last day; at most 2000 points)."""
        now = service.clock()
        until_ = now if until is None else until
        since_ = until_ - 86_400 if since is None else since
        if since_ > until_:
            raise invalid("since", "must not be after until")
        view = await service.registry_view()
        latest = await service.reads.latest_price(asset)
        history = await service.reads.price_history(asset, since_, until_)
        onchain = view.onchain.get(asset)
        update = view.prices.get(asset)
        return {
            "asset": asset,
            "onchain": None
            if onchain is None
            else {
                "price": _int(onchain[0]),
                "height": onchain[1],
                "age_blocks": max(0, view.burn_height - onchain[1]),
            },
            "aggregated": None
            if latest is None
            else {
                "price": _int(latest[1]),
                "time": latest[0],
                "sources": latest[2],
                "age_seconds": max(0.0, now - latest[0]),
            },
            "sources": list(service.config.oracle.sources),
            "quorum": service.config.oracle.quorum,
            "volatility": None if update is None else update.vol,
            "history": [{"time": t, "price": _int(p), "sources": n} for t, p, n in history],
        }

    @app.get("/v1/pool", tags=["data"], response_model=PoolOut)
    async def pool() -> dict[str, Any]:
        """Every tranche: assets, shares, share price, locked, utilisation, coverage, trailing
        premium yield, and the shadow-risk forecast when one has run."""
        view = await service.registry_view()
        rows = await service.reads.tranches()
        premiums = await service.reads.premiums_since(view.burn_height - TRAILING_BLOCKS)
        out = []
        for t in rows:
            live = view.tranches.get((t.token, t.tier))
            coverage = None
            if live is not None and live.required:
                coverage = live.assets / live.required
            prem = premiums.get((t.token, t.tier), 0)
            out.append(
                {
                    "token": TOKEN_TEXT.get(t.token, str(t.token)),
                    "tier": t.tier,
                    "block": t.block,
                    "assets": _int(t.assets),
                    "shares": _int(t.shares),
                    "share_price": t.assets / t.shares if t.shares else None,
                    "locked": _int(t.locked),
                    "utilisation": t.locked / t.assets if t.assets else 0.0,
                    "coverage": coverage,
                    # shares asked for and not yet paid (the Pool actor's view): their value
                    # shares premiums and payouts but is not for new purchases
                    "pending_withdrawals": _int(live.pending) if live is not None else None,
                    "premiums_30d": _int(prem),
                    "premium_yield_annualised": (
                        prem / t.assets * YEAR_BLOCKS / TRAILING_BLOCKS if t.assets else 0.0
                    ),
                    "circuit_breaker_open": service.breaker_open(t.token, t.tier),
                }
            )
        requests = await pending_withdrawals(None, rows, view.burn_height)
        return {
            "burn_height": view.burn_height,
            "tranches": out,
            "withdrawal_requests": [pending_json(v) for v in requests],
            "risk": service.risk_report(),
        }

    def policy_json(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "owner": row["owner"],
            "amount_sats": _int(row["amount"]),
            "strike": _int(row["strike"]),
            "expiration": row["expiration"],
            "premium": _int(row["premium"]),
            "collateral": _int(row["collateral"]),
            "token": TOKEN_TEXT.get(row["token"], str(row["token"])),
            "tier": row["tier"],
            "quote_id": _int(row["quote_id"]),
            "status": STATUS_TEXT.get(row["status"], str(row["status"])),
            "payout": _int(row["payout"]),
            "paid": _int(row["paid"]),
            "settlement_price": _int(row["price"]),
            "purchased_block": row["purchased_block"],
            "settled_block": row["settled_block"],
        }

    async def list_policies(
        owner: str | None, status: str | None, limit_: int, after: int | None
    ) -> dict[str, Any]:
        code = None if status is None else STATUS[status]
        rows = await service.reads.policies(owner, code, limit_, after)
        items = [policy_json(r) for r in rows]
        nxt = items[-1]["id"] if len(items) == limit_ else None
        return {"policies": items, "next_after": nxt}

    @app.get("/v1/policies", tags=["data"], response_model=PoliciesOut)
    async def policies(
        owner: str | None = None,
        status: Literal["active", "settled", "expired"] | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        after: Annotated[
            int | None, Query(ge=0, description="last id of the previous page")
        ] = None,
    ) -> dict[str, Any]:
        """Policies, oldest first, optionally one owner's or of one status; paged by id."""
        if owner is not None:
            owner = _principal("owner", owner, service).address
        return await list_policies(owner, status, limit, after)

    @app.get(
        "/v1/policies/{policy_id}",
        tags=["data"],
        response_model=PolicyOut,
        responses={404: {"model": ErrorOut, "description": "no such policy"}},
    )
    async def policy(policy_id: Annotated[int, Path(ge=0, lt=2**63)]) -> dict[str, Any]:
        row = await service.reads.policy(policy_id)
        if row is None:
            raise ApiError(404, "not-found", f"policy_id: no policy {policy_id}")
        return policy_json(row)

    def pending_json(v: PendingView) -> dict[str, Any]:
        p, asked = v.pending, v.requested
        return {
            "provider": p.provider,
            "token": TOKEN_TEXT.get(p.token, str(p.token)),
            "tier": p.tier,
            "epoch": p.epoch,
            "shares": _int(p.shares),
            "value_at_request": _int(p.value),
            "value_now": None if v.payable is None else _int(v.payable),
            "requested_block": None if asked is None else asked.block,
            "requested_burn_height": None if asked is None else asked.burn_height,
            "ready_height": p.ready_at,
            "ready": v.ready,
        }

    async def pending_withdrawals(
        provider: str | None, tranches: list[TrancheRow], burn_height: int
    ) -> list[PendingView]:
        """Pending withdrawals (one provider's, or all) with what each would pay now."""
        pending = await service.reads.pending(provider)
        if not pending:
            return []
        flows = await service.reads.flows(sorted({p.provider for p in pending}))
        totals = {(t.token, t.tier): (t.assets, t.shares) for t in tranches}
        epochs = await service.reads.epochs()
        return pending_views(pending, flows, totals, epochs, burn_height)

    async def positions(provider: str) -> tuple[dict[str, Any], list[PendingView]]:
        shares = await service.reads.shares(provider)
        rows = await service.reads.tranches()
        tranches = {(t.token, t.tier): t for t in rows}
        out = []
        for (token, tier), n in sorted(shares.items()):
            t = tranches.get((token, tier))
            value = n * t.assets // t.shares if t and t.shares else 0
            out.append(
                {
                    "token": TOKEN_TEXT.get(token, str(token)),
                    "tier": tier,
                    "shares": _int(n),
                    "value": _int(value),
                }
            )
        view = await service.registry_view()
        pending = await pending_withdrawals(provider, rows, view.burn_height)
        body = {
            "provider": provider,
            "positions": out,
            "pending_withdrawals": [pending_json(v) for v in pending],
        }
        return body, pending

    @app.get("/v1/providers/{provider}", tags=["data"], response_model=ProviderOut)
    async def provider(provider: str) -> dict[str, Any]:
        """A provider's positions (shares per tranche and what they are worth now), pending
        withdrawals and when each is ready, every deposit, withdrawal request and withdrawal
        on chain with its block, each tranche's share price over time, and P&L per tranche:
        value now (held shares, plus what pending ones pay) + withdrawn - deposited, in the
        tranche's token units."""
        who = _principal("provider", provider, service).address
        out, pending = await positions(who)
        flows = await service.reads.flows([who])
        values = {(TOKENS[p["token"]], p["tier"]): int(p["value"]) for p in out["positions"]}
        for v in pending:
            key = (v.pending.token, v.pending.tier)
            values[key] = values.get(key, 0) + (v.payable or 0)
        books = pnl(flows, values)
        history = []
        for b in books:
            rows = await service.reads.tranche_history(b.token, b.tier, SHARE_PRICE_POINTS)
            history.append(
                {
                    "token": TOKEN_TEXT.get(b.token, str(b.token)),
                    "tier": b.tier,
                    "points": [
                        {
                            "block": r.block,
                            "share_price": r.assets / r.shares,
                            "assets": _int(r.assets),
                            "shares": _int(r.shares),
                        }
                        for r in rows
                        if r.shares
                    ],
                }
            )
        out["flows"] = [
            {
                "kind": f.kind.value,
                "token": TOKEN_TEXT.get(f.token, str(f.token)),
                "tier": f.tier,
                "amount": _int(f.amount),
                "shares": _int(f.shares),
                "share_price": (
                    None if f.kind is FlowKind.REQUEST else f.amount / f.shares if f.shares else 0.0
                ),
                "ready_at": f.ready_at,
                "txid": f.txid,
                "block": f.block,
                "burn_height": f.burn_height,
            }
            for f in flows
        ]
        out["pnl"] = [
            {
                "token": TOKEN_TEXT.get(b.token, str(b.token)),
                "tier": b.tier,
                "deposited": _int(b.deposited),
                "withdrawn": _int(b.withdrawn),
                "value": _int(b.value),
                "pnl": _int(b.pnl),
            }
            for b in books
        ]
        out["share_price_history"] = history
        return out

    # -- sign-in --

    @app.post("/v1/auth/challenge", tags=["sign-in"])
    async def challenge(body: ChallengeIn, request: Request) -> dict[str, Any]:
        """A SIP-018 message for the wallet to sign (`signStructuredData`), valid for
        `challenge_ttl_seconds`; the domain carries this chain's id."""
        p = _principal("principal", body.principal, service)
        limit(service.challenge_limit, client_address(request), "sign-in challenges")
        c = service.auth.challenge(p)
        d = service.auth.domain
        return {
            "nonce": c.nonce,
            "expires_at": c.expires_at,
            "domain": {"name": d.name, "version": d.version, "chain-id": d.chain_id},
            "message": {
                "action": "sign-in",
                "principal": c.principal,
                "nonce": c.nonce,
                "issued-at": c.issued_at,
                "expires-at": c.expires_at,
            },
            "domain_hex": d.to_clarity().serialize().hex(),
            "message_hex": c.message().serialize().hex(),
        }

    @app.post("/v1/auth/session", tags=["sign-in"])
    async def session(body: SessionIn) -> dict[str, Any]:
        """A session token for a signed challenge; each challenge signs in once."""
        sig = bytes.fromhex(body.signature.removeprefix("0x"))
        try:
            token, s = service.auth.sign_in(body.nonce, sig)
        except SignInRefused as exc:
            raise ApiError(401, "sign-in-refused", str(exc), reason=exc.reason) from None
        return {"token": token, "principal": s.principal, "expires_at": s.expires_at}

    @app.get("/v1/me/policies", tags=["sign-in"], response_model=PoliciesOut, responses=SIGNED)
    async def my_policies(
        me: str = Depends(session_principal),
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        after: Annotated[int | None, Query(ge=0)] = None,
    ) -> dict[str, Any]:
        return await list_policies(me, None, limit, after)

    @app.get("/v1/me/positions", tags=["sign-in"], response_model=PositionsOut, responses=SIGNED)
    async def my_positions(me: str = Depends(session_principal)) -> dict[str, Any]:
        return (await positions(me))[0]

    # -- operations --

    @app.get("/v1/status", tags=["operations"], response_model=StatusOut)
    async def status() -> dict[str, Any]:
        """What the engine sees now: chain tip, prices, outbox, readiness (`run.py status`)."""
        view = await service.registry_view()
        ready = await service.readiness()
        depth, oldest = await service.outbox()
        return {
            "network": service.config.network,
            "burn_height": view.burn_height,
            "prices": {
                a: {
                    "aggregated": _int(view.prices[a].price) if a in view.prices else None,
                    "volatility": view.prices[a].vol if a in view.prices else None,
                    "onchain": _int(view.onchain[a][0]) if a in view.onchain else None,
                    "onchain_height": view.onchain[a][1] if a in view.onchain else None,
                }
                for a in (BTC_USD, STX_USD)
            },
            "outbox": {"pending": depth, "oldest_age_seconds": oldest},
            "ready": ready,
            "limits": allowed_range("all", view),
        }

    @app.get("/healthz", tags=["operations"], response_model=HealthOut)
    async def healthz() -> dict[str, Any]:
        """The process is up and serving."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=ReadyOut,
        responses={503: {"model": ReadyOut, "description": "not ready: see the failing checks"}},
    )
    async def readyz() -> JSONResponse:
        """503 unless the node answers, the oracle is fresh with a quorum, the signer is funded
        and the outbox is moving; each check is in the body."""
        ready = await service.readiness()
        return JSONResponse(ready, status_code=200 if ready["ready"] else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                         "description": "Prometheus text exposition format"}},
    )  # fmt: skip
    async def metrics_route() -> Response:
        """Prometheus text format."""
        await service.refresh_gauges()
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _validation_is_400(base_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def allowed_range(reason: str, view: RegistryView) -> dict[str, Any] | None:
    """The bounds a refused request must meet, in the request's own terms."""
    p, h = view.params, view.burn_height
    if not p:
        return None
    ranges: dict[str, Any] = {}
    if reason in ("duration", "all"):
        ranges["expiration"] = {
            "min": h + p["min-duration"] + view.quote_ttl_blocks,
            "max": h + p["max-duration"],
        }
    if reason in ("amount", "all"):
        ranges["amount_sats"] = {"min": _int(p["min-amount"]), "max": _int(p["max-amount"])}
    spot = view.onchain.get(BTC_USD)
    if reason in ("strike", "all") and spot:
        band = p["strike-band-bps"]
        lo = -(-spot[0] * (10_000 - band) // 10_000)
        hi = spot[0] * (10_000 + band) // 10_000
        ranges["strike"] = {"min": _int(lo), "max": _int(hi)}
    return ranges or None


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI schema without an engine (the schema depends on no setting);
    `python -m live.api > ops/openapi.json` refreshes the checked-in copy."""
    from types import SimpleNamespace

    from live.config import ApiSettings
    from live.metrics import Metrics

    stand_in = SimpleNamespace(config=SimpleNamespace(api=ApiSettings()), metrics=Metrics())
    return create_app(stand_in).openapi()


if __name__ == "__main__":
    import json
    import sys

    json.dump(openapi_document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
