"""Scenario files and their knobs: one table of every knob, its type, range and default.

A scenario file (TOML, in this folder) sets some knobs; `--set key=value` sets more; the table
validates both the same way, so a typo or an out-of-range value is one clear line before any
simulation starts.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from actors.oracle import KNOBS as ORACLE_KNOBS
from settings import ConfigError, Knob
from sim import adversaries

__all__ = ["KNOBS", "ConfigError", "Knob", "Scenario", "available", "load"]

SCENARIO_DIR = Path(__file__).parent
T = TypeVar("T")


KNOBS: dict[str, Knob] = {
    "days": Knob(30.0, 0.001, 365, help="simulated days of activity"),
    "drain_days": Knob(2.0, 0, 60, help="extra days for the last policies to settle"),
    "policies": Knob(0, 0, 1_000_000, help="policies bought in one burst near the start"),
    "price.model": Knob("gbm", choices=("gbm", "jump"), help="true BTC price model"),
    "price.btc_start": Knob(65_000.0, 1, 10_000_000, help="USD"),
    "price.btc_vol": Knob(0.55, 0, 5, help="annualised"),
    "price.btc_drift": Knob(0.0, -5, 5, help="annualised"),
    "price.stx_start": Knob(0.50, 0.0001, 10_000, help="USD"),
    "price.stx_vol": Knob(0.80, 0, 5),
    "price.correlation": Knob(0.6, -1, 1, help="of STX shocks with BTC shocks"),
    "price.jump_rate": Knob(6.0, 0, 1000, help="jumps per year (jump model)"),
    "price.jump_mean": Knob(-0.03, -1, 1, help="mean log jump"),
    "price.jump_std": Knob(0.06, 0, 2),
    "price.step_seconds": Knob(60.0, 1, 3600),
    "crash.start_hours": Knob(0.0, 0, 24 * 365),
    "crash.duration_hours": Knob(1.0, 0, 24 * 365),
    "crash.change": Knob(0.0, -0.99, 10, help="total move of the scripted segment; 0 = none"),
    "deployment.quote_ttl_seconds": Knob(
        60,
        10,
        86_400,
        help="the deployment's quote-ttl-seconds (parameters.clar seeds 60; an "
        "operator may deploy with another, sim/genesis.py `parameters`)",
    ),
    "chain.stacks_block_seconds": Knob(5.0, 0.5, 600),
    "chain.stacks_block_shape": Knob(0.0, 0, 1000, help="0 fixed, else gamma shape"),
    "chain.burn_block_seconds": Knob(600.0, 10, 7200),
    "chain.burn_block_shape": Knob(1.0, 0, 1000),
    "chain.block_capacity": Knob(1000, 1, 1_000_000),
    "chain.drop_probability": Knob(0.0, 0, 0.9),
    "exchanges.count": Knob(5, 1, 20),
    "exchanges.noise_bps": Knob(5.0, 0, 1000),
    "exchanges.lag_seconds": Knob(20.0, 0, 3600),
    "exchanges.outages_per_day": Knob(0.5, 0, 100),
    "exchanges.outage_minutes": Knob(20.0, 0, 10_000),
    "exchanges.manipulated": Knob(0, 0, 20, help="sources (the first n) that report a bias"),
    "exchanges.bias_bps": Knob(0.0, -9_000, 100_000, help="the manipulated sources' shift"),
    "exchanges.bias_from_hours": Knob(0.0, 0, 24 * 365),
    "exchanges.bias_to_hours": Knob(0.0, 0, 24 * 365),
    "faults.oracle_fail_from_hours": Knob(0.0, 0, 24 * 365, help="the node refuses set-price"),
    "faults.oracle_fail_hours": Knob(0.0, 0, 24 * 365, help="for this long; 0 never"),
    "faults.signer_down_from_hours": Knob(0.0, 0, 24 * 365, help="the backend cannot send"),
    "faults.signer_down_hours": Knob(0.0, 0, 24 * 365, help="for this long; 0 never"),
    "guardian.latency_blocks": Knob(
        6, 0, 1000, help="burn blocks the guardian takes to cancel a queued admin change"
    ),
    "guardian.oracle_gap_bps": Knob(
        0,
        0,
        5000,
        help="an observation this far from the world's price, moving away from it, "
        "gets its submitter removed; 0: the guardian does not watch the oracle",
    ),
    "guardian.oracle_latency_blocks": Knob(
        0, 0, 144, help="burn blocks the guardian takes to remove such a submitter"
    ),
    **{f"oracle.{name}": knob for name, knob in ORACLE_KNOBS.items()},  # the actor's table
    "registry.settle_delay_blocks": Knob(
        0, -1, 100_000, help="burn blocks after an expiry before the backend settles; -1 never"
    ),
    "pricing.vol_multiplier": Knob(1.25, 0.1, 10),
    "pricing.skew_kink": Knob(0.40, 0, 1),
    "pricing.skew_slope": Knob(1.0, 0, 100),
    "pricing.min_premium_usd": Knob(1.0, 0, 1_000_000),
    "providers.count": Knob(10, 1, 10_000),
    "providers.stx_each": Knob(2_000_000.0, 0, 1e12, help="STX per provider"),
    "providers.sbtc_each": Knob(20.0, 0, 1e6, help="sBTC per provider"),
    "providers.panic_drop": Knob(0.0, 0, 1, help="withdraw all below start x (1 - this); 0 never"),
    "providers.check_minutes": Knob(10.0, 0.1, 10_000),
    "buyers.count": Knob(50, 1, 1_000_000, help="buyer accounts"),
    "buyers.rate_per_hour": Knob(4.0, 0, 1_000_000, help="Poisson arrivals of purchases"),
    "buyers.amount_btc_min": Knob(0.01, 0.001, 100),
    "buyers.amount_btc_max": Knob(0.5, 0.001, 100),
    "buyers.strike_min": Knob(0.75, 0.5, 1.5, help="fraction of spot"),
    "buyers.strike_max": Knob(1.0, 0.5, 1.5),
    "buyers.days_min": Knob(1.5, 1.1, 90),
    "buyers.days_max": Knob(30.0, 1.1, 90),
    "buyers.stx_share": Knob(0.5, 0, 1, help="fraction of purchases settled in STX"),
    "buyers.sign_seconds": Knob(3.0, 0, 3600, help="wallet delay from offer to broadcast"),
    "burst.start_minutes": Knob(10.0, 1, 100_000),
    "burst.minutes": Knob(30.0, 0, 1440, help="the burst's requests spread over this window"),
    "burst.amount_btc": Knob(0.01, 0.001, 100),
    "burst.strike": Knob(1.0, 0.5, 1.5, help="fraction of spot"),
    "burst.days": Knob(1.2, 1.1, 90, help="burn-block days from the burst to expiry"),
    "burst.stx_share": Knob(0.5, 0, 1),
}
KNOBS.update(adversaries.knobs())


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def section(self, prefix: str) -> dict[str, Any]:
        """The knobs under `prefix.` without the prefix."""
        n = len(prefix) + 1
        return {k[n:]: v for k, v in self.values.items() if k.startswith(prefix + ".")}

    def build(self, cls: type[T], prefix: str, **extra: Any) -> T:
        """A config dataclass from the knobs `prefix.<field>` (knobs are named after fields)."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        knobs = {k: v for k, v in self.section(prefix).items() if k in names}
        return cls(**knobs, **extra)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: {exc}") from None


