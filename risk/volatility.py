"""Realised volatility of the aggregated BTC-USD price, annualised (PROTOCOL "Pricing a quote").

Oracle observations arrive at irregular times (sources lag, the actor may be down for a while),
so every estimator here divides the sum of squared log returns by the elapsed time rather than
by a count of samples: each return's expected square is `sigma^2 * dt` whatever its `dt`, so
the ratio estimates `sigma^2` per unit time with no assumption of a regular grid. Returns are
taken as zero-mean: over days to weeks the drift term is O(dt^2) per return, negligible next to
`sigma^2 dt`, while estimating it from a 30-day window is so noisy that subtracting it would add
error, not remove it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

SECONDS_PER_YEAR = 365 * 24 * 3600


def realised_vol(times: Sequence[float], prices: Sequence[float], floor: float = 0.0) -> float:
    """Annualised volatility from observations `(times[i] seconds, prices[i])`, at least `floor`.

    Variance rate = sum of squared log returns / total elapsed time in years (see module
    docstring for why). Fewer than two points or no elapsed time gives `floor`: there is no
    information, and the floor is the protocol's answer to "not known".
    """
    if len(times) != len(prices):
        raise ValueError(f"times and prices differ in length: {len(times)} != {len(prices)}")
    if len(times) < 2:
        return floor
    t = np.asarray(times, dtype=float)
    x = np.asarray(prices, dtype=float)
    if np.any(x <= 0):
        raise ValueError("prices must be > 0")
    if np.any(np.diff(t) < 0):
        raise ValueError("times must be non-decreasing")
    elapsed_years = (t[-1] - t[0]) / SECONDS_PER_YEAR
    if elapsed_years <= 0:
        return floor
    returns = np.diff(np.log(x))
    variance_rate = float(np.dot(returns, returns)) / elapsed_years
    return max(math.sqrt(variance_rate), floor)


class VolEstimator:
    """Incremental realised-vol estimator for the oracle actor: O(1) work per observation.

    Two modes, both the same "sum of squared returns / elapsed time" ratio:
    - rolling (`ewma_halflife_seconds=None`): the intervals whose start lies within the last
      `window_seconds`; matches `realised_vol` over the observations in that window exactly
      (up to float rounding), which is what makes it auditable;
    - EWMA: both sums decay by `0.5 ** (dt / halflife)` as time passes, so a volatility regime
      change shows up within a few half-lives instead of only once the window has rolled over.

    Deterministic: the state depends only on the `(t, price)` sequence fed in, never on the wall
    clock or randomness, so simulation runs replay bit for bit.
    """

    def __init__(
        self,
        window_seconds: float = 30 * 86400,
        floor: float = 0.20,
        ewma_halflife_seconds: float | None = None,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds}")
        if ewma_halflife_seconds is not None and ewma_halflife_seconds <= 0:
            raise ValueError(f"ewma_halflife_seconds must be > 0, got {ewma_halflife_seconds}")
        self.window_seconds = float(window_seconds)
        self.floor = floor
        self.ewma_halflife_seconds = ewma_halflife_seconds
        self._last_t: float | None = None
        self._last_log_price = 0.0
        self._sum_r2 = 0.0  # squared log returns (rolling: in window; EWMA: decayed)
        self._sum_dt = 0.0  # elapsed seconds, weighted the same way
        # Rolling mode: (interval start time, squared return, interval length) per return.
        self._window: deque[tuple[float, float, float]] = deque()
        self._dropped_since_resync = 0

    def update(self, t: float, price: float) -> None:
        """Add an observation; non-increasing `t` or non-positive `price` are ignored.

        Ignoring (not raising) because a late or bad oracle sample must not stop the actor;
        an out-of-order sample carries no new elapsed time to attribute a return to.
        """
        if not (price > 0 and math.isfinite(price) and math.isfinite(t)):
            return
        if self._last_t is not None and t <= self._last_t:
            return
        log_price = math.log(price)
        if self._last_t is None:
            self._last_t, self._last_log_price = t, log_price
            return
        start, dt = self._last_t, t - self._last_t
        r = log_price - self._last_log_price
        self._last_t, self._last_log_price = t, log_price
        if self.ewma_halflife_seconds is None:
            self._add_rolling(start, r * r, dt, t)
        else:
            decay = 0.5 ** (dt / self.ewma_halflife_seconds)
            self._sum_r2 = self._sum_r2 * decay + r * r
            self._sum_dt = self._sum_dt * decay + dt

    def _add_rolling(self, start: float, r2: float, dt: float, now: float) -> None:
        """Append one interval and drop those starting before `now - window` (amortised O(1))."""
        self._window.append((start, r2, dt))
        self._sum_r2 += r2
        self._sum_dt += dt
        cutoff = now - self.window_seconds
        while self._window and self._window[0][0] < cutoff:
            _, old_r2, old_dt = self._window.popleft()
            self._sum_r2 -= old_r2
            self._sum_dt -= old_dt
            self._dropped_since_resync += 1
        # Running subtraction accumulates rounding; re-add from scratch once as many intervals
        # have left as remain, which keeps the cost amortised O(1) per update.
        if self._dropped_since_resync > len(self._window):
            self._sum_r2 = math.fsum(item[1] for item in self._window)
            self._sum_dt = math.fsum(item[2] for item in self._window)
            self._dropped_since_resync = 0

    def value(self) -> float:
        """Current annualised volatility, at least `floor` (the floor when nothing is known)."""
        if self._sum_dt <= 0 or self._sum_r2 <= 0:
            return self.floor
        variance_rate = self._sum_r2 / self._sum_dt * SECONDS_PER_YEAR
        return max(math.sqrt(variance_rate), self.floor)
