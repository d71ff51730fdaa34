"""Shadow risk: the Monte Carlo solvency forecast of the live book, and the circuit breaker.

Every `[risk] every_blocks` burn blocks the engine forecasts each tranche's run-off from its
store (active policies, tranche assets) with the same engine as `run.py solvency`
(risk/montecarlo.py), starting from the oracle's aggregated prices and realised volatilities,
on a thread of its own (never an actor's; a run still going when the next is due is not
doubled). Tranches are separate vaults, so each one's book is forecast against its own assets:
its ruin probability (a path on which some settlement is not paid in full), with the Wilson
interval, the quantiles of its lowest coverage over the horizon, and loss VaR/ES.

The breaker: when a tranche's ruin upper bound (95% Wilson) passes `breaker_ruin_upper`, the
Registry is told to refuse quotes for it (`QuoteBreaker`), and told to resume once a later
forecast falls back to the limit or below; each change is logged and counted.

Modelling notes: the forecast's deposits are today's assets less the premiums of the active
policies (the Monte Carlo credits each premium at its purchase, which for a live book is at
the start), and an expired policy not yet settled settles at the first step.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from actors.messages import QuoteBreaker
from chain.contracts import BTC_USD, STX_USD, TRANCHES
from risk import montecarlo as mc
from risk.book import PoolTerms, make_book
from risk.paths import BLOCKS_PER_DAY, Grid, PriceModel

TOKENS = ("stx", "sbtc")


class ShadowRisk:
    def __init__(self, engine: Any, settings: Any, metrics: Any, log: Any):
        self.engine, self.settings, self.metrics, self.log = engine, settings, metrics, log
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_height: int | None = None
        self._report: dict[str, Any] | None = None
        self._open: set[tuple[int, int]] = set()

    # -- scheduling --

    def due(self, burn_height: int) -> bool:
        last = self._last_height
        return last is None or burn_height - last >= self.settings.every_blocks

    def maybe_run(self, burn_height: int) -> None:
        """Starts a forecast on its own thread if one is due and none is running."""
        if not self.due(burn_height) or (self._thread and self._thread.is_alive()):
            return
        self._last_height = burn_height
        self._thread = threading.Thread(
            target=self._run_logged, args=(burn_height,), name="shadow-risk", daemon=True
        )
        self._thread.start()

    def _run_logged(self, burn_height: int) -> None:
        try:
            self.run(burn_height)
        except Exception as exc:  # a failed forecast is reported; the engine goes on
            self.log.record("risk-failed", height=burn_height, error=f"{type(exc).__name__}")

    def join(self, timeout: float = 30) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the forecast --

    def run(self, burn_height: int) -> dict[str, Any]:
        """One forecast at `burn_height` (synchronous); publishes it and moves the breakers."""
        started = time.perf_counter()
        view = self.engine.registry_view()
        btc, stx = view.prices.get(BTC_USD), view.prices.get(STX_USD)
        if btc is None or stx is None:
            report = {"height": burn_height, "status": "no-price", "tranches": []}
            with self._lock:
                self._report = report
            return report
        store = self.engine.store
        rows = store.policies.active()
        assets = store.tranches.latest()
        p = view.params
        model = PriceModel(
            btc_start=btc.price / 1e8, btc_vol=btc.vol, stx_start=stx.price / 1e8, stx_vol=stx.vol
        )
        grid = Grid(
            steps=self.settings.horizon_days, step_blocks=BLOCKS_PER_DAY, start_height=burn_height
        )
        tranches = []
        for token, tier in TRANCHES:
            mine = [r for r in rows if (r["token"], r["tier"]) == (token, tier)]
            tranches.append(self._tranche(token, tier, mine, assets, p, model, grid, burn_height))
        report = {
            "height": burn_height,
            "status": "ok",
            "paths": self.settings.paths,
            "horizon_days": self.settings.horizon_days,
            "model": {
                "btc_usd": model.btc_start,
                "btc_vol": model.btc_vol,
                "stx_usd": model.stx_start,
                "stx_vol": model.stx_vol,
            },
            "breaker_ruin_upper": self.settings.breaker_ruin_upper,
            "seconds": round(time.perf_counter() - started, 3),
            "tranches": tranches,
        }
        with self._lock:
            self._report = report
        self._publish(report)
        self._breakers(report)
        return report

    def _tranche(self, token, tier, mine, assets, p, model, grid, height) -> dict[str, Any]:
        entry: dict[str, Any] = {"token": TOKENS[token], "tier": tier, "policies": len(mine)}
        have = assets.get((token, tier), (0, 0, 0))[0]
        if not mine:
            entry.update(
                ruin=0.0, ruin_ci95_low=0.0, ruin_ci95_high=0.0, coverage_min=None, loss_usd=None
            )
            return entry
        book = make_book(
            [
                {
                    "id": r["id"],
                    "amount": r["amount"],
                    "strike": r["strike"],
                    "expiration": r["expiration"],
                    "token": token,
                    "tier": tier,
                    "premium": r["premium"],
                    "collateral": r["collateral"],
                    "purchased": min(r["purchased_block"], height),
                }
                for r in mine
            ],
            start_height=height,
            source="live book",
        )
        deposits = [0] * 6
        deposits[token * 3 + tier] = max(0, have - int(book.premium.sum()))
        pool = PoolTerms(
            deposits=tuple(deposits),
            collateral_bps=tuple(p[f"collateral-ratio-{t}"] for t in range(3)),
            max_utilisation_bps=tuple(p[f"max-utilisation-{t}"] for t in range(3)),
        )
        spec = mc.Spec(book=book, pool=pool, model=model, grid=grid)
        seed = np.random.SeedSequence([self.settings.seed, height, token, tier])
        summary = mc.summarise(mc.run(spec, self.settings.paths, seed), spec)
        ruin = summary["probability_of_ruin"]
        entry.update(
            ruin=ruin["estimate"],
            ruin_ci95_low=ruin["ci95_low"],
            ruin_ci95_high=ruin["ci95_high"],
            coverage_min=summary["coverage_min_over_horizon"],
            loss_usd={k: {"var": v["var"], "es": v["es"]} for k, v in summary["loss_usd"].items()},
        )
        return entry

    # -- what it changes --

    def _publish(self, report: dict[str, Any]) -> None:
        m = self.metrics
        m.risk_height.set(report["height"])
        m.risk_seconds.set(report["seconds"])
        for t in report["tranches"]:
            labels = (str(TOKENS.index(t["token"])), str(t["tier"]))
            m.risk_ruin.labels(*labels, "estimate").set(t["ruin"])
            m.risk_ruin.labels(*labels, "upper").set(t["ruin_ci95_high"])
            for q, v in (t["coverage_min"] or {}).items():
                if v is not None:
                    m.risk_coverage.labels(*labels, q).set(v)
            for level, v in (t["loss_usd"] or {}).items():
                m.risk_var.labels(*labels, level).set(v["var"])

    def _breakers(self, report: dict[str, Any]) -> None:
        limit = self.settings.breaker_ruin_upper
        if limit is None:
            return
        for t in report["tranches"]:
            key = (TOKENS.index(t["token"]), t["tier"])
            should = t["ruin_ci95_high"] > limit
            if should == (key in self._open):
                continue
            (self._open.add if should else self._open.discard)(key)
            state = "open" if should else "closed"
            self.engine.registry.tell(QuoteBreaker(key[0], key[1], should))
            self.metrics.breaker.labels(str(key[0]), str(key[1]), state).inc()
            self.log.record(
                f"quote-circuit-{state}",
                token=key[0],
                tier=key[1],
                ruin_upper=t["ruin_ci95_high"],
                limit=limit,
                height=report["height"],
            )

    def open(self, token: int, tier: int) -> bool:
        return (token, tier) in self._open

    def report(self) -> dict[str, Any] | None:
        with self._lock:
            return self._report
