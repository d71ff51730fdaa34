"""A deployed, funded simulated chain: the starting point of every simulation and test.

Keys derive from a seed so that a run is reproducible to the byte; none of them guards real
money. Genesis puts balances in place and runs the deployer's setup calls directly on the
executor (block 0), as a devnet's deployment plan would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from chain.clarity import Buffer, ContractPrincipal
from chain.keys import PrivateKey
from chain.protocol import PARAMETER_DEFAULTS, SBTC, STX, TOKEN_UNIT
from sim.chain import ChainConfig, SimChain
from sim.models import PythonContracts

STX_UNIT, SBTC_UNIT = TOKEN_UNIT[STX], TOKEN_UNIT[SBTC]


@dataclass(frozen=True)
class Accounts:
    deployer: PrivateKey  # admin, backend and oracle submitter at deployment
    quote: PrivateKey  # signs quotes; its public key is set in the registry
    users: tuple[PrivateKey, ...]
    # may only reduce power, at once: pause, cancel a queued change, zero the quote key, remove
    # an oracle submitter, shut down (contracts/README.md, "Admin")
    guardian: PrivateKey | None = None


def make_accounts(users: int, seed: str = "bithedge") -> Accounts:
    return Accounts(
        deployer=PrivateKey.from_seed(f"{seed}/deployer".encode()),
        quote=PrivateKey.from_seed(f"{seed}/quote".encode()),
        users=tuple(PrivateKey.from_seed(f"{seed}/user/{i}".encode()) for i in range(users)),
        guardian=PrivateKey.from_seed(f"{seed}/guardian".encode()),
    )


@dataclass
class Deployment:
    chain: SimChain
    accounts: Accounts

    def contract(self, name: str) -> ContractPrincipal:
        return self.accounts.deployer.principal().contract(name)


def deploy(
    users: int = 4,
    *,
    stx_each: int = 1_000_000 * STX_UNIT,
    sbtc_each: int = 100 * SBTC_UNIT,
    config: ChainConfig | None = None,
    rng: np.random.Generator | None = None,
    env: simpy.Environment | None = None,
    autostart: bool = True,
    seed: str = "bithedge",
    executor: str = "python",
    parameters: Mapping[str, int] | None = None,
) -> Deployment:
    """`executor` is `python` (the contract models), `clarity` (the Clarity VM) or
    `lockstep` (both, the models first: what the devnet runs). `parameters` are the deployment's
    own starting values over parameters.clar's seeded ones (an operator deploys with them; the
    bounds hold only for changes queued later), e.g. a fast devnet's longer quote lifetime."""
    accounts = make_accounts(users, seed)
    deployer = accounts.deployer.principal()
    values = dict(parameters or {})
    unknown = sorted(set(values) - set(PARAMETER_DEFAULTS))
    if unknown:
        raise ValueError(f"parameters: no such parameter {unknown[0]!r}")
    if executor == "clarity":
        from sim.clarity_vm import ClarityContracts

        contracts: Any = ClarityContracts(deployer, parameter_values=values)
    elif executor == "lockstep":  # the devnet's: the VM, post-conditions judged by the models
        from sim.lockstep import Lockstep

        contracts = Lockstep(deployer, values)
    else:
        contracts = PythonContracts(deployer, parameter_values=values)
    return _fund_and_start(contracts, accounts, stx_each, sbtc_each, config, rng, env, autostart)


def _fund_and_start(executor, accounts, stx_each, sbtc_each, config, rng, env, autostart):
    deployer = accounts.deployer.principal()
    for key in (accounts.deployer, *accounts.users):
        executor.genesis_stx(key.principal(), stx_each)
        executor.genesis_sbtc(key.principal(), sbtc_each)
    # the two settings that act at once, once, at deployment; every later change is queued
    setup_calls = [("policy-registry", "set-quote-pubkey", Buffer(accounts.quote.public_key))]
    if accounts.guardian is not None:
        executor.genesis_stx(accounts.guardian.principal(), stx_each)  # for its fees
        setup_calls.append(("parameters", "init-guardian", accounts.guardian.principal()))
    for name, function, arg in setup_calls:
        call = executor.prepare(deployer.contract(name), function, [arg])
        setup = executor.execute(deployer, call, executor.genesis_burn_height)
        assert setup.success, setup
    chain = SimChain(executor, config, rng=rng, env=env, autostart=autostart)
    return Deployment(chain, accounts)
