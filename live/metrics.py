"""The engine's Prometheus metrics (`GET /metrics`), documented in README "Live mode".

Two kinds: counters the engine's event records drive as they happen (pushes, source errors,
quotes by outcome, settlements, transactions), and gauges filled at scrape time from the
store, the Registry's view and the node (prices and their age, outbox depth and oldest pending
age, signer balance and nonce, per-tranche assets, locked, coverage, utilisation). Each
engine has its own registry, so tests can run several in one process.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
TRANCHE = ("token", "tier")


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events = Counter(
            "bithedge_events_total", "Engine event records, by kind", ["kind"], registry=r
        )
        self.pushes = Counter(
            "bithedge_oracle_pushes_total", "Oracle set-price transactions", ["asset"], registry=r
        )
        self.no_quorum = Counter(
            "bithedge_oracle_no_quorum_total",
            "Oracle rounds without a quorum of sources",
            ["asset"],
            registry=r,
        )
        self.source_errors = Counter(
            "bithedge_source_errors_total", "Exchange fetches that failed", ["source"], registry=r
        )
        self.quotes = Counter(
            "bithedge_quotes_total",
            "Quote requests by outcome (offered or the refusal reason)",
            ["outcome"],
            registry=r,
        )
        self.settle_ids = Counter(
            "bithedge_settlement_ids_total",
            "Policy ids sent in settle-policies batches",
            registry=r,
        )
        self.tx = Counter(
            "bithedge_transactions_total",
            "Backend transactions by outcome",
            ["outcome"],
            registry=r,
        )
        self.node_errors = Counter("bithedge_node_errors_total", "Failed node polls", registry=r)
        self.breaker = Counter(
            "bithedge_circuit_breaker_total",
            "Circuit breaker transitions",
            ["token", "tier", "state"],
            registry=r,
        )
        self.http = Histogram(
            "bithedge_http_request_seconds",
            "API request latency",
            ["route", "method", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        g = self._gauge
        self.price = g(
            "bithedge_price_usd", "Latest price in USD, by asset and kind", "asset", "kind"
        )
        self.price_age = g(
            "bithedge_price_age_seconds", "Age of the latest aggregated price", "asset"
        )
        self.onchain_age = g(
            "bithedge_onchain_price_age_blocks",
            "Burn blocks since the on-chain price was stored",
            "asset",
        )
        self.volatility = g("bithedge_volatility", "Annualised realised volatility", "asset")
        self.outbox_depth = g("bithedge_outbox_pending", "Pending transactions in the outbox")
        self.outbox_age = g(
            "bithedge_outbox_oldest_pending_seconds",
            "Age of the oldest pending transaction (0 when none)",
        )
        self.signer_balance = g("bithedge_signer_balance_ustx", "Backend key's STX balance")
        self.signer_nonce = g("bithedge_signer_nonce", "Backend key's next nonce on chain")
        self.burn_height = g("bithedge_burn_height", "Burn height the engine last saw")
        self.policies = g("bithedge_policies", "Policies in the store, by status", "status")
        self.settle_delay = g(
            "bithedge_settlement_delay_blocks",
            "Burn blocks from expiry to settlement, last 100 finished policies",
            "stat",
        )
        self.assets = g("bithedge_tranche_assets", "Tranche total assets (token units)", *TRANCHE)
        self.locked = g(
            "bithedge_tranche_locked", "Tranche locked collateral (token units)", *TRANCHE
        )
        self.utilisation = g("bithedge_tranche_utilisation", "locked / assets", *TRANCHE)
        self.coverage = g(
            "bithedge_tranche_coverage", "assets / collateral required at current prices", *TRANCHE
        )
        self.ready = g("bithedge_ready", "1 when every readiness check passes", "check")
        self.risk_ruin = g(
            "bithedge_risk_ruin",
            "Shadow risk: forecast ruin probability "
            "(estimate, and the upper bound of its 95% Wilson interval)",
            *TRANCHE,
            "bound",
        )
        self.risk_coverage = g(
            "bithedge_risk_coverage_min",
            "Shadow risk: quantiles of the lowest coverage over the horizon",
            *TRANCHE,
            "quantile",
        )
        self.risk_var = g(
            "bithedge_risk_loss_var_usd", "Shadow risk: loss VaR (USD) by level", *TRANCHE, "level"
        )
        self.risk_height = g("bithedge_risk_height", "Burn height of the last forecast")
        self.risk_seconds = g("bithedge_risk_seconds", "How long the last forecast took")

    def _gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, list(labels), registry=self.registry)

    def record(self, kind: str, fields: dict[str, Any]) -> None:
        """Counts one event record (called from the actor that recorded it)."""
        self.events.labels(kind).inc()
        if kind == "oracle-push":
            self.pushes.labels(fields.get("asset", "")).inc()
        elif kind == "oracle-no-quorum":
            self.no_quorum.labels(fields.get("asset", "")).inc()
        elif kind == "exchange-error":
            self.source_errors.labels(fields.get("source", "")).inc()
        elif kind == "quote":
            self.quotes.labels("offered").inc()
        elif kind == "quote-refused":
            self.quotes.labels(str(fields.get("reason", ""))).inc()
        elif kind == "settle-batch":
            self.settle_ids.inc(len(fields.get("ids", ())))
        elif kind == "node-error":
            self.node_errors.inc()
        elif kind.startswith("tx-"):
            self.tx.labels(kind[3:]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
