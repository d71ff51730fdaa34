"""Price models for the Monte Carlo engine: correlated BTC-USD and STX-USD paths on a fixed grid.

Vectorised over paths (rows) and steps (columns) so 10,000 paths of a year cost milliseconds.
Models: GBM, Merton jump-diffusion (compensated, so zero drift stays a martingale) and
GARCH(1,1) variance whose long-run level is the model's vol. A scripted crash (depth, start,
duration) multiplies both assets log-linearly, as `sim/prices.py` segments do, so stress curves
and the actor scenarios mean the same thing by "a 50% crash over a day". Draws come only from
the Generator passed in: same generator state, same paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chain.protocol import BLOCKS_PER_DAY, BLOCKS_PER_YEAR, PRICE_SCALE

MODELS = ("gbm", "jump", "garch")
MAX_BTC_PRICE_UNITS = 9 * 10**14  # exact integer payout maths needs price * 1e4 < 2^63


@dataclass(frozen=True)
class PriceSpec:
    """The price model both worlds draw from: the scenario's `price.*` knobs, read by the actor
    simulation's paths (sim/prices.py `PathSpec`) and by the Monte Carlo engine (`PriceModel`),
    so a scenario means one model in both. Each adds only what it alone needs."""

    model: str = "gbm"  # gbm | jump (| garch, Monte Carlo only)
    btc_start: float = 65_000.0  # USD
    btc_vol: float = 0.55  # annualised
    btc_drift: float = 0.0  # annualised
    stx_start: float = 0.50  # USD
    stx_vol: float = 0.80
    correlation: float = 0.6  # of STX shocks with BTC shocks
    jump_rate: float = 6.0  # jumps per year
    jump_mean: float = -0.03  # mean log jump
    jump_std: float = 0.06


@dataclass(frozen=True)
class PriceModel(PriceSpec):
    """Why frozen: one model value is shared by every chunk (and worker) of a run."""

    stx_jump_beta: float = 1.3  # STX moves this many times BTC's jump (as sim/prices.py)
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    vol_multiplier: float = 1.0  # stress knob: scales both assets' vols
    crash_depth: float = 0.0  # fraction lost by both assets in the scripted crash; 0 = none
    crash_day: float = 1.0  # when it starts
    crash_days: float = 0.0  # over how long (0 = within one step)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if not 0 <= self.crash_depth < 1:
            raise ValueError(f"crash_depth must be in [0, 1), got {self.crash_depth}")
        if self.garch_alpha + self.garch_beta >= 1:
            raise ValueError("garch_alpha + garch_beta must be < 1 (stationary variance)")


@dataclass(frozen=True)
class Grid:
    """Time grid: `steps` steps of `step_blocks` burn blocks each, starting at `start_height`."""

    steps: int
    step_blocks: int = BLOCKS_PER_DAY
    start_height: int = 0

    @property
    def dt_years(self) -> float:
        return self.step_blocks / BLOCKS_PER_YEAR

    def step_of(self, heights: np.ndarray) -> np.ndarray:
        """First grid step at or after each burn height (when a policy expiring then settles)."""
        rel = np.asarray(heights, dtype=np.int64) - self.start_height
        return np.maximum(-(-rel // self.step_blocks), 0)


def _crash_log(model: PriceModel, grid: Grid) -> np.ndarray:
    """Per-step log move of the scripted crash (zeros without one)."""
    out = np.zeros(grid.steps)
    if model.crash_depth <= 0:
        return out
    step_days = grid.step_blocks / BLOCKS_PER_DAY
    start = round(model.crash_day / step_days)
    span = max(1, round(model.crash_days / step_days))
    lo, hi = min(start, grid.steps), min(start + span, grid.steps)
    out[lo:hi] = np.log1p(-model.crash_depth) / span
    return out


def log_paths(
    model: PriceModel, grid: Grid, n_paths: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative log returns of BTC and STX, shape (n_paths, steps + 1), first column 0."""
    n, dt = grid.steps, grid.dt_years
    vb, vs = model.btc_vol * model.vol_multiplier, model.stx_vol * model.vol_multiplier
    z = rng.standard_normal((2, n_paths, n))
    zb, zs = z[0], z[1]  # in place from here on: same values, fewer temporaries
    zs *= np.sqrt(1 - model.correlation**2)
    zs += model.correlation * zb
    sq = np.sqrt(dt)
    if model.model == "garch":
        scale = _garch_scale(model, zb)  # per-step vol relative to the long-run level
        zb *= scale
        zs *= scale
        # Ito correction with the step's own variance, so the price stays a martingale at mu=0
        b_inc = (model.btc_drift * dt - 0.5 * (vb * sq * scale) ** 2) + vb * sq * zb
        s_inc = -0.5 * (vs * sq * scale) ** 2 + vs * sq * zs
    else:
        b_inc, s_inc = zb, zs
        b_inc *= vb * sq
        b_inc += (model.btc_drift - 0.5 * vb * vb) * dt
        s_inc *= vs * sq
        s_inc += -0.5 * vs * vs * dt
    if model.model == "jump":
        counts = rng.poisson(model.jump_rate * dt, (n_paths, n))
        sizes = rng.standard_normal((n_paths, n))
        jumps = model.jump_mean * counts + model.jump_std * np.sqrt(counts) * sizes
        kb = np.expm1(model.jump_mean + 0.5 * model.jump_std**2)
        beta = model.stx_jump_beta
        ks = np.expm1(beta * model.jump_mean + 0.5 * (beta * model.jump_std) ** 2)
        b_inc += jumps - model.jump_rate * kb * dt  # compensator: E[S_T] unchanged by jumps
        s_inc += beta * jumps - model.jump_rate * ks * dt
    crash = _crash_log(model, grid)
    if crash.any():
        b_inc += crash
        s_inc += crash
    out = np.empty((2, n_paths, n + 1))
    out[:, :, 0] = 0.0
    np.cumsum(b_inc, axis=1, out=out[0, :, 1:])
    np.cumsum(s_inc, axis=1, out=out[1, :, 1:])
    return out[0], out[1]


