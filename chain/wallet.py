"""A key plus a chain: builds, signs and submits calls with a locally counted nonce.

This is what a user's wallet does (and what the simulated buyers and providers use); the
Signer actor adds outbox, resync and rebroadcast on top for the backend's own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain import transactions as txs
from chain.clarity import ClarityValue, ContractPrincipal, Principal, StandardPrincipal
from chain.keys import PrivateKey
from chain.port import Chain


class Wallet:
    def __init__(self, key: PrivateKey, chain: Chain, network: txs.Network = txs.Network.TESTNET):
        self.key = key
        self.chain = chain
        self.network = network
        self.address: StandardPrincipal = key.principal(mainnet=network is txs.Network.MAINNET)
        self.next_nonce: int | None = None

    def __repr__(self) -> str:
        return f"Wallet({self.address.address})"

    def _nonce(self) -> int:
        if self.next_nonce is None:
            self.next_nonce = self.chain.nonce(self.address)
        return self.next_nonce

    def resync(self) -> None:
        self.next_nonce = None

    def sign_call(
        self,
        contract: ContractPrincipal,
        function: str,
        args: Sequence[ClarityValue],
        *,
        fee: int = 1000,
        post_conditions: Sequence[txs.PostCondition] = (),
        mode: txs.PostConditionMode = txs.PostConditionMode.ALLOW,
        nonce: int | None = None,
    ) -> bytes:
        tx = txs.contract_call(
            self.key,
            contract,
            function,
            list(args),
            nonce=self._nonce() if nonce is None else nonce,
            fee=fee,
            network=self.network,
            post_conditions=list(post_conditions),
            post_condition_mode=mode,
        )
        return tx.serialize()

    def call(self, contract: ContractPrincipal, function: str, *args: ClarityValue, **kw) -> str:
        """Signs with the next local nonce, submits, and counts the nonce as used."""
        raw = self.sign_call(contract, function, args, **kw)
        txid = self.chain.submit(raw)
        self.next_nonce = self._nonce() + 1
        return txid

    def transfer(self, recipient: Principal, amount: int, *, fee: int = 1000) -> str:
        tx = txs.stx_transfer(
            self.key, recipient, amount, nonce=self._nonce(), fee=fee, network=self.network
        )
        txid = self.chain.submit(tx.serialize())
        self.next_nonce = self._nonce() + 1
        return txid
