"""Strategic agents: users who try to beat the money rules, so the risk team's own tool shows
each attack and what it gained (PROTOCOL.md "Version 2"; issue 11).

Each adversary is a module of this package holding `KNOBS` (its rows of the scenario knob
table, all under its own section, one of them `<section>.count`) and
`start(stage: Stage, knobs: dict) -> None`, which starts its SimPy processes. `ADVERSARIES`
names them by section. With `count` 0, the default, an adversary takes no account and draws no
number, so scenarios without one are byte-identical to before. Every choice comes from
`stage.rng`, seeded from the scenario's seed tree.

What an attacker gained is reported to `stage.ledger` in USD, at the true prices of the moment
it was gained, net of what a passive user doing the same would have had: the report's
`attacker_profit_usd`. Each adversary's module docstring says how it counts its gain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import simpy

from chain.contracts import Contracts
from chain.port import EventLog, FullChain
from chain.wallet import Wallet


@dataclass
class Ledger:
    """Attackers' gains in USD by adversary section; the report sums them."""

    by_kind: dict[str, float] = field(default_factory=dict)

    def gain(self, kind: str, usd: float) -> None:
        self.by_kind[kind] = self.by_kind.get(kind, 0.0) + usd

    @property
    def total(self) -> float:
        return sum(self.by_kind.values())


@dataclass(frozen=True)
class Stage:
    """What an adversary may use: the same chain, contracts and actors the honest users see.

    `wallets` are its own accounts (funded like the providers'); `registry` and `oracle` are
    actor refs (a quote request to the registry is what a front end sends); `btc_at` and
    `stx_at` are the true prices at a virtual time, for valuing gains, not for trading on.
    """

    env: simpy.Environment
    chain: FullChain
    contracts: Contracts
    wallets: list[Wallet]
    log: EventLog
    rng: np.random.Generator
    ledger: Ledger
    registry: Any
    oracle: Any
    btc_at: Callable[[float], float]
    stx_at: Callable[[float], float]
    burn_height: Callable[[], int]
    extra: dict[str, Any] = field(default_factory=dict)  # privileged keys an attack holds


# section -> module; each module adds itself here when it is written
ADVERSARIES: dict[str, ModuleType] = {}


def knobs() -> dict[str, Any]:
    """Every adversary's rows of the scenario knob table."""
    out: dict[str, Any] = {}
    for module in ADVERSARIES.values():
        out.update(module.KNOBS)
    return out


def accounts_needed(values: dict[str, Any]) -> int:
    """How many user accounts the scenario's adversaries take, after providers and buyers."""
    return sum(int(values[f"{name}.count"]) for name in ADVERSARIES)


def start_all(values: dict[str, Any], stage: Stage) -> None:
    """Starts each adversary with count > 0 on its own slice of `stage.wallets`."""
    at = 0
    for name, module in ADVERSARIES.items():
        n = int(values[f"{name}.count"])
        if n <= 0:
            continue
        prefix = name + "."
        section = {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
        own = Stage(**{**stage.__dict__, "wallets": stage.wallets[at : at + n]})
        module.start(own, section)
        at += n


# the adversaries (imported last: each module uses Stage above), registered by section
from sim.adversaries import admin_key, front_run, jit, late_settlement, oracle_key  # noqa: E402

for _module in (late_settlement, oracle_key, admin_key, front_run, jit):
    ADVERSARIES[_module.SECTION] = _module