def _garch_scale(model: PriceModel, z: np.ndarray) -> np.ndarray:
    """sqrt(h_t / h_bar) for a GARCH(1,1) in units of the long-run variance h_bar = 1.

    h_t = (1 - a - b) + a * eps_{t-1}^2 + b * h_{t-1}, eps = sqrt(h) z, h_0 = 1: a loop over
    steps (not paths), vectorised across paths.
    """
    a, b = model.garch_alpha, model.garch_beta
    omega = 1.0 - a - b
    h = np.ones(z.shape[0])
    out = np.empty_like(z)
    for t in range(z.shape[1]):
        s = np.sqrt(h)
        out[:, t] = s
        eps2 = h * z[:, t] * z[:, t]
        h = omega + a * eps2 + b * h
    return out


def price_units(start_usd: float, log_path: np.ndarray) -> np.ndarray:
    """USD paths to integer price units (USD x 1e8), at least 1 (the oracle rejects 0)."""
    units = np.exp(log_path)
    units *= start_usd * PRICE_SCALE
    np.rint(units, out=units)
    np.maximum(units, 1, out=units)
    return units.astype(np.int64)


def simulate(
    model: PriceModel, grid: Grid, n_paths: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """BTC-USD and STX-USD paths in integer price units, shape (n_paths, steps + 1)."""
    lb, ls = log_paths(model, grid, n_paths, rng)
    btc = price_units(model.btc_start, lb)
    if btc.max(initial=0) > MAX_BTC_PRICE_UNITS:
        np.minimum(btc, MAX_BTC_PRICE_UNITS, out=btc)  # astronomically rare; keeps maths exact
    return btc, price_units(model.stx_start, ls)


FIXING_WINDOW = 6  # oracle.clar's FIXING-WINDOW: a fixing averages the 6 burn blocks before E


def fixings(prices: np.ndarray, grid: Grid, window: int = FIXING_WINDOW) -> np.ndarray:
    """What settles an expiry at each grid point: the fixing, not the price at the expiry.

    The oracle's fixing of E averages the price in force over the `window` burn blocks before
    E (PROTOCOL.md v2). A path has a point every `grid.step_blocks` blocks (a day by default),
    coarser than the window, so the price in force at each block between two points is taken
    on the line between them (the mean of a Brownian bridge; the bridge's own noise inside the
    window, a few blocks of volatility, is not drawn). Column j's fixing is then the average of
    that line at E - window .. E - 1, truncated to an integer as the oracle's is; column 0 has
    no past and keeps its price. With daily steps the weights are 97.6% on the expiry's point
    and 2.4% on the day before."""
    b = grid.step_blocks
    span = -(-window // b)  # points back the window reaches
    weights = np.zeros(span + 1)  # on columns j, j-1, .., j-span
    for d in range(1, window + 1):
        back, frac = divmod(d, b)  # d blocks before point j: between j-back-1 and j-back
        weights[back] += 1 - frac / b
        if frac:
            weights[back + 1] += frac / b
    weights /= window
    out = weights[0] * prices  # in the prices' memory order (a transposed view stays one)
    for k, w in enumerate(weights[1:], start=1):
        if w:  # column j gets w * column max(j - k, 0)
            out[:, k:] += w * prices[:, : max(prices.shape[1] - k, 0)]
            out[:, :k] += w * prices[:, :1]
    out = np.floor(out, out=out).astype(prices.dtype)
    out[:, 0] = prices[:, 0]
    return out
