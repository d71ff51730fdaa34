"""What a user signs: the unsigned contract calls of a purchase, a deposit and a withdrawal.

The engine never holds a user's key. For each user action it prepares the call and the
post-conditions that protect the user (contracts/README.md, "Transactions the engine sends"):
a deposit or a purchase sends exactly the amount or the premium, in deny mode; a withdrawal
request moves nothing; its completion requires the pool to send at least what the pending
shares are worth now, so a share price that fell in between aborts the transaction instead of
surprising the user.

`to_json` is the request a wallet takes (Stacks Connect's `stx_callContract`, and the options
of `@stacks/transactions`' `makeContractCall`: hex Clarity arguments, post-conditions as that
library's plain objects); `sign` does what a wallet does, for simulated users and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain import transactions as txs
from chain.clarity import Buffer, ClarityValue, ContractPrincipal, Some, StandardPrincipal, UInt
from chain.contracts import STX, Contracts
from chain.keys import PrivateKey
from chain.port import Chain
from chain.quotes import Quote

_CONDITIONS = {
    txs.FungibleCondition.EQ: "eq",
    txs.FungibleCondition.GT: "gt",
    txs.FungibleCondition.GTE: "gte",
    txs.FungibleCondition.LT: "lt",
    txs.FungibleCondition.LTE: "lte",
}


@dataclass(frozen=True)
class CallPayload:
    sender: StandardPrincipal
    contract: ContractPrincipal
    function: str
    args: tuple[ClarityValue, ...]
    post_conditions: tuple[txs.PostCondition, ...]
    mode: txs.PostConditionMode = txs.PostConditionMode.DENY

    def to_json(self, network: txs.Network = txs.Network.TESTNET) -> dict[str, Any]:
        address, _, name = self.contract.address.partition(".")
        return {
            "network": "mainnet" if network is txs.Network.MAINNET else "testnet",
            "sender": self.sender.address,
            "contract": self.contract.address,
            "contractAddress": address,
            "contractName": name,
            "functionName": self.function,
            "functionArgs": ["0x" + a.serialize().hex() for a in self.args],
            "postConditionMode": "deny" if self.mode is txs.PostConditionMode.DENY else "allow",
            "postConditions": [_pc_json(pc) for pc in self.post_conditions],
        }

    def sign(
        self,
        key: PrivateKey,
        *,
        nonce: int,
        fee: int,
        network: txs.Network = txs.Network.TESTNET,
    ) -> txs.Transaction:
        return txs.contract_call(
            key,
            self.contract,
            self.function,
            self.args,
            nonce=nonce,
            fee=fee,
            network=network,
            post_conditions=self.post_conditions,
            post_condition_mode=self.mode,
        )


def _pc_json(pc: txs.PostCondition) -> dict[str, str]:
    who = pc.principal
    if isinstance(who, txs.Origin):  # never built here: a wallet's request names the address
        raise ValueError("a wallet request names the sender's address, not 'origin'")
    if isinstance(pc, txs.STXPostCondition):
        return {
            "type": "stx-postcondition",
            "address": who.address,
            "condition": _CONDITIONS[pc.condition],
            "amount": str(pc.amount),
        }
    if isinstance(pc, txs.FTPostCondition):
        return {
            "type": "ft-postcondition",
            "address": who.address,
            "condition": _CONDITIONS[pc.condition],
            "asset": str(pc.asset),
            "amount": str(pc.amount),
        }
    raise ValueError("no BitHedge call moves an NFT")


def sends(
    contracts: Contracts,
    who: txs.PostConditionPrincipal,
    token: int,
    amount: int,
    condition: txs.FungibleCondition = txs.FungibleCondition.EQ,
) -> txs.PostCondition:
    """'`who` sends `amount` of the token' (exactly, unless another condition is given)."""
    if token == STX:
        return txs.STXPostCondition(who, condition, amount)
    return txs.FTPostCondition(who, txs.Asset(contracts.sbtc, "sbtc"), condition, amount)


def deposit(
    contracts: Contracts, provider: StandardPrincipal, token: int, tier: int, amount: int
) -> CallPayload:
    return CallPayload(
        provider,
        contracts.pool,
        "deposit",
        (contracts.sbtc, UInt(token), UInt(tier), UInt(amount)),
        (sends(contracts, provider, token, amount),),
    )


def request_withdraw(
    contracts: Contracts, provider: StandardPrincipal, token: int, tier: int, shares: int
) -> CallPayload:
    """Step 1 (`request-withdraw`): moves no tokens, so deny mode with no post-condition lets
    nothing move at all."""
    return CallPayload(
        provider,
        contracts.pool,
        "request-withdraw",
        (UInt(token), UInt(tier), UInt(shares)),
        (),
    )


def pending_value(
    chain: Chain, contracts: Contracts, provider: StandardPrincipal, token: int, tier: int
) -> int:
    """What the provider's pending withdrawal would pay now, truncated as the contract does:
    for the tranche's epoch `min(shares at the share price now, their value at the request)`
    (protocol v2: pending shares bear payouts but gain no later premium), for a closed epoch
    the shares' part of what it left."""
    key = [UInt(token), UInt(tier)]
    found = chain.read_only(contracts.pool, "get-pending", [*key, provider])
    if not isinstance(found, Some):
        raise ValueError(f"no pending withdrawal in tranche ({token}, {tier})")
    p = found.value
    shares, epoch = p["shares"].value, p["epoch"].value  # type: ignore[index]
    vault = chain.read_only(contracts.pool, "get-vault", key)
    if epoch == vault["epoch"].value:  # type: ignore[index]
        t = chain.read_only(contracts.pool, "get-tranche", key)
        cap = p["value"].value  # type: ignore[index]
    else:
        t = chain.read_only(contracts.pool, "get-closed-epoch", [*key, UInt(epoch)]).value  # type: ignore[attr-defined]
        cap = None
    assets, total = t["total-assets"].value, t["total-shares"].value  # type: ignore[index]
    worth = shares * assets // total if total else 0
    return worth if cap is None else min(worth, cap)


def complete_withdraw(
    chain: Chain, contracts: Contracts, provider: StandardPrincipal, token: int, tier: int
) -> CallPayload:
    """Step 2 (`complete-withdraw`): reads the pending withdrawal now to promise the provider
    at least what its shares are worth (a payout landing in between aborts the call instead of
    surprising the provider: ask again)."""
    amount = pending_value(chain, contracts, provider, token, tier)
    pcs: tuple[txs.PostCondition, ...] = ()
    if amount:
        pcs = (sends(contracts, contracts.pool, token, amount, txs.FungibleCondition.GTE),)
    return CallPayload(
        provider,
        contracts.pool,
        "complete-withdraw",
        (contracts.sbtc, UInt(token), UInt(tier)),
        pcs,
    )


def purchase(contracts: Contracts, quote: Quote, signature: bytes) -> CallPayload:
    buyer = quote.buyer
    if not isinstance(buyer, StandardPrincipal):
        raise ValueError("a quote's buyer signs the purchase, so it is a standard principal")
    return CallPayload(
        buyer,
        contracts.registry,
        "purchase-policy",
        (quote.to_clarity(), Buffer(signature), contracts.sbtc),
        (sends(contracts, buyer, quote.token, quote.premium),),
    )
