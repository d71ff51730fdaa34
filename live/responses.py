"""The read endpoints' response models: the schema a front end codes against.

Every GET route of live/api.py declares one of these, so ops/openapi.json types each field
instead of listing a bare object. Money, share counts and prices are integers in protocol units
sent as decimal strings (JSON numbers lose digits past 2**53); ratios and analytics are floats.
The models are output only: FastAPI serialises the route's dict through them, which also keeps
an answer from carrying a field the schema does not list.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Token = Literal["stx", "sbtc"]
Amount = str  # an integer in protocol units, as decimal text
SignedAmount = str  # the same, and may be negative (a loss)


class OnchainPrice(BaseModel):
    price: Amount
    height: int = Field(description="burn height of the oracle's observation")
    age_blocks: int


class AggregatedPrice(BaseModel):
    price: Amount
    time: float = Field(description="Unix seconds")
    sources: int = Field(description="sources in the median")
    age_seconds: float


class PricePoint(BaseModel):
    time: float
    price: Amount
    sources: int


class PricesOut(BaseModel):
    asset: Literal["BTC-USD", "STX-USD"]
    onchain: OnchainPrice | None
    aggregated: AggregatedPrice | None
    sources: list[str] = Field(description="the oracle's configured sources")
    quorum: int
    volatility: float | None = Field(description="annualised realised volatility")
    history: list[PricePoint]


class RiskLoss(BaseModel):
    var: float
    es: float


class RiskTranche(BaseModel):
    token: Token
    tier: int
    policies: int
    ruin: float
    ruin_ci95_low: float
    ruin_ci95_high: float
    coverage_min: dict[str, float | None] | None
    loss_usd: dict[str, RiskLoss] | None


class RiskModel(BaseModel):
    btc_usd: float
    btc_vol: float
    stx_usd: float
    stx_vol: float


class RiskOut(BaseModel):
    """The last shadow-risk forecast (live/risk.py); `status` no-price carries no tranches."""

    height: int
    status: Literal["ok", "no-price"]
    paths: int | None = None
    horizon_days: int | None = None
    model: RiskModel | None = None
    breaker_ruin_upper: float | None = None
    seconds: float | None = None
    tranches: list[RiskTranche]


class TrancheOut(BaseModel):
    token: Token
    tier: int
    block: int = Field(description="burn height of the snapshot")
    assets: Amount
    shares: Amount
    share_price: float | None = Field(description="assets per share; null with no shares")
    locked: Amount
    utilisation: float
    coverage: float | None
    pending_withdrawals: Amount | None = Field(
        description="shares pending withdrawal (they share payouts, not new purchases); "
        "null before the engine has read the tranche"
    )
    premiums_30d: Amount
    premium_yield_annualised: float
    circuit_breaker_open: bool


class PoolOut(BaseModel):
    burn_height: int
    tranches: list[TrancheOut]
    withdrawal_requests: list[PendingWithdrawalOut] = Field(
        description="every pending two-step withdrawal, by tranche and provider"
    )
    risk: RiskOut | None = Field(description="null until a forecast has run ([risk] enabled)")


class PolicyOut(BaseModel):
    id: int
    owner: str
    amount_sats: Amount
    strike: Amount
    expiration: int
    premium: Amount
    collateral: Amount
    token: Token
    tier: int
    quote_id: Amount
    status: Literal["active", "settled", "expired"]
    payout: Amount
    paid: Amount
    settlement_price: Amount
    purchased_block: int
    settled_block: int | None


class PoliciesOut(BaseModel):
    policies: list[PolicyOut]
    next_after: int | None = Field(description="`after` for the next page; null on the last")


class PositionOut(BaseModel):
    token: Token
    tier: int
    shares: Amount
    value: Amount = Field(description="token units the shares are worth now")


class PendingWithdrawalOut(BaseModel):
    """A two-step withdrawal asked for and not yet completed (protocol v2). Completing it pays
    `min(the shares at the share price then, value_at_request)`, once the burn height reaches
    `ready_height` and no expired policy of the tranche is unsettled."""

    provider: str
    token: Token
    tier: int
    epoch: int = Field(description="the share epoch the pending shares belong to")
    shares: Amount = Field(description="shares pending (every request since the last completion)")
    value_at_request: Amount = Field(
        description="what the shares were worth when requested, summed over the requests: "
        "the most the completion pays"
    )
    value_now: Amount | None = Field(
        description="what completing now would pay: min(shares at today's share price, "
        "value_at_request); null for shares of a closed epoch (paid from what it left)"
    )
    requested_block: int | None = Field(
        description="Stacks block of the first request still pending; null if before the store"
    )
    requested_burn_height: int | None
    ready_height: int = Field(
        description="burn height from which it can complete: the last expiry among the "
        "tranche's policies unsettled at the request (on the expiry grid), or the request's"
    )
    ready: bool = Field(description="the burn height has reached ready_height")


class PositionsOut(BaseModel):
    provider: str
    positions: list[PositionOut] = Field(description="shares held, not those pending")
    pending_withdrawals: list[PendingWithdrawalOut]


class FlowOut(BaseModel):
    kind: Literal["deposit", "withdraw-requested", "withdraw"] = Field(
        description="withdrawals take two steps: `withdraw-requested` moves nothing, "
        "`withdraw` pays the provider"
    )
    token: Token
    tier: int
    amount: Amount = Field(description="token units paid in or out (0 for a request)")
    shares: Amount = Field(description="shares minted or burned (for a request: asked for)")
    share_price: float | None = Field(
        description="amount per share in this flow; null for a request"
    )
    ready_at: int | None = Field(description="a request's burn height from which it can complete")
    txid: str
    block: int = Field(
        description="Stacks block height at which the engine saw it (the tip's, for flows it "
        "caught up on after being down)"
    )
    burn_height: int


class SharePricePoint(BaseModel):
    block: int = Field(description="burn height of the tranche snapshot")
    share_price: float
    assets: Amount
    shares: Amount


class TrancheHistoryOut(BaseModel):
    token: Token
    tier: int
    points: list[SharePricePoint] = Field(description="oldest first, at most the last 500")


class PnlOut(BaseModel):
    token: Token
    tier: int
    deposited: Amount
    withdrawn: Amount
    value: Amount = Field(description="shares held at today's price plus what pending ones pay")
    pnl: SignedAmount = Field(description="value + withdrawn - deposited, token units")


class ProviderOut(PositionsOut):
    flows: list[FlowOut] = Field(
        description="deposits and withdrawals on chain, oldest first (as the engine recorded them)"
    )
    pnl: list[PnlOut] = Field(description="per tranche the provider has ever held")
    share_price_history: list[TrancheHistoryOut]


class HealthOut(BaseModel):
    status: Literal["ok"]


class NodeCheck(BaseModel):
    ok: bool
    last_ok: float | None
    error: str | None


class OracleCheck(BaseModel):
    ok: bool
    price_age_seconds: float | None
    onchain_age_blocks: int | None


class QuorumCheck(BaseModel):
    ok: bool
    sources: int | None
    needed: int


class SignerCheck(BaseModel):
    ok: bool
    balance_ustx: Amount | None
    floor_ustx: Amount


class OutboxCheck(BaseModel):
    ok: bool
    pending: int
    oldest_age_seconds: float | None


class ReadyChecks(BaseModel):
    node: NodeCheck
    oracle_fresh: OracleCheck
    quorum: QuorumCheck
    signer_balance: SignerCheck
    outbox: OutboxCheck


class ReadyOut(BaseModel):
    ready: bool
    checks: ReadyChecks


class StatusPrice(BaseModel):
    aggregated: Amount | None
    volatility: float | None
    onchain: Amount | None
    onchain_height: int | None


class OutboxOut(BaseModel):
    pending: int
    oldest_age_seconds: float | None


class Range(BaseModel):
    min: Amount | int
    max: Amount | int


class StatusOut(BaseModel):
    network: str
    burn_height: int
    prices: dict[str, StatusPrice]
    outbox: OutboxOut
    ready: ReadyOut
    limits: dict[str, Range] | None = Field(description="the bounds a quote must meet")