def available() -> dict[str, str]:
    """Scenario name -> one-line description, from the TOML files in this folder.

    A file that does not parse is still listed (its error as the description), so one broken
    file neither hides the others nor breaks listing them; loading it raises the error.
    """
    out = {}
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        try:
            out[path.stem] = str(_read(path).get("description", ""))
        except ConfigError as exc:
            out[path.stem] = f"(broken: {exc})"
    return out


def _check_key(key: str) -> Knob:
    knob = KNOBS.get(key)
    if knob is None:
        near = [k for k in KNOBS if k.split(".")[-1] == key.split(".")[-1]]
        hint = f" (did you mean {near[0]}?)" if near else " (python run.py knobs lists them)"
        raise ConfigError(f"unknown key {key!r}{hint}")
    return knob


def load(name: str, overrides: list[str] = ()) -> Scenario:
    """A scenario by name with `key=value` overrides applied and every value validated."""
    path = SCENARIO_DIR / f"{name}.toml"
    names = available()
    if name not in names:
        raise ConfigError(f"unknown scenario {name!r}; available: {', '.join(names)}")
    data = _read(path)
    description = str(data.pop("description", ""))
    data.pop("name", None)
    values = {k: knob.default for k, knob in KNOBS.items()}
    for key, raw in _flatten(data).items():
        values[key] = _check_key(key).parse(key, raw)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value")
        values[key] = _check_key(key).parse(key, raw.strip())
    _check_consistency(values)
    return Scenario(name, description, values)


def _check_consistency(v: dict[str, Any]) -> None:
    if v["exchanges.manipulated"] > v["exchanges.count"]:
        raise ConfigError(
            f"exchanges.manipulated ({v['exchanges.manipulated']}) must not exceed "
            f"exchanges.count ({v['exchanges.count']})"
        )
    for lo, hi in (
        ("exchanges.bias_from_hours", "exchanges.bias_to_hours"),
        ("buyers.amount_btc_min", "buyers.amount_btc_max"),
        ("buyers.strike_min", "buyers.strike_max"),
        ("buyers.days_min", "buyers.days_max"),
    ):
        if v[lo] > v[hi]:
            raise ConfigError(f"{lo} ({v[lo]:g}) must not exceed {hi} ({v[hi]:g})")
