"""True price paths for BTC-USD and STX-USD: the world the exchanges observe.

A path is drawn once, vectorised, on a fixed grid (`step_seconds`) over the whole horizon;
reading it is a lookup. Models: geometric Brownian motion, Merton jump-diffusion (GBM plus
Poisson jumps of normal log size), and scripted segments layered on either (a log-linear move
of a given total over a given window: a flash crash, a grinding bear). STX follows its own GBM
whose shocks are correlated with BTC's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from risk.paths import PriceSpec

SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Segment:
    """Multiply the price by (1 + change) over [start, start + duration), log-linearly."""

    start_hours: float
    duration_hours: float
    change: float


@dataclass(frozen=True)
class PathSpec(PriceSpec):
    """The price model (risk/paths.py `PriceSpec`, gbm or jump here) with the scripted
    segments and the grid step of the actor simulation's path."""

    segments: tuple[Segment, ...] = field(default_factory=tuple)
    step_seconds: float = 60.0


class PricePath:
    """BTC and STX prices in USD (floats) as functions of virtual time."""

    def __init__(self, spec: PathSpec, horizon_seconds: float, rng: np.random.Generator):
        self.spec = spec
        self.step = spec.step_seconds
        n = int(np.ceil(horizon_seconds / self.step)) + 2
        dt = self.step / SECONDS_PER_YEAR
        z = rng.standard_normal((2, n - 1))
        z_stx = spec.correlation * z[0] + np.sqrt(1 - spec.correlation**2) * z[1]
        btc_inc = (spec.btc_drift - 0.5 * spec.btc_vol**2) * dt + spec.btc_vol * np.sqrt(dt) * z[0]
        stx_inc = -0.5 * spec.stx_vol**2 * dt + spec.stx_vol * np.sqrt(dt) * z_stx
        if spec.model == "jump":
            jumps = rng.poisson(spec.jump_rate * dt, n - 1)
            sizes = rng.normal(spec.jump_mean, spec.jump_std, n - 1) * np.sqrt(np.maximum(jumps, 1))
            btc_inc += np.where(jumps > 0, sizes, 0.0)
            stx_inc += np.where(jumps > 0, sizes * 1.3, 0.0)
        elif spec.model != "gbm":
            raise ValueError(f"unknown price model {spec.model!r} (gbm or jump)")
        scripted = np.zeros(n - 1)
        times = np.arange(n - 1) * self.step
        for seg in spec.segments:
            start, span = seg.start_hours * 3600, max(seg.duration_hours * 3600, self.step)
            inside = (times >= start) & (times < start + span)
            scripted[inside] += np.log1p(seg.change) * self.step / span
        self.btc = spec.btc_start * np.exp(np.concatenate([[0.0], np.cumsum(btc_inc + scripted)]))
        self.stx = spec.stx_start * np.exp(np.concatenate([[0.0], np.cumsum(stx_inc + scripted)]))

    def _index(self, t: float) -> int:
        return min(max(int(t // self.step), 0), len(self.btc) - 1)

    def btc_at(self, t: float) -> float:
        return float(self.btc[self._index(t)])

    def stx_at(self, t: float) -> float:
        return float(self.stx[self._index(t)])

    def at(self, asset: str, t: float) -> float:
        return self.btc_at(t) if asset == "BTC-USD" else self.stx_at(t)
