"""Simulated exchanges: each a noisy, lagging, sometimes absent view of the true price.

Outages are drawn up front (Poisson starts, exponential lengths), so an exchange's behaviour is
fixed by the seed and independent of how often it is asked. A manipulated exchange reports the
true price shifted by `bias_bps` during its manipulation window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chain.protocol import PRICE_SCALE
from sim.prices import PricePath


@dataclass(frozen=True)
class ExchangeSpec:
    noise_bps: float = 5.0
    lag_seconds: float = 20.0
    outages_per_day: float = 0.5
    outage_minutes: float = 20.0
    bias_bps: float = 0.0
    bias_from_hours: float = 0.0
    bias_to_hours: float = 0.0


class SimExchange:
    def __init__(
        self,
        name: str,
        path: PricePath,
        spec: ExchangeSpec,
        horizon_seconds: float,
        rng: np.random.Generator,
    ):
        self.name, self.path, self.spec = name, path, spec
        self.rng = rng
        count = rng.poisson(spec.outages_per_day * horizon_seconds / 86400)
        starts = np.sort(rng.uniform(0, horizon_seconds, count))
        lengths = rng.exponential(spec.outage_minutes * 60, count)
        self.outages = list(zip(starts.tolist(), (starts + lengths).tolist(), strict=True))

    def down(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.outages)

    def quote(self, asset: str, t: float) -> int | None:
        """Price units, or None while the exchange is down."""
        if self.down(t):
            return None
        spec = self.spec
        price = self.path.at(asset, max(0.0, t - spec.lag_seconds))
        shift = self.rng.normal(0.0, spec.noise_bps / 10_000) if spec.noise_bps else 0.0
        if spec.bias_bps and spec.bias_from_hours * 3600 <= t < spec.bias_to_hours * 3600:
            shift += spec.bias_bps / 10_000
        return max(1, int(price * (1 + shift) * PRICE_SCALE))


class SimFeed:
    """The oracle's PriceFeed over simulated exchanges, at the clock's time."""

    def __init__(self, exchanges: list[SimExchange], clock):
        self.exchanges = exchanges
        self.clock = clock

    def fetch(self, asset: str) -> list[tuple[str, int]]:
        t = self.clock()
        out = []
        for ex in self.exchanges:
            price = ex.quote(asset, t)
            if price is not None:
                out.append((ex.name, price))
        return out
