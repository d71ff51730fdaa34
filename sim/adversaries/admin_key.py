"""A compromised admin key (issue 11, property 5; PROTOCOL.md v2, "Admin").

At `start_hours` the attacker, holding the deployer's key (the admin), queues its own quote key
(so that it could sign itself underpriced policies) and its own account as an oracle submitter
(so that it could push prices around expiries). Under v1 both took effect at once; under v2
they are public events that apply no sooner than `admin-delay` burn blocks later, and the honest
guardian (sim/guardian.py) cancels them. Each provider who sees the events leaves with
probability `providers_leave` (withdraws what it may, as a wary provider would).

At the changes' effective height the attacker applies whatever is still queued (anyone may). If
a change applied (the guardian too slow: not reachable with this knob table's guardian), the
run logs `admin-key-takeover`. Its gain, reported to the ledger, is the USD value (at the true
prices of the moment) of the tokens its own account gained or lost between the compromise and
the end of the changes' apply window (fees of its apply calls included): 0 when everything was
cancelled, since it then sends nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chain import errors
from chain.clarity import NONE, Buffer, StringAscii
from chain.keys import PrivateKey
from chain.port import Balances
from chain.protocol import SBTC, STX, TOKEN_UNIT
from chain.wallet import Wallet
from settings import Knob
from sim.adversaries import Stage

SECTION = "admin_key"
LAPSE = 144  # parameters.clar's ADMIN-LAPSE: the window after eta in which a change applies
DELAY = "admin-delay"
CONFIRM_BLOCKS = 6

KNOBS: dict[str, Knob] = {
    f"{SECTION}.count": Knob(0, 0, 1, help="1: the admin key is stolen (one attacker account)"),
    f"{SECTION}.start_hours": Knob(6.0, 0, 24 * 365, help="when the attacker queues its changes"),
    f"{SECTION}.providers_leave": Knob(
        0.0, 0, 1, help="chance that a provider who sees the queued changes withdraws"
    ),
}


def start(stage: Stage, knobs: dict[str, Any]) -> None:
    stage.env.process(_attack(stage, knobs))


def _gain_usd(stage: Stage, wallet: Wallet, before: Balances) -> float:
    """What the account's tokens changed by since `before`, at the true prices of now (sBTC
    valued as one BTC): a price move of what it held all along is no gain."""
    now, held = stage.env.now, stage.chain.balances(wallet.address)
    stx = (held.stx - before.stx) / TOKEN_UNIT[STX] * stage.stx_at(now)
    return stx + (held.sbtc - before.sbtc) / TOKEN_UNIT[SBTC] * stage.btc_at(now)


def _send(stage: Stage, wallet: Wallet, contract, function: str, *args) -> str | None:
    try:
        return wallet.call(contract, function, *args)
    except errors.Rejected as exc:
        stage.log.record("admin-key-rejected", function=function, reason=exc.reason)
        wallet.resync()
        return None


def _attack(stage: Stage, knobs: dict[str, Any]):
    env, contracts = stage.env, stage.contracts
    attacker = stage.wallets[0]
    accounts = stage.extra["accounts"]
    admin = Wallet(accounts.deployer, stage.chain)  # the stolen key
    own_key = PrivateKey.from_seed(b"admin-key/attacker-quote-key")
    yield env.timeout(knobs["start_hours"] * 3600.0)
    before = stage.chain.balances(attacker.address)
    queued_at = stage.burn_height()
    _send(stage, admin, contracts.registry, "queue-quote-pubkey", Buffer(own_key.public_key))
    _send(stage, admin, contracts.oracle, "queue-submitter", attacker.address)
    stage.log.record("admin-key-queued", height=queued_at, attacker=attacker.address.address)
    _providers_leave(stage, knobs["providers_leave"])
    delay = stage.chain.read_only(contracts.parameters, "get-parameter", [StringAscii(DELAY)])
    # the queue transactions confirm within an hour or so: their eta is at most that later
    eta = queued_at + delay.value.value + CONFIRM_BLOCKS
    while stage.burn_height() < eta:
        yield env.timeout(600.0)
    applied = []
    for contract, read, apply in (
        (contracts.registry, "get-queued-quote-pubkey", "apply-quote-pubkey"),
        (contracts.oracle, "get-queued-submitter", "apply-submitter"),
    ):
        if stage.chain.read_only(contract, read, []) != NONE:
            applied.append(apply)
            _send(stage, attacker, contract, apply)
    if applied:
        stage.log.record("admin-key-takeover", applied=applied)
    while stage.burn_height() < eta + LAPSE:
        yield env.timeout(600.0)
    gained = _gain_usd(stage, attacker, before)
    stage.log.record("admin-key-result", applied=applied, gained_usd=round(gained, 6))
    stage.ledger.gain(SECTION, gained)


def _providers_leave(stage: Stage, chance: float) -> None:
    """Each provider leaves with probability `chance` (one draw per provider, in order), by
    the providers' own exit: withdraw what it holds, or as much as is free."""
    providers = stage.extra.get("providers")
    if providers is None or chance <= 0:
        return
    leaving = [w for w in providers.wallets if stage.rng.random() < chance]
    stage.log.record("providers-leave", count=len(leaving))
    if leaving:
        replace(providers, wallets=leaving)._withdraw_all()
