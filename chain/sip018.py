"""SIP-018 signed structured data: the hash a wallet signs and a contract checks.

`message_hash(domain, message) = sha256("SIP018" || sha256(consensus(domain)) ||
sha256(consensus(message)))`, both values in the SIP-005 consensus serialization that Clarity's
`to-consensus-buff?` produces (chain/clarity.py). The domain names the application, its version
and the chain, so a signature made for one deployment or chain verifies on no other: this is
what stops a v2 quote being replayed against another deployment that trusts the same key.

Signature byte order: 65 bytes r || s || v (recovery id last, 0..3), everywhere SIP-018 is
used. Clarity's `secp256k1-verify` and `secp256k1-recover?` take that order; the SIP calls it
"RSV"; `@stacks/transactions` 7.6.0's `signStructuredData` returns it (`signMessageHashRsv`);
coincurve's `sign_recoverable(hash, hasher=None)` produces it. Only transaction spending
conditions store v || r || s (chain/transactions.py). All of them sign with RFC 6979 nonces and
low S, so the same key and hash give byte-identical signatures in Python and Node.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from chain import keys
from chain.clarity import ClarityValue, StandardPrincipal, StringAscii, Tuple, UInt
from chain.transactions import Network

PREFIX = b"SIP018"  # 0x534950303138; no transaction or Clarity value starts with it


@dataclass(frozen=True, slots=True)
class Domain:
    """The SIP-018 domain tuple `{name, version, chain-id}`: which application, which version
    of its messages, which chain (`Network.chain_id`: mainnet 1, testnet and devnet
    0x80000000, which is why the name must differ between devnet and testnet)."""

    name: str
    version: str
    chain_id: int

    def to_clarity(self) -> Tuple:
        return Tuple(
            {
                "chain-id": UInt(self.chain_id),
                "name": StringAscii(self.name),
                "version": StringAscii(self.version),
            }
        )


@lru_cache(maxsize=64)
def domain_hash(domain: Domain) -> bytes:
    """sha256 of the domain's consensus bytes; a deployment has one domain, so it is cached."""
    return hashlib.sha256(domain.to_clarity().serialize()).digest()


def message_hash(domain: Domain, message: ClarityValue) -> bytes:
    """The 32 bytes that are signed: equal to sha256 of `encodeStructuredData`'s output and to
    the hash a contract computes with `to-consensus-buff?`."""
    inner = hashlib.sha256(message.serialize()).digest()
    return hashlib.sha256(PREFIX + domain_hash(domain) + inner).digest()


def sign(domain: Domain, message: ClarityValue, key: keys.PrivateKey) -> bytes:
    """65 bytes r || s || v, byte-identical to `signStructuredData` with the same key."""
    return key.sign_recoverable(message_hash(domain, message))


def verify(domain: Domain, message: ClarityValue, signature: bytes, public_key: bytes) -> bool:
    """What a node's `secp256k1-verify` over the SIP-018 hash answers: low S only, v ignored
    if 0..3 (the Clarinet simnet also accepts high S; contracts/README.md lists it)."""
    return keys.verify(message_hash(domain, message), signature, public_key)


def recover_public_key(digest: bytes, signature: bytes) -> bytes | None:
    """The 33-byte compressed public key that signed `digest` (r || s || v), as Clarity's
    `secp256k1-recover?` returns it, or None for a malformed signature.

    High-S signatures are refused, although `secp256k1-recover?` (node and simnet) recovers
    them: a node's `secp256k1-verify` rejects them, and a check that accepted both forms would
    accept two signatures of one message (a replay filter keyed on signature bytes would then
    let one through twice). Every signer here and in `@stacks/transactions` makes low S.
    """
    if len(digest) != 32 or len(signature) != 65 or not keys.is_low_s(signature):
        return None
    return keys.recover(digest, signature, compressed=True)


def recover_principal(
    digest: bytes, signature: bytes, network: Network
) -> StandardPrincipal | None:
    """The single-signature account that signed `digest` on `network`, as
    `(principal-of? (unwrap! (secp256k1-recover? hash sig) ...))` gives it; None if unrecoverable.

    It is derived from the compressed public key, as Clarity derives it: an account whose address
    hashes an uncompressed key is not recognised (no current wallet makes such accounts).
    """
    public_key = recover_public_key(digest, signature)
    if public_key is None:
        return None
    return StandardPrincipal(network.address_version, keys.hash160(public_key))
